"""Every failure the SDK raises is an `IssuerError`; each carries what was attempted.

    IssuerError
    ├── ConfigurationError          the client cannot be set up (missing deployment, bad salt, wrong chain)
    │   └── MappingInvalid          an adapter's mapping file is malformed (`problems`: line, code, sentence)
    ├── RecordRejected              an adapter refused a record (`reason`, `record`)
    ├── InvalidIssuance             an item given to the client is malformed (nothing of its batch sent)
    ├── TransportError              the node could not be reached or the connection dropped
    │   └── ConfirmationTimeout     sent, but no receipt within the configured time
    ├── RpcError                    the node answered with a JSON-RPC error that is not a revert
    │   └── NonceConflict           another sender used this account's nonce
    └── ContractError               the ledger refused the call (a custom error, or a bare revert)
        ├── NotIssuer, SchemeNotActive, ResidentNotRegistered, QuotaExceeded, CapExceeded,
        │   InvalidBatch, LedgerPaused, InsufficientBalance   explicit classes for what callers act on
        ├── <ContractErrorName>     one class per `error` entry of the ledger's ABI, generated,
        │                           subclassing the explicit class it maps to (`_EXACT`, `_PATTERNS`)
        └── TransactionReverted     reverted without data the ABI explains

A contract error class is generated from the artifact's `error` entries (`register_abi`), so a new
custom error in the contract gets its own class without a change here: `errors.by_name("X")`, or
`errors.X` once the ABI is registered (the ledger client registers it on construction).

A contract error's `code` is the project's one code for it (ledger_node.contract_errors), the code the
exchange API answers the same error with; an explicit class has the code of the ledger error it stands for.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger_node.abi_types import abi_type
from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED


class IssuerError(Exception):
    """Root of every SDK error.

    `attempted` says what the SDK was doing (operation, scheme, refs, amounts, nonce...);
    `tx_hash` is set when a transaction was sent; `code` is a stable machine-readable name.
    """

    code = "issuer_error"

    def __init__(self, message: str, *, attempted: dict | None = None, tx_hash: str | None = None):
        super().__init__(message)
        self.message = message
        self.attempted = dict(attempted or {})
        self.tx_hash = tx_hash

    def __str__(self) -> str:
        parts = [self.message]
        if self.attempted:
            shown = {k: _short(v) for k, v in self.attempted.items()}
            parts.append(f"attempted={shown}")
        if self.tx_hash:
            parts.append(f"tx={self.tx_hash}")
        return " | ".join(parts)


class ConfigurationError(IssuerError):
    code = "configuration"


@dataclass(frozen=True)
class MappingProblem:
    """One problem of a mapping file: its line in the file (1-based; 0 when the file as a whole), a stable code
    and a sentence."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}" if self.line else f"{self.code}: {self.message}"


class MappingInvalid(ConfigurationError):
    """A mapping file (issuer_sdk/adapters/mapping.py) that cannot be used; nothing is issued from it."""

    code = "invalid_mapping"

    def __init__(self, path: str, problems: list[MappingProblem]):
        self.path = path
        self.problems = sorted(problems, key=lambda p: p.line)  # in file order (stable: same line, found order)
        super().__init__(f"{path}: {len(self.problems)} problem(s) in the mapping file:\n"
                         + "\n".join(f"  {p}" for p in self.problems))


class RecordRejected(IssuerError):
    """An adapter refused a record: `reason` is a stable code, `detail` a sentence, `record` the input."""

    code = "record_rejected"

    def __init__(self, reason: str, detail: str, *, record: Any = None, line: int | None = None):
        super().__init__(f"{reason}: {detail}", attempted={"record": record, "line": line})
        self.reason = reason
        self.detail = detail
        self.record = record
        self.line = line


class RulesNotPublished(ConfigurationError):
    """The rules a run applies are not the scheme's published rules: no version the SchemeRegistry holds for the
    scheme has the run's rules hash (or the version asked for has another hash). Nothing was issued."""

    code = "rules_not_published"


class InvalidIssuance(IssuerError):
    """An item handed to the client is malformed (address, amount, ref or reason); nothing of its batch was sent."""

    code = "invalid_issuance"


