"""Cybersource simulator: constants, small helpers, money and the Cybersource-shaped errors.

Part of the Cybersource simulator (cybersource.py is the entry point; the cybs_*.py modules are its
parts). Standard library only.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from simkit import rfc3339, utc_now  # noqa: F401 - utc_now is re-exported to the cybs_* modules

DEFAULT_PORT = 4571
DEFAULT_DATE_WINDOW_S = 15 * 60
DEFAULT_SECRETS = Path(__file__).resolve().parent.parent / "secrets.local.json"
PTS_CT = "application/hal+json;charset=utf-8"
ADMIN_CT = "application/json"
AUTH_FAILED_BODY = {"response": {"rmsg": "Authentication Failed"}}  # docs/cybersource.md §1

OPERATIONS = ("authorize", "capture", "refund", "reversal", "void", "details", "search", "tms",
              "report", "decision")

# ISO 4217 minor-unit exponents that differ from 2; any other [A-Z]{3} code is taken as 2.
CURRENCY_EXPONENT = {
    **{c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                      "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
    **{c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
    "CLF": 4, "UYW": 4,
}
AMOUNT_RE = re.compile(r"^\d{1,15}(\.\d{1,8})?$")

# Cybersource card type codes -> (name, masked-number prefix used when minting tokens)
CARD_TYPES = {
    "001": ("Visa", "411111"), "002": ("Mastercard", "555555"), "003": ("American Express", "378282"),
    "004": ("Discover", "601111"), "005": ("Diners Club", "305693"), "007": ("JCB", "353011"),
}
# Card type code -> the lower-case brand used in routing-model segment keys ("USD|visa").
CARD_BRANDS = {"001": "visa", "002": "mastercard", "003": "amex", "004": "discover", "005": "diners",
               "007": "jcb"}

# Statuses where the issuer approved and an authorization hold exists.
HELD = {"AUTHORIZED", "PARTIAL_AUTHORIZED", "AUTHORIZED_PENDING_REVIEW", "PENDING_REVIEW",
        "AUTHORIZED_RISK_DECLINED"}
CAPTURABLE = {"AUTHORIZED", "PARTIAL_AUTHORIZED"}
REVIEW_STATUSES = {"AUTHORIZED_PENDING_REVIEW", "PENDING_REVIEW"}

# Decision Manager / processor triggers: billTo.email local part (before any "+tag"), lower case.
#   key -> (status, errorInformation.reason, processor responseCode, DM decision, TSS reasonCode)
TRIGGERS = {
    "review": ("PENDING_REVIEW", "DECISION_PROFILE_REVIEW", "00", "REVIEW", "480"),
    "authreview": ("AUTHORIZED_PENDING_REVIEW", "DECISION_PROFILE_REVIEW", "00", "REVIEW", "480"),
    "reject": ("AUTHORIZED_RISK_DECLINED", "DECISION_PROFILE_REJECT", "00", "REJECT", "481"),
    "dmdecline": ("DECLINED", "DECISION_PROFILE_REJECT", None, "REJECT", "481"),
    "decline": ("DECLINED", "PROCESSOR_DECLINED", "05", "ACCEPT", "203"),
    "nsf": ("DECLINED", "INSUFFICIENT_FUND", "51", "ACCEPT", "204"),
    "expired": ("DECLINED", "EXPIRED_CARD", "54", "ACCEPT", "202"),
    "3ds": ("PENDING_AUTHENTICATION", "CONSUMER_AUTHENTICATION_REQUIRED", None, None, "475"),
    "partial": ("PARTIAL_AUTHORIZED", None, "10", "ACCEPT", "100"),
    # soft decline (retry elsewhere may succeed); merchants on the soft-decline-exempt list ignore it
    "soft": ("DECLINED", "ISSUER_UNAVAILABLE", "91", "ACCEPT", "207"),
}
DM_TRIGGERS = {"review", "authreview", "reject", "dmdecline"}  # skipped with DECISION_SKIP
# Every local part with a fixed outcome; the routing model never overrides these, so trigger-based
# tests stay deterministic while a model is set.
EMAIL_TRIGGERS = frozenset(TRIGGERS) | {"invalid", "servererror", "timeout"}

# Decline reasons (docs/cybersource.md §2.3 errorInformation.reason) the routing model can return:
#   reason -> (processor responseCode, TSS reasonCode, errorInformation.message)
DECLINE_REASONS = {
    "ISSUER_UNAVAILABLE": ("91", "207", "Decline - The issuing bank is unavailable."),
    "PROCESSOR_ERROR": ("96", "236", "Decline - Processor failure."),
    "PROCESSOR_DECLINED": ("05", "203", "Decline - General decline of the card."),
    "INSUFFICIENT_FUND": ("51", "204", "Decline - Insufficient funds in the account."),
    "EXPIRED_CARD": ("54", "202", "Decline - Expired card."),
    "STOLEN_LOST_CARD": ("43", "205", "Decline - The card was reported stolen or lost."),
    "EXCEEDS_CREDIT_LIMIT": ("61", "210", "Decline - The card has reached its credit limit."),
    "INVALID_ACCOUNT": ("14", "231", "Decline - Invalid account number."),
    "CONTACT_PROCESSOR": ("01", "201", "Decline - The issuing bank has questions about the request."),
    "GENERAL_DECLINE": ("05", "233", "Decline - General decline by the processor."),
}
# Codes for a reason the table does not know, by kind of decline.
SOFT_FALLBACK = ("91", "207", "Decline - Temporary decline; a retry may succeed.")
HARD_FALLBACK = ("05", "233", "Decline - General decline by the processor.")
DEFAULT_SOFT_REASONS = ["ISSUER_UNAVAILABLE", "PROCESSOR_ERROR"]
DEFAULT_HARD_REASONS = ["PROCESSOR_DECLINED", "INSUFFICIENT_FUND"]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------

def ts(dt: datetime) -> str:
    """PTS timestamp format YYYY-MM-DDThh:mm:ssZ."""
    return rfc3339(dt)


def ts_ms(dt: datetime) -> str:
    return rfc3339(dt, ms=True)


def parse_iso(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def dig(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def card_name(card_type: str | None) -> str:
    return CARD_TYPES.get(card_type or "", ("Unknown", ""))[0]


def card_type_from_bin(number: str) -> str:
    if number.startswith("4"):
        return "001"
    if number[:2] in ("51", "52", "53", "54", "55") or number[:1] == "2":
        return "002"
    if number[:2] in ("34", "37"):
        return "003"
    if number.startswith("6"):
        return "004"
    if number[:2] in ("30", "36", "38"):
        return "005"
    if number.startswith("35"):
        return "007"
    return "001"


# --------------------------------------------------------------------------------------------
# money
# --------------------------------------------------------------------------------------------

class ApiError(Exception):
    """An HTTP error answer with a Cybersource-shaped body."""

    def __init__(self, http_status: int, body: dict):
        super().__init__(f"{http_status} {body.get('reason') or body.get('status')}")
        self.http_status = http_status
        self.body = body


def invalid(reason: str, message: str, field: str | None = None, field_reason: str = "INVALID",
            http_status: int = 400) -> ApiError:
    body = {"submitTimeUtc": ts(utc_now()), "status": "INVALID_REQUEST", "reason": reason,
            "message": message}
    if field:
        body["details"] = [{"field": field, "reason": field_reason}]
    return ApiError(http_status, body)


def missing(field: str) -> ApiError:
    return invalid("MISSING_FIELD", f"Declined - The request is missing one or more fields",
                   field, "MISSING")


def not_found(message: str) -> ApiError:
    return ApiError(404, {"submitTimeUtc": ts(utc_now()), "status": "NOT_FOUND", "reason": "NOT_FOUND",
                          "message": message})


def server_error(reason: str = "SYSTEM_ERROR", status: int = 502) -> ApiError:
    return ApiError(status, {"submitTimeUtc": ts(utc_now()), "status": "SERVER_ERROR", "reason": reason,
                             "message": "Error - General system failure."})


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENT.get(currency, 2)


def check_currency(currency, field: str) -> str:
    if currency is None:
        raise missing(field)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                      field)
    return currency


def parse_amount(value, currency: str, field: str, allow_zero: bool = True) -> int:
    """Decimal string in major units -> integer minor units, exactly. Errors are 400s."""
    if value is None:
        raise missing(field)
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                      field)
    exp = exponent(currency)
    whole, _, frac = value.partition(".")
    if len(frac) > exp:
        raise invalid("INVALID_DATA",
                      f"Declined - {field} has more fraction digits than {currency} allows ({exp})", field)
    minor = int(whole) * 10 ** exp + (int(frac.ljust(exp, "0")) if exp else 0)
    if minor == 0 and not allow_zero:
        raise invalid("INVALID_AMOUNT", "Declined - The amount must be greater than zero", field)
    return minor


def fmt_amount(minor: int, currency: str) -> str:
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    q, r = divmod(abs(minor), 10 ** exp)
    return f"{sign}{q}.{r:0{exp}d}"

