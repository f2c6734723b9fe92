"""Who signed each consent, intent and consortium member's signed approval: decode the call that spent the nonce from the transaction's calldata,
rebuild the EIP-712 digest from docs/DESIGN.md's types and the domain ("CityPoints", "1", chain id, verifying
contract), recover the signer with eth-account and compare it with the resident; for contract wallets
(EIP-1271) take the wallet's isValidSignature answer the contract got inside the transaction (callTracer), so a
wallet is judged as it stood at that moment, not after its block; a node that does not trace is asked with
eth_call at the block before and at the block itself (the states around the transaction).

The contracts already refuse a bad signature, so on an honest node every check passes; the auditor repeats it
so that a node, a contract upgrade or a tampered history that accepted a consent the resident never signed is
caught by someone who trusts neither.
"""
from __future__ import annotations

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak

from ledger_node.audit.model import MISMATCH, UNVERIFIABLE, VIOLATION, Problem
from ledger_node.audit.rpc import Rpc, RpcError, state_not_kept

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
TYPES = {
    "RedemptionConsent": "RedemptionConsent(address resident,address merchant,uint256 credits,Part[] parts,"
                         "bytes32 orderRef,bytes32 nonce,uint256 deadline)Part(uint256 scheme,uint256 points,"
                         "uint256 credits)",
    "ExchangeIntent": "ExchangeIntent(address resident,uint256 fromScheme,uint256 toScheme,uint256 points,"
                      "uint256 minReceived,bytes32 nonce,uint256 deadline)",
    "PreferredOrder": "PreferredOrder(address resident,uint256[] schemes,bytes32 nonce,uint256 deadline)",
    "ProposalApproval": "ProposalApproval(uint256 proposalId,bytes32 callsHash,uint256 deadline)",
}
PART_TYPE = "Part(uint256 scheme,uint256 points,uint256 credits)"
_CONSENT = "(address,address,uint256,(uint256,uint256,uint256)[],bytes32,bytes32,uint256)"
# The call that carries each kind of intent: (selector signature, argument types).
CALLS = {
    "RedemptionConsent": (f"redeem({_CONSENT},bytes)", [_CONSENT, "bytes"]),
    "ExchangeIntent": ("exchange(address,uint256,uint256,uint256,uint256,bytes32,uint256,bytes)",
                       ["address", "uint256", "uint256", "uint256", "uint256", "bytes32", "uint256", "bytes"]),
    "PreferredOrder": ("setPreferredOrder(address,uint256[],bytes32,uint256,bytes)",
                       ["address", "uint256[]", "bytes32", "uint256", "bytes"]),
    "ProposalApproval": ("approveBySig(uint256,address,uint256,bytes)", ["uint256", "address", "uint256", "bytes"]),
}
SELECTORS = {kind: "0x" + keccak(text=sig)[:4].hex() for kind, (sig, _) in CALLS.items()}
# The calls that carry a batch of them, a relayer's: Redemption.redeemMany((Consent, bytes)[]),
# Exchange.exchangeMany(SignedIntent[]) (the intent's fields and its signature, flat).
_SIGNED_INTENT = "(address,uint256,uint256,uint256,uint256,bytes32,uint256,bytes)"
BATCH_CALLS = {"RedemptionConsent": (f"redeemMany(({_CONSENT},bytes)[])", [f"({_CONSENT},bytes)[]"]),
               "ExchangeIntent": (f"exchangeMany({_SIGNED_INTENT}[])", [f"{_SIGNED_INTENT}[]"])}
BATCH_SELECTORS = {kind: "0x" + keccak(text=sig)[:4].hex() for kind, (sig, _) in BATCH_CALLS.items()}
EIP1271_MAGIC = "0x1626ba7e"
_IS_VALID = "0x" + keccak(text="isValidSignature(bytes32,bytes)")[:4].hex()


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                             [keccak(text=DOMAIN_TYPE), keccak(text="CityPoints"), keccak(text="1"), chain_id,
                              verifying_contract]))


def decode_call(kind: str, calldata: str) -> dict:
    """The named arguments of a redeem / exchange / setPreferredOrder calldata (0x hex)."""
    _, types = CALLS[kind]
    return _message(kind, abi_decode(types, bytes.fromhex(calldata[10:])))


