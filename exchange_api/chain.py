"""The API's view of the chain: the deployment, an asynchronous JSON-RPC client (issuer_sdk's keep-alive
transport and its one retry policy), call encoding with eth_abi, and event decoding for the indexer.

A node that cannot be reached raises NodeUnavailable (HTTP 503); a call the contracts refuse raises
ChainRevert with the decoded custom error (ledger_node.revert).
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from functools import lru_cache

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from exchange_api.errors import NodeUnavailable
from issuer_sdk import errors as sdk_errors
from issuer_sdk.async_client import AsyncRpcTransport
from issuer_sdk.rpc import RetryPolicy
from ledger_node.compiler import load_artifact
from ledger_node.revert import decode_revert
from ledger_node.abi_types import split_types
from ledger_node.typed_data import checksum

CONTRACTS = ("Consortium", "Membership", "PointsLedger", "Rates", "Clearing", "Exchange", "Redemption")


class ChainRevert(Exception):
    def __init__(self, name: str | None, args: tuple = ()):
        super().__init__(f"reverted with {name}{args}")
        self.name = name
        self.args_ = args


NODE_LIMIT_EXCEEDED = -32005  # the node's read limits (ledger_node/read_gate.py): nothing was done, retry later


class RpcFailure(Exception):
    """The node answered with an error that is not a revert (e.g. nonce too low)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


def fn(signature: str) -> "Fn":
    return _fn(signature)


@dataclass(frozen=True)
class Fn:
    signature: str
    selector: bytes
    types: tuple[str, ...]

    def encode(self, *args) -> bytes:
        return self.selector + abi_encode(list(self.types), list(args))


@lru_cache(maxsize=None)
def _fn(signature: str) -> Fn:
    inner = signature[signature.index("(") + 1:-1]
    return Fn(signature, function_signature_to_4byte_selector(signature), tuple(split_types(inner)))


REDEEM = fn("redeem(address,address,uint256,bytes32,bytes32,uint256,bytes)")
REFUND = fn("refund(bytes32,address,address,(uint256,uint256,uint256)[],uint256)")
EXCHANGE = fn("exchange(address,uint256,uint256,uint256,uint256,bytes32,uint256,bytes)")
QUOTE = fn("quote(uint256,uint256,uint256)")
NONCE_USED = fn("nonceUsed(address,bytes32)")
REGISTER_RESIDENT = fn("registerResident(address,bytes32)")
ACCOUNT_OF = fn("accountOf(bytes32)")
IS_RESIDENT = fn("isResident(address)")


