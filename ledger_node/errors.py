"""The root of every exception ledger_node raises, so a caller (a CLI, the harness, the API's start-up) can catch
"anything the node tools refused" in one clause and still let a programming error (a TypeError, a KeyError) through.

Each module keeps its own precise class (CompileError, JournalCorrupt, AuditError, ...) and derives it from here;
tests/test_error_vocabulary.py walks the package and fails on one that does not.
"""
from __future__ import annotations


class LedgerNodeError(Exception):
    """Root of every exception class defined in ledger_node."""
