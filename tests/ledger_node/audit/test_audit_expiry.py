"""The auditor and points expiry (issue 25): credits booked by month, each sweep's amount checked, debits taken from
the oldest live month, a recovery moving the live months, and the end state read as balanceOf answers it: live
points at the last block's time."""
from __future__ import annotations

from web3 import Web3

from ledger_node.deploy.system import call
from ledger_node.expiry import DAY, first_day_of_month, month_of_day

S1, S3 = 1, 3


def _month_start(city, month: int) -> int:
    return first_day_of_month(month) * DAY - city["PointsLedger"].functions.dayOffset().call()


def _mine_at(city, timestamp: int) -> None:
    city.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    city.w3.provider.make_request("evm_mine", [])


def _expiring_city(city):
    """Scheme 3 (points live through the end of the month after their month), issued by issuer1; residents 0-2
    credited at the start of next month m, resident 0 again at the start of m + 1. Returns m."""
    ledger = city["PointsLedger"]
    city.govern([call(ledger, "addScheme", S3, 10**9, 10**9), call(ledger, "setExpiry", S3, 1),
                 call(city["Membership"], "setIssuerAccounts", S3, [city.issuer1.address]),
                 call(city["Rates"], "setInitialRate", S3, 10_000_000)])
    m = month_of_day(ledger.functions.today().call()) + 1
    _mine_at(city, _month_start(city, m) + 60)
    city.issue(city.issuer1, S3, [r.address for r in city.residents[:3]], 100, "x3")
    _mine_at(city, _month_start(city, m + 1) + 60)
    city.issue(city.issuer1, S3, [city.residents[0].address], 50, "x3-later")
    return m


def test_audit_expiringScheme_auditsCleanWithLiveBalances(audit_city, run_audit):
    city, ledger = audit_city, audit_city["PointsLedger"]
    r0, r1, r2 = (r.address for r in city.residents[:3])
    m = _expiring_city(city)
    _mine_at(city, _month_start(city, m + 2) + 60)  # month m's points expired
    receipt = city.redeem(city.consent(city.residents[0], 200, parts=[(S3, 20, 200)]))  # sweeps 100, burns 20 of 50
    assert [e["args"]["amount"] for e in ledger.events.PointsExpired().process_receipt(receipt)] == [100]
    new = Web3.to_checksum_address("0x" + "ab" * 20)
    city.send(city.onboarding, city["Membership"].functions.requestRecovery(r1, new))
    city.govern([call(city["Membership"], "approveRecovery", r1)])  # r1's 100 expired: swept, nothing moves
    assert ledger.functions.balanceOf(r2, S3).call() == 0 and ledger.functions.totalSupply(S3).call() == 130

    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    scheme = {s["scheme"]: s for s in result.report["schemes"]}[S3]
    assert (scheme["expiryMonths"], scheme["expired"], scheme["expiredUnswept"], scheme["totalSupply"]) == (
        1, 200, 100, 130)  # r2's 100 are still in the supply, owed by nobody
    assert scheme["liabilityValue"] == 30 * 10_000_000
    lines = {(x["account"], x["scheme"]): x["balance"] for x in result.report["merkle"]["lines"]}
    assert lines.get((r0.lower(), S3)) == 30 and not lines.get((r2.lower(), S3))


def test_audit_bucketWrittenBehindTheLedger_caughtAtTheSweep(audit_city, tamper, run_audit):
    """A month's points removed behind the ledger's back: the balance read at the end and the next sweep, which
    expires them on chain while the replay holds them live, both disagree with the replay."""
    city, ledger = audit_city, audit_city["PointsLedger"]
    r0 = city.residents[0].address
    m = _expiring_city(city)
    ring = 1 // 3 + 2  # PointsLedger.setExpiry's ring of quarter words for a 1-month expiry
    quarter, shift = (m + 1) // 3, (m + 1) % 3 * 80
    slot = tamper.slot("PointsLedger", "_buckets", S3, r0, quarter % ring)
    word = tamper.read("PointsLedger", slot)
    assert word >> 240 == quarter and (word >> shift) & (2**80 - 1) == 50
    tamper.write("PointsLedger", slot, word - (50 << shift))  # month m + 1's 50 points gone from its bucket
    assert ledger.functions.balanceOf(r0, S3).call() == 100
    _mine_at(city, _month_start(city, m + 1) + DAY)
    receipt = city.send(city.issuer1, ledger.functions.revoke(S3, r0, 1, Web3.keccak(text="fix"), 0))
    result = run_audit()
    at_sweep = [p for p in result.problems if p.code == "expired-amount"]
    assert at_sweep and at_sweep[0].block == receipt["blockNumber"], result.report["problems"]
