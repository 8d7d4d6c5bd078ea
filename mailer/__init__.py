"""mailer: invitation campaigns and RSVP tracking for an umbrella body of member organisations."""

from mailer.app import create_app

__all__ = ["create_app"]
