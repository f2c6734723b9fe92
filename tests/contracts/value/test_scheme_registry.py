"""SchemeRegistry: what each programme is (names, unit, organisation, colour, kind), its published earning rules'
versions, and residents' eligibility proofs; an eligibility-only programme has no value: Rates refuses it a rate,
so Redemption and Exchange refuse its points."""
from __future__ import annotations

import os

import pytest
from eth_account import Account

from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import expect_revert, now, send, send_impersonated, simulate_error
from .conftest import START_1, mint_points

RESIDENCE = 55
VALUED, ELIGIBILITY_ONLY = 1, 2
PROFILE = ("居住证积分", "Residence-permit points", "分", "points", "Chengdu Residence Office", bytes.fromhex("c62828"),
           ELIGIBILITY_ONLY)


@pytest.fixture
def registry(value):
    return value.contracts["SchemeRegistry"]


def as_consortium(w3, value, fn):
    return send_impersonated(w3, value.city.consortium.address, fn)


def residence_scheme(w3, value, registry) -> None:
    """A scheme without a rate, described as eligibility-only."""
    as_consortium(w3, value, value.ledger.functions.addScheme(RESIDENCE, 10**9, 10**9))
    as_consortium(w3, value, registry.functions.describeScheme(RESIDENCE, PROFILE))


def proof(w3, registry, resident, scheme: int, min_points: int, *, service=None, deadline=None, signer=None,
          nonce=None):
    message = {"resident": resident.address, "scheme": scheme, "minPoints": min_points,
               "service": service or Account.create().address, "nonce": nonce or os.urandom(32),
               "deadline": now(w3) + 600 if deadline is None else deadline}
    doc = typed_data("EligibilityProof", w3.eth.chain_id, registry.address, message)
    return message, sign(signer or resident, doc)


def prove_fn(registry, message, signature):
    return registry.functions.proveEligibility(tuple(message.values()), signature)


def test_describe_andPublishRules_areTheConsortiumsAndReadBack(w3, value, registry):
    residence_scheme(w3, value, registry)
    assert tuple(registry.functions.profileOf(RESIDENCE).call()) == PROFILE
    assert registry.functions.isEligibilityOnly(RESIDENCE).call()
    assert not registry.functions.isEligibilityOnly(SCHEME).call()
    assert registry.functions.rulesVersion(RESIDENCE).call() == 0
    for k, uri in enumerate(("https://rules.example/55/v1.json", "https://rules.example/55/v2.json"), start=1):
        receipt = as_consortium(w3, value, registry.functions.publishRules(RESIDENCE, bytes([k]) * 32, uri))
        (event,) = registry.events.RulesPublished().process_receipt(receipt)
        assert (event["args"]["version"], event["args"]["uri"]) == (k, uri)
    assert registry.functions.rulesVersion(RESIDENCE).call() == 2
    assert tuple(registry.functions.rules(RESIDENCE, 1).call())[:2] == (b"\x01" * 32,
                                                                        "https://rules.example/55/v1.json")
    # only the consortium describes and publishes
    stranger = value.city.member
    expect_revert(w3, stranger, registry.functions.describeScheme(RESIDENCE, PROFILE),
                  "ConsortiumGovernedUnauthorized")
    expect_revert(w3, stranger, registry.functions.publishRules(RESIDENCE, b"\x09" * 32, "x"),
                  "ConsortiumGovernedUnauthorized")


