"""The reply a request gets when it cannot be carried out: a well-formed "no".

Every recognised SIP2 command needs a reply, and a kiosk that gets none waits for its
timeout and then retries, so a request that is missing a field, arrives before login or
meets a back end that is down is still answered with its own response message: ``ok`` 0
(or N), every required field present, what could be echoed echoed, and a screen message
saying why. The defaults are data, one row per fixed field name.
"""

from __future__ import annotations

from datetime import datetime

from .codec import MESSAGES, Message, sip_date

__all__ = ["RESPONSE_OF", "ECHOED", "UNKNOWN_PATRON_STATUS", "refusal_reply", "response"]

#: The response command for each request command (01 Block Patron is answered with 24).
RESPONSE_OF: dict[str, str] = {
    "93": "94", "99": "98", "23": "24", "63": "64", "11": "12", "09": "10", "29": "30",
    "65": "66", "17": "18", "19": "20", "25": "26", "15": "16", "35": "36", "37": "38",
    "01": "24",
}  # fmt: skip

#: Fields a refusal copies from the request when the response carries them.
ECHOED = ("AO", "AA", "AB", "AJ")

#: Patron status for a patron the back end does not know: every privilege denied.
UNKNOWN_PATRON_STATUS = "YYYY" + " " * 10

#: What a fixed field says when the answer is "no" (dates are filled in separately).
_REFUSED_FIXED: dict[str, str] = {
    "ok": "0",
    "renewal_ok": "N",
    "magnetic_media": "U",
    "desensitize": "N",
    "resensitize": "N",
    "alert": "N",
    "patron_status": UNKNOWN_PATRON_STATUS,
    "language": "000",
    "hold_items_count": "    ",
    "overdue_items_count": "    ",
    "charged_items_count": "    ",
    "fine_items_count": "    ",
    "recall_items_count": "    ",
    "unavailable_holds_count": "    ",
    "renewed_count": "0000",
    "unrenewed_count": "0000",
    "circulation_status": "01",
    "security_marker": "00",
    "fee_type": "01",
    "available": "N",
    "item_properties_ok": "0",
    "end_session": "N",
    "payment_accepted": "N",
}


def response(code: str, now: datetime, **fixed: str) -> Message:
    """A response ``code`` with ``fixed`` fields and the refusal defaults for the rest."""
    values = {}
    for spec in MESSAGES[code].fixed:
        if spec.name in fixed:
            values[spec.name] = fixed[spec.name]
        elif spec.name.endswith("_date") or spec.name == "date_time_sync":
            values[spec.name] = sip_date(now)
        else:
            values[spec.name] = _REFUSED_FIXED.get(spec.name, " " * spec.width)
    return Message(code, values)


def refusal_reply(request: Message, now: datetime, screen: str, institution: str) -> Message:
    """``request``'s response saying no, with ``screen`` as its screen message.

    ``institution`` is the AO the session answers with (the account's, not the kiosk's).
    Required fields the request cannot supply are sent empty, as SIP2 allows.
    """
    code = RESPONSE_OF[request.code]
    reply = response(code, now)
    spec = MESSAGES[code]
    for field_id in ("AO", *(f for f in ECHOED if f != "AO"), *sorted(spec.required)):
        if field_id not in spec.required and field_id not in spec.optional:
            continue
        if any(fid == field_id for fid, _ in reply.fields):
            continue
        value = institution if field_id == "AO" else request.get(field_id, "") or ""
        if field_id in ECHOED or field_id in spec.required:
            reply.fields.append((field_id, value))
    if code == "24" or code == "64" or code == "26":
        reply.fields.append(("BL", "N"))
    reply.fields.append(("AF", screen))
    return reply
