"""SIP2 refusals and session tables: every request command has a well-formed "no", the
supported-messages field follows the back end's capabilities, and wrong PINs are counted
per terminal with a lockout that passes."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.circulation import Capability
from protocols.sip2.codec import MESSAGES, Message, decode_message, encode_message
from protocols.sip2.replies import RESPONSE_OF, refusal_reply
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
    assert again.fixed.get("ok", "0") in ("0", "N") or "ok" not in spec.fixed


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
