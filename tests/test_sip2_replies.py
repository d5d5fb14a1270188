"""SIP2 refusals and session tables: every request command has a well-formed "no", the
supported-messages field follows the back end's capabilities, and wrong PINs are counted
per terminal with a lockout that passes."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.circulation import Capability
from protocols.sip2.codec import MESSAGES, Message, decode_message, encode_message
from protocols.sip2.replies import RESPONSE_OF, UNKNOWN_PATRON_STATUS, refusal_reply
from protocols.sip2.screens import Screen, language_of, screen_text
from protocols.sip2.service import TRANSITIONS, PinGuard, SessionState, supported_messages

NOW = datetime(2026, 12, 2, 10, 15, 0)


@pytest.mark.parametrize("request_code", sorted(c for c in RESPONSE_OF if c not in ("93", "99")))
def test_refusal_carries_every_required_field(request_code: str) -> None:
    """A refusal is its command's own response, with each required field and a screen
    message, and it survives the wire in both directions."""
    request = Message(request_code, fields=[("AO", "kiosk-ao"), ("AA", "BD1"), ("AB", "X1")])
    reply = refusal_reply(request, NOW, "Không tìm thấy", "dlk-tinh")
    spec = MESSAGES[RESPONSE_OF[request_code]]
    assert reply.code == spec.code
    present = {fid for fid, _ in reply.fields}
    assert spec.required <= present
    assert reply.get("AF") == "Không tìm thấy"
    if "AO" in spec.required:
        assert reply.get("AO") == "dlk-tinh"  # the account's institution, not the kiosk's
    wire = encode_message(reply)
    again = decode_message(wire[:-1])
    assert again.fixed == reply.fixed and again.fields == reply.fields
    names = {fixed.name for fixed in spec.fixed}
    saying_no = names & {"ok", "renewal_ok", "desensitize", "resensitize", "available",
                         "item_properties_ok", "end_session", "payment_accepted"}  # fmt: skip
    for name in saying_no:
        assert again.fixed[name] in ("0", "N"), name
    if not saying_no:  # 24, 26, 18: a patron with no privileges, an item of unknown status
        assert again.fixed.get("patron_status", UNKNOWN_PATRON_STATUS) == UNKNOWN_PATRON_STATUS
        assert again.fixed.get("circulation_status", "01") == "01"
        assert names & {"patron_status", "circulation_status"}


def test_refusal_of_checkout_says_no_everywhere() -> None:
    """A refused checkout says ok 0, no renewal, no desensitising, and echoes the item."""
    request = Message("11", fields=[("AO", "x"), ("AA", "BD1"), ("AB", "DLK1")])
    reply = refusal_reply(request, NOW, "no", "dlk-tinh")
    assert reply.fixed["ok"] == "0" and reply.fixed["renewal_ok"] == "N"
    assert reply.fixed["desensitize"] == "N"
    assert reply.get("AB") == "DLK1" and reply.get("AA") == "BD1"
    assert reply.get("AH") == ""


def test_supported_messages_follow_capabilities() -> None:
    """BX marks 99, 97 and 93 always, and the rest as the back end can do them."""
    assert supported_messages(frozenset()) == "NNNNYYYNNNNNNNNN"
    everything = supported_messages(frozenset(Capability))
    assert everything == "Y" * 16
    only_checkin = supported_messages(frozenset({Capability.CHECKIN}))
    assert only_checkin[2] == "Y" and only_checkin.count("Y") == 4


def test_transitions_refuse_circulation_before_login() -> None:
    """Before login only login and status are served; after it, everything."""
    assert (SessionState.CONNECTED, "11") not in TRANSITIONS
    assert TRANSITIONS[(SessionState.CONNECTED, "93")] == "login"
    assert TRANSITIONS[(SessionState.LOGGED_IN, "11")] == "circulate"
    assert not any(state is SessionState.CLOSED for state, _ in TRANSITIONS)


def test_pin_guard_locks_after_limit_and_forgets_after_lockout() -> None:
    """Five wrong PINs lock one terminal, not another, until the lockout has passed."""
    clock = [1000.0]
    guard = PinGuard(5, 300, clock=lambda: clock[0])
    for _ in range(4):
        guard.failed("account:k1")
    assert not guard.locked("account:k1")
    guard.failed("account:k1")
    assert guard.locked("account:k1")
    assert not guard.locked("account:k2")
    clock[0] += 301
    assert not guard.locked("account:k1")


def test_screen_language_prefers_the_patron() -> None:
    """A patron's own language wins over the kiosk's; Vietnamese is the default."""
    assert language_of("en", "000") == "en"
    assert language_of("vi", "001") == "vi"
    assert language_of(None, "001") == "en"
    assert language_of(None, "000") == "vi"
    assert screen_text(Screen.CHECKED_OUT, "vi", "16/12/2026") == (
        "Mượn thành công. Hạn trả: 16/12/2026."
    )


def test_pin_checks_in_flight_count_against_the_limit() -> None:
    """Reserving a PIN check and checking the lockout are one step: with checks still
    running, no more than the limit may start, and a right PIN frees its reservation."""
    guard = PinGuard(2, 300, clock=lambda: 0.0)
    assert guard.begin("account:k") and guard.begin("account:k")
    assert not guard.begin("account:k")  # two guesses already under way
    assert guard.locked("account:k")
    guard.end("account:k", good=True)
    assert not guard.locked("account:k")
    guard.end("account:k", good=False)
    assert guard.begin("account:k")
    guard.end("account:k", good=False)
    assert guard.locked("account:k") and not guard.begin("account:k")
    assert guard.begin("account:other")


def test_unknown_cards_lock_lookups_past_their_own_limit() -> None:
    """Look-ups of unknown cards lock the terminal's look-ups at the probe limit, not at
    the PIN limit, and not its PIN checks; the lockout passes with time."""
    clock = [0.0]
    guard = PinGuard(2, 300, clock=lambda: clock[0], probe_limit=4)
    for _ in range(3):
        guard.probed("account:k")
    assert not guard.lookups_locked("account:k") and not guard.locked("account:k")
    guard.probed("account:k")
    assert guard.lookups_locked("account:k") and not guard.locked("account:k")
    assert not guard.lookups_locked("account:other")
    clock[0] = 301.0
    assert not guard.lookups_locked("account:k")