def decode_calls(kind: str, calldata: str) -> list[dict]:
    """Every intent of `kind` a call carries, as `decode_call` gives each: the one of a redeem (exchange, ...), or
    each of a batch (redeemMany, exchangeMany); none for a call of another function."""
    if calldata[:10] == SELECTORS[kind]:
        return [decode_call(kind, calldata)]
    if calldata[:10] == BATCH_SELECTORS.get(kind):
        (batch,) = abi_decode(BATCH_CALLS[kind][1], bytes.fromhex(calldata[10:]))
        return [_message(kind, item) for item in batch]
    return []


def _message(kind: str, v: tuple) -> dict:
    if kind == "RedemptionConsent":  # redeem(Consent, signature): the consent's fields, its plan as lists
        (resident, merchant, credits, parts, order_ref, nonce, deadline), signature = v
        v = (resident, merchant, credits, [list(p) for p in parts], order_ref, nonce, deadline, signature)
        keys = ["resident", "merchant", "credits", "parts", "orderRef", "nonce", "deadline", "signature"]
    elif kind == "ExchangeIntent":
        keys = ["resident", "fromScheme", "toScheme", "points", "minReceived", "nonce", "deadline", "signature"]
    elif kind == "PreferredOrder":
        keys = ["resident", "schemes", "nonce", "deadline", "signature"]
    else:
        keys = ["proposalId", "member", "deadline", "signature"]
    out = dict(zip(keys, v))
    for k, x in out.items():
        if isinstance(x, str):
            out[k] = x.lower()
        elif isinstance(x, bytes) and k != "signature":
            out[k] = "0x" + x.hex()
        elif isinstance(x, tuple):
            out[k] = list(x)
    if kind == "ProposalApproval":  # the signer under `resident`, what makes it single-use under `nonce`
        out["resident"], out["nonce"] = out["member"], out["proposalId"]
    return out


def digest(kind: str, chain_id: int, verifying_contract: str, m: dict) -> bytes:
    """The EIP-712 digest of message `m` (decode_call's output)."""
    th = keccak(text=TYPES[kind])
    b32 = lambda h: bytes.fromhex(h[2:])  # noqa: E731
    if kind == "RedemptionConsent":  # the plan binds: Part[] hashed as EIP-712 hashes an array of structs
        part_th = keccak(text=PART_TYPE)
        parts = b"".join(keccak(abi_encode(["bytes32", "uint256", "uint256", "uint256"], [part_th, *p]))
                         for p in m["parts"])
        struct = abi_encode(["bytes32", "address", "address", "uint256", "bytes32", "bytes32", "bytes32", "uint256"],
                            [th, m["resident"], m["merchant"], m["credits"], keccak(parts), b32(m["orderRef"]),
                             b32(m["nonce"]), m["deadline"]])
    elif kind == "ExchangeIntent":
        struct = abi_encode(["bytes32", "address", "uint256", "uint256", "uint256", "uint256", "bytes32", "uint256"],
                            [th, m["resident"], m["fromScheme"], m["toScheme"], m["points"], m["minReceived"],
                             b32(m["nonce"]), m["deadline"]])
    elif kind == "ProposalApproval":
        struct = abi_encode(["bytes32", "uint256", "bytes32", "uint256"],
                            [th, m["proposalId"], b32(m["callsHash"]), m["deadline"]])
    else:
        packed = b"".join(s.to_bytes(32, "big") for s in m["schemes"])
        struct = abi_encode(["bytes32", "address", "bytes32", "bytes32", "uint256"],
                            [th, m["resident"], keccak(packed), b32(m["nonce"]), m["deadline"]])
    return keccak(b"\x19\x01" + domain_separator(chain_id, verifying_contract) + keccak(struct))


def recover(digest_: bytes, signature: bytes) -> str | None:
    try:
        return Account._recover_hash(digest_, signature=signature).lower()
    except Exception:  # noqa: BLE001 - malformed signature: no EOA signer
        return None


