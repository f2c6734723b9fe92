"""What a resident reads: balances per scheme and in credits, and the history of who issued what and why.
Served from the indexer's tables; balances from memory (exchange_api.indexed_view). Today's caps (how many points
each programme may still give the resident today) are read from the chain at one block; the resident's balance
lines and Merkle proofs from the auditor's last attested report (exchange_api.audit_reports).

Residents' sessions: what only the resident may read (the open redemption requests: which merchant they are
paying right now) needs a short-lived bearer token. The resident signs an EIP-712 `ResidentLogin` (their address,
the time, a random nonce; domain CityPoints v1 on this chain, verifying contract Membership), `login_document`
gives the document to sign; `login` checks it (signed by that address, issued within
`resident_login_window_s` of now, nonce not seen before) and answers a token valid `resident_token_ttl_s`
(`crypto.session_token`, nothing stored). "Signed by that address" means what the contracts accept
(OpenZeppelin SignatureChecker): an address with code is a contract wallet and its EIP-1271 `isValidSignature`
decides; any other address needs an ECDSA signature of its key in the contracts' form (low s, v 27/28).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field

from eth_abi import decode as abi_decode
from sqlalchemy import select, tuple_

from exchange_api import crypto
from exchange_api.audit_reports import ReportIndex
from exchange_api.chain import ChainClient, ChainRevert, RpcFailure, checksum, fn, hex0x, unhex
from exchange_api.errors import Conflict, InvalidRequest, NotFound, RateLimited
from exchange_api.indexed_view import IndexedView
from exchange_api.indexer import Indexer
from exchange_api.schemas import decimal
from exchange_api.services.common import ecdsa_refusal
from exchange_api.services.expiring import live_points
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxActivity, IdxEvent
from ledger_node.domain import SPENDABLE, STATUS_NAMES, value_decimal
from ledger_node.redemption_plan import Holding, payable
from ledger_node.rules_documents import RulesLibrary
from ledger_node.typed_data import digest, typed_data

MAX_REMEMBERED_NONCES = 100_000
_used_nonces: dict[str, float] = {}  # login nonce -> when it may be forgotten (its issuedAt is out of the window)
IS_VALID_SIGNATURE = fn("isValidSignature(bytes32,bytes)")
EIP1271_MAGIC_WORD = IS_VALID_SIGNATURE.selector + bytes(28)  # bytes4 0x1626ba7e, left-aligned in its word
WALLET_CHECK_GAS = 500_000  # a wallet's check is a view; the bound keeps a hostile wallet's cost to the node small
RECEIVED_TODAY = fn("receivedToday(uint256,address)")
TODAY = fn("today()")
DAY_OFFSET = fn("dayOffset()")
# PointsLedger keeps a day's receipts in 64 bits and clamps a larger cap to that: from here on a cap never binds
NO_CAP_FROM = 2**64 - 1
DAY = 86_400


@dataclass
class Residents:
    store: Store
    chain: ChainClient
    view: IndexedView   # balances and schemes in memory, kept current by the indexer's commits
    indexer: Indexer    # the block they are as of
    settings: Settings
    pii_key: bytes      # residents' session tokens are HMACs with it
    reports: ReportIndex = field(default_factory=ReportIndex)  # the auditor's published reports, indexed

    async def balances(self, address: str) -> dict:
        """From memory once loaded (exchange_api.indexed_view): the indexer's commits keep it current. In a scheme
        whose points expire, the live points and the points expiring next come from the chain (services.expiring)."""
        address = checksum(address)
        points, change, schemes = await self.view.holdings(self.store, address)
        points, expiring = await live_points(self.chain, address, points, schemes, expiring=True)
        out, total = [], 0
        for scheme in sorted(points.keys() | change.keys()):
            amount, left = points.get(scheme, 0), change.get(scheme, 0)
            info = schemes.get(scheme)
            rate = info.rate if info else 0
            credits = payable(Holding(scheme, amount, left, rate))   # what the scheme pays, change included
            if info is not None and info.status in SPENDABLE:
                total += credits
            out.append({"scheme": scheme, "points": amount, "rate": rate, "credits": credits,
                        "creditsDecimal": decimal(credits), "change": left, "changeDecimal": value_decimal(left),
                        "expiring": expiring.get(scheme)})
        return {"object": "balances", "resident": address, "balances": out, "totalCredits": total,
                "totalCreditsDecimal": decimal(total), "asOfBlock": max(self.indexer.block, 0)}

    async def caps(self, address: str) -> dict:
        """Per programme, the points the resident received today (issuance; exchanges and refunds are not counted,
        as PointsLedger does not count them) against its resident daily cap, read from the chain at one block;
        `cap` null: no cap. The day is PointsLedger's (the city's time zone, `dayOffset`); `resetsAt` ends it."""
        address = checksum(address)
        ids = sorted((await self.view.schemes(self.store)).items())
        ledger = self.chain.addresses["PointsLedger"]
        block = await self.chain.block_number()
        tag = hex(block)
        answers = await asyncio.gather(
            self.chain.call(ledger, TODAY.encode(), block=tag), self.chain.call(ledger, DAY_OFFSET.encode(), block=tag),
            *[self.chain.call(ledger, RECEIVED_TODAY.encode(scheme, address), block=tag) for scheme, _ in ids])
        today = abi_decode(["uint256"], answers[0])[0]
        offset = abi_decode(["int32"], answers[1])[0]
        out = []
        for (scheme, row), answer in zip(ids, answers[2:]):
            received = abi_decode(["uint256"], answer)[0]
            cap = row.resident_daily_cap if row.resident_daily_cap < NO_CAP_FROM else None
            out.append({"scheme": scheme, "status": STATUS_NAMES.get(row.status, "none"), "cap": cap,
                        "receivedToday": received, "left": None if cap is None else max(cap - received, 0)})
        return {"object": "resident_caps", "resident": address, "day": today, "resetsAt": (today + 1) * DAY - offset,
                "asOfBlock": block, "caps": out}

    async def balance_proof(self, address: str) -> dict:
        """The resident's balance lines in the auditor's last attested report, each with its Merkle proof, and the
        attestation they are checked against (its root as attested on chain). 404 `no_attestation` before any
        audit is attested; 404 `audit_report_not_found` when the attested report is not published here."""
        address = checksum(address)

        def latest(s):
            row = s.execute(select(IdxEvent.block_number, IdxEvent.tx_hash, IdxEvent.args)
                            .where(IdxEvent.name == "AuditAttested")
                            .order_by(IdxEvent.block_number.desc(), IdxEvent.log_index.desc()).limit(1)).first()
            return (row[0], row[1], json.loads(row[2])) if row else None
        found = await self.store.run(latest)
        if found is None:
            raise NotFound("no audit has been attested on chain yet", code="no_attestation")
        block, tx, a = found
        attestation = {"id": int(a["id"]), "auditor": a["auditor"], "reportHash": a["reportHash"],
                       "merkleRoot": a["merkleRoot"], "fromBlock": int(a["fromBlock"]), "toBlock": int(a["toBlock"]),
                       "block": block, "txHash": tx}
        served = await asyncio.to_thread(self.reports.lines, self.settings.audit_dir, a["reportHash"], address)
        if served is None:
            raise NotFound(f"the report of attestation {attestation['id']} (hash {a['reportHash']}) is not "
                           "published on this server", code="audit_report_not_found")
        return {"object": "balance_proof", "resident": address, "attestation": attestation,
                "report": served["report"], "lines": sorted(served["lines"], key=lambda x: x["scheme"])}

    async def history(self, address: str, limit: int, starting_after: str | None) -> dict:
        address = checksum(address)

        def load(s):
            q = select(IdxActivity).where(IdxActivity.account == address)
            if starting_after:
                try:
                    _, b, i, k = starting_after.split("_")
                    key = (int(b), int(i), int(k))
                    if max(key) >= 1 << 63:  # no activity's; and past the store's 64-bit integers
                        raise ValueError(starting_after)
                except ValueError:
                    raise NotFound("starting_after names no activity", code="invalid_cursor", field="starting_after")
                q = q.where(tuple_(IdxActivity.block_number, IdxActivity.log_index, IdxActivity.item) < key)
            q = q.order_by(IdxActivity.block_number.desc(), IdxActivity.log_index.desc(), IdxActivity.item.desc())
            return list(s.scalars(q.limit(limit + 1)))
        rows = await self.store.run(load)
        data = [{"object": "activity", "id": _activity_id(r), "kind": r.kind, "scheme": r.scheme, "amount": r.amount,
                 "balanceAfter": r.balance_after, "by": r.by, "reasonCode": r.reason_code, "rule": _rule_of(r),
                 "ref": r.ref,
                 "txHash": r.tx_hash, "blockNumber": r.block_number, "blockTimestamp": r.timestamp}
                for r in rows[:limit]]
        return {"object": "list", "data": data, "has_more": len(rows) > limit}

    # -- residents' sessions --------------------------------------------------------------------------------------

    def login_document(self, resident: str, issued_at: int, nonce: str) -> dict:
        return typed_data("ResidentLogin", self.chain.chain_id, self.chain.addresses["Membership"],
                          {"resident": checksum(resident), "issuedAt": issued_at, "nonce": nonce})

    def login_challenge(self, resident: str) -> dict:
        """A document to sign now (nothing is remembered: any fresh issuedAt and unused nonce will do)."""
        doc = self.login_document(resident, int(time.time()), "0x" + os.urandom(32).hex())
        return {"object": "resident_login", "resident": checksum(resident), "typedData": doc}

    async def login(self, resident: str, body) -> dict:
        """A new session (nothing stored: the token is an HMAC), for a signed, fresh, unused login."""
        resident = checksum(resident)
        settings = self.settings
        now = time.time()
        if abs(now - body.issuedAt) > settings.resident_login_window_s:
            raise InvalidRequest(f"issuedAt must be within {settings.resident_login_window_s} s of now; sign a new "
                                 "login", code="login_expired", field="issuedAt")
        doc = self.login_document(resident, body.issuedAt, body.nonce.lower())
        login_digest = digest("ResidentLogin", self.chain.chain_id, doc["domain"]["verifyingContract"],
                              doc["message"])
        refusal = await self._signature_refusal(resident, login_digest, bytes.fromhex(body.signature[2:]))
        if refusal is not None:
            raise InvalidRequest(f"the signature is not this resident's: {refusal}", code="invalid_signature",
                                 field="signature")
        nonce = body.nonce.lower()  # checked and remembered with no await between: a concurrent replay cannot slip in
        if _used_nonces.get(nonce, 0) > now:
            raise Conflict("this login was used before; sign a new one", code="login_already_used", field="nonce")
        _remember(nonce, body.issuedAt + settings.resident_login_window_s + 1, now)
        expires = int(now) + settings.resident_token_ttl_s
        return {"object": "resident_session", "resident": resident, "tokenType": "Bearer",
                "token": crypto.session_token(self.pii_key, resident, expires), "expiresAt": expires}

    async def _signature_refusal(self, resident: str, login_digest: bytes, signature: bytes) -> str | None:
        """Why the contracts' SignatureChecker would refuse `signature` of `login_digest` by `resident`, or None:
        the checker's order: ECDSA by the resident's key, else, when the address has code (a counterfactual wallet
        deployed since too), the wallet's own answer."""
        refusal = ecdsa_refusal(resident, login_digest, signature)
        if refusal is not None and await self.chain.has_code(resident):
            return await self._wallet_refusal(resident, login_digest, signature)
        return refusal

    async def _wallet_refusal(self, wallet: str, login_digest: bytes, signature: bytes) -> str | None:
        """EIP-1271, read as SignatureChecker reads it: at the latest block, the answer's first word must be the
        magic value. A revert, a node error about the call (out of gas...), a short or other answer is a refusal;
        a node that cannot be reached is not (NodeUnavailable, 503: the resident may retry)."""
        call = {"to": wallet, "data": hex0x(IS_VALID_SIGNATURE.encode(login_digest, signature)),
                "gas": hex(WALLET_CHECK_GAS)}
        try:
            answer = unhex(await self.chain.request("eth_call", [call, "latest"]))
        except (ChainRevert, RpcFailure):
            return "the wallet refused it"
        except (TypeError, ValueError, AttributeError):  # no result, or not hex
            return "the wallet's answer is not EIP-1271's"
        if answer[:32] != EIP1271_MAGIC_WORD:
            return "the wallet did not accept it"
        return None

    def session_resident(self, token: str) -> str | None:
        """The resident a bearer token speaks for, while it is valid."""
        return crypto.session_subject(self.pii_key, token, time.time())


_RULES: list[RulesLibrary] = []  # the published rules documents, read once (they are files of the release)


def _rule_of(row: IdxActivity) -> dict | None:
    """What a cited entry's rule is called, from the published document its batch cited (by hash)."""
    if row.rules_version is None:
        return None
    if not _RULES:
        _RULES.append(RulesLibrary())
    table = _RULES[0].get(row.rules_hash or "")
    names = table.names().get(row.reason_code) if table is not None and row.reason_code is not None else None
    return {"version": row.rules_version, "rulesHash": row.rules_hash, "activity": names and names["activity"],
            "nameZh": names and names["zh"], "nameEn": names and names["en"]}


def _activity_id(r) -> str:
    return f"act_{r.block_number}_{r.log_index}_{r.item}"


def _remember(nonce: str, until: float, now: float) -> None:
    if len(_used_nonces) >= MAX_REMEMBERED_NONCES:
        for n in [n for n, t in _used_nonces.items() if t <= now]:
            del _used_nonces[n]
        if len(_used_nonces) >= MAX_REMEMBERED_NONCES:
            raise RateLimited("too many logins right now; try again in a minute", code="too_many_logins",
                              headers={"Retry-After": "60"})
    _used_nonces[nonce] = until


