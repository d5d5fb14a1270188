"""Resumption tokens: stateless, signed, tied to their verb, and expiring."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store import FeedPosition
from protocols.oaipmh.arguments import Verb
from protocols.oaipmh.errors import ErrorCode, OAIError
from protocols.oaipmh.tokens import ResumptionToken, TokenSigner

KEY = b"k" * 32
NOW = 1_800_000_000
SIGNER = TokenSigner(KEY)


def _token(**changes: object) -> ResumptionToken:
    values: dict[str, object] = dict(
        verb=Verb.LIST_RECORDS, metadata_prefix="marc21", set_spec="library:dlk-tinh",
        since=1_700_000_000, until=None,
        position=FeedPosition(datetime.fromtimestamp(1_750_000_000, tz=UTC), 4242),
        cursor=200, complete_list_size=5000, expires=NOW + 48 * 3600,
    )  # fmt: skip
    values.update(changes)
    return ResumptionToken(**values)  # type: ignore[arg-type]


def _rejected(text: str, verb: Verb = Verb.LIST_RECORDS, now: float = NOW) -> str:
    with pytest.raises(OAIError) as caught:
        SIGNER.decode(text, verb, now)
    assert caught.value.code is ErrorCode.BAD_RESUMPTION_TOKEN
    return caught.value.message


tokens = st.builds(
    _token,
    verb=st.sampled_from([Verb.LIST_RECORDS, Verb.LIST_IDENTIFIERS]),
    metadata_prefix=st.sampled_from(["oai_dc", "marc21", "marcxml", "mods"]),
    set_spec=st.none() | st.from_regex(r"[a-z]{1,8}(:[a-z0-9._-]{1,20})?", fullmatch=True),
    since=st.none() | st.integers(-62135596800, 253402300799),
    until=st.none() | st.integers(-62135596800, 253402300799),
    position=st.builds(
        FeedPosition,
        st.integers(0, 253402300799).map(lambda s: datetime.fromtimestamp(s, tz=UTC)),
        st.integers(0, 2**62),
    ),
    cursor=st.integers(0, 10**9),
    complete_list_size=st.integers(0, 10**9),
    expires=st.integers(NOW, 2**40),
)


@given(tokens)
def test_a_token_reads_back_as_written(token: ResumptionToken) -> None:
    """Whatever a list needs to resume (verb, format, set, dates, position, cursor, size,
    expiry) comes back exactly, and the text uses only URL-safe characters."""
    text = SIGNER.encode(token)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", text)
    assert SIGNER.decode(text, token.verb, NOW) == token


def test_every_altered_character_is_refused() -> None:
    """Changing any one character (the position, the set, the signature) gives
    badResumptionToken: a harvester cannot page into another set or skip ahead."""
    text = SIGNER.encode(_token())
    for index, char in enumerate(text):
        for replacement in {"A", "_", "9"} - {char}:
            altered = text[:index] + replacement + text[index + 1 :]
            try:
                decoded = SIGNER.decode(altered, Verb.LIST_RECORDS, NOW)
            except OAIError as error:
                assert error.code is ErrorCode.BAD_RESUMPTION_TOKEN
            else:  # base64 padding bits may absorb a change without altering the bytes
                assert decoded == _token()


@pytest.mark.parametrize("cut", [1, 5, 20, -1, -5, -23])
def test_a_truncated_token_is_refused(cut: int) -> None:
    """A token cut short (a harvester's buffer, a log line) is badResumptionToken."""
    text = SIGNER.encode(_token())
    _rejected(text[:cut] if cut > 0 else text[:cut])


@pytest.mark.parametrize(
    "text", ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.é", "\x00.\x00", "%%%.@@@", "=" * 40]
)
def test_garbage_is_refused(text: str) -> None:
    """Text that is not a token of ours is badResumptionToken, never another error."""
    _rejected(text)


@given(st.text(max_size=300))
def test_any_text_is_refused_or_read_never_crashes(text: str) -> None:
    """Any string at all: the decoder answers with badResumptionToken (nothing else
    escapes it)."""
    _rejected(text)


def test_a_token_from_another_key_is_refused() -> None:
    """Tokens of another repository (or from before a key change) are not accepted."""
    other = TokenSigner(b"x" * 32).encode(_token())
    assert "not issued by this repository" in _rejected(other)


def test_a_token_belongs_to_its_verb() -> None:
    """A ListIdentifiers token cannot resume ListRecords (the pages differ)."""
    text = SIGNER.encode(_token(verb=Verb.LIST_IDENTIFIERS))
    assert "does not belong to ListRecords" in _rejected(text, Verb.LIST_RECORDS)
    assert SIGNER.decode(text, Verb.LIST_IDENTIFIERS, NOW).verb is Verb.LIST_IDENTIFIERS


def test_an_expired_token_is_refused_and_says_when_it_expired() -> None:
    """After its expirationDate a token is refused, with the moment it expired and what
    to do; until then it is accepted however often it is replayed."""
    text = SIGNER.encode(_token(expires=NOW))
    assert SIGNER.decode(text, Verb.LIST_RECORDS, NOW) == SIGNER.decode(
        text, Verb.LIST_RECORDS, NOW
    )
    message = _rejected(text, now=NOW + 1)
    assert "expired at 2027-01-15T08:00:00Z" in message


def test_keys_must_be_long_enough() -> None:
    """A short key would make signatures guessable; the signer refuses one."""
    with pytest.raises(ValueError):
        TokenSigner(b"short")
