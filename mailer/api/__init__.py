"""The JSON API's use cases (/api/v1): what another system may do, as staff do it on the web.

No HTTP here: mailer.web.api parses the request, checks the token and calls one function
of these modules, which validate the JSON body against the same schemas the OpenAPI
document publishes (mailer.api.schemas), call the domain functions the staff web and the
CLI use (with their audit entries), and return plain JSON-able data.
"""
