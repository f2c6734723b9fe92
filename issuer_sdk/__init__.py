"""CityPoints issuer SDK: issue, revoke and look up a scheme's points from an issuing system.

Public API: IssuerClient / AsyncIssuerClient (and ClientConfig, RetryPolicy), the signers (LocalSigner,
keystore_signer, the Signer protocol for an HSM), Issuance and the result types, and the errors module
(IssuerError and its subclasses). The generic adapter (a program's mapping file) is in issuer_sdk.adapters.

The names are loaded on first use (module __getattr__): importing a submodule such as issuer_sdk.cli runs this
file, and the client pulls in eth_account (about half a second), which `citypoints --help` must not pay.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_HOME = {  # public name -> the submodule that defines it
    **dict.fromkeys(("ClientConfig", "IssuerClient", "read_deployment"), "issuer_sdk.client"),
    "AsyncIssuerClient": "issuer_sdk.async_client",  # imports aiohttp
    **dict.fromkeys(("CapExceeded", "ConfigurationError", "ConfirmationTimeout", "ContractError", "InvalidIssuance",
                     "IssuerError", "NonceConflict", "NotIssuer", "QuotaExceeded", "RecordRejected",
                     "ResidentNotRegistered", "RpcError", "SchemeNotActive", "TransactionReverted",
                     "TransportError"), "issuer_sdk.errors"),
    **dict.fromkeys(("Allowance", "BatchResult", "Issuance", "IssueManySummary", "IssueResult", "RefStatus",
                     "RevokeResult"), "issuer_sdk.ledger"),
    **dict.fromkeys(("RefHasher", "new_salt"), "issuer_sdk.refs"),
    "RetryPolicy": "issuer_sdk.rpc",
    **dict.fromkeys(("LocalSigner", "Signer", "keystore_signer", "write_keystore"), "issuer_sdk.signer"),
}

if TYPE_CHECKING:  # for type checkers and editors; at run time the names come from __getattr__
    from issuer_sdk.async_client import AsyncIssuerClient  # noqa: F401
    from issuer_sdk.client import ClientConfig, IssuerClient, read_deployment  # noqa: F401
    from issuer_sdk.errors import (CapExceeded, ConfigurationError, ConfirmationTimeout, ContractError,  # noqa: F401
                                   InvalidIssuance, IssuerError, NonceConflict, NotIssuer, QuotaExceeded,
                                   RecordRejected, ResidentNotRegistered, RpcError, SchemeNotActive,
                                   TransactionReverted, TransportError)
    from issuer_sdk.ledger import (Allowance, BatchResult, Issuance, IssueManySummary, IssueResult,  # noqa: F401
                                   RefStatus, RevokeResult)
    from issuer_sdk.refs import RefHasher, new_salt  # noqa: F401
    from issuer_sdk.rpc import RetryPolicy  # noqa: F401
    from issuer_sdk.signer import LocalSigner, Signer, keystore_signer, write_keystore  # noqa: F401


def __getattr__(name):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'issuer_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "IssuerClient", "AsyncIssuerClient", "ClientConfig", "RetryPolicy", "read_deployment",
    "Signer", "LocalSigner", "keystore_signer", "write_keystore", "RefHasher", "new_salt",
    "Issuance", "IssueResult", "BatchResult", "IssueManySummary", "RevokeResult", "RefStatus", "Allowance",
    "IssuerError", "ConfigurationError", "RecordRejected", "InvalidIssuance", "TransportError",
    "ConfirmationTimeout", "RpcError", "NonceConflict", "ContractError", "TransactionReverted", "NotIssuer",
    "SchemeNotActive", "ResidentNotRegistered", "QuotaExceeded", "CapExceeded",
]
