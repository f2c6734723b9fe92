"""A member's approval as a signed file, so members need not share a machine: `gov sign` writes one, anyone with a
key that can send (another member, the relayer, the operator) submits it with `gov submit`
(Consortium.approveBySig), and the console page makes the same file in the browser.

The file (JSON, a few hundred bytes) holds what the contract checks and what a person checks before submitting:

    {"type": "CityPoints.ProposalApproval", "chainId": 31337, "consortium": "0x..", "proposalId": 7,
     "callsHash": "0x..", "member": "0x..", "deadline": 1767225600, "signature": "0x.."}

`callsHash` is Consortium.proposalCallsHash(proposalId): the signature binds the proposal's calls, so it cannot
approve another proposal, nor the same number in a city deployed afresh. Everything is checked before sending;
the contract checks it again.
"""
from __future__ import annotations

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger_node.governance.actions import require_open
from ledger_node.governance.city import City
from ledger_node.governance.errors import GovError, argument_error, contract_rule
from ledger_node.typed_data import sign, typed_data

FILE_TYPE = "CityPoints.ProposalApproval"
MAX_FILE_BYTES = 4096  # a signed approval is about 400 bytes; an EIP-1271 member's signature may be longer
MAX_SIGNATURE_BYTES = 1024
MAX_VALID_SECONDS = 30 * 86400  # a signature lives at most as long as a proposal's default lifetime
APPROVAL_GAS = 400_000  # approveBySig is ~85k gas, ~130k when it queues the proposal; EIP-1271 checks cost more
FIELDS = ("type", "chainId", "consortium", "proposalId", "callsHash", "member", "deadline", "signature")


def sign_approval(city: City, member: LocalAccount, proposal_id: int, valid_for: int) -> dict:
    """`member`'s signed approval of `proposal_id`, usable for `valid_for` seconds of chain time."""
    if not 60 <= valid_for <= MAX_VALID_SECONDS:
        raise argument_error("invalid_integer", f"--valid-for {valid_for}: between 60 and {MAX_VALID_SECONDS} s")
    c = city["Consortium"].functions
    require_open(city, proposal_id)
    if not c.isMember(member.address).call():
        raise contract_rule("ConsortiumSignerNotMember", member.address)
    if c.hasApproved(proposal_id, member.address).call():
        raise contract_rule("ConsortiumAlreadyApproved", f"{member.address}, proposal {proposal_id}")
    calls_hash = "0x" + bytes(c.proposalCallsHash(proposal_id).call()).hex()
    deadline = city.now() + valid_for
    chain_id = city.w3.eth.chain_id
    consortium = city["Consortium"].address
    doc = typed_data("ProposalApproval", chain_id, consortium,
                     {"proposalId": proposal_id, "callsHash": calls_hash, "deadline": deadline})
    return {"type": FILE_TYPE, "chainId": chain_id, "consortium": consortium, "proposalId": proposal_id,
            "callsHash": calls_hash, "member": member.address, "deadline": deadline,
            "signature": "0x" + sign(member, doc).hex()}


