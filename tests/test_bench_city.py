"""`citypoints bench city` at its smallest (200 residents, 2 days) on its own durable node and API: every figure is
printed, the audit at its end is clean, and BENCHMARKS.md gets its `city` section (here a copy in tmp_path)."""
from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from scripts import benchmarks
from scripts.cli import app

OPERATIONS = ("issuance", "redemption", "exchange", "governance", "period close")


def test_a_small_district_month_prints_every_figure_and_audits_clean(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmarks, "benchmarks_file", lambda: tmp_path / "BENCHMARKS.md")

    out = CliRunner().invoke(app, ["bench", "city", "--residents", "200", "--days", "2"])
    assert out.exit_code == 0, out.output

    for op in OPERATIONS:
        line = next(x for x in out.output.splitlines() if x.startswith(op))
        assert re.search(r"[\d.]+/s\s+p50\s+[\d.]+ ms\s+p99\s+[\d.]+ ms\s+errors \{\}\s+gas/tx [1-9]\d* \(\d+ tx\)",
                         line), line
    for op in ("issuance", "redemption"):  # beside the raw node's own figure
        assert re.search(r"raw [\d.]+/s\s+ratio [\d.]+", next(x for x in out.output.splitlines()
                                                                if x.startswith(op))), op
    assert re.search(r"^audit\s+clean, 0 problems", out.output, re.M), out.output
    assert re.search(r"^chain\s+\d+ blocks, data dir [1-9]\d* B, snapshot \d+ B, journal \d+ B, state dump [1-9]\d* B, "
                     r"restart [\d.]+ s", out.output, re.M), out.output

    section = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## city" in section
    figures = json.loads(section.split("```json\n")[1].split("\n```")[0])
    assert figures["residents"] == 200 and figures["days"] == 2
    assert figures["operations"]["redemption"]["count"] == 2 * 40  # every redemption offered was accepted
    assert figures["operations"]["governance"]["count"] == 1 and figures["audit"]["problems"] == 0
