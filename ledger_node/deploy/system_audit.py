"""Deploy the auditors' contract: AuditAttestations, where an AUDITOR_ROLE holder attests report hashes and
balances Merkle roots (ledger_node/audit/). Nothing to wire: it only reads Membership's roles."""
from __future__ import annotations

from typing import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3


def deploy_audit_system(w3: Web3, operator: LocalAccount, core: dict[str, str], deploy_contract: Callable[..., str]
                        ) -> dict[str, str]:
    """Deploy AuditAttestations bound to core["Membership"]; returns {"AuditAttestations": addr}."""
    return {"AuditAttestations": deploy_contract("AuditAttestations", core["Membership"])}
