"""Typed API errors with stable codes, and the one JSON shape every error answer has (DESIGN.md):

    {"error": {"code": "insufficient_credits", "message": "...", "requestId": "req_...", "field": "credits"?}}

Contract custom errors (ledger_node.revert) map to API errors through CONTRACT_ERRORS; a code in that table is
part of the public interface: change it only on purpose.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.field = field
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error = {"code": self.code, "message": self.message, "requestId": request_id}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class Unavailable(ApiError):
    status, code = 503, "service_unavailable"


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"


class NodeUnavailable(Unavailable):
    code = "node_unavailable"


# contract error name -> (HTTP status, API code, message)
CONTRACT_ERRORS: dict[str, tuple[int, str, str]] = {
    "RedemptionInsufficientCredits": (422, "insufficient_credits", "the resident's points are worth less than the credits asked"),
    "RedemptionMerchantNotActive": (403, "merchant_not_active", "the merchant is not registered or is suspended"),
    "RedemptionNotSubmitter": (500, "relayer_not_authorized", "the relayer lacks RELAYER_ROLE"),
    "RedemptionZeroCredits": (422, "invalid_credits", "credits must be positive"),
    "RedemptionTooLarge": (422, "invalid_credits", "credits above the supported maximum"),
    "RedemptionUnknown": (404, "redemption_not_found", "no such redemption on chain"),
    "RedemptionRefundWindowClosed": (422, "refund_window_closed", "the refund window has closed"),
    "RedemptionRefundTooLarge": (422, "refund_too_large", "more credits than are left to refund"),
    "RedemptionPartsMismatch": (409, "redemption_mismatch", "the redemption's parties or parts differ"),
    "ResidentNonceUsed": (409, "consent_already_used", "this consent's nonce was used before"),
    "ResidentSignatureExpired": (422, "consent_expired", "the signed deadline has passed"),
    "ResidentSignatureInvalid": (422, "invalid_signature", "the signature is not the resident's"),
    "ExchangePairNotAllowed": (422, "pair_not_allowed", "these schemes may not be exchanged"),
    "ExchangeBelowMinimum": (422, "below_minimum", "the exchange would give less than the signed minimum"),
    "ExchangeDailyLimitExceeded": (422, "daily_limit_exceeded", "the resident's daily exchange limit would be passed"),
    "ExchangeZeroPoints": (422, "invalid_points", "points must be positive"),
    "RatesNoRate": (422, "scheme_has_no_rate", "the scheme has no rate"),
    "PointsLedgerInsufficientBalance": (422, "insufficient_points", "not enough points"),
    "PointsLedgerPaused": (503, "ledger_paused", "the ledger is paused"),
    "PointsLedgerSchemeNotActive": (422, "scheme_not_active", "the scheme is not active"),
    "PointsLedgerNotResident": (422, "not_a_resident", "the account is not a registered resident"),
    "MembershipIdentityTaken": (409, "identity_already_registered", "this person already has an account"),
    "MembershipAlreadyResident": (409, "already_resident", "the account is already a registered resident"),
    "MembershipAccountHoldsRole": (409, "account_holds_role", "the account holds a role and cannot be a resident"),
    "MembershipUnauthorized": (500, "onboarding_not_authorized", "the onboarding account lacks its role"),
}


def from_contract_error(name: str | None, args: tuple = ()) -> ApiError:
    if name in CONTRACT_ERRORS:
        status, code, message = CONTRACT_ERRORS[name]
        return ApiError(message, code=code, status=status)
    return ApiError(f"the ledger refused the transaction ({name or 'reverted without reason'})",
                    code="transaction_rejected", status=422)
