"""When the supervisor snapshots: blocks pause during anvil's dump, so the journal-size trigger waits out a
backlog (up to BACKLOG_JOURNAL_FACTOR times the size); the interval and the 10x-duration spacing still hold."""
from __future__ import annotations

from ledger_node.config import NodeConfig
from ledger_node.node.supervisor import BACKLOG_JOURNAL_FACTOR, snapshot_due

CFG = NodeConfig(snapshot_interval_s=600, snapshot_journal_bytes=1000)


def test_journalSizeTrigger_waitsWhileTheProducerHasABacklog_upToItsBound():
    assert snapshot_due(CFG, 5, 1000, 0, backlogged=False)
    assert not snapshot_due(CFG, 5, 1000, 0, backlogged=True)
    assert not snapshot_due(CFG, 5, BACKLOG_JOURNAL_FACTOR * 1000 - 1, 0, backlogged=True)
    assert snapshot_due(CFG, 5, BACKLOG_JOURNAL_FACTOR * 1000, 0, backlogged=True)


def test_intervalTrigger_andSpacingByTheLastDumpsDuration():
    assert snapshot_due(CFG, 600, 0, 0, backlogged=True)
    assert not snapshot_due(CFG, 5, 10**9, 1.0, backlogged=False)   # a 1 s dump: not again within 10 s
    assert snapshot_due(CFG, 10, 1000, 1.0, backlogged=False)
