"""The consortium's governance and the node's health as the console shows them.

- Proposals come from the indexer's tables (calls, description, who approved and how: idx_proposal_approvals);
  their state, approvals n and required m are the contract's own answers (one JSON-RPC batch of views), since
  approvals count over the *current* members and states move with time.
- A member's EIP-712 ProposalApproval, signed in the console page, is relayed to Consortium.approveBySig from the
  relayer's account: checked against the chain first (eth_call as the relayer), so a refused one costs no
  transaction; an approval already counted is answered as such, not sent again. The signature is the authority:
  the API adds none of its own.
- The node's block age, and points issued and redeemed per UTC day (from idx_activity).
- The auditors' attestations (AuditAttested events in idx_events) and the merchants by their status on chain
  (idx_merchants, with the names from their catalogue profiles).
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from eth_abi import decode as abi_decode
from sqlalchemy import Integer, cast, func, select

from exchange_api import errors
from exchange_api.chain import ChainClient, ChainRevert, fn, hex0x, unhex
from exchange_api.errors import NotFound, Unavailable
from exchange_api.indexer import Indexer
from exchange_api.relayer import Relayer
from exchange_api.services.common import relay, simulate
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxActivity, IdxBalance, IdxEvent, IdxMerchant, IdxProposal, IdxProposalApproval, \
    Merchant, MerchantProfile
from ledger_node.domain import PROPOSAL_STATES
from ledger_node.typed_data import calls_hash, checksum

PROPOSAL_STATE = fn("proposalState(uint256)")
APPROVAL_COUNT = fn("approvalCount(uint256)")
REQUIRED_APPROVALS = fn("requiredApprovals(uint256)")
NOTICE_DELAY = fn("noticeDelay(uint256)")
GET_PROPOSAL = fn("getProposal(uint256)")
MEMBERS = fn("members()")
HAS_APPROVED = fn("hasApproved(uint256,address)")
APPROVE_BY_SIG = fn("approveBySig(uint256,address,uint256,bytes)")
APPROVE_GAS = 400_000
# the index states a live state can come from (expired: pending or queued ones whose time ran out)
INDEX_STATES = {"open": ("pending",), "queued": ("queued",), "executable": ("queued",), "executed": ("executed",),
                "cancelled": ("cancelled",), "expired": ("pending", "queued")}
DAY = 86_400
DAILY_CACHE_S = 2.0  # the daily sums are read at most this often, whoever asks


def _uint(out: bytes) -> int:
    return int.from_bytes(out[-32:], "big")


@dataclass
class Governance:
    store: Store
    chain: ChainClient
    relayer: Relayer
    indexer: Indexer
    settings: Settings
    _daily: dict = field(default_factory=dict)  # days -> (read at, (indexer block, rebuilds), answer)

    @property
    def consortium(self) -> str:
        return self.chain.addresses["Consortium"]

    # -- proposals -------------------------------------------------------------------------------------------

    async def proposals(self, *, state: str | None = None, limit: int = 20, before: int | None = None) -> dict:
        """Newest first; `state` (a live state name) filters, `before` pages on (ids below it)."""
        def load(s):
            q = select(IdxProposal).order_by(IdxProposal.id.desc())
            if state is not None:
                q = q.where(IdxProposal.state.in_(INDEX_STATES[state]))
            if before is not None:
                q = q.where(IdxProposal.id < before)
            rows = list(s.scalars(q.limit(limit + 1)))
            return rows, self._approvals(s, [r.id for r in rows[:limit]])
        rows, approvals = await self.store.run(load)
        members, head = await asyncio.gather(self._members(), self._head())
        shown = []
        for row, live in zip(rows[:limit], await asyncio.gather(*(self._live(r.id) for r in rows[:limit]))):
            if live is None:  # the index is ahead of (or behind a reset of) the node: left out until it agrees
                continue
            p = self._proposal(row, live, approvals.get(row.id, []), members)
            if state is None or p["state"] == state:
                shown.append(p)
        return {"object": "proposals", "chainId": self.chain.chain_id, "consortium": self.consortium,
                "members": members, "chainTime": int(head["timestamp"], 16), "data": shown,
                "has_more": len(rows) > limit}

    async def proposal(self, proposal_id: int) -> dict:
        def load(s):
            return s.get(IdxProposal, proposal_id), self._approvals(s, [proposal_id])
        row, approvals = await self.store.run(load)
        live = await self._live(proposal_id)
        if row is None or live is None:
            raise NotFound("no proposal has this id (or the indexer has not reached it yet)",
                           code="proposal_not_found")
        return self._proposal(row, live, approvals.get(proposal_id, []), await self._members())

    @staticmethod
    def _approvals(s, ids: list[int]) -> dict[int, list]:
        out: dict[int, list] = {}
        if ids:
            for a in s.scalars(select(IdxProposalApproval).where(IdxProposalApproval.proposal_id.in_(ids))
                               .order_by(IdxProposalApproval.block_number, IdxProposalApproval.member)):
                out.setdefault(a.proposal_id, []).append(a)
        return out

    async def _members(self) -> list[str]:
        out = await self.chain.call(self.consortium, MEMBERS.encode())
        return [checksum(a) for a in abi_decode(["address[]"], out)[0]]

    async def _head(self) -> dict:
        head = await self.chain.request("eth_getBlockByNumber", ["latest", False])
        if head is None:
            raise Unavailable("the ledger node has no head block", code="node_unavailable")
        return head

    async def _live(self, proposal_id: int) -> dict | None:
        """The contract's state, approvals, required approvals, notice delay and stored summary of a proposal (its
        views, one batch with the others); None when the node does not know it."""
        c = self.consortium
        try:
            state, count, required, notice, summary = await asyncio.gather(
                self.chain.call(c, PROPOSAL_STATE.encode(proposal_id)),
                self.chain.call(c, APPROVAL_COUNT.encode(proposal_id)),
                self.chain.call(c, REQUIRED_APPROVALS.encode(proposal_id)),
                self.chain.call(c, NOTICE_DELAY.encode(proposal_id)),
                self.chain.call(c, GET_PROPOSAL.encode(proposal_id)))
        except ChainRevert:
            return None
        _, _, ready_at, expires_at, queued, _, _, _ = abi_decode(
            ["address", "uint64", "uint64", "uint64", "bool", "bool", "bool", "bool"], summary)
        return {"state": PROPOSAL_STATES.get(_uint(state), "open"), "approvals": _uint(count),
                "required": _uint(required), "noticeDelay": _uint(notice),
                "executableFrom": ready_at if queued else None, "expiresAt": expires_at}

    def _proposal(self, row: IdxProposal, live: dict, approvals: list, members: list[str]) -> dict:
        calls = [(t, d) for t, d in json.loads(row.calls)]
        current = set(members)
        names = {a: n for n, a in self.chain.addresses.items()}
        return {"object": "proposal", "id": row.id, "state": live["state"], "description": row.description,
                "calls": [{"target": checksum(t), "contract": names.get(checksum(t)), "data": d} for t, d in calls],
                "callsHash": hex0x(calls_hash(calls)), "approvals": live["approvals"], "required": live["required"],
                "approvedBy": [{"member": a.member, "how": "signature" if a.by_signature else "transaction",
                                "submitter": a.submitter, "timestamp": a.timestamp, "txHash": a.tx_hash,
                                "counts": a.member in current} for a in approvals],
                "noticeDelay": live["noticeDelay"], "executableFrom": live["executableFrom"],
                "expiresAt": live["expiresAt"]}

    # -- a member's signed approval ----------------------------------------------------------------------------

    async def submit_approval(self, proposal_id: int, body) -> dict:
        """Relay `body` (member, deadline, signature) to Consortium.approveBySig; answer once mined (or pending)."""
        if not self.relayer.accounts:
            raise Unavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)",
                              code="relayer_not_configured")
        member = checksum(body.member)
        c = self.consortium
        answer = {"object": "proposal_approval", "proposalId": proposal_id, "member": member, "txHash": None,
                  "proposal": None}
        try:
            state = _uint(await self.chain.call(c, PROPOSAL_STATE.encode(proposal_id)))
            already = _uint(await self.chain.call(c, HAS_APPROVED.encode(proposal_id, member)))
        except ChainRevert as exc:  # ConsortiumUnknownProposal
            raise errors.from_contract_error(exc.name, exc.args_)
        if already and state in (1, 2, 3):
            return {**answer, "status": "already_approved", "proposal": await self._proposal_or_none(proposal_id)}
        data = APPROVE_BY_SIG.encode(proposal_id, member, body.deadline, unhex(body.signature))
        # every refusal (closed, expired, not a member, not this proposal's signature) before a nonce is taken; a
        # refusal in the block: e.g. another submission of the same approval came first, proposal_already_approved
        await simulate(self.chain, c, data, self.relayer.accounts[0].address)
        h, mined = await relay(self.relayer, self.settings.confirm_timeout_s, kind="gov_approval",
                               subject_id=str(proposal_id), to=c, data=data, gas=APPROVE_GAS)
        if mined is None:
            return {**answer, "status": "pending", "txHash": h}
        await self._indexed(int(mined.receipt["blockNumber"], 16))
        return {**answer, "status": "approved", "txHash": h, "proposal": await self._proposal_or_none(proposal_id)}

    async def _proposal_or_none(self, proposal_id: int) -> dict | None:
        try:
            return await self.proposal(proposal_id)
        except errors.ApiError:
            return None

    async def _indexed(self, block: int, timeout_s: float = 2.0) -> None:
        """Give the indexer a moment to reach `block`, so the answer shows the approval it just made."""
        deadline = time.monotonic() + timeout_s
        while self.indexer.block < block and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    # -- node health ---------------------------------------------------------------------------------------------

    async def node(self) -> dict:
        head = await self._head()
        ts = int(head["timestamp"], 16)
        return {"object": "node", "head": int(head["number"], 16), "headTimestamp": ts,
                "blockAgeSeconds": max(0, int(time.time()) - ts)}

    async def attestations(self, limit: int) -> dict:
        """The latest audit attestations, newest first: who attested which report (its hash and balances root)
        over which blocks, in which block; `blocksSince` counts the head's blocks past the latest covered one."""
        def load(s):
            q = (select(IdxEvent.block_number, IdxEvent.tx_hash, IdxEvent.args).where(IdxEvent.name == "AuditAttested")
                 .order_by(IdxEvent.block_number.desc(), IdxEvent.log_index.desc()).limit(limit))
            return [(b, tx, json.loads(a)) for b, tx, a in s.execute(q)]
        rows = await self.store.run(load)
        head = self.indexer.block
        return {"object": "list", "data": [
            {"id": int(a["id"]), "auditor": a["auditor"],
             "reportHash": a["reportHash"], "merkleRoot": a["merkleRoot"], "fromBlock": int(a["fromBlock"]),
             "toBlock": int(a["toBlock"]), "block": block, "txHash": tx,
             "blocksSince": max(0, head - int(a["toBlock"]))} for block, tx, a in rows]}

    async def merchants(self) -> dict:
        """Every merchant the chain registered, with its status there (active or suspended) and, where its shop
        published a profile, its name in both languages; counts by status."""
        def load(s):
            q = (select(IdxMerchant.address, IdxMerchant.active, MerchantProfile.name_zh, MerchantProfile.name_en)
                 .outerjoin(Merchant, Merchant.address == IdxMerchant.address)
                 .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)
                 .order_by(IdxMerchant.address))
            return list(s.execute(q))
        rows = await self.store.run(load)
        data = [{"address": a, "status": "active" if active else "suspended", "nameZh": zh, "nameEn": en}
                for a, active, zh, en in rows]
        counts = {"active": sum(1 for d in data if d["status"] == "active")}
        counts["suspended"] = len(data) - counts["active"]
        return {"object": "merchants", "counts": counts, "data": data}

    async def holdings(self) -> dict:
        """Unclaimed holdings: held accounts opened (HoldingOpened) and not yet claimed (HoldingClaimed), with the
        indexed balances they hold, summed per scheme."""
        def load(s):
            def accounts(name):
                return {json.loads(a)["heldAccount"] for (a,) in s.execute(select(IdxEvent.args)
                                                                           .where(IdxEvent.name == name))}
            open_ = sorted(accounts("HoldingOpened") - accounts("HoldingClaimed"))
            rows = []
            for i in range(0, len(open_), 500):
                rows += s.execute(select(IdxBalance.account, IdxBalance.scheme, IdxBalance.balance)
                                  .where(IdxBalance.account.in_(open_[i:i + 500]))).all()
            return rows
        rows = await self.store.run(load)
        totals: dict[int, int] = {}
        people = set()
        for account, scheme, balance in rows:
            if int(balance):
                totals[int(scheme)] = totals.get(int(scheme), 0) + int(balance)
                people.add(account)
        return {"object": "holdings", "people": len(people),
                "totals": [{"scheme": k, "points": v} for k, v in sorted(totals.items())]}

    async def daily(self, days: int) -> dict:
        """Points issued and points redeemed per UTC day, the last `days` days up to the head block's (chain time:
        the days the indexed events have), oldest first. Read again only when the indexer moved on, and then at
        most every DAILY_CACHE_S, whoever asks."""
        cached = self._daily.get(days)
        # the indexer's place is its block and its rebuild count: after a reorganisation the same block number holds
        # other events (CI saw a cached day without the redemption a new branch had at that number)
        block = (self.indexer.block, self.indexer.rebuilds)
        if cached is not None and (cached[1] == block or time.monotonic() - cached[0] < DAILY_CACHE_S):
            return cached[2]
        today = int((await self._head())["timestamp"], 16) // DAY
        first = today - days + 1
        redemption = self.chain.addresses.get("Redemption", "")

        def load(s):
            day = (IdxActivity.timestamp // DAY).label("day")
            # PostgreSQL sums NUMERIC exactly; SQLite keeps chain integers as text: summed as 64-bit integers
            amount = IdxActivity.amount if s.bind.dialect.name == "postgresql" else cast(IdxActivity.amount, Integer)
            q = (select(day, IdxActivity.kind, func.sum(amount))
                 .where(IdxActivity.timestamp >= first * DAY,
                        (IdxActivity.kind == "issued")
                        | ((IdxActivity.kind == "burned") & IdxActivity.by.in_([redemption, redemption.lower()])))
                 .group_by(day, IdxActivity.kind))
            return [(int(d), k, int(v or 0)) for d, k, v in s.execute(q)]
        sums = {(d, k): v for d, k, v in await self.store.run(load)}
        answer = {"object": "daily_activity", "days": [
            {"day": datetime.fromtimestamp(d * DAY, timezone.utc).strftime("%Y-%m-%d"),
             "issued": sums.get((d, "issued"), 0), "redeemed": sums.get((d, "burned"), 0)}
            for d in range(first, today + 1)]}
        self._daily[days] = (time.monotonic(), block, answer)
        return answer
