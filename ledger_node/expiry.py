"""Points expiry (contracts/README.md, "Points expiry"): the calendar and the month buckets PointsLedger keeps for an
expiring scheme, computed here exactly as the chain does for the code that reads events instead of storage (the
auditor's replay, the API's answers).

Months are numbered year * 12 + month - 1 over the city's day numbers (`PointsLedger.today()`: days since
1970-01-01 at the governed day offset). Points credited in month m are live through the last day of month
m + expiryMonths. An account's buckets are {month: points}; its balance on chain counts every point credited and
not debited or swept, so its live points are the buckets from the cutoff month on, never more than that balance.
"""
from __future__ import annotations

from datetime import date, timedelta

DAY = 86400
MAX_OFFSET = 14 * 3600  # PointsLedger's bound on the day offset: the latest a city's day can be ahead of UTC
_EPOCH = date(1970, 1, 1)


def month_of_day(day: int) -> int:
    """The month number of day number `day`."""
    d = _EPOCH + timedelta(days=day)
    return d.year * 12 + d.month - 1


def first_day_of_month(month: int) -> int:
    return (date(month // 12, month % 12 + 1, 1) - _EPOCH).days


def last_day(month: int, expiry_months: int) -> int:
    """The last day number points credited in `month` can be spent."""
    return first_day_of_month(month + expiry_months + 1) - 1


def date_of_day(day: int) -> str:
    """ISO date of a day number (the city's calendar date)."""
    return (_EPOCH + timedelta(days=day)).isoformat()


def cutoff(today: int, expiry_months: int) -> int:
    """The oldest live month on day `today`."""
    return month_of_day(today) - expiry_months


def live(buckets: dict[int, int], cutoff_month: int, balance: int) -> int:
    """The live points of an account holding `balance` (swept or not) with these buckets."""
    return min(balance, sum(v for m, v in buckets.items() if m >= cutoff_month))


def debit(buckets: dict[int, int], cutoff_month: int, amount: int) -> None:
    """Take `amount` from the live buckets, oldest month first (the caller swept and checked the balance)."""
    for m in sorted(buckets):
        if amount == 0:
            break
        if m < cutoff_month:
            continue
        take = min(buckets[m], amount)
        buckets[m] -= take
        amount -= take


def moved(buckets: dict[int, int], cutoff_month: int) -> dict[int, int]:
    """What a recovery moves to the new account: the months from the cutoff on."""
    return {m: v for m, v in buckets.items() if m >= cutoff_month}


def prune(buckets: dict[int, int], cutoff_month: int) -> None:
    """Forget months that can never be live again: a day offset moved back shows at most one month more."""
    for m in [m for m in buckets if m < cutoff_month - 1]:
        del buckets[m]


def expiring(buckets: dict[int, int], cutoff_month: int, balance: int, expiry_months: int) -> tuple[int, int]:
    """PointsLedger.expiringOf: (points of the oldest live month, the last day they can be spent), or (0, 0)."""
    live_points = live(buckets, cutoff_month, balance)
    if balance == 0:
        return 0, 0
    for m in sorted(buckets):
        if m >= cutoff_month and buckets[m]:
            return min(buckets[m], live_points), last_day(m, expiry_months)
    return 0, 0
