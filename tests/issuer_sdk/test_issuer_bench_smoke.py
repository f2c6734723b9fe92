"""`citypoints bench issuance` runs end to end on a tiny load (figures are never asserted: that is the benchmark's job)."""
from __future__ import annotations

from scripts.bench_issuance import markdown, run


def test_benchIssuance_smallRun_reportsEveryFigure():
    result = run(items=1000, batch=250, singles=4, residents=20, rounds=1, memory_records=2000, log=lambda _: None)
    for key in ("raw_items_per_s", "sdk_batch_items_per_s", "sdk_batch_ratio", "single_raw_ms", "single_sdk_ms",
                "memory_peak_rss_mb", "ref_hash_us_per_item", "adapter_ratio", "adapter_items_per_s", "floors"):
        assert key in result
    assert result["memory_records"] == 2000 and result["raw_items_per_s"] > 0
    assert "issue_many" in markdown(result) and "generic adapter / SDK" in markdown(result)