def test_describe_refusesUnknownSchemes_badProfiles_andEligibilityOnlyWithARate(w3, value, registry):
    consortium = value.city.consortium.address
    cases = [
        (registry.functions.describeScheme(999, PROFILE), "SchemeRegistryUnknownScheme"),
        (registry.functions.describeScheme(SCHEME, ("", *PROFILE[1:])), "SchemeRegistryInvalidProfile"),
        (registry.functions.describeScheme(SCHEME, (PROFILE[0], "x" * 65, *PROFILE[2:])),
         "SchemeRegistryInvalidProfile"),
        (registry.functions.describeScheme(SCHEME, (*PROFILE[:6], 0)), "SchemeRegistryInvalidProfile"),
        (registry.functions.describeScheme(SCHEME, PROFILE), "SchemeRegistryHasRate"),  # SCHEME has a rate
        (registry.functions.publishRules(OTHER_SCHEME, b"\x01" * 32, "u"), "SchemeRegistryUnknownScheme"),
    ]
    for fn, error in cases:
        assert simulate_error(w3, consortium, fn)[0] == error
    as_consortium(w3, value, registry.functions.describeScheme(SCHEME, (*PROFILE[:6], VALUED)))
    assert simulate_error(w3, consortium, registry.functions.publishRules(SCHEME, b"\x00" * 32, "u"))[0] == \
        "SchemeRegistryInvalidRules"
    assert simulate_error(w3, consortium, registry.functions.publishRules(SCHEME, b"\x01" * 32, "u" * 257))[0] == \
        "SchemeRegistryInvalidRules"


def test_eligibilityOnlyScheme_hasNoRate_soItsPointsAreNeitherRedeemedNorExchanged(w3, value, registry):
    residence_scheme(w3, value, registry)
    consortium = value.city.consortium.address
    assert simulate_error(w3, consortium, value.rates.functions.setInitialRate(RESIDENCE, 1_000_000)) == \
        ("RatesEligibilityOnly", (RESIDENCE,))
    assert simulate_error(w3, consortium, value.rates.functions.setRate(RESIDENCE, 1_000_000))[0] == \
        "RatesEligibilityOnly"
    resident = value.city.residents[0]
    mint_points(w3, value.city, RESIDENCE, resident.address, 80, 1_000_000, os.urandom(32))  # as the office holds them
    c = value.consent(w3, resident, 10, parts=[(RESIDENCE, 10, 10)])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionNoRate", (RESIDENCE,))
    i = value.intent(w3, resident, RESIDENCE, SCHEME, 10)
    error, _ = simulate_error(w3, value.city.relayer.address, value.exchange_fn(i))
    assert error in ("ExchangePairNotAllowed", "RatesNoRate")
    assert value.ledger.functions.balanceOf(resident.address, RESIDENCE).call() == 80


def test_eligibilityProof_acceptedOnce_andExpiredForgedShortOrReplayedRefused(w3, value, registry):
    resident = value.city.residents[0]  # holds START_1 points of SCHEME
    service = Account.create().address
    message, signature = proof(w3, registry, resident, SCHEME, START_1, service=service)
    assert registry.functions.checkEligibility(tuple(message.values()), signature).call()
    receipt = send(w3, value.city.relayer, prove_fn(registry, message, signature))  # anyone may submit it
    (event,) = registry.events.EligibilityProven().process_receipt(receipt)
    assert (event["args"]["resident"], event["args"]["scheme"], event["args"]["service"],
            event["args"]["minPoints"]) == (resident.address, SCHEME, service, START_1)
    assert registry.functions.proofNonceUsed(resident.address, message["nonce"]).call()
    expect_revert(w3, value.city.relayer, prove_fn(registry, message, signature), "SchemeRegistryProofUsed")

    relayer = value.city.relayer
    expired = proof(w3, registry, resident, SCHEME, 1, deadline=now(w3) - 1)
    expect_revert(w3, relayer, prove_fn(registry, *expired), "SchemeRegistryProofExpired")
    forged = proof(w3, registry, resident, SCHEME, 1, signer=Account.create())
    expect_revert(w3, relayer, prove_fn(registry, *forged), "SchemeRegistryInvalidSignature", (resident.address,))
    greedy = proof(w3, registry, resident, SCHEME, START_1 + 1)
    expect_revert(w3, relayer, prove_fn(registry, *greedy), "SchemeRegistryNotEligible",
                  (resident.address, SCHEME, START_1 + 1))
    zero = proof(w3, registry, resident, SCHEME, 0)
    expect_revert(w3, relayer, prove_fn(registry, *zero), "SchemeRegistryZeroThreshold")
    # points that arrive later make a later proof good
    mint_points(w3, value.city, SCHEME, resident.address, 1, 10_000_000, os.urandom(32))
    send(w3, relayer, prove_fn(registry, *proof(w3, registry, resident, SCHEME, START_1 + 1)))