def read_approval(path: Path) -> dict:
    """A signed approval file, its fields checked for form (size, types, ranges); GovError invalid_approval_file."""
    try:
        raw = Path(path).read_bytes()[:MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise argument_error("invalid_approval_file", f"{path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise argument_error("invalid_approval_file", f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError:
        raise argument_error("invalid_approval_file", f"{path}: not JSON") from None
    return check_approval(data, str(path))


def check_approval(data, where: str = "approval") -> dict:
    """The form of a signed approval (from a file or the API's body): the fields FIELDS, no others."""
    from eth_utils import is_address, to_checksum_address

    def bad(detail: str) -> GovError:
        return argument_error("invalid_approval_file", f"{where}: {detail}")

    if not isinstance(data, dict) or set(data) != set(FIELDS):
        raise bad(f"a JSON object with exactly the fields {', '.join(FIELDS)}")
    if data["type"] != FILE_TYPE:
        raise bad(f"type is not {FILE_TYPE}")
    for key in ("chainId", "proposalId", "deadline"):
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**64:
            raise bad(f"{key} is not a positive integer below 2**64")
    for key in ("consortium", "member"):
        if not isinstance(data[key], str) or not is_address(data[key]):
            raise bad(f"{key} is not an address")
    out = dict(data, consortium=to_checksum_address(data["consortium"]), member=to_checksum_address(data["member"]))
    out["callsHash"] = _hex(data["callsHash"], 32, 32, "callsHash", bad)
    out["signature"] = _hex(data["signature"], 65, MAX_SIGNATURE_BYTES, "signature", bad)
    return out


def _hex(value, least: int, most: int, key: str, bad) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise bad(f"{key} is not 0x-prefixed hex")
    try:
        n = len(bytes.fromhex(value[2:]))
    except ValueError:
        raise bad(f"{key} is not 0x-prefixed hex") from None
    if not least <= n <= most:
        raise bad(f"{key} has {n} bytes, not {least}" + ("" if least == most else f" to {most}"))
    return value.lower()


def check_against_chain(city: City, approval: dict) -> str | None:
    """Refuse an approval this city cannot take (another chain or contract, other calls, expired, not a member,
    a closed proposal); None when it can be sent, or 'already' when the member's approval is already counted."""
    c = city["Consortium"].functions
    if approval["chainId"] != city.w3.eth.chain_id or approval["consortium"] != city["Consortium"].address:
        raise argument_error("wrong_city", f"signed for chain {approval['chainId']} and Consortium "
                                           f"{approval['consortium']}, this city is chain {city.w3.eth.chain_id}, "
                                           f"Consortium {city['Consortium'].address}")
    require_open(city, approval["proposalId"])
    on_chain = "0x" + bytes(c.proposalCallsHash(approval["proposalId"]).call()).hex()
    if on_chain != approval["callsHash"]:
        raise contract_rule("ConsortiumInvalidSignature", f"signed calls hash {approval['callsHash']} is not "
                                                          f"proposal {approval['proposalId']}'s {on_chain}")
    if not c.isMember(approval["member"]).call():
        raise contract_rule("ConsortiumSignerNotMember", approval["member"])
    now = city.now()
    if now >= approval["deadline"]:  # the next block comes after `now`
        raise contract_rule("ConsortiumSignatureExpired", f"deadline {approval['deadline']}, chain time {now}")
    if c.hasApproved(approval["proposalId"], approval["member"]).call():
        return "already"
    return None


def submit_approvals(city: City, sender: LocalAccount, approvals: list[dict]) -> list[dict]:
    """Send `approvals` (check_approval's form) as `sender`, back to back (one block for all of them, whatever
    their number), each checked against the chain first: [{"proposalId", "member", "txHash" | "already": True}].
    A member whose approval already counts, or a file repeating one of the batch, is reported, not sent (the
    contract would refuse it anyway); a refusal on chain raises the contract's code."""
    from ledger_node import chain
    from ledger_node.governance.errors import from_revert

    done, todo, seen = [], [], set()
    for approval in approvals:
        key = (approval["proposalId"], approval["member"].lower())
        entry = {"proposalId": approval["proposalId"], "member": approval["member"]}
        if key in seen or check_against_chain(city, approval) == "already":
            entry["already"] = True
        else:
            seen.add(key)
            todo.append((entry, city["Consortium"].functions.approveBySig(
                approval["proposalId"], approval["member"], approval["deadline"],
                bytes.fromhex(approval["signature"][2:]))))
        done.append(entry)
    try:  # a fixed allowance: the approval that reaches M also queues the proposal, which an estimate made before
        # the batch's other approvals would not see
        receipts = chain.transact_many(city.w3, sender, [fn for _, fn in todo], gas=APPROVAL_GAS)
    except chain.TransactionFailed as exc:
        raise from_revert(exc.error, exc.error_args, fallback=str(exc)) from None
    for (entry, _), receipt in zip(todo, receipts):
        entry["txHash"] = "0x" + bytes(receipt["transactionHash"]).hex()
    return done


def signed_approvers(city: City, proposal_id: int | None = None) -> dict[int, set[str]]:
    """{proposal id: members whose approval came by signature} from the ProposalApprovedBySig events."""
    filters = {"proposalId": proposal_id} if proposal_id is not None else {}
    logs = city["Consortium"].events.ProposalApprovedBySig().get_logs(
        from_block=int(city.deployment.get("startBlock", 0)), argument_filters=filters)
    out: dict[int, set[str]] = {}
    for log in logs:
        out.setdefault(log["args"]["proposalId"], set()).add(log["args"]["member"])
    return out
