"""How governance shows numbers to people: rates as credits per point, seconds as days or hours, times in UTC.
Integers in, exact strings out (no floats anywhere)."""
from __future__ import annotations

from datetime import datetime, timezone

from ledger_node.domain import CREDIT_DECIMALS, PROPOSAL_STATES, RATE_SCALE  # noqa: F401 (PROPOSAL_STATES: re-export)


def credits_per_point(rate: int) -> str:
    """A rate (credit cents per point x RATE_SCALE, contracts/Rates.sol) as credits a point, exactly:
    500_000_000 -> "5.00", 5_000_000 -> "0.05", 12_345_678 -> "0.12345678"."""
    scale = RATE_SCALE * 10**CREDIT_DECIMALS
    whole, frac = divmod(int(rate), scale)
    digits = len(str(scale)) - 1
    return f"{whole}.{f'{frac:0{digits}d}'.rstrip('0').ljust(CREDIT_DECIMALS, '0')}"


def duration(seconds: int) -> str:
    """604800 -> "7 days", 7200 -> "2 hours", 90 -> "90 s"; 0 -> "none"."""
    seconds = int(seconds)
    if seconds == 0:
        return "none"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} s"


def utc(timestamp: int | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
