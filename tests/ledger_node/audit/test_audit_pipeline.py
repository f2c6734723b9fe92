"""The pipelined replay (ledger_node.audit.pipeline: ranges cut by size, requests in flight, each range decoded in
one pass) rebuilds exactly what a strictly sequential fold over the same logs rebuilds; a node that goes away in
the middle of the replay ends the audit with a clear error and no report."""
from __future__ import annotations

import random

import orjson
import pytest
from typer.testing import CliRunner

from ledger_node.audit import AuditError
from ledger_node.audit.cli import app
from ledger_node.audit.events import EventTable
from ledger_node.audit.patterns import Detector, Thresholds
from ledger_node.audit.replay import Replayer
from ledger_node.audit.rpc import Rpc, RpcError
from ledger_node.audit.state import State
from ledger_node.config import NodeConfig
from ledger_node.node.anvil import AnvilProcess, free_port, write_genesis

S1 = 1


def _without_timings(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "stats"}


def _sequential_fold(url: str, addresses: dict[str, str], to_block: int) -> Replayer:
    """The fold the simple way: every log in one eth_getLogs, decoded one at a time, sorted, replayed at once."""
    rpc = Rpc(url)
    try:
        table = EventTable(addresses)
        logs = rpc.get_logs(table.addresses, 0, to_block)
    finally:
        rpc.close()
    events = sorted((e for e in map(table.decode, logs) if e is not None), key=lambda e: (e.block, e.log_index))
    replayer = Replayer(addresses, State(), Detector())
    replayer.process(events)
    replayer.finish(to_block)
    return replayer


def test_pipelinedReplay_rebuildsWhatTheSequentialFoldRebuilds(audit_city, run_audit):
    city = audit_city
    residents = [r.address for r in city.residents]
    for batch in range(3):  # 3,000 items: 3,000 TransferSingle and 3 PointsIssued, over the city's own history
        city.w3.provider.make_request("evm_increaseTime", [86_400])  # a day each: the residents' daily cap
        city.issue(city.issuer1, S1, [residents[i % len(residents)] for i in range(1_000)], 1, f"pipeline-{batch}")

    small = run_audit(range_bytes=1)  # one block a range, two requests always in flight
    whole = run_audit(range_bytes=10**9, step=10**6)  # as few ranges as the growth allows
    assert small.stats["logRanges"] == small.report["toBlock"] + 1 > whole.stats["logRanges"]
    assert small.report["counts"]["eventsByName"]["TransferSingle"] >= 3_000
    assert small.report["status"] == "clean" and not small.problems

    fold = _sequential_fold(city.url, city.addresses, small.report["toBlock"])
    assert small.report["state"]["ledger"] == fold.state.to_json()
    assert small.report["counts"]["eventsThisRun"] == fold.events
    assert [p.to_json() for p in fold.problems] == small.report["state"]["replayProblems"]
    assert _without_timings(small.report) == _without_timings(whole.report)


def test_pipelinedReplay_ofAHistoryWithProblems_isTheSequentialFold(audit_city, tamper, run_audit):
    """Problems the replay finds come out the same, in the same order, however the ranges are cut."""
    city = audit_city
    residents = [r.address for r in city.residents]
    victim = residents[3]
    slot = tamper.slot("PointsLedger", "_holders", S1, victim)
    tamper.write("PointsLedger", slot, tamper.read("PointsLedger", slot) + 1_000)  # points from nowhere
    for batch in range(2):  # every later item of the victim's carries a balance the replay did not rebuild
        city.w3.provider.make_request("evm_increaseTime", [86_400])
        city.issue(city.issuer1, S1, [residents[i % len(residents)] for i in range(600)], 1, f"tampered-{batch}")
    small = run_audit(range_bytes=1)
    whole = run_audit(range_bytes=10**9, step=10**6)
    assert "balance-after" in {p["code"] for p in small.report["state"]["replayProblems"]}
    fold = _sequential_fold(city.url, city.addresses, small.report["toBlock"])
    assert [p.to_json() for p in fold.problems] == small.report["state"]["replayProblems"]
    assert small.report["state"]["ledger"] == fold.state.to_json()
    assert _without_timings(small.report) == _without_timings(whole.report)


def test_detector_callAtOnce_findsWhatItemByItemFinds():
    """Detector.on_issues (a PointsIssued call's items at once) against on_issue once an item: same findings, same
    order, same windows, over random calls that open and close bursts and cap fills."""
    rng = random.Random(25)
    t = Thresholds(burst_window_s=30, burst_items=40, cap_fill_window_s=50, cap_fill_residents=3)
    at_once, one_by_one = Detector(t), Detector(t)
    ts = 1_000
    for call in range(300):
        ts += rng.choice([0, 1, 5, 20, 40])
        scheme, issuer, cap = rng.choice([1, 2]), rng.choice(["0xa", "0xb"]), 10
        items = [(f"0x{rng.randrange(8)}", rng.randrange(8, 13)) for _ in range(rng.randrange(1, 30))]
        filled = [(k, who) for k, (who, received) in enumerate(items) if received >= cap]
        at_once.on_issues(scheme, issuer, len(items), filled, cap, ts, f"tx{call}", call)
        for who, received in items:
            one_by_one.on_issue(scheme, issuer, who, 1, received, cap, ts, f"tx{call}", call)
    assert at_once.to_json() == one_by_one.to_json()
    assert [f.to_json() for f in at_once.results()] == [f.to_json() for f in one_by_one.results()]
    assert {f["pattern"] for f in at_once.findings} == {"ref-burst", "cap-farming"}


