"""The indexer: follows the chain from the deployment's start block and decodes every CityPoints event into
tables (idx_events, raw; and projections: balances, activity, schemes and rates, supply, redemptions, clearing
positions, nets, periods, settlements, proposals, merchants, residents).

- idx_events keeps the events as they were, except the many whose every field is in a projection (an item's mint
  and burn, issuance, change, a redemption: RAW_NOT_KEPT): a block of 200 redemptions wrote 1,200 raw rows, half
  of the block's write (20-44 ms of the store's one writer, which every request's write waits behind).

- Logs come from eth_getLogs over block ranges for the deployment's contracts, decoded by the one event codec
  (ledger_node.event_codec).
- A range's history (raw events, activity, redemptions, preferred orders: rows only ever added) goes first, in
  transactions of at most HISTORY_CHUNK rows (a request's write waits behind one of them, not a block's worth);
  then one transaction writes its state (balances, positions, nets, schemes, governance) and moves the cursor (last
  block and its hash), so a crash re-processes the range; every write is an insert that keeps the row there or an
  upsert of the state *after* the event (events carry it), so re-processing is idempotent. The parties' nets, which
  Clearing does not store (issue 25), are sums: the range's position moves and confirmed payments are added to
  them, each only if its event was not indexed before (their raw rows go in the cursor's transaction), so
  re-processing adds nothing twice.
- Each round first checks that the cursor block's hash is still the chain's: a reset or reorganised chain
  (hash mismatch, or a head below the cursor) drops the idx_* tables and rebuilds from the start block.
- `lag` = head - cursor block, reported by /health/ready, /v1/indexer and the metrics.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import defaultdict
from typing import Callable

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from exchange_api import metrics
from exchange_api.chain import ChainClient, event_table
from exchange_api.spent_intents import preferred_order_intent
from exchange_api.store.db import Store
from exchange_api.store.models import (INDEXER_TABLES, IdxActivity, IdxBalance, IdxCursor, IdxEvent, IdxIssuerPosition,
                                       IdxMerchant, IdxMerchantPosition, IdxNet, IdxPeriod, IdxPreferredOrder,
                                       IdxProposal, IdxProposalApproval, IdxRedemption, IdxResident, IdxScheme,
                                       IdxSettlement)
from ledger_node.domain import ISSUER_PAIR, MERCHANT_PAIR, statement_id

log = logging.getLogger("citypoints.indexer")
ZERO = "0x0000000000000000000000000000000000000000"
SET_RATE_SELECTOR = "0x" + __import__("eth_utils").function_signature_to_4byte_selector(
    "setRate(uint256,uint256)").hex()


def _hex32(value) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else str(value).lower()


class ChainMoved(Exception):
    pass


class Indexer:
    def __init__(self, chain: ChainClient, store: Store, *, range_size: int = 2000, poll_s: float = 0.2):
        self.chain = chain
        self.store = store
        self.range_size = range_size
        self.poll_s = poll_s
        self.table = event_table(chain.addresses)
        self.addresses = [a for a in chain.addresses.values()]
        self.head = 0
        self.block = -1
        # called after every commit with the accounts whose balances it changed, or None when it changed
        # something every balance depends on (a rate, a scheme's status, a rebuild): read caches drop entries
        # after each commit: the balances and change it wrote (((account, scheme) -> points, (account, scheme) ->
        # change); None when rates, statuses or merchants changed too) and the redemptions whose Redeemed event it
        # wrote, and the intents spent on Redemption it wrote (the redemptions' ids, the preferred orders' intent ids)
        self.on_commit: Callable[[dict | None, list[str], list[str]], None] | None = None
        self.on_reset: Callable[[], None] | None = None  # the tables were wiped (called before on_commit(None))
        self.rebuilds = 0
        self.max_lag = 0
        self._woken: asyncio.Event | None = None  # set by wake(): a new head was seen, index it now
        self._verify_cursor = False  # a range did not grow from the cursor: is the cursor's block still the chain's?

    def wake(self) -> None:
        """A new block is known (the relayer's tracker polls the head every 20 ms): index it now, not at the next
        poll. Until the indexed view has the head, redemptions are checked by a simulation on the node instead of
        from memory (services/redemptions.py `submit`); at 200 a second, 45% of them were."""
        if self._woken is not None:
            self._woken.set()

    @property
    def lag(self) -> int:
        return max(self.head - self.block, 0) if self.block >= 0 else self.head

    async def run(self) -> None:
        self._woken = asyncio.Event()
        while True:
            self._woken.clear()
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except ChainMoved:
                continue
            except Exception as exc:  # node or database outage: resume from the cursor when they are back
                log.warning("indexer: %s: %s", type(exc).__name__, str(exc)[:200])
                await asyncio.sleep(1.0)
            try:
                await asyncio.wait_for(self._woken.wait(), self.poll_s)
            except asyncio.TimeoutError:
                pass

    async def sync_once(self, *, until: int | None = None) -> int:
        """Process everything up to the head (or `until`); returns the number of events indexed."""
        cursor = await self.store.run(lambda s: s.get(IdxCursor, 1))
        head = await self.chain.block_number()
        self.head = head
        metrics.INDEXER_HEAD.set(head)
        if cursor is None or cursor.chain_id != self.chain.chain_id or cursor.start_block != self.chain.start_block:
            await self.reset()
            cursor = await self.store.run(lambda s: s.get(IdxCursor, 1))
        # a head past the cursor needs no look at the cursor's block (one round trip fewer a block): the next range
        # must grow from it (_fetch), and when it does not, the round after this one looks
        elif cursor.block_number >= self.chain.start_block and (
                head < cursor.block_number or (head == cursor.block_number or self._verify_cursor)
                and await self._hash(cursor.block_number) != cursor.block_hash):
            log.warning("indexer: chain reset or reorganised at block %s; rebuilding", cursor.block_number)
            metrics.INDEXER_REBUILDS.inc()
            self.rebuilds += 1
            await self.reset()
            cursor = await self.store.run(lambda s: s.get(IdxCursor, 1))
        self.block = cursor.block_number
        target = head if until is None else min(head, until)
        total = 0
        parent = cursor.block_hash  # the last block indexed: the next range must grow from it
        while self.block < target:
            frm = self.block + 1
            to = min(target, frm + self.range_size - 1)
            try:
                logs, to_hash, times = await self._fetch(frm, to, parent)
            except ChainMoved:
                self._verify_cursor = True  # the next round compares the cursor's block with the chain's
                raise
            self._verify_cursor = False
            parent = to_hash
            projection = await asyncio.to_thread(self._project, logs, times)  # decoding stays out of the writer
            for part in projection.history():  # each its own transaction: requests' writes go in between
                await self.store.write(lambda s, part=part: _insert(s, part), isolated=False, background="indexer")
            events, changed = await self.store.write(lambda s: self._write(s, projection, to, to_hash, head),
                                                     isolated=False, background="indexer")
            total += events
            self.block = to
            metrics.INDEXER_EVENTS.inc(len(logs))
            if self.on_commit is not None:
                self.on_commit(changed, list(projection.redemptions), projection.spent_intents())
        metrics.INDEXER_BLOCK.set(self.block)
        metrics.INDEXER_LAG.set(self.lag)
        self.max_lag = max(self.max_lag, self.lag)
        return total

    async def reset(self) -> None:
        """Drop every idx_* row and start again from the deployment's start block."""
        start = self.chain.start_block

        def wipe(s):
            old = s.get(IdxCursor, 1)
            rebuilds = old.rebuilds + 1 if old is not None else 0
            for model in INDEXER_TABLES:
                s.execute(delete(model))
            s.add(IdxCursor(id=1, chain_id=self.chain.chain_id, start_block=start, block_number=start - 1,
                            block_hash="", head=0, view_reset_block=start - 1, rebuilds=rebuilds))
        await self.store.write(wipe)
        self.block = start - 1
        if self.on_reset is not None:
            self.on_reset()
        if self.on_commit is not None:
            self.on_commit(None)

    async def _hash(self, number: int) -> str | None:
        block = await self.chain.request("eth_getBlockByNumber", [hex(number), False])
        return block["hash"] if block else None

    async def _fetch(self, frm: int, to: int, parent: str) -> tuple[list[dict], str, dict[int, int]]:
        """The range's logs, the hash of its last block, and the time of every block with a log (block -> unix
        seconds): from the logs' `blockTimestamp` where the node gives it (anvil does), else from the headers,
        fetched in one more round trip. The range's first block must be the child of `parent` (the hash of the
        last block indexed; "" for the first range after a reset): a chain reset and grown again past the cursor
        between two rounds would otherwise leave the blocks it replaced below the cursor indexed."""
        answers = await self.chain.batch([
            ("eth_getLogs", [{"fromBlock": hex(frm), "toBlock": hex(to), "address": self.addresses}]),
            ("eth_getBlockByNumber", [hex(to), False]),
            *([("eth_getBlockByNumber", [hex(frm), False])] if parent else []),
        ])
        from exchange_api.chain import _unwrap
        logs = _unwrap(answers[0])
        block = _unwrap(answers[1])
        if block is None:  # the chain went backwards under us: the next round sees it and rebuilds
            raise ChainMoved(f"block {to} vanished")
        first = _unwrap(answers[2]) if parent else None
        if parent and (first is None or first["parentHash"] != parent):
            raise ChainMoved(f"block {frm} does not follow the block indexed before it")  # the next round rebuilds
        times = {to: int(block["timestamp"], 16)}
        missing = set()
        for lg in logs:
            number = int(lg["blockNumber"], 16)
            if "blockTimestamp" in lg:
                times[number] = int(lg["blockTimestamp"], 16)
            elif number not in times:
                missing.add(number)
        if missing:
            numbers = sorted(missing)
            for number, answer in zip(numbers, await self.chain.batch(
                    [("eth_getBlockByNumber", [hex(n), False]) for n in numbers])):
                header = _unwrap(answer)
                if header is None:
                    raise ChainMoved(f"block {number} vanished")
                times[number] = int(header["timestamp"], 16)
        return logs, block["hash"], times

    # -- decoding into rows ------------------------------------------------------------------------------

    def _project(self, logs: list[dict], times: dict[int, int]) -> "Projection":
        p = Projection(times)
        for lg in logs:
            if lg.get("removed"):
                continue
            decoded = self.table.decode(lg)
            if decoded is None:
                continue
            event, args = decoded
            p.add(int(lg["blockNumber"], 16), int(lg["logIndex"], 16), lg["transactionHash"], event.contract,
                  event.name, args)
        return p

    def _write(self, s, p: "Projection", to: int, to_hash: str, head: int) -> tuple[int, dict | None]:
        """The projection's rows and the cursor, in the writer's transaction (it may run twice: it only writes)."""
        p.write(s, to)
        cursor = s.get(IdxCursor, 1)
        cursor.block_number, cursor.block_hash, cursor.head = to, to_hash, head
        rates_or_status = any(k in ("rate", "status", "expiry_months")  # every balance may read differently
                              for fields in p.schemes.values() for k in fields)
        everything = rates_or_status or bool(p.merchants) or bool(p.moved)  # a rate, status, merchant or recovery
        if everything:
            cursor.view_reset_block = to
        return p.decoded, (None if everything else (p.balances, p.changes))


# Events whose every field is in a projection (balances, activity, redemptions, supply, change): no raw row. The
# rest (governance, descriptions, attestations, holdings, recoveries, exchanges, position moves, whose nets are
# summed only for events not in idx_events yet) keep theirs.
RAW_NOT_KEPT = frozenset({"TransferSingle", "PointsIssued", "PointsRevoked", "PointsMinted", "PointsRestored",
                          "PointsBurned", "PointsExpired", "ChangeUpdated", "Redeemed"})
# The events whose raw rows say that their nets were added: written with the nets, in the cursor's transaction.
NET_EVENTS = frozenset({"MerchantPositionChanged", "IssuerPositionChanged", "PaymentConfirmed"})
# Rows of history (Projection.history) one background transaction writes at most. A block of 200 redemptions wrote
# ~1,000 rows in one transaction of 90 ms on a busy 2-core machine, and every request's write waited behind it; in
# chunks of 150 a redemption's p99 at 200/s was 68-165 ms in four runs (196-260 with 250 rows and settlement's 50).
HISTORY_CHUNK = 150


def _upsert(s, model, rows: list[dict], keys: list[str], update: list[str] | None = None) -> None:
    """`rows` inserted into `model`'s table; a row whose `keys` are taken updates `update` (every other column when
    None; none: the row there stays). One executemany of a cached statement (Core, on the table): the ORM and a
    VALUES list compiled per chunk cost more than the rows themselves."""
    if not rows:
        return
    stmt = (pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert)(model.__table__)
    cols = update if update is not None else [c for c in rows[0] if c not in keys]
    stmt = (stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols})
            if cols else stmt.on_conflict_do_nothing(index_elements=keys))
    s.execute(stmt, rows)


