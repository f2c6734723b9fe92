"""Typed API errors with stable codes, and the one JSON shape every error answer has (docs/DESIGN.md):

    {"error": {"code": "insufficient_credits", "message": "...", "requestId": "req_...", "field": "credits"?}}

Contract custom errors (decoded by ledger_node.revert) map to API errors through CONTRACT_ERRORS, the project's one
vocabulary of contract errors (ledger_node.contract_errors: status, code, message), which the SDK's codes share; a
code in that table is part of the public interface: change it only on purpose.

Every exception of exchange_api that is an answer to an HTTP caller derives from ApiError (`idempotency` stores the
answer of one with a status below 500 for the key's retries). A few are not answers, so they stay outside it, and
an escaped one is a 500 rather than a stored 4xx: chain.ChainRevert and chain.RpcFailure (what the node said,
turned into an ApiError by the service that called it, e.g. with from_contract_error), idempotency._KeyTaken and
indexer.ChainMoved (control flow inside one module), relayer_lease.LeaseHeld (start-up refuses to run),
webhooks.TargetRefused (turned into InvalidRequest where a merchant gives a URL) and webhooks.SignatureError
(raised to a merchant's receiver checking our signature, not by the API).
"""
from __future__ import annotations

from typing import Any

from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED


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


def from_contract_error(name: str | None, args: tuple = ()) -> ApiError:
    """The answer to contract error `name`; a revert the vocabulary does not name is UNNAMED's."""
    if name in CONTRACT_ERRORS:
        status, code, message = CONTRACT_ERRORS[name]
        return ApiError(message, code=code, status=status)
    return ApiError(f"{UNNAMED.message} ({name or 'reverted without reason'})", code=UNNAMED.code,
                    status=UNNAMED.status)


def from_failure_code(code: str | None) -> ApiError:
    """The answer to a record that failed with `code` (a redemption its batch skipped: the record keeps the code of
    the error the contract gave it)."""
    for status, known, message in CONTRACT_ERRORS.values():
        if known == code:
            return ApiError(message, code=known, status=status)
    return ApiError(UNNAMED.message, code=UNNAMED.code, status=UNNAMED.status)
