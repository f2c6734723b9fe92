"""ledger_node.domain says what the contracts say: each constant and rounding rule is checked against the compiled
artifacts and the getters and views of the contracts deployed on the session node."""
from __future__ import annotations

import pytest

from ledger_node import domain
from ledger_node.deploy.system import call, propose_and_execute

RATES = (1, 7, 333_333, 10**6, 33_333_333, domain.MAX_RATE)
AMOUNTS = (0, 1, 3, 99, 999_999, 10**6 + 1, 123_456_789, domain.UINT96_MAX)


def test_roleIds_equalEveryContractsRoleGetter(system):
    seen = set()
    for name, contract in system.items():
        getters = [i["name"] for i in contract.abi if i.get("type") == "function" and i["name"].endswith("_ROLE")
                   and i["name"] != "DEFAULT_ADMIN_ROLE"]  # OpenZeppelin AccessControl's 0x00: none of ours
        for getter in getters:
            role = getter.removesuffix("_ROLE")
            assert role in domain.ROLE_NAMES, f"{name}.{getter} is a role domain.ROLES lacks"
            assert "0x" + getattr(contract.functions, getter)().call().hex() == domain.ROLES[role]
            seen.add(role)
    assert seen == set(domain.ROLE_NAMES)  # and the domain names no role the contracts lack


def test_heldAccountOf_equalsTheLedgersView(system):
    """Where a not-yet-joined person's points wait: the auditor and the API compute it as the ledger does."""
    ledger = system["PointsLedger"].functions
    for h in (b"\x01" * 32, bytes(range(32)), b"\xff" * 32):
        assert domain.held_account_of(h) == ledger.heldAccountOf(h).call()
        assert domain.held_account_of("0x" + h.hex()) == ledger.heldAccountOf(h).call()


def test_creditConstants_equalRatesGetters(system):
    rates = system["Rates"].functions
    assert (rates.RATE_SCALE().call(), rates.CREDIT_DECIMALS().call(), rates.MAX_RATE().call()) == \
        (domain.RATE_SCALE, domain.CREDIT_DECIMALS, domain.MAX_RATE)


def test_rounding_equalsRatesAndExchangeViews(w3, system, operator):
    rates, exchange = system["Rates"], system["Exchange"]
    schemes = range(1, len(RATES) + 1)
    propose_and_execute(w3, system["Consortium"], [operator],
                        [call(rates, "setInitialRate", s, r) for s, r in zip(schemes, RATES)]
                        + [call(exchange, "setPairAllowed", 1, s, True) for s in schemes[1:]], "domain rates")
    for scheme, rate in zip(schemes, RATES):
        for amount in AMOUNTS:
            assert rates.functions.creditsFor(scheme, amount).call() == domain.credits_of(amount, rate)
            assert rates.functions.pointsFor(scheme, amount).call() == domain.points_to_pay(amount, rate)
            if scheme != 1 and amount:
                credits = domain.credits_of(amount, RATES[0])
                assert exchange.functions.quote(1, scheme, amount).call() == \
                    [domain.points_bought(credits, rate), credits]


@pytest.mark.parametrize("credits, rate", [(1_000, 33_333_333), (1, 7), (10**6, 10**6), (0, 3)])
def test_pointsToPay_isTheLeastThatCovers(credits, rate):
    points = domain.points_to_pay(credits, rate)
    assert domain.credits_of(points, rate) >= credits
    assert points == 0 or domain.credits_of(points - 1, rate) < credits
    assert domain.points_bought(credits, rate) <= points


def test_schemeStatus_equalsWhatTheLedgerReports(w3, system, operator):
    ledger = system["PointsLedger"]
    status = [c["name"] for c in _function(ledger, "schemeInfo")["outputs"][0]["components"]].index("status")

    def status_of(scheme):
        return ledger.functions.schemeInfo(scheme).call()[status]

    assert status_of(77) == domain.SchemeStatus.NONE
    propose_and_execute(w3, system["Consortium"], [operator],
                        [call(ledger, "addScheme", s, 10, 10) for s in (77, 78)], "two schemes")
    assert status_of(77) == domain.SchemeStatus.ACTIVE
    propose_and_execute(w3, system["Consortium"], [operator],
                        [call(ledger, "pauseScheme", 77), call(ledger, "retireScheme", 78)], "pause, retire")
    assert (status_of(77), status_of(78)) == (domain.SchemeStatus.PAUSED, domain.SchemeStatus.RETIRED)
    assert domain.STATUS_NAMES == {0: "none", 1: "active", 2: "paused", 3: "retired"}


def test_limits_equalTheTypesTheContractsTake(system):
    ledger, redemption = system["PointsLedger"], system["Redemption"]
    add_scheme = _function(ledger, "addScheme")["inputs"]
    assert {_max(i["type"]) for i in add_scheme[1:]} == {domain.UINT96_MAX}  # quota, cap
    assert _max(_function(ledger, "issueWithReason")["inputs"][-1]["type"]) == domain.UINT32_MAX
    record = _function(redemption, "redemption")["outputs"][0]["components"]
    # a redemption's credits, refunded up to them: the record's 96 bits
    assert _max(next(c["type"] for c in record if c["name"] == "refunded")) == domain.UINT96_MAX
    assert _max(_function(redemption, "setRefundWindow")["inputs"][0]["type"]) == domain.UINT64_MAX
    assert _max(add_scheme[0]["type"]) == domain.UINT256_MAX  # a scheme id


def _function(contract, name: str) -> dict:
    (item,) = [i for i in contract.abi if i.get("type") == "function" and i["name"] == name]
    return item


def _max(abi_type: str) -> int:
    assert abi_type.startswith("uint"), abi_type
    return 2 ** int(abi_type[4:]) - 1