def _insert(s, part: list[tuple]) -> None:
    """A chunk of history (Projection.history): rows already there stay as they are."""
    for model, keys, rows in part:
        _upsert(s, model, rows, keys, [])


class Projection:
    """What one range of events changes, collected in memory and written as upserts of the state after."""

    def __init__(self, times: dict[int, int]):
        self.times = times  # block -> unix seconds, for every block with an event
        self.decoded = 0  # events in the range
        self.events: list[dict] = []  # idx_events rows (RAW_NOT_KEPT's are not) but NET_EVENTS'
        self.net_events: list[dict] = []  # NET_EVENTS' idx_events rows
        self.balances: dict[tuple[str, int], int] = {}
        self.changes: dict[tuple[str, int], int] = {}         # (account, scheme) -> change after, value units
        self.moved: list[tuple[str, str, int]] = []           # recoveries: (account, new account, scheme)
        self.activity: list[dict] = []
        self.schemes: dict[int, dict] = defaultdict(dict)
        self.redemptions: dict[str, dict] = {}
        self.refunded: dict[str, int] = {}
        self.mpos: dict[tuple[int, int, str], int] = {}
        self.ipos: dict[tuple[int, int, int], int] = {}
        self.net_moves: list[tuple[int, int, dict[str, int]]] = []  # (block, log index, {party: what it adds})
        self.confirmed: list[tuple[int, int, str, int]] = []  # (block, log index, statement id, period)
        self.periods: list[dict] = []
        self.settlements: dict[str, dict] = {}
        self.proposals: dict[int, dict] = defaultdict(dict)
        self.approvals: dict[tuple[int, str], dict] = {}  # (proposal, member) -> idx_proposal_approvals row
        self._signed: dict[tuple[str, int, str], str] = {}  # (tx, proposal, member) -> who relayed the signature
        self.merchants: dict[str, bool] = {}
        self.residents: dict[str, str] = {}
        self.preferred: list[dict] = []  # idx_preferred_orders rows
        self._mints: dict[str, list[tuple[int, int, dict]]] = defaultdict(list)  # tx -> pending TransferSingle mints
        self._claims: set[str] = set()  # transactions in which a person joined and took what was held for them
        self._citations: dict[str, dict] = {}  # tx -> the IssuanceRulesCited awaiting its PointsIssued

    def spent_intents(self) -> list[str]:
        """The intent ids this range spends on Redemption: its redemptions' and its preferred orders'."""
        return [*self.redemptions, *(preferred_order_intent(p["resident"], p["nonce"]) for p in self.preferred)]

    def add(self, block: int, index: int, tx: str, contract: str, name: str, a: dict) -> None:
        self.decoded += 1
        if name not in RAW_NOT_KEPT:
            (self.net_events if name in NET_EVENTS else self.events).append(
                {"block_number": block, "log_index": index, "tx_hash": tx, "contract": contract, "name": name,
                 "args": json.dumps(a)})
        handler = getattr(self, "_on_" + name, None)
        if handler is not None:
            handler(block, index, tx, a)

    # ledger
    def _on_TransferSingle(self, block, index, tx, a):
        if a["from"] == ZERO:
            self._mints[tx].append((block, index, a))

    def _on_IssuanceRulesCited(self, block, index, tx, a):
        self._citations[tx] = a

    def _on_PointsIssued(self, block, index, tx, a):
        cited = self._citations.pop(tx, None)  # emitted just before this call's events, for this scheme and issuer
        if cited is not None and (cited["scheme"], cited["issuer"]) != (a["scheme"], a["issuer"]):
            cited = None
        version = cited["rulesVersion"] if cited else None
        rules_hash = _hex32(cited["rulesHash"]) if cited else None
        skipped = set(a["skipped"])
        items = [i for i in range(len(a["refs"])) if i not in skipped]
        mints = self._mints.pop(tx, [])[-len(items):] if items else []
        for item, (mb, mi, m) in zip(items, mints):
            resident, amount = m["to"], m["value"]
            self.balances[(resident, a["scheme"])] = a["balancesAfter"][item]
            self.activity.append(dict(block_number=mb, log_index=mi, item=0, account=resident, kind="issued",
                                      scheme=a["scheme"], amount=amount, balance_after=a["balancesAfter"][item],
                                      by=a["issuer"], reason_code=a["reasonCodes"][item] if a["reasonCodes"] else None,
                                      ref=a["refs"][item], tx_hash=tx, rules_version=version,
                                      rules_hash=rules_hash))
        self.schemes[a["scheme"]]["total_supply"] = a["totalSupplyAfter"]

    def _on_PointsRevoked(self, block, index, tx, a):
        self._balance(block, index, tx, a["resident"], a["scheme"], "revoked", a["amount"], a["balanceAfter"],
                      a["issuer"], a["reasonCode"], a["ref"], a["totalSupplyAfter"])

    def _on_PointsMinted(self, block, index, tx, a):
        if self._mints.get(tx):
            self._mints[tx].pop()
        self._balance(block, index, tx, a["account"], a["scheme"], "minted", a["amount"], a["balanceAfter"],
                      a["operator"], None, a["ref"], a["totalSupplyAfter"])

    # a refund's give-back (PointsLedger.restoreTo, issue 18): PointsMinted's fields, the same history kind
    _on_PointsRestored = _on_PointsMinted

    def _on_PointsBurned(self, block, index, tx, a):
        self._balance(block, index, tx, a["account"], a["scheme"], "burned", a["amount"], a["balanceAfter"],
                      a["operator"], None, a["ref"], a["totalSupplyAfter"])

    def _on_ChangeUpdated(self, block, index, tx, a):
        self.changes[(a["account"], a["scheme"])] = a["changeAfter"]

    def _on_HoldingClaimed(self, block, index, tx, a):
        self._claims.add(tx)  # its AccountMoved events follow: the points held before the person joined

    def _on_AccountMoved(self, block, index, tx, a):
        old, new = (a["account"], a["scheme"]), (a["newAccount"], a["scheme"])
        if old in self.changes:
            self.changes[new] = self.changes[old]
        else:  # the change is in the table: moved at the write
            self.moved.append((a["account"], a["newAccount"], a["scheme"]))
        self.changes[old] = 0
        self.balances[(a["account"], a["scheme"])] = 0
        self.balances[(a["newAccount"], a["scheme"])] = a["balance"]
        moved_in = "claimed" if tx in self._claims else "moved_in"
        for acct, kind in ((a["account"], "moved_out"), (a["newAccount"], moved_in)):
            self.activity.append(dict(block_number=block, log_index=index, item=0 if kind == "moved_out" else 1,
                                      account=acct, kind=kind, scheme=a["scheme"], amount=a["balance"],
                                      balance_after=0 if kind == "moved_out" else a["balance"], by=ZERO,
                                      reason_code=None, ref=None, tx_hash=tx, rules_version=None, rules_hash=None))

    def _balance(self, block, index, tx, account, scheme, kind, amount, after, by, reason, ref, supply):
        self.balances[(account, scheme)] = after
        self.schemes[scheme]["total_supply"] = supply
        self.activity.append(dict(block_number=block, log_index=index, item=0, account=account, kind=kind,
                                  scheme=scheme, amount=amount, balance_after=after, by=by, reason_code=reason,
                                  ref=ref, tx_hash=tx, rules_version=None, rules_hash=None))

    def _on_SchemeAdded(self, block, index, tx, a):
        self.schemes[a["scheme"]].update(status=1, issuer_daily_quota=a["issuerDailyQuota"],
                                         resident_daily_cap=a["residentDailyCap"])

    def _on_SchemeStatusChanged(self, block, index, tx, a):
        self.schemes[a["scheme"]]["status"] = a["status"]

    def _on_IssuerDailyQuotaChanged(self, block, index, tx, a):
        self.schemes[a["scheme"]]["issuer_daily_quota"] = a["quota"]

    def _on_ResidentDailyCapChanged(self, block, index, tx, a):
        self.schemes[a["scheme"]]["resident_daily_cap"] = a["cap"]

    def _on_SchemeExpiryChanged(self, block, index, tx, a):
        self.schemes[a["scheme"]]["expiry_months"] = a["months"]

    def _on_PointsExpired(self, block, index, tx, a):
        """Points swept before a debit: in the resident's history as what expired."""
        self._balance(block, index, tx, a["account"], a["scheme"], "expired", a["amount"], a["balanceAfter"], ZERO,
                      None, None, a["totalSupplyAfter"])

    def _on_RateSet(self, block, index, tx, a):
        self.schemes[a["scheme"]]["rate"] = a["rate"]

    # redemption and clearing
    def _on_PreferredOrderSet(self, block, index, tx, a):
        self.preferred.append(dict(nonce=a["nonce"].lower(), resident=a["resident"].lower(),
                                   schemes=json.dumps(a["schemes"]), block_number=block, log_index=index))

    def _on_Redeemed(self, block, index, tx, a):
        self.redemptions[a["redemptionId"]] = dict(
            redemption_id=a["redemptionId"], resident=a["resident"], merchant=a["merchant"], order_ref=a["orderRef"],
            nonce=a["nonce"], credits=a["credits"], refunded=0, parts=json.dumps(a["parts"]), block_number=block,
            tx_hash=tx)

    def _on_Refunded(self, block, index, tx, a):
        self.refunded[a["redemptionId"]] = a["refundedTotal"]

    def _on_MerchantPositionChanged(self, block, index, tx, a):
        self.mpos[(a["period"], a["scheme"], a["merchant"])] = a["periodAmount"]
        self.net_moves.append((block, index, {f"scheme:{a['scheme']}": a["delta"],
                                              f"merchant:{a['merchant']}": -a["delta"]}))

    def _on_IssuerPositionChanged(self, block, index, tx, a):
        lo, hi = sorted((a["fromScheme"], a["toScheme"]))
        self.ipos[(a["period"], lo, hi)] = a["periodAmountLoHi"]
        self.net_moves.append((block, index, {f"scheme:{a['fromScheme']}": a["credits"],
                                              f"scheme:{a['toScheme']}": -a["credits"]}))

    def _on_PeriodClosed(self, block, index, tx, a):
        self.periods.append(dict(period=a["period"], closed_at=a["closedAt"], block_number=block))

    def _on_PaymentRecorded(self, block, index, tx, a):
        self.settlements[a["statementId"]] = dict(statement_id=a["statementId"], period=a["period"], state="paid",
                                                  amount=a["amount"], bank_ref_hash=a["bankRefHash"])

    def _on_PaymentConfirmed(self, block, index, tx, a):
        self.settlements[a["statementId"]] = dict(statement_id=a["statementId"], period=a["period"],
                                                  state="confirmed", amount=a["amount"], bank_ref_hash=None)
        self.confirmed.append((block, index, a["statementId"], a["period"]))

    def _on_PaymentDisputed(self, block, index, tx, a):
        self.settlements[a["statementId"]] = dict(statement_id=a["statementId"], period=a["period"],
                                                  state="disputed", amount=None, bank_ref_hash=None)

    # governance and membership
    def _on_ProposalCreated(self, block, index, tx, a):
        self.proposals[a["proposalId"]].update(calls=json.dumps(a["calls"]), description=a["description"],
                                               state="pending", expires_at=a["expiresAt"])

    def _on_ProposalApprovedBySig(self, block, index, tx, a):
        # emitted just before the ProposalApproved it causes, in the same transaction
        self._signed[(tx, a["proposalId"], a["member"])] = a["submitter"]

    def _on_ProposalApproved(self, block, index, tx, a):
        submitter = self._signed.pop((tx, a["proposalId"], a["member"]), None)
        self.approvals[(a["proposalId"], a["member"])] = dict(
            proposal_id=a["proposalId"], member=a["member"], by_signature=submitter is not None,
            submitter=submitter or a["member"], block_number=block, timestamp=self.times[block], tx_hash=tx)

    def _on_ProposalQueued(self, block, index, tx, a):
        self.proposals[a["proposalId"]].update(state="queued", ready_at=a["readyAt"], expires_at=a["expiresAt"])

    def _on_ProposalExecuted(self, block, index, tx, a):
        self.proposals[a["proposalId"]]["state"] = "executed"

    def _on_ProposalCancelled(self, block, index, tx, a):
        self.proposals[a["proposalId"]]["state"] = "cancelled"

    def _on_MerchantRegistered(self, block, index, tx, a):
        self.merchants[a["merchant"]] = True

    def _on_MerchantSuspensionChanged(self, block, index, tx, a):
        self.merchants[a["merchant"]] = not a["suspended"]

    def _on_ResidentRegistered(self, block, index, tx, a):
        self.residents[a["account"]] = a["identityHash"]

    def _on_ResidentRecovered(self, block, index, tx, a):
        self.residents.pop(a["account"], None)
        self.residents[a["newAccount"]] = a["identityHash"]

    # -- writing -----------------------------------------------------------------------------------------

    def _net_deltas(self, s, indexed: set[tuple[int, int]]) -> dict[str, int]:
        """What the range adds to each party's net: its position moves, and its confirmed payments, each of which
        settles its statement (the debtor's net falls and the creditor's rises by the statement's signed amount, the
        closed period's position, indexed before any payment of it). Events in `indexed` were added before."""
        nets: dict[str, int] = defaultdict(int)
        for block, index, moves in self.net_moves:
            if (block, index) not in indexed:
                for party, delta in moves.items():
                    nets[party] += delta
        for block, index, sid, period in self.confirmed:
            if (block, index) in indexed:
                continue
            for row in s.execute(select(IdxMerchantPosition).where(IdxMerchantPosition.period == period)).scalars():
                if statement_id(MERCHANT_PAIR, period, row.scheme, int(row.merchant, 16)) == sid:
                    nets[f"scheme:{row.scheme}"] -= row.amount
                    nets[f"merchant:{row.merchant}"] += row.amount
                    break
            else:
                for row in s.execute(select(IdxIssuerPosition).where(IdxIssuerPosition.period == period)).scalars():
                    if statement_id(ISSUER_PAIR, period, row.lo, row.hi) == sid:
                        nets[f"scheme:{row.lo}"] -= row.amount
                        nets[f"scheme:{row.hi}"] += row.amount
                        break
        return nets

    def history(self) -> list[list[tuple]]:
        """The range's history, the rows only ever added (raw events but NET_EVENTS', activity, redemptions,
        preferred orders), in chunks of at most HISTORY_CHUNK rows, [(model, keys, rows)] each: written before the
        range's state and cursor (`write`), each chunk in its own transaction, so a request's write waits behind one
        chunk rather than a block's worth. Each skips rows already there: a crash before the cursor's transaction
        leaves rows that the range's next run writes again harmlessly. Until that transaction, readers may see a
        block's history before its balances; what acts on a block (holds released, records settled from the index)
        waits for the cursor."""
        for row in self.activity:
            row["timestamp"] = self.times[row["block_number"]]
        tables = [(IdxEvent, ["block_number", "log_index"], self.events),
                  (IdxActivity, ["block_number", "log_index", "item"], self.activity),
                  (IdxRedemption, ["redemption_id"], list(self.redemptions.values())),
                  (IdxPreferredOrder, ["nonce", "resident"], self.preferred)]
        chunks, chunk, room = [], [], HISTORY_CHUNK
        for model, keys, rows in tables:
            done = 0
            while done < len(rows):
                part = rows[done:done + room]
                chunk.append((model, keys, part))
                done, room = done + len(part), room - len(part)
                if not room:
                    chunks.append(chunk)
                    chunk, room = [], HISTORY_CHUNK
        return chunks + [chunk] if chunk else chunks

    def write(self, s, to: int) -> None:
        """The range's state and the rows that go with it (its last block is `to`: the block each balance row says
        wrote it last); its history was written before (`history`)."""
        upsert = functools.partial(_upsert, s)
        keys = [(b, i) for b, i, _ in self.net_moves] + [(b, i) for b, i, _, _ in self.confirmed]
        indexed = {(b, i) for b, i in s.execute(select(IdxEvent.block_number, IdxEvent.log_index).where(
            IdxEvent.block_number.between(min(keys)[0], max(keys)[0])))} if keys else set()
        upsert(IdxEvent, self.net_events, ["block_number", "log_index"], [])
        upsert(IdxBalance, [dict(account=a, scheme=sc, balance=b, change=0, block_number=to)
                            for (a, sc), b in self.balances.items()], ["account", "scheme"], ["balance", "block_number"])
        for old, new, scheme in self.moved:
            if (new, scheme) not in self.changes:
                row = s.get(IdxBalance, (old, scheme))
                self.changes[(new, scheme)] = row.change if row is not None else 0
        upsert(IdxBalance, [dict(account=a, scheme=sc, balance=0, change=c, block_number=to)
                            for (a, sc), c in self.changes.items()], ["account", "scheme"], ["change", "block_number"])
        for scheme, fields in self.schemes.items():  # few: read-modify-write keeps the other fields
            row = s.get(IdxScheme, scheme)
            if row is None:
                row = IdxScheme(scheme=scheme, status=1, issuer_daily_quota=0, resident_daily_cap=0, rate=0,
                                total_supply=0)
                s.add(row)
            for k, v in fields.items():
                setattr(row, k, v)
        for rid, total in self.refunded.items():
            row = s.get(IdxRedemption, rid)
            if row is not None:
                row.refunded = total
        upsert(IdxMerchantPosition, [dict(period=p, scheme=sc, merchant=m, amount=v)
                                     for (p, sc, m), v in self.mpos.items()], ["period", "scheme", "merchant"])
        upsert(IdxIssuerPosition, [dict(period=p, lo=lo, hi=hi, amount=v) for (p, lo, hi), v in self.ipos.items()],
               ["period", "lo", "hi"])
        deltas = self._net_deltas(s, indexed)  # each party's net read once, in one query per thousand parties
        parties = list(deltas)
        nets = {party: net for i in range(0, len(parties), 1000) for party, net in s.execute(
            select(IdxNet.party, IdxNet.net).where(IdxNet.party.in_(parties[i:i + 1000])))}
        upsert(IdxNet, [dict(party=p, net=nets.get(p, 0) + d) for p, d in deltas.items()], ["party"], ["net"])
        upsert(IdxPeriod, self.periods, ["period"])
        for sid, fields in self.settlements.items():
            row = s.get(IdxSettlement, sid)
            if row is None:
                row = IdxSettlement(statement_id=sid, period=fields["period"], state=fields["state"], amount=0)
                s.add(row)
            row.state = fields["state"]
            if fields.get("amount") is not None:
                row.amount = fields["amount"]
            if fields.get("bank_ref_hash"):
                row.bank_ref_hash = fields["bank_ref_hash"]
        for pid, fields in self.proposals.items():
            row = s.get(IdxProposal, pid)
            if row is None:
                row = IdxProposal(id=pid, calls=fields.get("calls", "[]"), description=fields.get("description", ""),
                                  state="pending")
                s.add(row)
            for k, v in fields.items():
                setattr(row, k, v)
        upsert(IdxProposalApproval, list(self.approvals.values()), ["proposal_id", "member"])
        upsert(IdxMerchant, [dict(address=a, active=v) for a, v in self.merchants.items()], ["address"])
        upsert(IdxResident, [dict(address=a, identity_hash=h) for a, h in self.residents.items()], ["address"])


async def run_cli(settings, *, rebuild: bool = False, follow: bool = False, echo=print) -> dict:
    """`citypoints index [--rebuild] [--follow]`: bring the indexer's tables up to the chain head."""
    store = Store(settings.database_url)
    store.migrate()
    deployment = settings.deployment()
    chain = ChainClient(settings.rpc_url or deployment["rpcUrl"], deployment)
    indexer = Indexer(chain, store, range_size=settings.indexer_range, poll_s=settings.indexer_poll_s)
    try:
        if rebuild:
            await indexer.reset()
        t0 = time.monotonic()
        n = await indexer.sync_once()
        echo(f"indexed {n} events up to block {indexer.block} (head {indexer.head}) in {time.monotonic() - t0:.1f}s")
        if follow:
            await indexer.run()
        return {"events": n, "block": indexer.block, "head": indexer.head}
    finally:
        await chain.aclose()
        store.dispose()
