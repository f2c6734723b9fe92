"""Role matrix of the value contracts (Rates, Clearing, Exchange, Redemption): every state-changing function
x every role, generated against the ABIs like tests/contracts/test_role_matrix.py, whose rows and roles it reuses.
Also checks that every contract `citypoints deploy` deploys has a matrix.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME
from ..test_role_matrix import GOV, ROLES, TABLES as CORE_TABLES, Row, _state_changing, matrix_problems
from .conftest import parts_of

G = "ConsortiumGovernedUnauthorized"


@dataclass
class ValueCtx:
    env: object
    value: object
    consent: dict
    intent: dict
    order: dict
    redemption: tuple  # (id, resident, merchant, parts)
    merchant_statement: bytes
    proof: dict  # a resident's signed EligibilityProof
    objection: dict  # a resident's signed TrailObjection to an entry of the trail


def _signed(w3, value, resident, primary: str, verifying: str, message: dict) -> dict:
    return {**message, "signature": sign(resident, typed_data(primary, w3.eth.chain_id, verifying, message))}


@pytest.fixture
def vctx(w3, value) -> ValueCtx:
    env, resident = value.city, value.city.residents[2]
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    receipt = chain.transact(w3, env.relayer, value.redeem_fn(value.consent(w3, resident, 100)))
    (ev,) = value.redemption.events.Redeemed().process_receipt(receipt, errors=DISCARD)
    redemption = (ev["args"]["redemptionId"], resident.address, env.merchant.address, parts_of(ev))
    # a closed period with statements, one of them paid and awaiting the merchant's answer
    chain.transact(w3, env.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 10)))
    chain.transact(w3, env.ledger_operator, value.clearing.functions.recordRedemption(
        OTHER_SCHEME, env.merchant.address, 5))
    chain.transact(w3, env.ops, value.clearing.functions.closePeriod())
    chain.transact(w3, env.issuer, value.clearing.functions.recordMerchantPayment(1, SCHEME, env.merchant.address,
                                                                                  b"\x01" * 32))
    sid = value.clearing.functions.merchantStatementId(1, SCHEME, env.merchant.address).call()
    consent = value.consent(w3, resident, 10)
    intent = value.intent(w3, resident, SCHEME, OTHER_SCHEME, 10)
    order = _signed(w3, value, resident, "PreferredOrder", value.redemption.address,
                    {"resident": resident.address, "schemes": [OTHER_SCHEME], "nonce": os.urandom(32),
                     "deadline": deadline})
    registry = value.contracts["SchemeRegistry"]
    proof = _signed(w3, value, resident, "EligibilityProof", registry.address,
                    {"resident": resident.address, "scheme": SCHEME, "minPoints": 1, "service": env.merchant.address,
                     "nonce": os.urandom(32), "deadline": deadline})
    trail = value.contracts["IdentityTrail"]
    chain.transact(w3, env.onboarding, trail.functions.record([(resident.address, env.onboarding.address, 1,
                                                                b"\x03" * 32)]))
    objection = _signed(w3, value, resident, "TrailObjection", trail.address,
                        {"entryId": trail.functions.entryCount().call(), "resident": resident.address,
                         "nonce": os.urandom(32), "deadline": deadline})
    return ValueCtx(env, value, consent, intent, order, redemption, sid, proof, objection)


EVERYONE = set(ROLES)
RECORDER = {"ledger_operator"}
SUBMITTERS = {"merchant", "relayer"}

RATES_ROWS = {
    "setRate": Row(lambda c: [SCHEME, 1], GOV, G),
    "setInitialRate": Row(lambda c: [7, 1], GOV, G),
    "setSchemeRegistry": Row(lambda c: [c.value.contracts["SchemeRegistry"].address], GOV, G),
}
VALUED = ("志愿服务", "Volunteer service", "分", "points", "Volunteer Federation", bytes.fromhex("2e7d32"), 1)
REGISTRY_ROWS = {
    "describeScheme": Row(lambda c: [SCHEME, VALUED], GOV, G),
    # the scheme is not described in this city: the consortium gets the registry's own refusal
    "publishRules": Row(lambda c: [SCHEME, b"\x01" * 32, "https://rules.example/1.json"], GOV, G,
                        {"SchemeRegistryUnknownScheme"}),
    "proveEligibility": Row(lambda c: [[c.proof[k] for k in ("resident", "scheme", "minPoints", "service", "nonce",
                                                             "deadline")], c.proof["signature"]], EVERYONE, ""),
}
CLEARING_ROWS = {
    "recordRedemption": Row(lambda c: [SCHEME, c.env.merchant.address, 5], RECORDER, "ClearingNotRecorder"),
    "recordRefund": Row(lambda c: [SCHEME, c.env.merchant.address, 5], RECORDER, "ClearingNotRecorder"),
    "recordExchange": Row(lambda c: [SCHEME, OTHER_SCHEME, 5], RECORDER, "ClearingNotRecorder"),
    "closePeriod": Row(lambda c: [], {"ops"}, "ClearingNotOperator"),
    "recordMerchantPayment": Row(lambda c: [1, OTHER_SCHEME, c.env.merchant.address, b"\x02" * 32],
                                 {"other_issuer"}, "ClearingNotDebtor"),
    "recordIssuerPayment": Row(lambda c: [1, SCHEME, OTHER_SCHEME, b"\x02" * 32], {"issuer"}, "ClearingNotDebtor"),
    "answerPayment": Row(lambda c: [c.merchant_statement, True, b"\x00" * 32], {"merchant"}, "ClearingNotCreditor"),
}
EXCHANGE_ROWS = {  # anyone may submit a resident's signed intent
    "exchange": Row(lambda c: [c.intent[k] for k in ("resident", "fromScheme", "toScheme", "points", "minReceived",
                                                     "nonce", "deadline", "signature")], EVERYONE, ""),
    "exchangeMany": Row(lambda c: [[tuple(c.intent[k] for k in ("resident", "fromScheme", "toScheme", "points",
                                                                 "minReceived", "nonce", "deadline", "signature"))]],
                        EVERYONE, ""),
    "setPairAllowed": Row(lambda c: [SCHEME, OTHER_SCHEME, False], GOV, G),
    "setDailyLimit": Row(lambda c: [1], GOV, G),
}
REDEMPTION_ROWS = {
    "redeem": Row(lambda c: list(c.value.redeem_fn(c.consent).args), SUBMITTERS, "RedemptionNotSubmitter"),
    "redeemMany": Row(lambda c: [[tuple(c.value.redeem_fn(c.consent).args)]], SUBMITTERS, "RedemptionNotSubmitter"),
    "refund": Row(lambda c: [*c.redemption, 10], SUBMITTERS, "RedemptionNotSubmitter"),
    "setPreferredOrder": Row(lambda c: [c.order[k] for k in ("resident", "schemes", "nonce", "deadline",
                                                             "signature")], EVERYONE, ""),
    "setRefundWindow": Row(lambda c: [60], GOV, G),
}
AUDIT_ROWS = {
    "attest": Row(lambda c: [b"\x01" * 32, b"\x02" * 32, 0, 1], {"auditor"}, "AuditAttestationsNotAuditor"),
}
TRAIL_ROWS = {
    # the entry names the relayer as actor: a relayer records for any actor, an onboarding office or an auditor only
    # its own uses (IdentityTrailActorMismatch here; tests/contracts/value/test_identity_trail.py has the rest)
    "record": Row(lambda c: [[(c.env.residents[0].address, c.env.relayer.address, 3, b"\x04" * 32)]],
                  {"onboarding", "auditor", "relayer"}, "IdentityTrailUnauthorized", {"IdentityTrailActorMismatch"}),
    "object": Row(lambda c: [[c.objection[k] for k in ("entryId", "resident", "nonce", "deadline")],
                             c.objection["signature"]], EVERYONE, ""),
}
TABLES = {"AuditAttestations": AUDIT_ROWS, "IdentityTrail": TRAIL_ROWS, "Rates": RATES_ROWS, "Clearing": CLEARING_ROWS, "Exchange": EXCHANGE_ROWS,
          "Redemption": REDEMPTION_ROWS, "SchemeRegistry": REGISTRY_ROWS}


def test_roleMatrix_coversEveryDeployedContract(session_system):
    assert set(session_system) == set(TABLES) | set(CORE_TABLES)


@pytest.mark.parametrize("contract", sorted(TABLES))
def test_valueRoleMatrix_onlyPermittedRolesPass(w3, vctx, contract):
    rows = TABLES[contract]
    functions = _state_changing(contract)
    assert functions == set(rows), f"rows missing: {functions - set(rows)}, stale rows: {set(rows) - functions}"
    problems = matrix_problems(w3, vctx.env, vctx.value.contracts[contract], rows, vctx)
    assert not problems, "\n".join(problems)
