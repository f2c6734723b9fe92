"""The deployment's clearing as the settlement commands read and write it: Clearing, Redemption, Exchange and
Membership bound on the node that var/deployment.json names, their logs decoded by the project's one event codec,
and every read of one command made at one block, so a statement's views and events describe the same chain."""
from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from ledger_node import chain, paths
from ledger_node.compiler import load_artifact
from ledger_node.config import NodeConfig
from ledger_node.deploy.command import read_deployment
from ledger_node.event_codec import EventCodec
from ledger_node.settlement.errors import SettlementError, contract_refusal, usage

CONTRACTS = ("Clearing", "Redemption", "Exchange", "Membership")
EVENT_SOURCES = ("Clearing", "Redemption", "Exchange")
LOG_CHUNK = 10_000  # blocks per eth_getLogs request (a Besu node limits the range)


@dataclass(frozen=True)
class Log:
    """A decoded log and where it sits on the chain; (block, index) orders logs across contracts."""
    block: int
    index: int
    contract: str
    name: str
    args: dict
    tx: str

    @property
    def position(self) -> tuple[int, int]:
        return self.block, self.index


class ClearingLedger:
    """The bound contracts, the block every read of this command is made at (`head`), and the logs."""

    def __init__(self, w3, addresses: dict[str, str], start_block: int = 0):
        self.w3 = w3
        self.start_block = start_block
        self.contracts: dict[str, Contract] = {n: chain.bind(w3, n, addresses[n]) for n in CONTRACTS}
        self._codec = EventCodec({n: (addresses[n], load_artifact(n)["abi"]) for n in EVENT_SOURCES})
        self._topics = {(e.contract, e.name): e.topic0 for _, e in self._codec.items()}
        self.head = w3.eth.block_number

    @classmethod
    def from_deployment(cls, rpc_url: str | None = None) -> "ClearingLedger":
        """The deployment of this CityPoints home on `rpc_url` (default: the deployment's own, else the embedded
        node's)."""
        deployment = read_deployment()
        if deployment is None:
            raise usage("no_deployment", f"no deployment file {paths.deployment_file()}; run `citypoints deploy`")
        missing = [n for n in CONTRACTS if n not in deployment.get("contracts", {})]
        if missing:
            raise usage("no_deployment", f"{paths.deployment_file()} has no address for {', '.join(missing)}")
        url = rpc_url or deployment.get("rpcUrl") or NodeConfig.from_env().rpc_url
        try:
            w3 = chain.connect(url)
        except ConnectionError as exc:
            raise SettlementError("node_unreachable", str(exc)) from None
        return cls(w3, deployment["contracts"], int(deployment.get("startBlock") or 0))

    @property
    def clearing(self) -> Contract:
        return self.contracts["Clearing"]

    @property
    def membership(self) -> Contract:
        return self.contracts["Membership"]

    def view(self, contract: str, fn: str, *args):
        """A view of `contract` at the command's block."""
        return getattr(self.contracts[contract].functions, fn)(*args).call(block_identifier=self.head)

    def topic(self, contract: str, event: str) -> str:
        return self._topics[contract, event]

    def logs(self, contract: str, events: tuple[str, ...], *topics, from_block: int | None = None,
             to_block: int | None = None) -> list[Log]:
        """The `events` of `contract` in [from_block, to_block] (default: the deployment's start, the head), the
        further topics (None: any; a list: any of them) filtered by the node; in chain order."""
        lo = self.start_block if from_block is None else from_block
        hi = self.head if to_block is None else to_block
        flt_topics = [[self.topic(contract, e) for e in events], *topics]
        address = self.contracts[contract].address
        out: list[Log] = []
        for start in range(lo, hi + 1, LOG_CHUNK):
            raw_logs = self.w3.eth.get_logs({"address": address, "fromBlock": start,
                                             "toBlock": min(hi, start + LOG_CHUNK - 1), "topics": flt_topics})
            out.extend(log for log in map(self._decode, raw_logs) if log is not None)
        return sorted(out, key=lambda log: log.position)

    def receipt_logs(self, receipt) -> list[Log]:
        """The decoded logs of a transaction's receipt."""
        return [log for log in map(self._decode, receipt["logs"]) if log is not None]

    def send(self, account: LocalAccount, contract: str, fn: str, *args):
        """Send `contract.fn(*args)` from `account` and wait for it; a revert (seen when the gas is estimated,
        before anything is sent) becomes the contract error's stable code."""
        call = getattr(self.contracts[contract].functions, fn)(*args)
        try:
            receipt = chain.transact(self.w3, account, call)
        except chain.TransactionFailed as exc:
            raise contract_refusal(exc.error, exc.error_args) from None
        self.head = max(self.head, receipt["blockNumber"])
        return receipt

    def _decode(self, raw) -> Log | None:
        rpc_form = {"address": raw["address"], "topics": [_hex(t) for t in raw["topics"]], "data": _hex(raw["data"])}
        decoded = self._codec.decode(rpc_form)
        if decoded is None:
            return None
        event, args = decoded
        return Log(int(raw["blockNumber"]), int(raw["logIndex"]), event.contract, event.name, args,
                   _hex(raw["transactionHash"]))


def topic_of(value: int) -> str:
    """An indexed uint256 as a topic."""
    return "0x" + value.to_bytes(32, "big").hex()


def _hex(value) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


SETTLEMENT_STATES = ("open", "paid", "confirmed", "disputed")  # IClearing.SettlementState, by value


@dataclass(frozen=True)
class StatementView:
    """A statement as the Clearing contract holds it at the command's block."""
    statement_id: str
    amount: int         # signed: positive when side A (the scheme's issuer; the lower scheme) owes side B
    settlement: str     # SETTLEMENT_STATES
    bank_ref_hash: str | None


def merchant_statement(ledger: ClearingLedger, period: int, scheme: int, merchant: str) -> StatementView:
    sid = ledger.view("Clearing", "merchantStatementId", period, scheme, merchant)
    return _statement(ledger, sid, ledger.view("Clearing", "merchantPosition", period, scheme, merchant))


def issuer_statement(ledger: ClearingLedger, period: int, lo: int, hi: int) -> StatementView:
    sid = ledger.view("Clearing", "issuerStatementId", period, lo, hi)
    return _statement(ledger, sid, ledger.view("Clearing", "issuerPosition", period, lo, hi))


def _statement(ledger: ClearingLedger, sid: bytes, amount: int) -> StatementView:
    state, ref = ledger.view("Clearing", "settlement", sid)
    return StatementView("0x" + bytes(sid).hex(), amount, SETTLEMENT_STATES[state],
                         "0x" + bytes(ref).hex() if any(ref) else None)
