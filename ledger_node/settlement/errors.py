"""What a settlement command refuses, as one exception with a stable code: the CLI prints the code and the message
and exits non-zero. A contract's refusal keeps the code the whole project gives it (ledger_node.contract_errors), so
`period_not_closed` means the same here, in the API and in the SDK."""
from __future__ import annotations

from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED
from ledger_node.errors import LedgerNodeError

USAGE = 2      # exit code: a bad argument, key or deployment; nothing was sent
REFUSED = 1    # exit code: the ledger refused, or the node could not be reached
MISMATCH = 3   # exit code: a statement's positions and its period's events disagree


class SettlementError(LedgerNodeError):
    """A refusal with a stable `code`, a `message` for people and the process exit code; `contract_error` names the
    contract's custom error when the ledger refused."""

    def __init__(self, code: str, message: str, *, exit_code: int = REFUSED, contract_error: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.contract_error = contract_error

    def as_dict(self) -> dict:
        out = {"object": "error", "code": self.code, "message": self.message}
        if self.contract_error:
            out["contractError"] = self.contract_error
        return out


def usage(code: str, message: str) -> SettlementError:
    """A bad argument: refused before anything is sent."""
    return SettlementError(code, message, exit_code=USAGE)


def contract_refusal(error: str | None, args: tuple = ()) -> SettlementError:
    """The ledger's refusal (a decoded custom error, or none) under the project's one vocabulary of codes."""
    entry = CONTRACT_ERRORS.get(error or "", UNNAMED)
    detail = f" ({error}{_args(args)})" if error else ""
    return SettlementError(entry.code, entry.message + detail, contract_error=error)


def _args(args: tuple) -> str:
    return "(" + ", ".join("0x" + a.hex() if isinstance(a, bytes) else str(a) for a in args) + ")"
