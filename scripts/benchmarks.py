"""BENCHMARKS.md: one section per measured part, replaced in place by `citypoints bench <part>`.

Every figure is printed beside the raw node's own limit measured in the same run, as a ratio.
"""
from __future__ import annotations

import datetime as dt
import platform
import re

from ledger_node import paths

HEADER = ("# Benchmarks\n\nWritten by `citypoints bench <part>`; each section is replaced by the latest run of "
          "its part.\nFigures are measured on the machine named in the section, never asserted by tests.\n")


def benchmarks_file():
    return paths.ROOT / "BENCHMARKS.md"


def update_section(part: str, body: str) -> None:
    """Replace (or append) the `## <part>` section of BENCHMARKS.md with `body`, stamped with date and machine."""
    path = benchmarks_file()
    text = path.read_text() if path.exists() else HEADER
    stamp = (f"_Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
             f"{_cores()} cores, Python {platform.python_version()}._\n")
    section = f"## {part}\n\n{stamp}\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(part)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def table(rows: list[tuple[str, str, str]]) -> str:
    """A markdown table of (figure, value, floor or comparison)."""
    lines = ["| figure | value | floor / beside |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))
