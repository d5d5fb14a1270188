"""What the kiosk's screen says (SIP2's AF field), in the patron's language.

Back ends answer with a :class:`~gateway.circulation.Refusal`; this table words it.
Vietnamese first: SIP2's language codes (000-027) have no Vietnamese, so a patron or a
request without a language the table knows gets Vietnamese, and English is given to a
patron whose record says ``en`` or to a kiosk that asks in English (001) or UK English
(024). Accounts on an ASCII character set get the same text with its marks folded by the
codec, never a second wording.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.circulation import Refusal

__all__ = ["Screen", "screen_text", "language_of"]


class Screen(StrEnum):
    """Messages that are not refusals."""

    CHECKED_OUT = "checked_out"
    RENEWED = "renewed"
    CHECKED_IN = "checked_in"
    HOLD_SHELF = "hold_shelf"
    LOGIN_REQUIRED = "login_required"
    PIN_LOCKED = "pin_locked"
    UNAVAILABLE = "unavailable"
    MISSING_FIELD = "missing_field"
    HOLD_PLACED = "hold_placed"
    HOLD_CANCELLED = "hold_cancelled"
    PAYMENT_ACCEPTED = "payment_accepted"
    BLOCKED = "blocked"
    ENABLED = "enabled"
    OVERDUE_FINE = "overdue_fine"
    WELCOME = "welcome"
    GOODBYE = "goodbye"
    PROPERTIES_SAVED = "properties_saved"


#: key -> (Vietnamese, English). ``{}`` placeholders are filled by the caller.
_TEXT: dict[str, tuple[str, str]] = {
    Refusal.UNKNOWN_PATRON: ("Không tìm thấy thẻ bạn đọc.", "Patron card not found."),
    Refusal.WRONG_PIN: ("Mã PIN không đúng.", "Wrong PIN."),
    Refusal.PIN_REQUIRED: ("Vui lòng nhập mã PIN.", "Please enter your PIN."),
    Refusal.PATRON_BLOCKED: ("Thẻ bạn đọc đang bị khóa. Vui lòng liên hệ thủ thư.",
                             "Your card is blocked. Please see a librarian."),
    Refusal.PATRON_EXPIRED: ("Thẻ bạn đọc đã hết hạn.", "Your card has expired."),
    Refusal.TOO_MANY_LOANS: ("Bạn đã mượn tối đa số tài liệu cho phép.",
                             "You have reached your loan limit."),
    Refusal.TOO_MANY_OVERDUE: ("Bạn có tài liệu quá hạn. Vui lòng trả trước khi mượn tiếp.",
                               "You have overdue items. Please return them first."),
    Refusal.EXCESSIVE_FINES: ("Bạn còn nợ phí quá mức cho phép. Vui lòng liên hệ thủ thư.",
                              "Your fines are over the limit. Please see a librarian."),
    Refusal.UNKNOWN_ITEM: ("Không tìm thấy tài liệu này.", "Item not found."),
    Refusal.ITEM_NOT_FOR_LOAN: ("Tài liệu này chỉ đọc tại chỗ.", "This item is not for loan."),
    Refusal.ON_LOAN_TO_ANOTHER: ("Tài liệu này đang được bạn đọc khác mượn.",
                                 "This item is on loan to another patron."),
    Refusal.ALREADY_ON_LOAN: ("Bạn đang mượn tài liệu này.", "You already have this item."),
    Refusal.ON_HOLD_FOR_ANOTHER: ("Tài liệu này đã được bạn đọc khác đặt trước.",
                                  "This item is on hold for another patron."),
    Refusal.NOT_ON_LOAN: ("Tài liệu này không được ghi mượn.", "This item is not on loan."),
    Refusal.NOT_LOANED_TO_PATRON: ("Bạn không mượn tài liệu này.",
                                   "This item is not on loan to you."),
    Refusal.RENEWAL_LIMIT: ("Tài liệu đã được gia hạn tối đa số lần cho phép.",
                            "This item cannot be renewed again."),
    Refusal.OTHER_LIBRARY: ("Thẻ hoặc tài liệu thuộc thư viện khác.",
                            "This card or item belongs to another library."),
    Refusal.NO_SUCH_HOLD: ("Không có yêu cầu đặt trước này.", "No such hold."),
    Refusal.HOLD_EXISTS: ("Bạn đã đặt trước tài liệu này.", "You already hold this item."),
    Refusal.NO_SUCH_FEE: ("Không tìm thấy khoản phí này.", "No such fee."),
    Refusal.BAD_AMOUNT: ("Số tiền không hợp lệ.", "Invalid amount."),
    Refusal.NOT_SUPPORTED: ("Chức năng này không được hỗ trợ.", "This is not supported here."),
    Screen.CHECKED_OUT: ("Mượn thành công. Hạn trả: {}.", "Checked out. Due {}."),
    Screen.RENEWED: ("Gia hạn thành công. Hạn trả mới: {}.", "Renewed. Now due {}."),
    Screen.CHECKED_IN: ("Trả tài liệu thành công.", "Item returned."),
    Screen.HOLD_SHELF: ("Tài liệu có người đặt trước: để vào giá giữ sách.",
                        "This item is on hold: put it on the hold shelf."),
    Screen.LOGIN_REQUIRED: ("Máy chưa đăng nhập vào hệ thống.", "The terminal is not logged in."),
    Screen.PIN_LOCKED: ("Nhập sai mã PIN quá nhiều lần. Vui lòng thử lại sau ít phút.",
                        "Too many wrong PINs. Please try again in a few minutes."),
    Screen.UNAVAILABLE: ("Hệ thống tạm thời không phản hồi. Vui lòng thử lại.",
                         "The system is not answering. Please try again."),
    Screen.MISSING_FIELD: ("Yêu cầu thiếu thông tin: {}.", "The request lacks: {}."),
    Screen.HOLD_PLACED: ("Đặt trước thành công.", "Hold placed."),
    Screen.HOLD_CANCELLED: ("Đã hủy đặt trước.", "Hold cancelled."),
    Screen.PAYMENT_ACCEPTED: ("Đã nhận thanh toán. Còn nợ: {}.",
                              "Payment accepted. Still owed: {}."),
    Screen.BLOCKED: ("Thẻ đã bị khóa.", "The card is now blocked."),
    Screen.ENABLED: ("Thẻ đã được mở khóa.", "The card is enabled again."),
    Screen.OVERDUE_FINE: ("Trả quá hạn, phí phạt: {}.", "Returned late, fine: {}."),
    Screen.WELCOME: ("Xin chào {}.", "Welcome, {}."),
    Screen.GOODBYE: ("Cảm ơn bạn. Hẹn gặp lại.", "Thank you. Goodbye."),
    Screen.PROPERTIES_SAVED: ("Đã lưu thông tin tài liệu.", "Item properties saved."),
}  # fmt: skip

#: SIP2 language codes answered in English.
_ENGLISH_CODES = frozenset({"001", "024"})


def language_of(patron_language: str | None, request_code: str | None) -> str:
    """``"en"`` or ``"vi"``: the patron's own preference first, then the kiosk's."""
    if patron_language:
        return "en" if patron_language.lower().startswith("en") else "vi"
    return "en" if (request_code or "").strip() in _ENGLISH_CODES else "vi"


def screen_text(key: str, language: str, *args: object) -> str:
    """The message ``key`` (a Refusal or a Screen) in ``language`` ("vi" or "en")."""
    vietnamese, english = _TEXT[key]
    return (english if language == "en" else vietnamese).format(*args)
