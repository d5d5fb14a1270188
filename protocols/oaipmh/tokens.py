"""Stateless, signed resumption tokens (sans-IO).

A token carries the whole request (verb, metadataPrefix, set, from, until) and the feed
position of the last change served, (datestamp, sequence). The next page is simply "the
changes after that position", so the server keeps no cursor: any gateway process sharing
the store answers it, a restart loses nothing, and a deep page costs what the first one
does (keyset paging, not offsets). Changes committed during a harvest get positions after
every existing one, so they are seen later in the same harvest; nothing is skipped and no
unchanged record is served twice.

The token is signed (HMAC-SHA256 with a key kept in the store), so a harvester cannot
edit the position or the set; anything altered, truncated or expired is rejected as
badResumptionToken. It also carries ``completeListSize`` counted on the first page (a
recount per page would cost a scan of the feed each time) and the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.store import FeedPosition

from .arguments import METADATA_PREFIX, SET_SPEC, Verb
from .errors import ErrorCode, OAIError

__all__ = ["ResumptionToken", "TokenSigner", "TOKEN_VERBS"]

_FORMAT = 1
#: The verbs that page with tokens, by the letter their tokens carry.
TOKEN_VERBS: dict[str, Verb] = {"R": Verb.LIST_RECORDS, "I": Verb.LIST_IDENTIFIERS}
_LETTERS = {verb: letter for letter, verb in TOKEN_VERBS.items()}
_MAC_BYTES = 16
_DOMAIN = b"lienthong oai-pmh resumption token\x00"
#: The epoch seconds of 0001-01-01 and 10000-01-01: the years a datestamp can have.
_YEAR_1, _YEAR_10000 = -62135596800, 253402300800


@dataclass(frozen=True, slots=True)
class ResumptionToken:
    """Where a list stopped and what it was asked for; times are UTC epoch seconds."""

    verb: Verb
    metadata_prefix: str
    set_spec: str | None
    since: int | None
    until: int | None
    position: FeedPosition
    cursor: int
    complete_list_size: int
    expires: int

    @property
    def expiration(self) -> datetime:
        """When the token stops being accepted (its ``expirationDate``)."""
        return datetime.fromtimestamp(self.expires, tz=UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Writes and checks tokens with one secret key.

    Tokens use only URL-safe characters (base64url and '.'), so a harvester that forgets
    to percent-encode them still sends them back intact.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a token key needs at least 16 bytes")
        self._key = key

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, _DOMAIN + payload.encode("ascii"), hashlib.sha256)
        return _b64(digest.digest()[:_MAC_BYTES])

    def encode(self, token: ResumptionToken) -> str:
        """The token's text."""
        fields = [_FORMAT, _LETTERS[token.verb], token.metadata_prefix, token.set_spec,
                  token.since, token.until, int(token.position.datestamp.timestamp()),
                  token.position.sequence, token.cursor, token.complete_list_size,
                  token.expires]  # fmt: skip
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def decode(self, text: str, verb: Verb, now: float) -> ResumptionToken:
        """The token in ``text``, checked for ``verb`` at time ``now``.

        Raises badResumptionToken when the text is not a token of ours, was altered,
        belongs to another verb or has expired.
        """
        payload, dot, mac = text.partition(".")
        readable = dot and payload and mac and payload.isascii() and mac.isascii()
        if not readable or not hmac.compare_digest(mac, self._mac(payload)):
            raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN,
                           "this resumption token was not issued by this repository, or "
                           "it was altered or cut short")  # fmt: skip
        try:
            fields = json.loads(_unb64(payload))
            (version, letter, prefix, set_spec, since, until, stamp, sequence, cursor, size,
             expires) = fields  # fmt: skip
        except (ValueError, TypeError, binascii.Error):
            raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN,
                           "this resumption token cannot be read") from None  # fmt: skip
        if version != _FORMAT or not _well_typed(fields):
            raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN,
                           "this resumption token is of a format this version does not "
                           "read; start the list again")  # fmt: skip
        if TOKEN_VERBS.get(letter) is not verb:
            raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN,
                           f"this resumption token does not belong to {verb}")  # fmt: skip
        if expires < now:
            moment = datetime.fromtimestamp(expires, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise OAIError(
                ErrorCode.BAD_RESUMPTION_TOKEN,
                f"this resumption token expired at {moment}; start the list "
                "again (or continue with from= the last datestamp harvested)",
            )
        position = FeedPosition(datetime.fromtimestamp(stamp, tz=UTC), sequence)
        return ResumptionToken(verb, prefix, set_spec, since, until, position, cursor, size,
                               expires)  # fmt: skip


def _well_typed(fields: list[object]) -> bool:
    """Every field of a signed token has the type and shape this version writes."""
    _, letter, prefix, set_spec, since, until, stamp, sequence, cursor, size, expires = fields

    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def moment(value: object) -> bool:  # from=1900-01-01 ("everything") is before 1970
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and _YEAR_1 <= value < _YEAR_10000
        )

    return (
        isinstance(letter, str)
        and isinstance(prefix, str)
        and METADATA_PREFIX.fullmatch(prefix) is not None
        and (set_spec is None or (isinstance(set_spec, str)
                                  and SET_SPEC.fullmatch(set_spec) is not None))
        and (since is None or moment(since))
        and (until is None or moment(until))
        and all(whole(v) for v in (stamp, sequence, cursor, size, expires))
        and isinstance(stamp, int)
        and stamp < _YEAR_10000
    )  # fmt: skip
