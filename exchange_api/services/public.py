"""Public and auditor reads from the indexer's tables: schemes, rates in force and scheduled, supply, periods,
clearing statements (a merchant sees its own; an auditor every one)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_utils import keccak
from sqlalchemy import select

from exchange_api.chain import ChainClient, unhex
from exchange_api.indexer import Indexer
from exchange_api.schemas import decimal
from exchange_api.services.common import now
from exchange_api.store.db import Store
from exchange_api.store.models import IdxEvent, IdxIssuerPosition, IdxMerchantPosition, IdxPeriod, IdxProposal, \
    IdxScheme, IdxSettlement
from ledger_node.domain import CREDIT_DECIMALS, ISSUER_PAIR, MERCHANT_PAIR, RATE_SCALE, STATUS_NAMES, credits_of, \
    statement_id

SET_RATE = "0x" + keccak(text="setRate(uint256,uint256)")[:4].hex()


def merchant_statement_id(period: int, scheme: int, merchant: str) -> str:
    return statement_id(MERCHANT_PAIR, period, scheme, int(merchant, 16))


def issuer_statement_id(period: int, a: int, b: int) -> str:
    lo, hi = sorted((a, b))
    return statement_id(ISSUER_PAIR, period, lo, hi)


KINDS = {1: "valued", 2: "eligibility-only"}  # ISchemeRegistry.SchemeKind


def _profile(profile: list | None, rules: dict | None) -> dict:
    """A scheme's registry description as the API shows it (`kind` "undescribed" when the consortium gave none)."""
    if profile is None:
        return {"kind": "undescribed", "profile": None, "rules": None}
    name_zh, name_en, unit_zh, unit_en, organisation, colour, kind = profile
    return {"kind": KINDS.get(int(kind), "undescribed"),
            "profile": {"nameZh": name_zh, "nameEn": name_en, "unitZh": unit_zh, "unitEn": unit_en,
                        "organisation": organisation, "colour": "#" + str(colour).removeprefix("0x")},
            "rules": None if rules is None else {"version": int(rules["version"]), "rulesHash": rules["rulesHash"],
                                                 "uri": rules["uri"]}}