def check_intents(rpc: Rpc, chain_id: int, intents: list[dict]) -> list[Problem]:
    """Check the signer (and the signed fields, deadline, minimum, submitter) of every intent."""
    problems: list[Problem] = []
    if not intents:
        return problems
    hashes = sorted({i["tx"] for i in intents})
    txs = dict(zip(hashes, rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes])))
    traces: dict[str, dict | None] = {}
    for intent in intents:
        tx = txs.get(intent["tx"])
        if isinstance(tx, RpcError) or tx is None:
            problems.append(_p(UNVERIFIABLE, "tx-not-found", "transaction of the intent not found", intent))
            continue
        call = _find_call(rpc, intent, tx, traces)
        if call is None:
            problems.append(_p(UNVERIFIABLE, "calldata-not-found", f"no {intent['type']} call to {intent['contract']} "
                                                                   f"with this resident and nonce in the transaction",
                               intent))
            continue
        problems += check_call(rpc, chain_id, intent, *call, traces=traces)
    return problems


def check_call(rpc: Rpc, chain_id: int, intent: dict, m: dict, caller: str | None, *,
               traces: dict | None = None) -> list[Problem]:
    """Check one decoded call `m` against the event's `intent`: signed fields, deadline, minimum, submitter, and
    that the signature is the resident's (their key, or their EIP-1271 wallet when the transaction ran)."""
    problems = check_message(intent, m, caller)
    if intent["type"] == "ProposalApproval":  # the calls hash is not in the calldata: the proposal's, replayed
        m = {**m, "callsHash": intent["callsHash"]}
    d = digest(intent["type"], chain_id, intent["contract"], m)
    signer = recover(d, m["signature"])
    if signer == intent["resident"]:
        return problems
    accepted = _wallet_accepted(rpc, intent, d, m["signature"], {} if traces is None else traces)
    if accepted:
        return problems
    if accepted is None:
        problems.append(_p(UNVERIFIABLE, "state-not-kept",
                           f"{intent['type']} of {intent['resident']} was not signed by the resident's key; the resident's "
                           f"EIP-1271 wallet does not accept it now, and the node no longer keeps the state of block "
                           f"{intent['block']} to ask it as it was then",
                           intent, recovered=signer, digest="0x" + d.hex()))
        return problems
    problems.append(_p(MISMATCH, "signer-mismatch",
                       f"{intent['type']} of {intent['resident']} was signed by {signer}, not by the resident (and no "
                       f"EIP-1271 wallet at the resident accepts it)", intent, recovered=signer, digest="0x" + d.hex()))
    return problems


def check_message(intent: dict, m: dict, caller: str | None) -> list[Problem]:
    """The signed fields must be the ones the event reports; deadline and minimum must hold."""
    problems = []
    fields = {"RedemptionConsent": ("resident", "merchant", "credits", "parts", "orderRef", "nonce"),
              "ExchangeIntent": ("resident", "fromScheme", "toScheme", "points", "nonce"),
              "PreferredOrder": ("resident", "schemes", "nonce"),
              "ProposalApproval": ("resident", "nonce", "deadline")}[intent["type"]]
    for f in fields:
        if m[f] != intent[f]:
            problems.append(_p(MISMATCH, "signed-field", f"{intent['type']}: signed {f} is {m[f]}, the event says "
                                                         f"{intent[f]}", intent, field=f))
    if intent.get("timestamp") is not None and intent["timestamp"] > m["deadline"]:
        problems.append(_p(VIOLATION, "consent-expired", f"{intent['type']} used after its deadline {m['deadline']}",
                           intent))
    if intent["type"] == "ExchangeIntent" and intent["received"] < m["minReceived"]:
        problems.append(_p(VIOLATION, "below-minimum", f"received {intent['received']} < signed minimum "
                                                       f"{m['minReceived']}", intent))
    if intent["type"] == "RedemptionConsent" and caller is not None:
        if caller != intent["merchant"] and caller not in intent.get("relayers", ()):
            problems.append(_p(VIOLATION, "redeem-submitter", f"redemption submitted by {caller}, neither the "
                                                              f"merchant nor a relayer", intent))
    return problems


