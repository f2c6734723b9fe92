"""One audit, end to end: fetch every log of the deployment over JSON-RPC, decode, replay with the rules,
check signers, compare with the contracts at the last block, build the balances tree and the report.

Exit status policy (cli.py): problems (mismatches, violations, unverifiable rules) fail the audit; findings of
suspicious patterns are warnings unless `strict`.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from eth_utils import function_signature_to_4byte_selector

from ledger_node.audit import AuditError
from ledger_node.audit.events import EventTable
from ledger_node.audit.model import MISMATCH, VIOLATION, Finding, Problem
from ledger_node.merkle import LEAF_ENCODING, BalanceTree, balance_lines
from ledger_node.audit.patterns import Detector, Thresholds
from ledger_node.audit.pipeline import LogPipeline, no_gc_pauses
from ledger_node.audit.replay import Replayer
from ledger_node.audit.rpc import Rpc, RpcError, state_not_kept
from ledger_node.rules_documents import DEFAULT_DIRS, RulesLibrary
from ledger_node.audit.rules import compare_state
from ledger_node.audit.signatures import check_intents
from ledger_node.audit.state import PAUSED, RETIRED, State
from ledger_node.domain import STATUS_NAMES, value_decimal

FORMAT = "citypoints-audit/1"
# What every audit checks (the README's "What is checked" says how): the rules at each event, value conserved by
# every redemption part, refund part and exchange side (exact change), the signers of consents and intents,
# governance of rule changes, and the rebuilt state against the contracts at the last block.
CHECKS = ("rules", "conservation", "signatures", "governance", "state")


@dataclass
class AuditOptions:
    rpc_url: str
    contracts: dict[str, str] = field(default_factory=dict)
    from_block: int = 0
    to_block: int | None = None
    resume: dict | None = None  # a previous report
    thresholds: Thresholds = field(default_factory=Thresholds)
    ref_sample: int = 2000  # dedup window words checked with refState at the end (every ref against events)
    step: int = 10_000  # blocks per eth_getLogs at most (ranges are cut by answer size: pipeline.py)
    range_bytes: int = 1_000_000  # the answer size each eth_getLogs range aims at
    compare: bool = True
    proofs: bool = True  # include every line's proof in the report
    rules_dirs: tuple = ()  # more directories of published rules documents (*.json), beside the shipped ones


@dataclass
class AuditResult:
    report: dict
    problems: list[Problem]
    stats: dict


def audit(opts: AuditOptions) -> AuditResult:
    rpc = Rpc(opts.rpc_url)
    try:
        return _audit(rpc, opts)
    finally:
        rpc.close()


NEXT_NONCE = "0x" + function_signature_to_4byte_selector("nextNonce(address)").hex()


def _numbers_exchange_nonces(rpc: Rpc, exchange: str | None, block: int) -> bool:
    """Whether the chain's Exchange numbers its nonces (it answers `nextNonce`; a former layout's nonces are random
    and it has no such function): then the replay checks the window rule."""
    if exchange is None:
        return False
    try:
        rpc.call("eth_call", [{"to": exchange, "data": NEXT_NONCE + bytes(32).hex()}, hex(block)])
    except RpcError:
        return False
    return True


def _audit(rpc: Rpc, opts: AuditOptions) -> AuditResult:
    t0 = time.perf_counter()
    chain_id = rpc.chain_id()
    head = rpc.block_number()
    to_block = head if opts.to_block is None else opts.to_block
    if to_block > head:
        raise AuditError(f"--to-block {to_block} is beyond the chain head {head}")
    carried: list[Problem] = []
    contracts = dict(opts.contracts)
    if opts.resume is not None:
        prev = opts.resume
        if prev.get("format") != FORMAT or "state" not in prev:
            raise AuditError("the report to resume from has no rebuilt state (format citypoints-audit/1)")
        if prev["chainId"] != chain_id:
            raise AuditError(f"the report is for chain {prev['chainId']}, the node serves chain {chain_id}")
        contracts = {**prev["contracts"], **contracts}
        state = State.from_json(prev["state"]["ledger"])
        detector = Detector(opts.thresholds, prev["state"]["detector"])
        carried = [Problem(**p) for p in prev["state"]["replayProblems"]]
        from_block = state.last_block + 1
        start_block = prev["fromBlock"]
        block = rpc.call("eth_getBlockByNumber", [hex(prev["toBlock"]), False])
        if block is None or block["hash"] != prev["toBlockHash"]:
            carried.append(Problem(MISMATCH, "history-changed", f"block {prev['toBlock']} is no longer the block the "
                                                                f"previous report audited", prev["toBlock"], None,
                                   {"reported": prev["toBlockHash"], "now": block and block["hash"]}))
    else:
        state, detector = State(), Detector(opts.thresholds)
        from_block = start_block = opts.from_block
    if not contracts:
        raise AuditError("no contract addresses: give a deployment file or --contract Name=0x...")
    if from_block > to_block + 1:
        raise AuditError(f"nothing to audit: from block {from_block} is after to block {to_block}")

    if _numbers_exchange_nonces(rpc, contracts.get("Exchange"), to_block):
        state.number_exchange_nonces()
    table = EventTable(contracts)
    library = RulesLibrary((*DEFAULT_DIRS, *opts.rules_dirs))
    replayer = Replayer(contracts, state, detector, library)
    timestamps: dict[int, int] = {}
    decode_s = replay_s = 0.0
    logs_total = 0
    pipelines: list[LogPipeline] = []

    def replay(first: int, last: int) -> None:
        nonlocal decode_s, replay_s, logs_total
        pipeline = LogPipeline(rpc, table, first, last, step=opts.step, target_bytes=opts.range_bytes)
        pipelines.append(pipeline)
        if first > last:
            return
        with no_gc_pauses():
            t = time.perf_counter()
            for _, _, events, unknown in pipeline:
                logs_total += len(events) + len(unknown)
                for log in unknown:
                    replayer.problem(VIOLATION, "unknown-event", f"log with unknown topic {log['topics'][:1]} from "
                                                                 f"{log['address']}", None, log=log)
                if any(ev.timestamp is None for ev in events):
                    _fill_timestamps(rpc, events, timestamps)
                u = time.perf_counter()
                decode_s += u - t
                replayer.process(events)
                t = time.perf_counter()
                replay_s += t - u

    t_replay, cpu_replay = time.perf_counter(), time.thread_time()
    replay(from_block, to_block)
    if opts.compare:
        # the contracts are asked at the last block audited, whose state the node may no longer keep when the replay
        # took longer than the node keeps states (NodeConfig.state_history_blocks): an audit to the head goes on
        # to the new head (the blocks since are replayed too) and compares there
        while not _state_kept(rpc, to_block):
            if opts.to_block is not None:
                raise AuditError(f"the node no longer keeps the state of block {to_block} (it keeps the latest blocks' "
                                 f"only), so the contracts cannot be asked at it: audit to the head (no --to-block) "
                                 f"or to one of the node's latest blocks")
            head = rpc.block_number()
            replay(to_block + 1, head)
            to_block = head
    replay_wall_s, replay_cpu_s = time.perf_counter() - t_replay, time.thread_time() - cpu_replay
    fetch_s = sum(p.wait_s for p in pipelines)
    decode_s -= fetch_s  # the wait for the node is counted in fetchSeconds, the parsing and decoding here
    replayer.finish(to_block)
    replay_done = time.perf_counter()

    t = time.perf_counter()
    new_problems = list(replayer.problems)
    new_problems += _check_governed(rpc, replayer.governed_txs)
    new_problems += check_intents(rpc, chain_id, replayer.intents)
    signatures_s = time.perf_counter() - t

    end = rpc.call("eth_getBlockByNumber", [hex(to_block), False])
    end_ts = int(end["timestamp"], 16)
    t = time.perf_counter()
    compare_problems, calls = (compare_state(rpc, contracts, state, to_block, end_ts, ref_sample=opts.ref_sample)
                               if opts.compare else ([], 0))
    compare_s = time.perf_counter() - t

    t = time.perf_counter()
    balances = state.live_balances(end_ts)  # balanceOf at the last block: expired points are nobody's
    lines = balance_lines(balances)
    tree = BalanceTree(lines) if lines else None
    merkle_s = time.perf_counter() - t
    replay_problems = carried + new_problems
    problems = replay_problems + compare_problems
    detector.finish(end_ts)
    findings = detector.results() + uncited_findings(state)
    stats = {"events": replayer.events, "logs": logs_total, "fetchSeconds": round(fetch_s, 3),
             "decodeSeconds": round(decode_s, 3), "replaySeconds": round(replay_s, 3),
             "pipelineSeconds": round(replay_wall_s, 3), "pipelineCpuSeconds": round(replay_cpu_s, 3),
             "logRanges": sum(p.ranges for p in pipelines), "logBytes": sum(p.bytes for p in pipelines),
             "replayTotalSeconds": round(replay_done - t0, 3), "signatureSeconds": round(signatures_s, 3),
             "compareSeconds": round(compare_s, 3), "merkleSeconds": round(merkle_s, 3),
             "comparisons": calls, "intentsChecked": len(replayer.intents), "rpcRequests": rpc.requests,
             "totalSeconds": round(time.perf_counter() - t0, 3)}
    report = {
        "format": FORMAT,
        "chainId": chain_id,
        "contracts": {k: v for k, v in sorted(contracts.items())},
        "fromBlock": start_block,
        "toBlock": to_block,
        "toBlockHash": end["hash"],
        "toBlockTime": end_ts,
        "resumedFrom": ({"reportHash": opts.resume.get("reportHash"), "toBlock": opts.resume["toBlock"]}
                        if opts.resume else None),
        "ok": not problems,
        "checks": list(CHECKS) if opts.compare else [c for c in CHECKS if c != "state"],
        "status": "failed" if problems else ("warnings" if findings else "clean"),
        "counts": {"events": state_events(state), "eventsThisRun": replayer.events,
                   "eventsByName": dict(sorted(state.counts.items())), "problems": len(problems),
                   "findings": len(findings), "residents": len(state.residents), "merchants": len(state.merchants),
                   "schemes": len(state.scheme_order), "balanceLines": len(lines), "comparisons": calls,
                   "intentsChecked": len(replayer.intents)},
        "schemes": [_scheme_summary(state, s, balances) for s in state.scheme_order],
        "issuers": issuer_accounts(state),
        "holdings": unclaimed_holdings(state, balances),
        "identityTrail": {"entries": len(state.trail), "objections": state.objections},
        "rulesDocuments": {"known": sorted({t.sha256 for t in library.tables.values()}),
                           "unreadable": library.unreadable},
        "problems": [p.to_json() for p in problems],
        "findings": [f.to_json() for f in findings],
        "thresholds": detector.settings(),
        "merkle": {"root": tree.root if tree else None, "leafEncoding": LEAF_ENCODING,
                   "lines": [{"account": a, "scheme": s, "balance": b,
                              **({"proof": tree.proof(a, s)} if opts.proofs else {})} for a, s, b in lines]},
        "state": {"ledger": state.to_json(), "detector": detector.to_json(),
                  "replayProblems": [p.to_json() for p in replay_problems]},
        "stats": stats,
    }
    return AuditResult(report, problems, stats)


def uncited_findings(state: State) -> list[Finding]:
    """One finding a scheme whose issuance cited no rules after the scheme had published some: allowed (issue,
    issueBatch and issueBatchWithReason stay for schemes without rules), but those entries cannot be explained by
    the published rules, nor checked against them."""
    out = []
    for scheme in sorted(state.citations):
        u = state.citations[scheme].get("uncited")
        if u:
            out.append(Finding("uncited-issuance", f"scheme {scheme} issued {u['items']} entries ({u['amount']} "
                                                   f"points, {u['batches']} batches) citing no rules version after "
                                                   f"publishing its rules", {"scheme": scheme, **u}))
    return out


def _state_kept(rpc: Rpc, block: int) -> bool:
    """Whether the node still answers reads at `block` (a node that is no archive keeps its latest blocks' state)."""
    try:
        rpc.call("eth_getBalance", ["0x" + "00" * 20, hex(block)])
    except RpcError as exc:
        if state_not_kept(exc):
            return False
        raise
    return True


def _fill_timestamps(rpc: Rpc, events: list, timestamps: dict[int, int]) -> None:
    """Block times for events of a node whose logs do not carry `blockTimestamp` (read once a block)."""
    missing = {ev.block for ev in events if ev.timestamp is None and ev.block not in timestamps}
    if missing:
        blocks = sorted(missing)
        for b, header in zip(blocks, rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in blocks])):
            timestamps[b] = int(header["timestamp"], 16)
    for ev in events:
        if ev.timestamp is None:
            ev.timestamp = timestamps[ev.block]


