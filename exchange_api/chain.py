"""The API's view of the chain: the deployment, an asynchronous JSON-RPC client (issuer_sdk's keep-alive
transport and its one retry policy), call encoding with eth_abi, and event decoding for the indexer.

A node that cannot be reached raises NodeUnavailable (HTTP 503); a call the contracts refuse raises
ChainRevert with the decoded custom error (ledger_node.revert).
"""
from __future__ import annotations

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

CONTRACTS = ("Consortium", "Membership", "PointsLedger", "Rates", "Clearing", "Exchange", "Redemption")


class ChainRevert(Exception):
    def __init__(self, name: str | None, args: tuple = ()):
        super().__init__(f"reverted with {name}{args}")
        self.name = name
        self.args_ = args


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
        self.rpc = AsyncRpcTransport(rpc_url, timeout=timeout,
                                     retry=RetryPolicy(attempts=3, backoff_s=0.05, max_backoff_s=0.5))

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def request(self, method: str, params: list | None = None):
        (answer,) = await self.batch([(method, params or [])])
        return _unwrap(answer)

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
        args[name] = _plain(typ, abi_decode([typ], unhex(topic))[0]) if _is_static(typ) else topic
    if spec.data:
        values = abi_decode(list(spec.data_types), unhex(data))
        for (name, typ), v in zip(spec.data, values):
            args[name] = _plain(typ, v)
    return args


def _is_static(typ: str) -> bool:
    return not (typ.endswith("]") or typ in ("bytes", "string") or typ.startswith("("))


def _plain(typ: str, v):
    if typ == "address":
        return to_checksum_address(v)
    if isinstance(v, (bytes, bytearray)):
        return hex0x(v)
    if isinstance(v, (list, tuple)):
        inner = typ[:typ.rindex("[")] if typ.endswith("]") else None
        if typ.startswith("(") and not typ.endswith("]"):
            comps = split_types(typ[1:-1])
            return [_plain(t, x) for t, x in zip(comps, v)]
        return [_plain(inner, x) for x in v] if inner else list(v)
    return v