class TransportError(IssuerError):
    """The node could not be reached, or the connection broke. `sent` is True/False/None (unknown)."""

    code = "transport"

    def __init__(self, message: str, *, attempted: dict | None = None, tx_hash: str | None = None,
                 sent: bool | None = None):
        super().__init__(message, attempted=attempted, tx_hash=tx_hash)
        self.sent = sent


class ConfirmationTimeout(TransportError):
    code = "confirmation_timeout"


class RpcError(IssuerError):
    """The node answered with a JSON-RPC error (`rpc_code`, `rpc_message`) that is not a contract revert."""

    code = "rpc_error"

    def __init__(self, message: str, *, rpc_code: int | None = None, rpc_message: str = "", data: Any = None,
                 attempted: dict | None = None, tx_hash: str | None = None):
        super().__init__(message, attempted=attempted, tx_hash=tx_hash)
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.data = data


class NonceConflict(RpcError):
    code = "nonce_conflict"


class ContractError(IssuerError):
    """The ledger refused the call. `error_name` / `error_args` (by position) / `fields` (by name)."""

    code = "contract_error"
    error_name: str = ""
    error_inputs: tuple[str, ...] = ()

    def __init__(self, message: str | None = None, *, error_args: tuple = (), attempted: dict | None = None,
                 tx_hash: str | None = None, receipt: Any = None):
        self.error_args = tuple(error_args)
        self.fields = dict(zip(self.error_inputs, self.error_args))
        self.receipt = receipt
        if message is None:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in self.fields.items()) or \
                ", ".join(_short(a) for a in self.error_args)
            message = f"{self.error_name or type(self).__name__}({shown})"
        super().__init__(message, attempted=attempted, tx_hash=tx_hash)


class TransactionReverted(ContractError):
    code = UNNAMED.code
    error_name = "TransactionReverted"


# -- explicit classes: the refusals an issuer's program acts on ------------------------------------------------

class NotIssuer(ContractError):
    """The signing account is not an issuer of this scheme."""
    code = CONTRACT_ERRORS["PointsLedgerNotIssuer"].code


class SchemeNotActive(ContractError):
    """The scheme is unknown, paused or retired."""
    code = CONTRACT_ERRORS["PointsLedgerSchemeNotActive"].code


class ResidentNotRegistered(ContractError):
    code = CONTRACT_ERRORS["PointsLedgerNotResident"].code


class QuotaExceeded(ContractError):
    """The issuer's daily quota for the scheme would be exceeded; nothing of the call was applied."""
    code = CONTRACT_ERRORS["PointsLedgerIssuerDailyQuotaExceeded"].code


class CapExceeded(ContractError):
    """A resident's daily cap for the scheme would be exceeded; nothing of the call was applied."""
    code = CONTRACT_ERRORS["PointsLedgerResidentDailyCapExceeded"].code


class InvalidBatch(ContractError):
    """The batch is malformed (length mismatch, empty, too long, zero amount)."""
    code = CONTRACT_ERRORS["PointsLedgerLengthMismatch"].code


class LedgerPaused(ContractError):
    code = CONTRACT_ERRORS["PointsLedgerPaused"].code


class InsufficientBalance(ContractError):
    code = CONTRACT_ERRORS["PointsLedgerInsufficientBalance"].code