def state_events(state: State) -> int:
    return sum(state.counts.values())


def issuer_accounts(state: State) -> list[dict]:
    """Every issuer account in force, by scheme, with where it became one: the block, the transaction and the
    consortium proposal (its id and description) that allowed it; `proposal` None only if no execution did."""
    out = []
    for scheme in sorted(state.issuers):
        grants = state.issuer_grants.get(scheme, {})
        for account in sorted(state.issuers[scheme]):
            grant = grants.get(account, {})
            proposal = grant.get("proposal")
            out.append({"scheme": scheme, "account": account, "block": grant.get("block"), "tx": grant.get("tx"),
                        "proposal": proposal,
                        "description": state.proposals.get(proposal, {}).get("description") if proposal else None})
    return out


def unclaimed_holdings(state: State, balances: dict[tuple[int, str], int], most: int = 1_000) -> dict:
    """Points held for people who have not joined (PointsLedger.issueToIdentities), by identity hash: what each
    held account holds per scheme (`balances`: as balanceOf answers), the totals, and the largest `most` listed."""
    held: dict[str, dict[int, int]] = {}
    for (scheme, account), balance in balances.items():
        if balance and account in state.holdings:
            held.setdefault(account, {})[scheme] = balance
    totals: dict[int, int] = defaultdict(int)
    for balances in held.values():
        for scheme, balance in balances.items():
            totals[scheme] += balance
    listed = sorted(held.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:most]
    return {"count": len(held), "open": len(state.holdings),
            "totals": [{"scheme": s, "points": p} for s, p in sorted(totals.items())],
            "listed": [{"identityHash": state.holdings[a], "heldAccount": a,
                        "points": [{"scheme": s, "points": p} for s, p in sorted(b.items())]} for a, b in listed]}


