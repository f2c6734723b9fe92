"""Deploy the contracts bound only to Membership's roles, with nothing to wire through governance:
AuditAttestations, where an AUDITOR_ROLE holder attests report hashes and balances Merkle roots
(ledger_node/audit/), and IdentityTrail, where the onboarding office, auditors and relayers append the uses of
residents' personal data and residents object to them (issue 23)."""
from __future__ import annotations

from typing import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3


def deploy_audit_system(w3: Web3, operator: LocalAccount, core: dict[str, str], deploy_contract: Callable[..., str]
                        ) -> dict[str, str]:
    """Deploy AuditAttestations and IdentityTrail bound to core["Membership"]; returns their addresses by name."""
    return {"AuditAttestations": deploy_contract("AuditAttestations", core["Membership"]),
            "IdentityTrail": deploy_contract("IdentityTrail", core["Membership"])}
