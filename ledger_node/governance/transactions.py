"""A member's transactions to the Consortium: propose, approve, queue, execute, cancel.

Each is simulated before it is signed (web3 estimates its gas), so a refusal (not a member, approved twice, notice
pending, expired, a call that would revert) is reported with its stable code and nothing is sent; a sent one is
all or nothing on chain."""
from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.deploy.system import Call
from ledger_node.governance.city import City
from ledger_node.governance.errors import from_revert


def send(city: City, member: LocalAccount, fn) -> dict:
    try:
        return chain.transact(city.w3, member, fn)
    except chain.TransactionFailed as exc:
        raise from_revert(exc.error, exc.error_args, fallback=str(exc)) from None


def propose(city: City, member: LocalAccount, calls: list[Call], description: str) -> tuple[int, str]:
    """Propose `calls`; (proposal id, transaction hash). The proposer's approval counts at once."""
    consortium = city["Consortium"]
    receipt = send(city, member, consortium.functions.propose([(t, d) for t, d in calls], description))
    created = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
    return created[0]["args"]["proposalId"], "0x" + bytes(receipt["transactionHash"]).hex()


def step(city: City, member: LocalAccount, verb: str, proposal_id: int) -> str:
    """approve, queue, execute or cancel proposal `proposal_id`; the transaction hash."""
    fn = getattr(city["Consortium"].functions, verb)(proposal_id)
    receipt = send(city, member, fn)
    return "0x" + bytes(receipt["transactionHash"]).hex()
