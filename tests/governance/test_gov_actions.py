"""Every named action of `citypoints gov`, end to end on the session node: proposed by a member, approved to the
threshold by a second, the notice waited out, executed, and the effect read back through the contracts; the call
said in words by the action's own sentence. And arguments refused before anything is sent."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_account import Account

from ledger_node.deploy.system import call, selector
from ledger_node.domain import ROLES, SchemeStatus
from ledger_node.governance.actions import ACTIONS, proposal_calls
from ledger_node.governance.errors import GovError
from ledger_node.governance.transactions import propose
from ledger_node.governance.words import describe_call
from tests.governance.gov_helpers import carry_through

NEW = Account.create().address  # an account no test's set-up knows
HOLDER = Account.create().address


def _ctx(town):
    c = town.city
    return SimpleNamespace(town=town, consortium=c["Consortium"].functions, membership=c["Membership"].functions,
                           ledger=c["PointsLedger"].functions, rates=c["Rates"].functions,
                           exchange=c["Exchange"].functions, redemption=c["Redemption"].functions,
                           registry=c["SchemeRegistry"].functions,
                           third=town.members[2].address)


def _to_cancel(x):
    """An open proposal of the second member's, for cancel-proposal to cancel; its id is kept on x."""
    x.victim, _ = propose(x.town.city, x.town.members[1], proposal_calls(x.town.city, "set-refund-window", ["60"]), "")
    return [str(x.victim)]


def _rules_file(x):
    """A rules document on disk (publish-rules hashes the file) and its address."""
    import tempfile
    path = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    path.write('{"museum visit": "20 points"}')
    path.close()
    return ["3", path.name, "https://rules.example/3/v1.json"]


def _status(x, scheme):
    return x.ledger.schemeInfo(scheme).call()[0]