def _wallet_accepted(rpc: Rpc, intent: dict, digest_: bytes, signature: bytes, traces: dict) -> bool | None:
    """Whether the resident's EIP-1271 wallet accepted `signature` over `digest_` when the transaction ran: its
    isValidSignature call with these arguments inside the transaction answered the magic value. Without a trace,
    eth_call at the block before (the state before the transaction's block) or at the block itself. When the node
    keeps the state of neither (it keeps its latest blocks' only), the wallet as it is now: True if it accepts the
    signature today, else None (nobody can say from this node whether it did then)."""
    resident = intent["resident"]
    trace = _trace(rpc, intent["tx"], traces)
    if trace is not None:
        for frame in _frames(trace):
            if (frame.get("to") or "").lower() != resident or (frame.get("input") or "")[:10] != _IS_VALID:
                continue
            try:
                h, sig = abi_decode(["bytes32", "bytes"], bytes.fromhex(frame["input"][10:]))
            except Exception:  # noqa: BLE001 - a malformed call is not this one
                continue
            if h == digest_ and sig == bytes(signature) and not frame.get("error") \
                    and (frame.get("output") or "")[:10] == EIP1271_MAGIC:
                return True
        return False
    data = _IS_VALID + abi_encode(["bytes32", "bytes"], [digest_, signature]).hex()
    not_kept = 0
    for block in (intent["block"] - 1, intent["block"]):
        try:
            answer = rpc.call("eth_call", [{"to": resident, "data": data}, hex(max(block, 0))])
        except RpcError as exc:
            not_kept += state_not_kept(exc)
            continue
        if isinstance(answer, str) and answer[:10] == EIP1271_MAGIC:
            return True
    if not_kept < 2:
        return False
    # the node keeps neither state (its latest blocks' only): the wallet as it is now, if it accepts the signature
    answer = rpc.call("eth_call", [{"to": resident, "data": data}, "latest"])
    return True if isinstance(answer, str) and answer[:10] == EIP1271_MAGIC else None


def _trace(rpc: Rpc, tx_hash: str, traces: dict) -> dict | None:
    """The transaction's callTracer trace, or None where the node does not trace (kept per transaction)."""
    if tx_hash not in traces:
        try:
            trace = rpc.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except RpcError:
            trace = None
        traces[tx_hash] = trace if isinstance(trace, dict) else None
    return traces[tx_hash]


def _frames(trace: dict):
    """Every call frame of a callTracer trace, in execution order."""
    stack = [trace]
    while stack:
        frame = stack.pop()
        yield frame
        stack.extend(reversed(frame.get("calls") or []))


def _find_call(rpc: Rpc, intent: dict, tx: dict, traces: dict) -> tuple[dict, str | None] | None:
    """(decoded call, its caller) of the call in `tx` that spent the intent's nonce."""
    kind, contract = intent["type"], intent["contract"]
    selectors = {SELECTORS[kind], BATCH_SELECTORS.get(kind)}
    candidates: list[tuple[str, str | None]] = []
    if (tx.get("to") or "").lower() == contract and tx["input"][:10] in selectors:
        candidates.append((tx["input"], tx["from"].lower()))
    else:  # called through another contract (a multicall, a wallet): find the inner call in the trace
        trace = _trace(rpc, intent["tx"], traces)
        if trace is None:
            return None
        for frame in _frames(trace):
            caller = (frame.get("from") or "").lower() or None
            # a batch's own calls of each consent (from the contract itself) are judged with the batch's caller
            if (frame.get("to") or "").lower() == contract and (frame.get("input") or "")[:10] in selectors \
                    and caller != contract:
                candidates.append((frame["input"], caller))
    for data, caller in candidates:
        try:
            messages = decode_calls(kind, data)
        except Exception:  # noqa: BLE001 - malformed calldata cannot be this call
            continue
        for m in messages:
            if m["resident"] == intent["resident"] and m["nonce"] == intent["nonce"]:
                return m, caller
    return None


def _p(kind: str, code: str, message: str, intent: dict, **evidence) -> Problem:
    ev = {"type": intent["type"], "resident": intent["resident"], "nonce": intent["nonce"], **evidence}
    return Problem(kind, code, message, intent["block"], intent["tx"], ev)
