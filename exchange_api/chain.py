"""The API's view of the chain: the deployment, an asynchronous JSON-RPC client (the project's one transport,
ledger_node.jsonrpc, with its retry policy), call encoding (ledger_node.abi_types), and the deployment's events
(ledger_node.event_codec).

A node that cannot be reached raises NodeUnavailable (HTTP 503); a call the contracts refuse raises
ChainRevert with the decoded custom error (ledger_node.revert).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache

from eth_utils import function_signature_to_4byte_selector

from exchange_api.errors import NodeUnavailable
from ledger_node.compiler import load_artifact
from ledger_node.jsonrpc import AsyncHttpTransport, BatchRefused, RetryPolicy, TransportFailure, error_fields, revert_data
from ledger_node.revert import decode_revert
from ledger_node.abi_types import encode_abi, is_dynamic, split_types
from ledger_node.event_codec import EventCodec
from ledger_node.typed_data import checksum

CONTRACTS = ("Consortium", "Membership", "PointsLedger", "Rates", "Clearing", "Exchange", "Redemption",
             "AuditAttestations", "SchemeRegistry", "IdentityTrail")


class ChainRevert(Exception):
    def __init__(self, name: str | None, args: tuple = ()):
        super().__init__(f"reverted with {name}{args}")
        self.name = name
        self.args_ = args


NODE_LIMIT_EXCEEDED = -32005  # the node's read limits (ledger_node/node/read_gate.py): nothing was done, retry later


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
        return self.selector + encode_abi(self.types, args)


@lru_cache(maxsize=None)
def _fn(signature: str) -> Fn:
    inner = signature[signature.index("(") + 1:-1]
    types = tuple(split_types(inner))
    for t in types:
        is_dynamic(t)  # a type encode_abi cannot encode is refused here, when the module loads
    return Fn(signature, function_signature_to_4byte_selector(signature), types)


REDEEM = fn("redeem((address,address,uint256,(uint256,uint256,uint256)[],bytes32,bytes32,uint256),bytes)")
# a relayer's batch of consents, each with its signature (Redemption.redeemMany: one skipped, the others go on)
REDEEM_MANY = fn("redeemMany(((address,address,uint256,(uint256,uint256,uint256)[],bytes32,bytes32,uint256),bytes)[])")
# a relayer's batch of exchange intents, each with its signature (Exchange.exchangeMany: one skipped, the others go on)
EXCHANGE_MANY = fn("exchangeMany((address,uint256,uint256,uint256,uint256,bytes32,uint256,bytes)[])")
REFUND = fn("refund(bytes32,address,address,(uint256,uint256,uint256)[],uint256)")
EXCHANGE = fn("exchange(address,uint256,uint256,uint256,uint256,bytes32,uint256,bytes)")
QUOTE = fn("quote(uint256,uint256,uint256)")
NONCE_USED = fn("nonceUsed(address,bytes32)")
NEXT_EXCHANGE_NONCE = fn("nextNonce(address)")
REGISTER_RESIDENT = fn("registerResident(address,bytes32)")
ACCOUNT_OF = fn("accountOf(bytes32)")
IS_RESIDENT = fn("isResident(address)")


def hex0x(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def unhex(h: str) -> bytes:
    return bytes.fromhex(h[2:] if h.startswith("0x") else h)


# The service's checks (services/common.simulate: an eth_call before anything is signed) on the node at once. The
# node admits at most 64 reads at once from one address (ledger_node config `rpc_client_reads`) and runs 4 at once on
# its engine (`rpc_read_slots`): more checks in flight only queue there, and past 64 it refuses every read from the
# address, the indexer's and the relayer's head polls too. In the district's month (`citypoints bench city`) a
# stalled engine met more checks than that at once: 1,695 redemptions were refused "limit exceeded" and the indexer,
# refused with them, fell behind, which sent still more consents to be checked on the node (849 with this bound:
# every local program reaches the node from 127.0.0.1, and the other reads count against the same limit).
CHECKS_AT_ONCE = 16
# The gas a consent's or an intent's check runs with: what one needs at most (a four-scheme redemption about
# 200,000, a resident's first exchange about 162,000; BENCHMARKS.md "gas"), with room. Named, it bounds how long the
# check can hold the node's engine (4 x gas x 24 ns = 96 ms there, ledger_node/node/read_gate.py), below the 0.1 s
# that makes a client's reads "long" (one at a time, within 15% of the engine's time): run at the node's cap of
# 50,000,000 gas, the checks could be classed long whenever a busy engine answered them slowly (with it, the
# month's node ran 1 long read in all).
CHECK_GAS = 1_000_000


class ChainClient:
    def __init__(self, rpc_url: str, deployment: dict, *, timeout: float = 10.0):
        self.rpc_url = rpc_url
        self.deployment = deployment
        self.chain_id = int(deployment["chainId"])
        self.start_block = int(deployment.get("startBlock", 0))
        self.addresses = {k: checksum(v) for k, v in deployment["contracts"].items()}
        self._contracts: set[str] = set()  # addresses known to hold code
        self._coalesced: list[tuple[str, list, asyncio.Future]] = []
        self._in_flight: set[asyncio.Task] = set()
        self.checks = asyncio.Semaphore(CHECKS_AT_ONCE)  # a check's turn: services/common.simulate
        self.rpc = AsyncHttpTransport(rpc_url, timeout=timeout,
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
        except TransportFailure as exc:
            raise NodeUnavailable("the ledger node is unavailable; retry shortly") from exc
        except BatchRefused as exc:
            raise NodeUnavailable(f"the ledger node refused the request: {exc}") from exc

    async def call(self, to: str, data: bytes, *, sender: str | None = None, block: str = "latest",
                   gas: int | None = None) -> bytes:
        tx = {"to": to, "data": hex0x(data)}
        if sender:
            tx["from"] = sender
        if gas:
            tx["gas"] = hex(gas)
        return unhex(await self.request("eth_call", [tx, block]))

    async def has_code(self, address: str) -> bool:
        """Whether `address` is a contract. Only "yes" is remembered (code does not go away on this chain): an
        address without code may be a counterfactual wallet deployed later, so it is asked again each time (it is
        asked only when a signature is not its key's)."""
        if address not in self._contracts:
            if await self.request("eth_getCode", [address, "latest"]) in (None, "0x"):
                return False
            self._contracts.add(address)
        return True

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber"), 16)


def _unwrap(answer: dict):
    if not answer.get("error"):
        return answer.get("result")
    message, code, data = error_fields(answer["error"])
    if revert_data(data):
        decoded = decode_revert(data)
        raise ChainRevert(*(decoded or (None, ())))
    if "revert" in message.lower():
        raise ChainRevert(None, ())
    if code == NODE_LIMIT_EXCEEDED:
        raise NodeUnavailable(f"the ledger node is busy; retry shortly ({message})")
    raise RpcFailure(message, code)


# -------------------------------------------------------------------------------------------------------
# Events: the deployment's contracts in the one event codec (ledger_node.event_codec)
# -------------------------------------------------------------------------------------------------------

def event_table(addresses: dict[str, str]) -> EventCodec:
    """The events of the deployment's contracts, from their compiled artifacts; addresses come out checksummed."""
    return EventCodec({name: (addresses[name], load_artifact(name)["abi"]) for name in CONTRACTS if name in addresses})