# (action, its arguments, what the set-up must hold first (calls), the effect read back)
CASES = [
    ("add-member", lambda x: [NEW], None, lambda x: x.consortium.isMember(NEW).call()),
    ("remove-member", lambda x: [x.third], None,
     lambda x: not x.consortium.isMember(x.third).call() and len(x.consortium.members().call()) == 2),
    ("set-threshold", lambda x: ["3", "2"], None,
     lambda x: (x.consortium.threshold().call(), x.consortium.emergencyThreshold().call()) == (3, 2)),
    ("add-issuer", lambda x: ["2", NEW], None,
     lambda x: x.membership.issuerAccounts(2).call() == [x.town.issuer, NEW]),
    ("set-issuer-quota", lambda x: ["2", "777"], None, lambda x: x.ledger.schemeInfo(2).call()[1] == 777),
    ("set-daily-cap", lambda x: ["2", "55"], None, lambda x: x.ledger.schemeInfo(2).call()[2] == 55),
    ("set-expiry", lambda x: ["9", "12"], lambda t: [call(t.city["PointsLedger"], "addScheme", 9, 10, 1)],
     lambda x: x.ledger.schemeInfo(9).call()[6] == 12),
    ("set-rate", lambda x: ["2", "500000000"], None, lambda x: x.rates.rateOf(2).call() == 500_000_000),
    ("pause-scheme", lambda x: ["2"], None, lambda x: _status(x, 2) == SchemeStatus.PAUSED),
    ("resume-scheme", lambda x: ["3"], lambda t: [call(t.city["PointsLedger"], "pauseScheme", 3)],
     lambda x: _status(x, 3) == SchemeStatus.ACTIVE),
    ("retire-scheme", lambda x: ["2"], None, lambda x: _status(x, 2) == SchemeStatus.RETIRED),
    ("pause-all", lambda x: [], None, lambda x: x.ledger.paused().call()),
    ("resume-all", lambda x: [], lambda t: [call(t.city["PointsLedger"], "pauseAll")],
     lambda x: not x.ledger.paused().call()),
    ("register-merchant", lambda x: [NEW], None, lambda x: x.membership.isMerchantActive(NEW).call()),
    ("suspend-merchant", lambda x: [x.town.merchant], None,
     lambda x: x.membership.isMerchant(x.town.merchant).call()
     and not x.membership.isMerchantActive(x.town.merchant).call()),
    ("reinstate-merchant", lambda x: [x.town.other_merchant],
     lambda t: [call(t.city["Membership"], "setMerchantSuspended", t.other_merchant, True)],
     lambda x: x.membership.isMerchantActive(x.town.other_merchant).call()),
    ("set-refund-window", lambda x: ["3600"], None, lambda x: x.redemption.refundWindow().call() == 3600),
    ("allow-pair", lambda x: ["2", "3"], None, lambda x: x.exchange.pairAllowed(2, 3).call()),
    ("disallow-pair", lambda x: ["2", "3"], lambda t: [call(t.city["Exchange"], "setPairAllowed", 2, 3, True)],
     lambda x: not x.exchange.pairAllowed(2, 3).call()),
    ("set-notice", lambda x: ["Rates", "setRate", "3600"], None,
     lambda x: x.consortium.callPolicy(x.town.city["Rates"].address,
                                       selector(x.town.city["Rates"], "setRate")).call() == (3600, False)),
    ("add-scheme", lambda x: ["9", "100", "10"], None,
     lambda x: tuple(x.ledger.schemeInfo(9).call()[:3]) == (SchemeStatus.ACTIVE, 100, 10)),
    ("set-exchange-limit", lambda x: ["12345"], None, lambda x: x.exchange.dailyLimit().call() == 12345),
    ("remove-merchant", lambda x: [x.town.merchant], None, lambda x: not x.membership.isMerchant(x.town.merchant).call()),
    ("grant-role", lambda x: ["ONBOARDING", NEW], None, lambda x: x.membership.hasRole(ROLES["ONBOARDING"], NEW).call()),
    ("revoke-role", lambda x: ["RELAYER", HOLDER],
     lambda t: [call(t.city["Membership"], "grantRole", ROLES["RELAYER"], HOLDER)],
     lambda x: not x.membership.hasRole(ROLES["RELAYER"], HOLDER).call()),
    ("set-recovery-notice", lambda x: ["7200"], None, lambda x: x.membership.recoveryNotice().call() == 7200),
    ("set-proposal-lifetime", lambda x: ["86400"], None, lambda x: x.consortium.proposalLifetime().call() == 86400),
    ("cancel-proposal", _to_cancel, None,
     lambda x: hasattr(x, "victim") and x.consortium.proposalState(x.victim).call() == 5),  # Cancelled
    ("raw", lambda x: ["Exchange", "setDailyLimit(uint256)", "[60000]"], None,
     lambda x: x.exchange.dailyLimit().call() == 60000),
    ("set-initial-rate", lambda x: ["9", "3000000"], lambda t: [call(t.city["PointsLedger"], "addScheme", 9, 10, 1)],
     lambda x: x.rates.rateOf(9).call() == 3_000_000),
    ("describe-scheme", lambda x: ["3", "文化", "Culture", "分", "points", "Culture Bureau", "#7b4fc9", "valued"], None,
     lambda x: tuple(x.registry.profileOf(3).call())[1::5] == ("Culture", 1)),
    ("publish-rules", _rules_file, lambda t: [call(t.city["SchemeRegistry"], "describeScheme", 3, (
        "文化", "Culture", "分", "points", "Culture Bureau", bytes.fromhex("7b4fc9"), 1))],
     lambda x: x.registry.rulesVersion(3).call() == 1),
]


def test_govActions_table_everyNamedActionHasACase():
    assert {a.name for a in ACTIONS} | {"raw"} == {case[0] for case in CASES}


@pytest.mark.parametrize("name,args,prepare,effect", CASES, ids=[c[0] for c in CASES])
def test_govAction_proposedApprovedExecuted_changesTheContracts(town, name, args, prepare, effect):
    if prepare:
        town.govern(prepare(town))
    x = _ctx(town)
    calls = proposal_calls(town.city, name, args(x))
    said = [describe_call(town.city, target, data) for target, data in calls]
    assert said[0]["action"] == ("set-exchange-limit" if name == "raw" else name), said
    assert not effect(x), "the effect holds before the proposal: the case proves nothing"
    carry_through(town, calls, f"test {name}")
    assert effect(x)


