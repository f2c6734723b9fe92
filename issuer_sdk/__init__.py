"""CityPoints issuer SDK: issue, revoke and look up a scheme's points from an issuing system.

Public API: IssuerClient / AsyncIssuerClient (and ClientConfig, RetryPolicy), the signers (LocalSigner,
keystore_signer, the Signer protocol for an HSM), Issuance and the result types, and the errors module
(IssuerError and its subclasses). Adapters for the four programs are in issuer_sdk.adapters.
"""
from issuer_sdk.client import ClientConfig, IssuerClient, read_deployment
from issuer_sdk.errors import (CapExceeded, ConfigurationError, ConfirmationTimeout, ContractError, InvalidIssuance,
                               IssuerError, NonceConflict, NotIssuer, QuotaExceeded, RecordRejected,
                               ResidentNotRegistered, RpcError, SchemeNotActive, TransactionReverted, TransportError)
from issuer_sdk.ledger import (Allowance, BatchResult, Issuance, IssueManySummary, IssueResult, RefStatus,
                               RevokeResult)
from issuer_sdk.refs import RefHasher, new_salt
from issuer_sdk.rpc import RetryPolicy
from issuer_sdk.signer import LocalSigner, Signer, keystore_signer, write_keystore


def __getattr__(name):  # the async twin imports aiohttp: load it only when asked for
    if name == "AsyncIssuerClient":
        from issuer_sdk.async_client import AsyncIssuerClient

        return AsyncIssuerClient
    raise AttributeError(name)


__all__ = [
    "IssuerClient", "AsyncIssuerClient", "ClientConfig", "RetryPolicy", "read_deployment",
    "Signer", "LocalSigner", "keystore_signer", "write_keystore", "RefHasher", "new_salt",
    "Issuance", "IssueResult", "BatchResult", "IssueManySummary", "RevokeResult", "RefStatus", "Allowance",
    "IssuerError", "ConfigurationError", "RecordRejected", "InvalidIssuance", "TransportError",
    "ConfirmationTimeout", "RpcError", "NonceConflict", "ContractError", "TransactionReverted", "NotIssuer",
    "SchemeNotActive", "ResidentNotRegistered", "QuotaExceeded", "CapExceeded",
]
