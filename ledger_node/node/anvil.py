"""One anvil process: started from a genesis file, its state dumped and loaded over RPC.

anvil refuses `--init` together with `--state`, so the chain always boots from the same genesis
(same chain id, genesis hash and allocations) and a saved state is loaded into it with
`anvil_loadState`, which restores every block, hash and timestamp.

NodeError, rpc, free_port and port_in_use live in engine_process.py and are imported from here by most callers.
"""
from __future__ import annotations

import gzip
import io
import json
import time
from pathlib import Path
from typing import Callable, Iterator

import ijson
import orjson

from ledger_node import paths
from ledger_node.config import NodeConfig
from ledger_node.node.engine_process import EngineProcess, NodeError, free_port, port_in_use, rpc

__all__ = ["AnvilProcess", "NodeError", "free_port", "port_in_use", "rpc", "write_genesis"]


def write_genesis(path: Path, cfg: NodeConfig, alloc: dict[str, int]) -> None:
    genesis = {
        "config": {"chainId": cfg.chain_id},
        "nonce": "0x0",
        # anvil's clock runs from the genesis time: a genesis at 0 would put every block in 1970
        "timestamp": hex(int(time.time())),
        "gasLimit": hex(cfg.gas_limit),
        "difficulty": "0x0",
        "baseFeePerGas": "0x0",
        "alloc": {addr: {"balance": hex(wei)} for addr, wei in alloc.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(genesis, indent=2))


# anvil_loadState over the engine's Unix socket takes time quadratic in the message's size (measured: a dump of
# 40 MB in 7 s, 81 MB in 26 s, against 1-2 s over HTTP; a district's month, 707 MB, not within 10 minutes), so a
# large state is loaded as several smaller states, each merged into what is loaded already: the 81 MB dump in
# pieces of 4 MB of JSON loaded in 12.1 s, of 1 MB in 6.0 s, of 256 KB in 4.2 s
LOAD_PIECE_BYTES = 256 << 10
_READ_BYTES = 1 << 20  # the JSON is read from the gzip stream in pieces of this size


def state_pieces(blob: str, piece_bytes: int) -> Iterator[str]:
    """`blob` (hex of gzip of anvil's state JSON) as itself when its JSON is at most `piece_bytes`, else as hex JSON
    states of about that size: first the blocks, then the transactions, then the accounts (a contract's storage
    split over several), the dump's block environment and best block with the last. anvil_loadState merges: it adds
    blocks and transactions, and sets an account's balance, nonce and code and the storage slots given, keeping the
    others.

    The JSON is never held whole: a district's month (a 715 MB dump) unzips to several GB, more than a parser takes
    at once, so it is read from the gzip stream once per part (blocks, transactions, accounts, the head; ijson,
    about 250 MB of JSON a second a pass) and each item is serialized once, into the piece it goes in."""
    raw = bytes.fromhex(blob[2:] if blob.startswith("0x") else blob)

    def text() -> io.BufferedIOBase:
        return gzip.GzipFile(fileobj=io.BytesIO(raw)) if raw[:2] == b"\x1f\x8b" else io.BytesIO(raw)

    if len(text().read(piece_bytes + 1)) <= piece_bytes:
        yield blob
        return
    try:
        yield from _split(text, piece_bytes)
    except ijson.JSONError:  # a number beyond 63 bits (ijson's C parser stops at one): the rest whole, as before
        yield blob           # (loading merges: what the pieces before it carried is set again, to the same)


def _split(text: Callable[[], io.BufferedIOBase], piece_bytes: int) -> Iterator[str]:
    pieces = _Pieces(piece_bytes)
    for key in ("blocks", "transactions"):
        for item in ijson.items(text(), f"{key}.item", buf_size=_READ_BYTES, use_float=True):
            yield from pieces.add(key, orjson.dumps(item))
    for address, account in ijson.kvitems(text(), "accounts", buf_size=_READ_BYTES, use_float=True):
        storage = list((account.pop("storage", None) or {}).items())
        info = orjson.dumps(account)[:-1]  # the account without its storage, its closing brace left off
        at = 0
        while True:  # at least once: an account without storage too; a piece never names an account twice
            end, room = at, pieces.room() - len(info)
            while end < len(storage) and (room > 0 or end == at):
                room -= 140  # a slot and its value, quoted hex
                end += 1
            entry = (orjson.dumps(address) + b":" + info + (b"," if len(info) > 1 else b"") + b'"storage":'
                     + orjson.dumps(dict(storage[at:end])) + b"}")
            more = end < len(storage)
            yield from pieces.add("accounts", entry, close=more)
            if not more:
                break
            at = end
    head = {key: next(ijson.items(text(), key, buf_size=_READ_BYTES, use_float=True), None)
            for key in ("block", "best_block_number")}
    yield pieces.piece(head)


class _Pieces:
    """Items of a state (JSON bytes) gathered into hex JSON states of about `piece_bytes` each."""

    def __init__(self, piece_bytes: int):
        self.piece_bytes = piece_bytes
        self._parts: dict[str, list[bytes]] = {"blocks": [], "transactions": [], "accounts": []}
        self._size = 0

    def room(self) -> int:
        return self.piece_bytes - self._size

    def add(self, key: str, item: bytes, close: bool = False) -> Iterator[str]:
        """Gather `item`; the piece goes out when it is full, or with `close`."""
        self._parts[key].append(item)
        self._size += len(item) + 1
        if close or self._size >= self.piece_bytes:
            yield self.piece()

    def piece(self, head: dict | None = None) -> str:
        """What is gathered as one state; `head` (the block environment and best block) with the last, once every
        block is in."""
        head = head or {"block": None, "best_block_number": None}
        out = (b'{"block":' + orjson.dumps(head["block"])
               + b',"best_block_number":' + orjson.dumps(head["best_block_number"])
               + b',"historical_states":null,"blocks":[' + b",".join(self._parts["blocks"])
               + b'],"transactions":[' + b",".join(self._parts["transactions"])
               + b'],"accounts":{' + b",".join(self._parts["accounts"]) + b"}}")
        self._parts = {"blocks": [], "transactions": [], "accounts": []}
        self._size = 0
        return "0x" + out.hex()


class AnvilProcess(EngineProcess):
    name = "anvil"

    def __init__(self, cfg: NodeConfig, genesis: Path, log: Path, *, block_time: float | None = None,
                 no_mining: bool = False, socket: Path | None = None, sealed: bool = False):
        """Automine by default (the test fixture's fast path); `no_mining` leaves every block to `evm_mine`,
        with the pool first in, first out so a replay builds the same blocks. `socket`, `sealed`: the node's
        engine (engine_process.py): JSON-RPC on that Unix socket (anvil's `--ipc`), no CORS, and with `sealed`
        no reachable TCP port."""
        super().__init__(cfg.host, cfg.port, log, socket=socket, sealed=sealed)
        self.cfg = cfg
        self.genesis = genesis
        self.block_time = block_time
        self.no_mining = no_mining

    def command(self) -> list[str]:
        args = [str(paths.ANVIL_BIN), "--init", str(self.genesis.absolute()), "--host", self.host,
                "--port", str(self.port), "--hardfork", self.cfg.hardfork, "--gas-price", "0",
                "--base-fee", "0", "--gas-limit", str(self.cfg.gas_limit), "--accounts", "0",
                "--no-request-size-limit"]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.no_mining:  # behind the gateway, for years: no per-block log lines (node.log has what matters),
            # and the state of the latest blocks only (NodeConfig.state_history_blocks: memory grows with it)
            args += ["--no-mining", "--order", "fifo", "--quiet",
                     "--prune-history", str(max(1, self.cfg.state_history_blocks))]
        if self.socket:  # named from its directory (anvil's cwd): a deep home exceeds a socket path's length limit
            args += ["--ipc", self.socket.name, "--no-cors"]
        return args

    def start(self, timeout: float = 30.0, cwd: Path | None = None) -> None:
        super().start(timeout, cwd or (self.socket.parent if self.socket else None))
        self._clock_to_now()

    def _clock_to_now(self) -> None:
        """anvil's clock runs from the genesis time. A genesis written for Besu (the consortium's, timestamp 0)
        would put every block in 1970: a redemption's redeemedAt would be 0 (an unknown redemption, never
        refundable) and every deadline far in the future. While no block is mined, bring the clock to now."""
        head = self.call("eth_getBlockByNumber", ["latest", False])
        if int(head["number"], 16) == 0 and int(head["timestamp"], 16) < int(time.time()):
            self.call("evm_setTime", [int(time.time())])

    def dump_state(self) -> str:
        return self.call("anvil_dumpState", timeout=3600)  # a 1,000,000-item ledger takes tens of seconds

    def load_state(self, blob: str) -> None:
        """Load what anvil_dumpState returned, in pieces of about LOAD_PIECE_BYTES of JSON each (state_pieces)."""
        for piece in state_pieces(blob, LOAD_PIECE_BYTES):
            if not self.call("anvil_loadState", [piece], timeout=3600):
                raise NodeError("anvil refused the saved state")
        # anvil's clock restarts from the genesis time; bring it to now so new blocks carry the wall time
        latest = int(self.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        self.call("evm_setTime", [max(int(time.time()), latest + 1)])