def _scheme_summary(state: State, scheme: int, balances: dict[tuple[int, str], int]) -> dict:
    info = state.schemes[scheme]
    totals = state.totals.get(scheme, {})
    holders = sum(1 for (s, _), v in balances.items() if s == scheme and v)
    rate, supply, change = state.rates.get(scheme, 0), state.supply.get(scheme, 0), state.change_total(scheme)
    # expired points not swept yet: in totalSupply on chain until their accounts' next debit, owed by nobody
    unswept = supply - sum(v for (s, _), v in balances.items() if s == scheme) if info.get("expiry") else 0
    # The issuer's liability in value units (credit cents x RATE_SCALE): every live point at the rate now, and the
    # change residents hold in the scheme (issue 27: change is the resident's value as much as points are).
    profile = state.profiles.get(scheme, {})
    versions = state.rules.get(scheme, [])
    return {"scheme": scheme, "status": STATUS_NAMES.get(info["status"], str(info["status"])),
            "nameZh": profile.get("nameZh"), "nameEn": profile.get("nameEn"),
            "kind": {1: "valued", 2: "eligibility-only"}.get(profile.get("kind"), "undescribed"),
            "rulesVersion": versions[-1]["version"] if versions else None,
            "rulesHash": versions[-1]["rulesHash"] if versions else None,
            "rulesCited": dict(state.citations.get(scheme, {}).get("cited", {})),
            "uncitedAfterRules": (state.citations.get(scheme, {}).get("uncited") or {}).get("items", 0),
            "rate": rate, "totalSupply": supply, "holders": holders,
            "expiryMonths": info.get("expiry", 0), "expiredUnswept": unswept,
            "totalChange": change, "liabilityValue": (supply - unswept) * rate + change,
            "liabilityCredits": value_decimal((supply - unswept) * rate + change),
            "issuerDailyQuota": info["quota"], "residentDailyCap": info["cap"],
            **{k: totals.get(k, 0) for k in ("issued", "issuedItems", "skippedItems", "revoked", "minted", "burned",
                                             "expired", "redeemed", "redeemedCredits", "refunded", "refundedCredits",
                                             "exchangedIn", "exchangedOut")}}


def _check_governed(rpc: Rpc, txs: list[dict]) -> list[Problem]:
    """Rule changes outside an executed proposal are allowed only in a contract's constructor."""
    if not txs:
        return []
    problems = []
    answers = rpc.batch([("eth_getTransactionByHash", [t["tx"]]) for t in txs])
    for t, tx in zip(txs, answers):
        if isinstance(tx, RpcError) or tx is None:
            problems.append(Problem("unverifiable", "tx-not-found", "transaction not found", t["block"], t["tx"]))
        elif tx.get("to") is not None:
            problems.append(Problem(VIOLATION, "rule-change-without-governance",
                                    f"{', '.join(t['events'])} emitted outside an executed proposal",
                                    t["block"], t["tx"], {"events": t["events"], "from": tx["from"], "to": tx["to"]}))
    return problems


__all__ = ["AuditOptions", "AuditResult", "audit", "PAUSED", "RETIRED"]
