"""One vocabulary for contract errors (ledger_node/contract_errors.py) and one root exception per package.

The same revert data gives the same code through the SDK and through the API; every custom error of the compiled
contracts has an entry (a contract that gains an error fails here until the error gets its code); and every
exception class of ledger_node, issuer_sdk and exchange_api derives from its package's root.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from exchange_api.errors import ApiError, from_contract_error
from exchange_api.services.confirmations import failure_code
from issuer_sdk import errors as sdk_errors
from ledger_node.abi_types import abi_type
from ledger_node.contract_errors import CONTRACT_ERRORS
from ledger_node.errors import LedgerNodeError
from ledger_node.revert import decode_revert

ROOT = Path(__file__).resolve().parent.parent

# exchange_api's exceptions that are not answers to an HTTP caller, and why (exchange_api/errors.py says more)
NOT_API_ANSWERS = {
    "exchange_api.chain.ChainRevert": "what the node said; the calling service turns it into an ApiError",
    "exchange_api.chain.RpcFailure": "what the node said; the calling service turns it into an ApiError",
    "exchange_api.idempotency.KeyTaken": "control flow: a handler found its key held; idempotency.py replays",
    "exchange_api.indexer.ChainMoved": "control flow inside the indexer's loop",
    "exchange_api.relayer_lease.LeaseHeld": "start-up refuses to run; no request is being answered",
    "exchange_api.webhooks.TargetRefused": "turned into InvalidRequest where a merchant gives a URL",
}


def abi_errors(artifacts: dict[str, dict]) -> dict[str, tuple[str, dict]]:
    """{error name: (contract, ABI item)} over every compiled contract."""
    return {item["name"]: (contract, item) for contract, artifact in artifacts.items()
            for item in artifact["abi"] if item["type"] == "error"}


def test_everyContractError_hasAnEntry_andEveryEntryAContractError(artifacts):
    found = abi_errors(artifacts)
    missing = sorted(f"{name} ({contract})" for name, (contract, _) in found.items() if name not in CONTRACT_ERRORS)
    assert not missing, f"contract errors without a code in ledger_node/contract_errors.py: {missing}"
    stale = sorted(set(CONTRACT_ERRORS) - set(found))
    assert not stale, f"ledger_node/contract_errors.py names errors no contract has: {stale}"


def test_entries_haveAStatusACodeAndAMessage():
    for name, entry in CONTRACT_ERRORS.items():
        assert entry.status in (403, 404, 409, 422, 500, 503), name
        assert entry.code and entry.code == entry.code.lower() and " " not in entry.code, name
        assert entry.message, name


def test_sameRevertData_sameCode_inTheSdkAndTheApi(artifacts):
    for artifact in artifacts.values():
        sdk_errors.register_abi(artifact["abi"])
    for name, (_, item) in abi_errors(artifacts).items():
        data = revert_data(item)
        decoded = decode_revert(data)
        assert decoded and decoded[0] == name
        api = from_contract_error(*decoded)
        sdk = sdk_errors.from_revert_data(data)
        entry = CONTRACT_ERRORS[name]
        assert type(sdk) is sdk_errors.by_name(name), name
        assert sdk.code == api.code == entry.code, (name, sdk.code, api.code)
        assert (api.status, api.message) == (entry.status, entry.message), name


def test_theSdksExplicitClasses_haveTheCodesOfTheirLedgerErrors():
    assert sdk_errors.ResidentNotRegistered.code == from_contract_error("PointsLedgerNotResident").code \
        == "not_a_resident"
    assert sdk_errors.InsufficientBalance.code == from_contract_error("PointsLedgerInsufficientBalance").code \
        == "insufficient_points"
    for explicit, error in [(sdk_errors.NotIssuer, "PointsLedgerNotIssuer"),
                            (sdk_errors.SchemeNotActive, "PointsLedgerSchemeNotActive"),
                            (sdk_errors.QuotaExceeded, "PointsLedgerIssuerDailyQuotaExceeded"),
                            (sdk_errors.CapExceeded, "PointsLedgerResidentDailyCapExceeded"),
                            (sdk_errors.InvalidBatch, "PointsLedgerLengthMismatch"),
                            (sdk_errors.LedgerPaused, "PointsLedgerPaused")]:
        assert explicit.code == CONTRACT_ERRORS[error].code, explicit


def test_aRevertTheVocabularyDoesNotName_isTransactionRejected_inTheApiTheRelayerAndTheSdk():
    api = from_contract_error(None)
    assert (api.status, api.code) == (422, "transaction_rejected")
    assert from_contract_error("Error").code == "transaction_rejected"
    assert failure_code(None) == failure_code(("Panic", (17,))) == "transaction_rejected"
    assert sdk_errors.from_revert_data("0x").code == "transaction_rejected"


@pytest.mark.parametrize("package, root", [("ledger_node", LedgerNodeError), ("issuer_sdk", sdk_errors.IssuerError),
                                           ("exchange_api", ApiError)])
def test_everyExceptionOfAPackage_derivesFromItsRoot(package, root):
    strays = []
    for where, cls in exception_classes(package).items():
        if not issubclass(cls, root) and where not in NOT_API_ANSWERS:
            strays.append(where)
    assert not strays, f"exceptions of {package} that do not derive from {root.__name__}: {strays}"


def test_theExceptionsLeftOutsideApiError_stillExist():
    classes = exception_classes("exchange_api")
    for where in NOT_API_ANSWERS:
        assert where in classes and not issubclass(classes[where], ApiError), where


# -- helpers ---------------------------------------------------------------------------------------------------

def exception_classes(package: str) -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of `package` (each source file's module imported), by its dotted
    name as the source tree gives it."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if not all((folder / "__init__.py").exists() for folder in path.parents if folder.is_relative_to(ROOT / package)):
            continue  # not a module of the package (alembic's migrations/env.py, scripts under node_modules)
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        if Path(module.__file__).resolve() != path.resolve():
            # under pytest, tests/exchange_api (a package) may hold the package's name: find the module by its file
            loaded = {Path(m.__file__).resolve(): m for m in list(sys.modules.values())
                      if isinstance(getattr(m, "__file__", None), str)}
            module = loaded.get(path.resolve())
            if module is None:
                assert not any(isinstance(n, ast.ClassDef) for n in ast.walk(ast.parse(path.read_text()))), path
                continue
        found.update((f"{name}.{c.__qualname__}", c) for c in vars(module).values()
                     if inspect.isclass(c) and issubclass(c, BaseException) and c.__module__ == module.__name__)
    return found


def revert_data(item: dict) -> str:
    """The revert data of ABI error `item` with zero values for its arguments."""
    types = [abi_type(i) for i in item["inputs"]]
    selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
    return "0x" + (selector + encode(types, [zero(t) for t in types])).hex()


def zero(abi_type_: str):
    if abi_type_ == "address":
        return "0x" + "00" * 20
    if abi_type_ == "bool":
        return False
    if abi_type_ in ("bytes", "string"):
        return b"" if abi_type_ == "bytes" else ""
    if abi_type_.startswith("bytes"):
        return b"\0" * int(abi_type_[5:])
    assert abi_type_.startswith(("uint", "int")), f"no zero value for {abi_type_}"
    return 0
