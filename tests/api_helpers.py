"""Fixtures for the JSON API tests: tokens for accounts of each role, and a client whose every
response is validated against the API's own OpenAPI document (openapi-core).

Registered as a pytest plugin from conftest.py: the fixtures (api, api_token) need no import.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.testing import MockRequest
from openapi_schema_validator import OAS31Validator

from mailer.staff import accounts, tokens

SPEC_PATH = "/api/v1/openapi.json"


class ApiClient:
    """The Flask test client for /api/v1: `api.get("/meetings", token=...)`; each reply is checked
    against the OpenAPI document (status, headers and body), so the document cannot drift."""

    def __init__(self, client, document: dict):
        self.client, self.document, self.checked = client, document, 0
        self.spec = _spec(json.dumps(document, sort_keys=True))

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        headers: dict | None = None,
        undocumented: bool = False,
        **kwargs: Any,
    ):
        """`undocumented`: a URL or method the API does not have; its reply must still be the Error shape."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        reply = self.client.open("/api/v1" + path, method=method, headers=sent, **kwargs)
        assert reply.content_type == "application/json", (reply.status_code, reply.get_data(as_text=True)[:300])
        if undocumented:
            schemas = self.document["components"]["schemas"]
            OAS31Validator({**schemas["Error"], "components": {"schemas": schemas}}).validate(reply.get_json())
            self.checked += 1
            return reply
        # The request as sent (its body was read by the app already: only method, path and query matter here).
        sent_request = MockRequest(
            reply.request.host_url.rstrip("/"), method.lower(), reply.request.path, args=reply.request.args.to_dict()
        )
        self.spec.validate_response(sent_request, WerkzeugOpenAPIResponse(reply))
        self.checked += 1
        return reply

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any):
        return self.request("PUT", path, **kwargs)


@functools.cache
def _spec(document: str) -> OpenAPI:
    """Built (and the document checked against the OpenAPI 3.1 schema) once per run: it takes seconds."""
    return OpenAPI.from_dict(json.loads(document))


@pytest.fixture
def api(app) -> ApiClient:
    client = app.test_client()
    document = client.get(SPEC_PATH)
    assert document.status_code == 200
    return ApiClient(client, document.get_json())


@pytest.fixture
def api_token(db):
    """api_token(role="staff", scope="write", email=None) -> a new account's new token."""
    made = iter(range(1, 1000))

    def make(role: str = "staff", scope: str = "write", email: str | None = None) -> str:
        with db.transaction() as session:
            user = accounts.find_staff(session, email) if email else None
            if user is None:
                user = accounts.add_staff(
                    session,
                    email or f"{role}{next(made)}@ax.example.org",
                    role.title(),
                    "ett långt lösenord",
                    role=role,
                )
            return tokens.create_token(session, user, scope, f"test {scope}", "test")[1]

    return make