@dataclass
class Public:
    """Reads anyone (or an auditor) may make: from the indexer's tables, and the indexer's own progress."""
    store: Store
    chain: ChainClient  # the deployment's addresses (Rates, for scheduled rate changes)
    indexer: Indexer    # the block the tables are at

    async def schemes(self) -> dict:
        """Every scheme with its ledger figures and, once the consortium described it in the SchemeRegistry, what
        it is: names, unit, issuing organisation, colour, kind and its latest published rules (from the registry's
        events the indexer keeps)."""
        def load(s):
            rows = list(s.scalars(select(IdxScheme).order_by(IdxScheme.scheme)))
            described = list(s.execute(select(IdxEvent.name, IdxEvent.args).where(
                IdxEvent.name.in_(("SchemeDescribed", "RulesPublished")))
                .order_by(IdxEvent.block_number, IdxEvent.log_index)))
            return rows, described
        rows, described = await self.store.run(load)
        profiles, rules = {}, {}
        for name, args in described:  # in chain order: the last description and rules version stand
            a = json.loads(args)
            if name == "SchemeDescribed":
                profiles[int(a["scheme"])] = a["profile"]
            else:
                rules[int(a["scheme"])] = a
        return {"object": "list", "has_more": False, "data": [
            {"scheme": r.scheme, "status": STATUS_NAMES.get(r.status, "none"),
             "issuerDailyQuota": r.issuer_daily_quota, "residentDailyCap": r.resident_daily_cap, "rate": r.rate,
             "totalSupply": r.total_supply, "expiryMonths": r.expiry_months, **_profile(profiles.get(r.scheme), rules.get(r.scheme))} for r in rows]}

    async def rates(self) -> dict:
        def load(s):
            return (list(s.scalars(select(IdxScheme).order_by(IdxScheme.scheme))),
                    list(s.scalars(select(IdxProposal).where(IdxProposal.state == "queued")
                                   .order_by(IdxProposal.id))))
        schemes_, proposals = await self.store.run(load)
        rates_addr = self.chain.addresses.get("Rates", "").lower()
        scheduled = []
        for p in proposals:
            if p.expires_at and p.expires_at < now():
                continue
            for target, data in json.loads(p.calls):
                if target.lower() == rates_addr and data.lower().startswith(SET_RATE):
                    scheme, rate = abi_decode(["uint256", "uint256"], unhex(data)[4:])
                    scheduled.append({"scheme": scheme, "rate": rate, "proposalId": p.id, "readyAt": p.ready_at,
                                      "state": p.state})
        return {"object": "rates", "rateScale": RATE_SCALE, "creditDecimals": CREDIT_DECIMALS,
                "inForce": [{"scheme": r.scheme, "rate": r.rate} for r in schemes_ if r.rate],
                "scheduled": scheduled}

    async def supply(self) -> dict:
        rows = await self.store.run(lambda s: list(s.scalars(select(IdxScheme).order_by(IdxScheme.scheme))))
        data = [{"scheme": r.scheme, "totalSupply": r.total_supply, "credits": credits_of(r.total_supply, r.rate)}
                for r in rows]
        return {"object": "supply", "data": data, "asOfBlock": max(self.indexer.block, 0)}

    async def periods(self) -> dict:
        rows = await self.store.run(lambda s: list(s.scalars(select(IdxPeriod).order_by(IdxPeriod.period))))
        data = [{"period": r.period, "state": "closed", "closedAt": r.closed_at} for r in rows]
        data.append({"period": (rows[-1].period + 1) if rows else 1, "state": "open", "closedAt": None})
        return {"object": "list", "data": data, "has_more": False}

    async def statements(self, *, merchant: str | None = None, period: int | None = None) -> dict:
        def load(s):
            q = select(IdxMerchantPosition)
            if merchant:
                q = q.where(IdxMerchantPosition.merchant == merchant)
            if period is not None:
                q = q.where(IdxMerchantPosition.period == period)
            mp = list(s.scalars(q.order_by(IdxMerchantPosition.period, IdxMerchantPosition.scheme)))
            ip = []
            if merchant is None:
                q = select(IdxIssuerPosition)
                if period is not None:
                    q = q.where(IdxIssuerPosition.period == period)
                ip = list(s.scalars(q.order_by(IdxIssuerPosition.period, IdxIssuerPosition.lo,
                                               IdxIssuerPosition.hi)))
            settle = {r.statement_id: r.state for r in s.scalars(select(IdxSettlement))}
            return mp, ip, settle
        mp, ip, settle = await self.store.run(load)
        data = []
        for r in mp:
            sid = merchant_statement_id(r.period, r.scheme, r.merchant)
            data.append({"object": "statement", "statementId": sid, "kind": "merchant", "period": r.period,
                         "scheme": r.scheme, "merchant": r.merchant, "amount": r.amount,
                         "amountDecimal": decimal(r.amount), "settlement": settle.get(sid, "open")})
        for r in ip:
            sid = issuer_statement_id(r.period, r.lo, r.hi)
            data.append({"object": "statement", "statementId": sid, "kind": "issuer", "period": r.period,
                         "schemeA": r.lo, "schemeB": r.hi, "amount": r.amount, "amountDecimal": decimal(r.amount),
                         "settlement": settle.get(sid, "open")})
        return {"object": "list", "data": data, "has_more": False}

    def indexer_status(self) -> dict:
        ix = self.indexer
        return {"object": "indexer", "block": ix.block, "head": ix.head, "lagBlocks": ix.lag,
                "maxLagBlocks": ix.max_lag, "rebuilds": ix.rebuilds}