@pytest.fixture
def city_copy(audit_node, audit_city, tmp_path):
    """A node of the test's own holding the audit city's chain (this test stops it)."""
    proc, operator = audit_node
    cfg = NodeConfig(port=free_port())
    write_genesis(tmp_path / "genesis.json", cfg, {operator.address: 10**24})
    node = AnvilProcess(cfg, tmp_path / "genesis.json", tmp_path / "anvil.log")
    state = proc.dump_state()
    node.start()
    node.load_state(state)
    yield node, state
    node.stop()


def test_nodeGoneMidReplay_endsTheAuditWithAClearError_andNoReport(audit_city, city_copy, monkeypatch, tmp_path):
    node, state = city_copy
    ranges = []
    process = Replayer.process

    def replay_then_lose_the_node(self, events):
        process(self, events)
        ranges.append(len(events))
        if len(ranges) == 2:  # the node goes away while the replay is under way
            node.stop()

    monkeypatch.setattr(Replayer, "process", replay_then_lose_the_node)
    from ledger_node.audit.run import AuditOptions, audit

    with pytest.raises(AuditError, match="no JSON-RPC answer"):
        audit(AuditOptions(node.url, dict(audit_city.addresses), range_bytes=2_000))
    assert len(ranges) >= 2  # it stopped in the middle, not before it began

    # the command: exit status 4 (the audit could not run), the reason printed, no report written
    node.start()
    node.load_state(state)
    ranges.clear()
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["--rpc", node.url, "--out", str(out), "--json",
                                   *[f"--contract={k}={v}" for k, v in audit_city.addresses.items()]])
    assert res.exit_code == 4, res.output
    assert "audit could not run" in res.output and "no JSON-RPC answer" in res.output
    assert not out.exists()


class _RangeLimitedNode:
    """A JSON-RPC front of a real node that refuses eth_getLogs over more than `limit` blocks with the message
    providers use ("query exceeds max results"), and passes every other request to the node."""

    def __init__(self, node_url: str, limit: int):
        import http.client
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        target = urlsplit(node_url)
        front = self
        self.refused = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as nodes serve

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                params = request.get("params") if isinstance(request, dict) else None
                if isinstance(request, dict) and request.get("method") == "eth_getLogs" and \
                        int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1 > limit:
                    front.refused += 1
                    answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": {
                        "code": -32005, "message": f"query exceeds max results, limit {limit} blocks"}}).encode()
                else:
                    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                    conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
                    answer = conn.getresponse().read()
                    conn.close()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_nodeRefusingLargeRanges_getsThemHalved_andTheSameReport(audit_city, run_audit):
    direct = run_audit(range_bytes=10**9, step=10**6)
    front = _RangeLimitedNode(audit_city.url, limit=3)
    try:
        from ledger_node.audit.run import AuditOptions, audit

        limited = audit(AuditOptions(front.url, dict(audit_city.addresses), range_bytes=10**9, step=10**6))
    finally:
        front.close()
    assert front.refused > 0  # the ranges grew past the limit and were cut back
    assert limited.stats["logRanges"] > direct.stats["logRanges"]
    assert _without_timings(limited.report) == _without_timings(direct.report)


def test_logAnswerNotShapedAsLogs_isAClearAuditError(audit_city):
    """The replay parses an answer straight into the fields of a log (events.Log): an answer whose logs lack one,
    that is not JSON, or that holds no list, stops the audit with the node's fault named, never a crash."""
    table = EventTable(audit_city.addresses)
    rpc = Rpc(audit_city.url)
    try:
        head = rpc.block_number()
        logs = rpc.get_logs(table.addresses, 0, head)
    finally:
        rpc.close()
    whole = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": logs})
    assert len(table.decode_answer(whole, 0, head)[0]) == len(logs)  # the node's own answer reads whole

    without_index = orjson.dumps({"jsonrpc": "2.0", "id": 1,
                                  "result": [{k: v for k, v in log.items() if k != "logIndex"} for log in logs]})
    with pytest.raises(AuditError, match=r"not a JSON-RPC response with a list of logs .*logIndex"):
        table.decode_answer(without_index, 0, head)
    with pytest.raises(AuditError, match="not a JSON-RPC response"):
        table.decode_answer(b"<html>502 Bad Gateway</html>", 0, head)
    with pytest.raises(AuditError, match="no list of logs"):
        table.decode_answer(b'{"jsonrpc": "2.0", "id": 1, "result": null}', 0, head)
    with pytest.raises(RpcError, match="query timeout"):
        table.decode_answer(b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "query timeout"}}',
                            0, head)
