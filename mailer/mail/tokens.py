"""Signed link tokens: the only thing a recipient's link carries.

A token holds two random keys (the person's and the meeting's, or the series'), signed with the
secret key and a salt per purpose, so an RSVP token cannot be used to
unsubscribe and vice versa. Old secret keys keep already-sent links working
after a rotation; a person's links are revoked by giving them a new link_key.
Tokens never expire and are never single-use: mail scanners open every link.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itsdangerous import BadData, Signer, URLSafeSerializer

PURPOSES = ("rsvp", "unsubscribe", "evaluation", "series")  # series: the choose-your-session page


class _KeyedSigner(Signer):
    """itsdangerous's Signer with each derived key computed once, not once per token."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        keys: dict[str | bytes | None, bytes] = self.__dict__.setdefault("_derived", {})
        if secret_key not in keys:
            keys[secret_key] = super().derive_key(secret_key)
        return keys[secret_key]


class _Serializer(URLSafeSerializer):
    """One signer per serializer (the salt never changes): the same tokens, made faster."""

    signer = _KeyedSigner

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        if "_signer" not in self.__dict__:
            self._signer = super().make_signer(salt)
        return self._signer


class BadToken(Exception):
    """Tampered, truncated, wrong-purpose or unknown: callers show one friendly 404 for all."""


@dataclass(frozen=True)
class TokenCodec:
    secret_key: str
    old_secret_keys: tuple[str, ...] = ()
    # One serializer per purpose, made once: building one costs more than signing a token,
    # and a campaign signs three tokens a message.
    _serializers: dict[str, _Serializer] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _serializer(self, purpose: str) -> _Serializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            if purpose not in PURPOSES:
                raise ValueError(f"unknown token purpose {purpose!r}")
            # itsdangerous signs with the last key and accepts any of them.
            keys = [*self.old_secret_keys, self.secret_key]
            serializer = self._serializers[purpose] = _Serializer(keys, salt=f"mailer.{purpose}")
        return serializer

    def dumps(self, purpose: str, contact_key: str, meeting_key: str | None = None) -> str:
        payload = [contact_key] if meeting_key is None else [contact_key, meeting_key]
        return self._serializer(purpose).dumps(payload)

    def loads(self, purpose: str, token: str) -> tuple[str, str | None]:
        try:
            payload = self._serializer(purpose).loads(token)
        except (BadData, UnicodeError, ValueError) as exc:
            raise BadToken() from exc
        if (
            not isinstance(payload, list)
            or not 1 <= len(payload) <= 2
            or not all(isinstance(part, str) and part for part in payload)
        ):
            raise BadToken()
        return payload[0], payload[1] if len(payload) == 2 else None