# The ledger's errors (contracts/interfaces/IPointsLedger.sol) -> explicit class.
_EXACT: dict[str, type[ContractError]] = {
    "PointsLedgerNotIssuer": NotIssuer,
    "PointsLedgerUnknownScheme": SchemeNotActive,
    "PointsLedgerSchemeNotActive": SchemeNotActive,
    "PointsLedgerNotResident": ResidentNotRegistered,
    "PointsLedgerIssuerDailyQuotaExceeded": QuotaExceeded,
    "PointsLedgerResidentDailyCapExceeded": CapExceeded,
    "PointsLedgerLengthMismatch": InvalidBatch,
    "PointsLedgerZeroAmount": InvalidBatch,
    "PointsLedgerZeroIdentity": InvalidBatch,
    "PointsLedgerPaused": LedgerPaused,
    "PointsLedgerInsufficientBalance": InsufficientBalance,
}
# A new contract error not named above gets the explicit class its name suggests (first match), else ContractError.
_PATTERNS: list[tuple[str, type[ContractError]]] = [
    (r"Quota", QuotaExceeded),
    (r"Cap(Exceeded)?$|DailyCap", CapExceeded),
    (r"NotIssuer", NotIssuer),
    (r"Scheme(NotActive|Paused|Retired)|UnknownScheme", SchemeNotActive),
    (r"NotResident|NotRegistered", ResidentNotRegistered),
    (r"LengthMismatch|ZeroAmount|ZeroIdentity|EmptyBatch|BatchTooLarge", InvalidBatch),
    (r"Paused$", LedgerPaused),
    (r"InsufficientBalance", InsufficientBalance),
]


# -- registry generated from ABIs -------------------------------------------------------------------------------

_lock = threading.Lock()
_by_name: dict[str, type[ContractError]] = {}
_by_selector: dict[bytes, tuple[type[ContractError], list[str]]] = {}


def register_abi(abi: list[dict]) -> dict[str, type[ContractError]]:
    """Generate (once) a ContractError subclass for every `error` entry of `abi`; returns {name: class}."""
    made = {}
    with _lock:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [abi_type(i) for i in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            cls = _by_name.get(item["name"])
            if cls is None:
                base = _EXACT.get(item["name"]) or next(
                    (b for pattern, b in _PATTERNS if re.search(pattern, item["name"])), ContractError)
                cls = type(item["name"], (base,), {
                    "error_name": item["name"],
                    "error_inputs": tuple(i.get("name") or f"arg{n}" for n, i in enumerate(item["inputs"])),
                    "code": CONTRACT_ERRORS[item["name"]].code if item["name"] in CONTRACT_ERRORS else base.code,
                    "__doc__": f"Contract error {item['name']}({', '.join(types)}), generated from the ABI.",
                    "__module__": __name__,
                })
                _by_name[item["name"]] = cls
            _by_selector[selector] = (cls, types)
            made[item["name"]] = cls
    return made


def by_name(name: str) -> type[ContractError]:
    """The class generated for contract error `name` (register the ABI first)."""
    try:
        return _by_name[name]
    except KeyError:
        raise AttributeError(f"no contract error named {name!r} in a registered ABI") from None


def from_revert_data(data: bytes | str | None, *, attempted: dict | None = None, tx_hash: str | None = None,
                     receipt: Any = None) -> ContractError:
    """Build the ContractError subclass instance that revert `data` encodes (TransactionReverted if unknown)."""
    raw = _to_bytes(data)
    if len(raw) >= 4:
        hit = _by_selector.get(raw[:4])
        if hit:
            cls, types = hit
            try:
                args = tuple(to_checksum_address(a) if t == "address" else a
                             for t, a in zip(types, abi_decode(types, raw[4:])))
            except Exception:
                args = ()
            return cls(error_args=args, attempted=attempted, tx_hash=tx_hash, receipt=receipt)
        if raw[:4] == _ERROR_STRING:
            try:
                (text,) = abi_decode(["string"], raw[4:])
            except Exception:
                text = raw.hex()
            return TransactionReverted(f"reverted: {text}", attempted=attempted, tx_hash=tx_hash, receipt=receipt)
        if raw[:4] == _PANIC:
            return TransactionReverted(f"panic 0x{raw[4:].hex()[-2:]}", attempted=attempted, tx_hash=tx_hash,
                                       receipt=receipt)
    detail = f"reverted with unknown data 0x{raw.hex()}" if raw else "reverted without data"
    return TransactionReverted(detail, attempted=attempted, tx_hash=tx_hash, receipt=receipt)


def __getattr__(name: str):  # `errors.PointsLedgerQuotaExceeded` once the ledger ABI is registered
    if name in _by_name:
        return _by_name[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")


def _to_bytes(data) -> bytes:
    if not data:
        return b""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"[{', '.join(_short(v) for v in value[:3])}, ... {len(value)} items]"
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(_short(v) for v in value)}]"
    return str(value)
