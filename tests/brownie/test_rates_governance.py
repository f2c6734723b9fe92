"""Brownie tests (run with Brownie's own pytest: `brownie test tests/brownie --network anvil`, README).

They deploy the governance and rates contracts on Brownie's development anvil and check what a contract developer
relies on: rule changes only through an executed M-of-N proposal, and the rounding of credits.
The project's own suite does not collect this folder (tests/conftest.py): Brownie lives in its own virtualenv.
"""
import brownie
import pytest

LIFETIME = 7 * 24 * 3600


@pytest.fixture
def members(accounts):
    return accounts[:3]


@pytest.fixture
def consortium(Consortium, members):
    return Consortium.deploy(list(members), 2, 2, LIFETIME, {"from": members[0]})


@pytest.fixture
def rates(Rates, consortium, members):
    return Rates.deploy(consortium, {"from": members[0]})


def _govern(consortium, members, target, data):
    tx = consortium.propose([(target, data)], "set a rate", {"from": members[0]})
    proposal = tx.events["ProposalCreated"]["proposalId"]
    consortium.approve(proposal, {"from": members[1]})
    return consortium.execute(proposal, {"from": members[0]})


def test_a_rate_is_set_only_by_an_executed_proposal(rates, consortium, members):
    with brownie.reverts():
        rates.setRate(1, 10 * rates.RATE_SCALE(), {"from": members[0]})
    tx = _govern(consortium, members, rates.address, rates.setRate.encode_input(1, 10 * rates.RATE_SCALE()))
    assert tx.events["RateSet"]["scheme"] == 1
    assert rates.rateOf(1) == 10 * rates.RATE_SCALE()


def test_one_approval_of_two_does_not_execute(rates, consortium, members):
    tx = consortium.propose([(rates.address, rates.setRate.encode_input(2, rates.RATE_SCALE()))], "x",
                            {"from": members[0]})
    with brownie.reverts():
        consortium.execute(tx.events["ProposalCreated"]["proposalId"], {"from": members[0]})


def test_credits_round_down_and_points_round_up(rates, consortium, members):
    # 1 point = 3 credit-cents: 10 points are worth 30 cents, and 31 cents need 11 points
    _govern(consortium, members, rates.address, rates.setRate.encode_input(3, 3 * rates.RATE_SCALE()))
    assert rates.creditsFor(3, 10) == 30
    assert rates.pointsFor(3, 31) == 11
    assert rates.pointsFor(3, 30) == 10
