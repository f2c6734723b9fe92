"""Deploy and wire the CityPoints core contracts (Consortium, Membership, PointsLedger), and the small
governance helpers the demo and tests use while a few known member keys govern.

Every rule change goes through the Consortium: `propose_and_execute` proposes a list of calls, collects the
approvals of the given member accounts, waits out (on a dev node: skips) the notice delay and executes.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.errors import LedgerNodeError

PROPOSAL_LIFETIME = 30 * 24 * 3600  # seconds a proposal stays open
RECOVERY_NOTICE = 3 * 24 * 3600  # seconds the old key has to object to an account recovery
METADATA_URI = "https://citypoints.invalid/schemes/{id}.json"

# Selectors of the PointsLedger that a smaller quorum may call in an emergency (unpausing is not among them).
EMERGENCY_FUNCTIONS = ("pauseScheme", "pauseAll")

Call = tuple[str, bytes]  # (target address, calldata)


class GovernanceError(LedgerNodeError):
    """A proposal could not be carried through (not enough member keys, or notice delay pending)."""


def deploy_system(w3: Web3, operator: LocalAccount, *, deploy_contract: Callable[..., str]) -> dict[str, str]:
    """Deploy Consortium, Membership and PointsLedger with `operator` as the sole member (threshold 1) and wire them.

    Returns {"Consortium": addr, "Membership": addr, "PointsLedger": addr}.
    """
    consortium_addr = deploy_contract("Consortium", [operator.address], 1, 1, PROPOSAL_LIFETIME)
    membership_addr = deploy_contract("Membership", consortium_addr, RECOVERY_NOTICE)
    ledger_addr = deploy_contract("PointsLedger", consortium_addr, membership_addr, METADATA_URI)
    consortium = chain.bind(w3, "Consortium", consortium_addr)
    membership = chain.bind(w3, "Membership", membership_addr)
    ledger = chain.bind(w3, "PointsLedger", ledger_addr)
    calls = [call(membership, "setPointsLedger", ledger_addr)]
    for fn in EMERGENCY_FUNCTIONS:
        calls.append(call(consortium, "setCallPolicy", ledger_addr, selector(ledger, fn), 0, True))
    propose_and_execute(w3, consortium, [operator], calls, "bootstrap: wire Membership to PointsLedger, emergency pauses")
    return {"Consortium": consortium_addr, "Membership": membership_addr, "PointsLedger": ledger_addr}


# --------------------------------------------------------------------------------------------------
# Governance helpers
# --------------------------------------------------------------------------------------------------

def call(contract: Contract, fn_name: str, *args) -> Call:
    """One proposal call: (target, calldata) of `contract.fn_name(*args)`."""
    return contract.address, bytes.fromhex(contract.encode_abi(fn_name, args=list(args))[2:])


def selector(contract: Contract, fn_name: str) -> bytes:
    """The 4-byte selector of `fn_name` (must not be overloaded)."""
    return call(contract, fn_name, *_zero_args(contract, fn_name))[1][:4]


def propose_and_execute(w3: Web3, consortium: Contract, member_accounts: Sequence[LocalAccount],
                        calls: Iterable[Call], description: str = "", *,
                        advance_time: bool | Callable[[int], None] = False) -> int:
    """Propose `calls` as member_accounts[0], approve with the others until enough, execute; return the proposal id.

    If the proposal has a notice delay, `advance_time=True` moves a dev node's clock past it (anvil's
    `evm_increaseTime`), or a callable given does it with the seconds to move (e.g. through the durable node's
    operator channel, whose public port refuses anvil's methods); otherwise GovernanceError is raised with the
    proposal left queued.
    """
    proposer, *others = member_accounts
    receipt = chain.transact(w3, proposer, consortium.functions.propose([(t, d) for t, d in calls], description))
    proposal_id = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
    pending = 1  # IConsortium.ProposalState.Pending
    for member in others:
        if consortium.functions.proposalState(proposal_id).call() != pending:
            break
        chain.transact(w3, member, consortium.functions.approve(proposal_id))
    if consortium.functions.proposalState(proposal_id).call() == pending:
        approvals = consortium.functions.approvalCount(proposal_id).call()
        required = consortium.functions.requiredApprovals(proposal_id).call()
        raise GovernanceError(f"proposal {proposal_id}: {approvals} approvals of {required} required")
    ready_at = consortium.functions.getProposal(proposal_id).call()[2]
    wait = ready_at - w3.eth.get_block("latest")["timestamp"]
    if wait > 0:
        if not advance_time:
            raise GovernanceError(f"proposal {proposal_id} is queued; executable in {wait} s")
        if callable(advance_time):
            advance_time(wait)
        else:
            w3.provider.make_request("evm_increaseTime", [wait])
            w3.provider.make_request("evm_mine", [])
    chain.transact(w3, proposer, consortium.functions.execute(proposal_id))
    return proposal_id


def setup_scheme(w3: Web3, contracts: dict[str, Contract], member_accounts: Sequence[LocalAccount], scheme: int,
                 *, issuer_accounts: Sequence[str], issuer_daily_quota: int, resident_daily_cap: int) -> int:
    """Add scheme `scheme` with its quota, cap and issuer accounts in one proposal; return the proposal id."""
    ledger, membership = contracts["PointsLedger"], contracts["Membership"]
    return propose_and_execute(w3, contracts["Consortium"], member_accounts, [
        call(ledger, "addScheme", scheme, issuer_daily_quota, resident_daily_cap),
        call(membership, "setIssuerAccounts", scheme, list(issuer_accounts)),
    ], f"add scheme {scheme}")


def grant_roles(w3: Web3, contracts: dict[str, Contract], member_accounts: Sequence[LocalAccount],
                grants: Iterable[tuple[str, str]]) -> int:
    """Grant Membership roles by constant name, e.g. [("ONBOARDING_ROLE", addr), ("RELAYER_ROLE", addr)]."""
    membership = contracts["Membership"]
    calls = [call(membership, "grantRole", getattr(membership.functions, role)().call(), account)
             for role, account in grants]
    return propose_and_execute(w3, contracts["Consortium"], member_accounts, calls, "grant roles")


def _zero_args(contract: Contract, fn_name: str) -> list:
    (item,) = [i for i in contract.abi if i.get("type") == "function" and i["name"] == fn_name]
    return [_zero(i["type"]) for i in item["inputs"]]


def _zero(abi_type: str):
    if abi_type.endswith("]"):
        return []
    if abi_type == "address":
        return "0x" + "00" * 20
    if abi_type == "bool":
        return False
    if abi_type.startswith("bytes") and abi_type != "bytes":
        return b"\x00" * int(abi_type[5:])
    if abi_type in ("bytes", "string"):
        return b"" if abi_type == "bytes" else ""
    return 0