def test_govWords_setRate_saysTheNewAndTheCurrentRate(town):
    (target, data), = proposal_calls(town.city, "set-rate", ["2", "500000000"])
    assert describe_call(town.city, target, data)["words"] == \
        "set rate of scheme 2 (traffic): 1 point = 5.00 credits (now 4.00)"


def test_govWords_unknownCall_isContractFunctionWithArguments(town):
    target, data = call(town.city["Rates"], "setSchemeRegistry", NEW)
    assert describe_call(town.city, target, data)["words"] == f"Rates.setSchemeRegistry(registry={NEW})"


REFUSALS = [
    ("set-rate", ["2", "5.00"], "invalid_integer"),
    ("set-rate", ["2", "0"], "invalid_rate"),
    ("set-rate", ["42", "500000000"], "scheme_not_active"),
    ("set-threshold", ["4"], "invalid_threshold"),
    ("add-member", ["0x" + "ab" * 20], "invalid_address"),   # not checksummed: mixed case expected
    ("add-member", ["not-an-address"], "invalid_address"),
    ("remove-member", [NEW], "unknown_member"),
    ("resume-scheme", ["2"], "invalid_scheme_transition"),
    ("resume-all", [], "pause_unchanged"),
    ("register-merchant", ["MERCHANT"], "already_merchant"),
    ("set-daily-cap", ["2", str(2**96)], "invalid_integer"),
    ("set-expiry", ["2", "0"], "invalid_integer"),   # an expiry is never removed
    ("allow-pair", ["2", "2"], "pair_not_allowed"),
    ("set-notice", ["Rates", "noSuchFunction", "60"], "unknown_function"),
    ("raw", ["Exchange", "setDailyLimit(uint256)", "[-1]"], "invalid_integer"),
    ("raw", ["Vault", "drain()", "[]"], "unknown_contract"),
    ("launch-rocket", [], "unknown_action"),
    ("set-rate", ["2"], "bad_arguments"),
    ("grant-role", ["MERCHANT", NEW], "role_not_grantable"),
    ("set-proposal-lifetime", ["0"], "invalid_proposal_lifetime"),
    ("cancel-proposal", ["1"], "proposal_not_open"),       # the deployment's bootstrap, executed
    ("cancel-proposal", ["999"], "proposal_not_found"),
]


def test_govPropose_setExpiry_longerOrEqualIsRefusedBeforeSending(town):
    town.govern([call(town.city["PointsLedger"], "setExpiry", 3, 6)])
    for months in ("6", "7"):
        with pytest.raises(GovError) as refused:
            proposal_calls(town.city, "set-expiry", ["3", months])
        assert refused.value.code == "expiry_only_shortens", refused.value.message
    (target, data), = proposal_calls(town.city, "set-expiry", ["3", "1"])
    assert describe_call(town.city, target, data)["words"] == \
        "make points of scheme 3 expire 1 month after the end of the month they are credited in (now 6 months)"


@pytest.mark.parametrize("name,args,code", REFUSALS, ids=[f"{r[0]}-{r[2]}" for r in REFUSALS])
def test_govPropose_badArgument_isRefusedWithItsCodeBeforeSending(town, name, args, code):
    args = [town.merchant if a == "MERCHANT" else a for a in args]
    if args and args[0].startswith("0xabab"):
        args = [args[0][:2] + "AB" + args[0][4:]]  # mixed case without a valid checksum
    before = town.city["Consortium"].functions.proposalCount().call()
    with pytest.raises(GovError) as refused:
        proposal_calls(town.city, name, args)
    assert refused.value.code == code, refused.value.message
    assert town.city["Consortium"].functions.proposalCount().call() == before