def hex0x(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def unhex(h: str) -> bytes:
    return bytes.fromhex(h[2:] if h.startswith("0x") else h)


class ChainClient:
    def __init__(self, rpc_url: str, deployment: dict, *, timeout: float = 10.0):
        self.rpc_url = rpc_url
        self.deployment = deployment
        self.chain_id = int(deployment["chainId"])
        self.start_block = int(deployment.get("startBlock", 0))
        self.addresses = {k: to_checksum_address(v) for k, v in deployment["contracts"].items()}
        self._contracts: dict[str, bool] = {}
        self._coalesced: list[tuple[str, list, asyncio.Future]] = []
        self._in_flight: set[asyncio.Task] = set()
        self.rpc = AsyncRpcTransport(rpc_url, timeout=timeout,
                                     retry=RetryPolicy(attempts=3, backoff_s=0.05, max_backoff_s=0.5))

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def request(self, method: str, params: list | None = None):
        """One JSON-RPC request. Requests made in the same turn of the event loop travel together in one batch
        (requests woken together, e.g. by one group commit, share one HTTP round trip)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._coalesced.append((method, params or [], future))
        if len(self._coalesced) == 1:
            loop.call_soon(self._send_coalesced)
        return _unwrap(await future)

    def _send_coalesced(self) -> None:
        calls, self._coalesced = self._coalesced, []

        async def send():
            try:
                answers = await self.batch([(m, p) for m, p, _ in calls])
            except Exception as exc:  # noqa: BLE001 - every waiter gets the failure
                answers = [exc] * len(calls)
            for (_, _, future), answer in zip(calls, answers):
                if future.done():
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        task = asyncio.ensure_future(send())
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        try:
            return await self.rpc.batch(calls)
        except sdk_errors.TransportError as exc:
            raise NodeUnavailable("the ledger node is unavailable; retry shortly") from exc
        except sdk_errors.RpcError as exc:
            raise NodeUnavailable(f"the ledger node refused the request: {exc.message}") from exc

    async def call(self, to: str, data: bytes, *, sender: str | None = None, block: str = "latest") -> bytes:
        tx = {"to": to, "data": hex0x(data)}
        if sender:
            tx["from"] = sender
        return unhex(await self.request("eth_call", [tx, block]))

    async def has_code(self, address: str) -> bool:
        """Whether `address` is a contract (cached: code does not go away on this chain)."""
        if address not in self._contracts:
            self._contracts[address] = await self.request("eth_getCode", [address, "latest"]) not in (None, "0x")
        return self._contracts[address]

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber"), 16)


def _unwrap(answer: dict):
    err = answer.get("error")
    if not err:
        return answer.get("result")
    data = err.get("data") if isinstance(err, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        decoded = decode_revert(data)
        raise ChainRevert(*(decoded or (None, ())))
    if "revert" in message.lower():
        raise ChainRevert(None, ())
    if isinstance(err, dict) and err.get("code") == NODE_LIMIT_EXCEEDED:
        raise NodeUnavailable(f"the ledger node is busy; retry shortly ({message})")
    raise RpcFailure(message, err.get("code") if isinstance(err, dict) else None)


# -------------------------------------------------------------------------------------------------------
# Event decoding (the indexer): eth_abi directly, keyed by (contract address, topic0)
# -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type)
    data: tuple[tuple[str, str], ...]
    data_types: tuple[str, ...]


def _abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        return f"({','.join(_abi_type(c) for c in item['components'])}){item['type'][5:]}"
    return item["type"]


def event_table(addresses: dict[str, str]) -> dict[tuple[str, bytes], EventSpec]:
    table = {}
    for name in CONTRACTS:
        if name not in addresses:
            continue
        addr = addresses[name].lower()
        for item in load_artifact(name)["abi"]:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            topic0 = keccak(text=f"{item['name']}({','.join(types)})")
            idx = tuple((i["name"], t) for i, t in zip(item["inputs"], types) if i["indexed"])
            dat = tuple((i["name"], t) for i, t in zip(item["inputs"], types) if not i["indexed"])
            table[(addr, topic0)] = EventSpec(name, item["name"], idx, dat, tuple(t for _, t in dat))
    return table


def decode_log(spec: EventSpec, topics: list[str], data: str) -> dict:
    args = {}
    for (name, typ), topic in zip(spec.indexed, topics[1:]):
        args[name] = _plain(typ, _word(typ, unhex(topic))) if _is_static(typ) else topic
    if spec.data:
        values = decode_data(spec.data_types, unhex(data))
        for (name, typ), v in zip(spec.data, values):
            args[name] = _plain(typ, v)
    return args


_WORD = re.compile(r"^(u?int\d*|address|bool|bytes([1-9]|[12]\d|3[0-2]))$")


def decode_data(types: tuple[str, ...], data: bytes) -> list:
    """ABI-decode event data: what eth_abi returns, read straight off the 32-byte words for the shapes events
    use here (static words, arrays of words or of tuples of words); anything else goes to eth_abi. The indexer
    decodes every event of the chain, and eth_abi's general decoder was most of its time."""
    out = []
    for i, typ in enumerate(types):
        head = data[32 * i:32 * i + 32]
        if _WORD.match(typ):
            out.append(_word(typ, head))
            continue
        inner = typ[:-2] if typ.endswith("[]") else None
        comps = split_types(inner[1:-1]) if inner and inner.startswith("(") and inner.endswith(")") else \
            ([inner] if inner else None)
        if not comps or not all(_WORD.match(c) for c in comps):
            return list(abi_decode(list(types), data))
        offset = int.from_bytes(head, "big")
        count = int.from_bytes(data[offset:offset + 32], "big")
        base, width = offset + 32, len(comps)
        if base + 32 * width * count > len(data):
            raise ValueError("event data shorter than its array")
        words = [data[base + 32 * k:base + 32 * k + 32] for k in range(width * count)]
        if inner.startswith("("):
            out.append(tuple(tuple(_word(c, w) for c, w in zip(comps, words[j * width:(j + 1) * width]))
                             for j in range(count)))
        else:
            out.append(tuple(_word(inner, w) for w in words))
    return out


def _word(typ: str, w: bytes):
    if typ.startswith("uint"):
        return int.from_bytes(w, "big")
    if typ.startswith("int"):
        return int.from_bytes(w, "big", signed=True)
    if typ == "address":
        return "0x" + w[12:].hex()
    if typ == "bool":
        return w[-1] == 1
    return bytes(w[:int(typ[5:])])


def _is_static(typ: str) -> bool:
    return not (typ.endswith("]") or typ in ("bytes", "string") or typ.startswith("("))


def _plain(typ: str, v):
    if typ == "address":
        return checksum(v)
    if isinstance(v, (bytes, bytearray)):
        return hex0x(v)
    if isinstance(v, (list, tuple)):
        inner = typ[:typ.rindex("[")] if typ.endswith("]") else None
        if typ.startswith("(") and not typ.endswith("]"):
            comps = split_types(typ[1:-1])
            return [_plain(t, x) for t, x in zip(comps, v)]
        return [_plain(inner, x) for x in v] if inner else list(v)
    return v
