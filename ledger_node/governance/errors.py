"""The one exception of `citypoints gov`: a stable code, a sentence, and details.

A refusal of the contracts keeps the code ledger_node.contract_errors gives its custom error (the API and the SDK
answer the same code for it). A call of an executed proposal that reverts (ConsortiumCallFailed) is reported with
the code of the inner error, which is what the member has to act on. Arguments refused before anything is sent
use the few codes below, or a contract error's code when the check is the contract's own rule run early.
"""
from __future__ import annotations

from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED
from ledger_node.errors import LedgerNodeError
from ledger_node.governance.formats import PROPOSAL_STATES, utc

# Refusals of the command itself (nothing was sent): code -> what it means.
ARGUMENT_ERRORS = {
    "unknown_action": "no named action has this name (`citypoints gov actions` lists them)",
    "bad_arguments": "the action takes other arguments",
    "invalid_integer": "an integer argument is not an integer in the allowed range",
    "invalid_address": "an address argument is not a checksummed (or all-lowercase) 20-byte address",
    "unknown_contract": "no deployed contract has this name",
    "unknown_function": "the contract has no such function",
    "unknown_member": "the account is not a consortium member",
    "already_issuer": "the account is already an issuer account of the scheme",
    "no_deployment": "no deployment file or no node answering at its RPC URL",
    "unknown_state": "no proposal state has this name",
    "invalid_approval_file": "the signed approval is not one `citypoints gov sign` writes",
    "wrong_city": "the approval was signed for another chain or another Consortium",
    "file_exists": "the output file exists (nothing is overwritten)",
}


class GovError(LedgerNodeError):
    """A refusal with a stable `code` (the CLI prints it and exits non-zero)."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


def argument_error(code: str, detail: str) -> GovError:
    """A refusal of the command's arguments: the code's meaning, then what was wrong."""
    return GovError(code, f"{ARGUMENT_ERRORS[code]}: {detail}")


def contract_rule(error_name: str, detail: str = "") -> GovError:
    """A contract's own rule checked before sending: the code and message the contract's error has."""
    entry = CONTRACT_ERRORS[error_name]
    return GovError(entry.code, entry.message + (f" ({detail})" if detail else ""), error=error_name)


def from_revert(name: str | None, args: tuple, fallback: str = "") -> GovError:
    """The contracts' refusal `name(args)` (from ledger_node.chain.TransactionFailed) in the shared vocabulary."""
    from ledger_node.revert import decode_revert

    if name == "ConsortiumCallFailed" and len(args) == 3:
        proposal_id, index, reason = args
        inner = decode_revert(reason)
        entry = CONTRACT_ERRORS.get(inner[0], UNNAMED) if inner else UNNAMED
        return GovError(entry.code, f"call {index + 1} of proposal {proposal_id} reverted: {entry.message}",
                        error=inner[0] if inner else None, outerError=name, callIndex=index)
    if name is None:
        return GovError(UNNAMED.code, f"{UNNAMED.message}{': ' + fallback if fallback else ''}")
    entry = CONTRACT_ERRORS.get(name, UNNAMED)
    message = entry.message
    if name == "ConsortiumProposalNotOpen" and len(args) == 2:
        message += f" (it is {PROPOSAL_STATES.get(args[1], args[1])})"
    elif name == "ConsortiumNoticePending" and len(args) == 3:
        message += f" (executable from {utc(args[1])})"
    elif name == "ConsortiumInsufficientApprovals" and len(args) == 3:
        message += f" ({args[1]} of {args[2]})"
    return GovError(entry.code, message, error=name, errorArgs=[_plain(a) for a in args])


def from_call_error(exc: Exception) -> GovError:
    """A reverted eth_call (web3's ContractLogicError and kin) in the shared vocabulary."""
    from ledger_node.revert import decode_revert

    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    decoded = decode_revert(data) if isinstance(data, (str, bytes)) else None
    return from_revert(*(decoded or (None, ())), fallback=str(exc))


def _plain(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
