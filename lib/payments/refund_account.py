"""The bank account a virtual-account (가상계좌) payment is refunded to.

Toss Payments (docs.tosspayments.com, guides/apis/cancel-payment "가상계좌 결제 취소하기" and
the /reference cancel API's `refundReceiveAccount`): once the customer has paid in, a cancel of
a virtual-account payment must carry `refundReceiveAccount` {bank, accountNumber, holderName}:
`bank` is a bank code from Toss's list of bank codes (reference/codes, 은행 코드: two digits,
e.g. "88" 신한은행), `accountNumber` digits only (no dashes) up to 20, `holderName` up to 60
characters. Before the deposit (WAITING_FOR_DEPOSIT) only a full cancel is possible and no
account is needed: nothing was paid in. A card payment takes no account at all.

The account is personal data. It travels to the gateway in the cancel's body and nowhere
else: the audit log gets `masked()` (the account masking rule of lib.access.masking), the refunds
table keeps nothing of it, and `repr()` shows it masked, so a log line or a traceback that
prints one leaks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.access.masking import mask
from lib.errors import ValidationFailed

# Toss's bank codes for refund accounts (reference/codes, 은행 코드), code -> name shown to
# operators. The stored copy of that page did not come up in our search; the two-digit shape
# is the one Toss answers with (a refundReceiveAccount with "bank": "88" in a Toss cancel), and
# the list is Toss's table as published. A code missing here is refused before anything is
# sent; add it here when Toss adds a bank.
BANKS: dict[str, str] = {
    "39": "경남은행",
    "34": "광주은행",
    "12": "단위농협(지역농축협)",
    "32": "부산은행",
    "45": "새마을금고",
    "64": "산림조합",
    "88": "신한은행",
    "48": "신협",
    "27": "씨티은행",
    "20": "우리은행",
    "71": "우체국예금보험",
    "50": "저축은행중앙회",
    "37": "전북은행",
    "35": "제주은행",
    "90": "카카오뱅크",
    "89": "케이뱅크",
    "92": "토스뱅크",
    "81": "하나은행",
    "54": "홍콩상하이은행",
    "03": "IBK기업은행",
    "06": "KB국민은행",
    "31": "DGB대구은행",
    "02": "KDB산업은행",
    "11": "NH농협은행",
    "23": "SC제일은행",
    "07": "Sh수협은행",
}
MAX_ACCOUNT_NUMBER = 20  # digits (Toss: accountNumber, no dashes, at most 20)
MAX_HOLDER_NAME = 60  # characters (Toss: holderName, at most 60)
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only ("١٢" is not an account number)

# How a payment's method reads as a virtual account: the shop's own value, and Toss's
# Korean `method` ("가상계좌") and its English enum, whichever the gateway answers with.
VIRTUAL_ACCOUNT_METHODS = frozenset({"virtual_account", "가상계좌", "VIRTUAL_ACCOUNT"})
# A virtual-account payment whose money is in: a cancel of it needs the account.
PAID_IN = frozenset({"DONE", "PARTIAL_CANCELED"})
WAITING_FOR_DEPOSIT = "WAITING_FOR_DEPOSIT"

WHY = "A virtual-account payment is refunded to the customer's bank account."
REQUIRED = (
    "refund_account is required: a virtual-account payment that was paid in is refunded to "
    "the customer's bank account (bank, account_number, holder_name)."
)


def is_virtual_account(method: object) -> bool:
    return str(method or "").strip() in VIRTUAL_ACCOUNT_METHODS


def needs_account(method: object, status: object) -> bool:
    """Whether a cancel of a payment of this method and status must carry the account."""
    return is_virtual_account(method) and str(status or "") in PAID_IN


def may_need_account(method: object, status: object) -> bool:
    """Whether to ask for the account: a virtual-account payment not known to be still
    waiting for its deposit. The shop's copy of the status can be behind (the customer paid
    in since), so only the gateway's WAITING_FOR_DEPOSIT, read now, spares the question."""
    return is_virtual_account(method) and str(status or "") != WAITING_FOR_DEPOSIT


# A run of digits, possibly broken by the separators people type into an account number.
_NUMBER_RUN = re.compile(r"[0-9](?:[0-9 .\-/]*[0-9])?")


def appears_in(account: RefundAccount, text: str) -> bool:
    """Whether `text` carries the account's number, its digits with or without separators
    ("110-234-567890", "110 234 567890"), so it cannot travel unmasked in a free-text reason."""
    return any(
        account.account_number in re.sub(r"[^0-9]", "", run) for run in _NUMBER_RUN.findall(text)
    )


@dataclass(frozen=True)
class RefundAccount:
    """A validated refund account. `repr` is masked; `for_gateway()` is the only raw form."""

    bank: str
    account_number: str = field(repr=False)
    holder_name: str = field(repr=False)

    def __repr__(self) -> str:
        return f"RefundAccount({self.masked()!r})"

    __str__ = __repr__

    def masked(self) -> dict[str, str]:
        """What may be audited or shown: the bank, the account masked (lib.access.masking's account
        rule: the last four digits) and the holder's name masked."""
        return {
            "bank": self.bank,
            "account_number": str(mask("account", self.account_number)),
            "holder_name": str(mask("name", self.holder_name)),
        }

    def for_gateway(self) -> dict[str, str]:
        """Toss's `refundReceiveAccount` object."""
        return {
            "bank": self.bank,
            "accountNumber": self.account_number,
            "holderName": self.holder_name,
        }


def parse(value: Any) -> RefundAccount | None:
    """A refund account from {bank, account_number, holder_name} (None if absent), or
    ValidationFailed naming what is wrong — never echoing the number or the name typed."""
    if value is None:
        return None
    if isinstance(value, RefundAccount):
        value = {
            "bank": value.bank,
            "account_number": value.account_number,
            "holder_name": value.holder_name,
        }
    if not isinstance(value, Mapping):
        raise ValidationFailed("refund_account must be {bank, account_number, holder_name}")
    extra = sorted(set(value) - {"bank", "account_number", "holder_name"})
    if extra:
        raise ValidationFailed(f"refund_account has unexpected fields: {', '.join(extra)}")
    bank = value.get("bank")
    if not isinstance(bank, str) or bank.strip() not in BANKS:
        raise ValidationFailed("refund_account.bank must be one of Toss's bank codes")
    number = value.get("account_number")
    if not isinstance(number, str) or not number.strip():
        raise ValidationFailed("refund_account.account_number is required")
    number = number.strip().replace("-", "").replace(" ", "")
    if not _DIGITS.fullmatch(number):
        raise ValidationFailed("refund_account.account_number must be digits only")
    if len(number) > MAX_ACCOUNT_NUMBER:
        raise ValidationFailed(
            f"refund_account.account_number must be at most {MAX_ACCOUNT_NUMBER} digits"
        )
    holder = value.get("holder_name")
    if not isinstance(holder, str) or not holder.strip():
        raise ValidationFailed("refund_account.holder_name is required")
    holder = " ".join(holder.split())
    if len(holder) > MAX_HOLDER_NAME:
        raise ValidationFailed(
            f"refund_account.holder_name must be at most {MAX_HOLDER_NAME} characters"
        )
    return RefundAccount(bank.strip(), number, holder)
