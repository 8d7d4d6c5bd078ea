"""Webhooks: other systems hear about answers, unsubscriptions, bounces and meeting changes.

Low in the layers on purpose: rsvp, contacts, bounces, outbox and meetings call `events.emit`
in the transaction that makes the change, with a JSON payload they build themselves; this
package knows none of them. The worker sends the rows (delivery.py); staff manage endpoints
and see deliveries through mailer.staff.webhook_actions. docs/webhooks.md is the contract.
"""

ANSWER_CHANGED = "answer.changed"
CONTACT_UNSUBSCRIBED = "contact.unsubscribed"
CONTACT_BOUNCED = "contact.bounced"
MEETING_CHANGED = "meeting.changed"
EVENTS = (ANSWER_CHANGED, CONTACT_UNSUBSCRIBED, CONTACT_BOUNCED, MEETING_CHANGED)
