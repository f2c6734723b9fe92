"""Points for people who have not joined yet (issue 23): an issuer credits a person by the keyed identity hash; the
points are held on chain under it, at an account no one has a key of, and move to the person's own account in the
step that registers them. test_<function>_<outcome>."""
from __future__ import annotations

from eth_account import Account

from .conftest import CAP, OTHER_SCHEME, SCHEME
from .helpers import expect_revert, identity, ref, send, send_impersonated

ZERO = "0x" + "00" * 20


def _held(env, h: bytes) -> str:
    return env.ledger.functions.heldAccountOf(h).call()


def _issue(w3, env, issuer, scheme, hashes, amounts, refs, reasons=()):
    return send(w3, issuer, env.ledger.functions.issueToIdentities(scheme, 0, hashes, amounts, refs, list(reasons)))


def test_issueToIdentities_holdsForAPersonNotJoined_andRegistrationMovesItToTheirAccount(w3, env):
    h = identity("not-joined-yet")
    held = _held(env, h)
    receipt = _issue(w3, env, env.issuer, SCHEME, [h, h], [30, 12], [ref("h1"), ref("h2")], [7, 7])
    opened = env.ledger.events.HoldingOpened().process_receipt(receipt)
    assert [(e["args"]["identityHash"], e["args"]["heldAccount"]) for e in opened] == [(h, held)]
    _issue(w3, env, env.other_issuer, OTHER_SCHEME, [h], [5], [ref("h3")])
    assert env.ledger.functions.balanceOf(held, SCHEME).call() == 42
    assert env.ledger.functions.balanceOf(held, OTHER_SCHEME).call() == 5
    assert env.ledger.functions.heldIdentityOf(held).call() == h
    assert not env.membership.functions.isResident(held).call()  # held, not a resident: nobody can sign for it

    person = Account.create().address
    receipt = send(w3, env.onboarding, env.membership.functions.registerResident(person, h))
    claimed = env.ledger.events.HoldingClaimed().process_receipt(receipt)
    assert [(e["args"]["heldAccount"], e["args"]["account"]) for e in claimed] == [(held, person)]
    moved = {e["args"]["scheme"]: e["args"]["balance"] for e in env.ledger.events.AccountMoved().process_receipt(receipt)}
    assert moved == {SCHEME: 42, OTHER_SCHEME: 5}
    assert env.ledger.functions.balanceOf(person, SCHEME).call() == 42
    assert env.ledger.functions.balanceOf(person, OTHER_SCHEME).call() == 5
    assert env.ledger.functions.balanceOf(held, SCHEME).call() == 0
    assert env.ledger.functions.heldIdentityOf(held).call() == b"\x00" * 32

    # once joined, the same identity's issuance goes to the account itself, and no holding opens again
    receipt = _issue(w3, env, env.issuer, SCHEME, [h], [8], [ref("h4")])
    assert env.ledger.events.HoldingOpened().process_receipt(receipt) == ()
    assert env.ledger.functions.balanceOf(person, SCHEME).call() == 50
    assert env.ledger.functions.balanceOf(held, SCHEME).call() == 0


def test_issueToIdentities_toAJoinedIdentity_creditsItsAccount(w3, env):
    resident = env.residents[2].address
    before = env.ledger.functions.balanceOf(resident, SCHEME).call()
    receipt = _issue(w3, env, env.issuer, SCHEME, [identity(resident)], [9], [ref("j1")])
    assert env.ledger.events.HoldingOpened().process_receipt(receipt) == ()
    assert env.ledger.functions.balanceOf(resident, SCHEME).call() == before + 9


def test_issueToIdentities_keepsRefsQuotaAndTheDailyCap(w3, env):
    h = identity("capped-person")
    held = _held(env, h)
    receipt = _issue(w3, env, env.issuer, SCHEME, [h, h], [10, 10], [ref("c1"), ref("c1")])
    assert list(env.ledger.events.PointsIssued().process_receipt(receipt)[0]["args"]["skipped"]) == [1]
    expect_revert(w3, env.issuer, env.ledger.functions.issueToIdentities(SCHEME, 0, [h], [CAP], [ref("c2")], []),
                  "PointsLedgerResidentDailyCapExceeded")
    assert env.ledger.functions.balanceOf(held, SCHEME).call() == 10


def test_issueToIdentities_refusesAZeroHashAStrangerAndUnevenReasons_changingNothing(w3, env):
    h = identity("refused-person")
    held = _held(env, h)
    expect_revert(w3, env.issuer, env.ledger.functions.issueToIdentities(
        SCHEME, 0, [h, b"\x00" * 32], [1, 1], [ref("z1"), ref("z2")], []), "PointsLedgerZeroIdentity", (1,))
    expect_revert(w3, env.stranger, env.ledger.functions.issueToIdentities(SCHEME, 0, [h], [1], [ref("z3")], []),
                  "PointsLedgerNotIssuer")
    expect_revert(w3, env.issuer, env.ledger.functions.issueToIdentities(SCHEME, 0, [h], [1], [ref("z4")], [1, 2]),
                  "PointsLedgerLengthMismatch")
    assert env.ledger.functions.heldIdentityOf(held).call() == b"\x00" * 32
    assert env.ledger.functions.balanceOf(held, SCHEME).call() == 0


def test_claimHolding_onlyMembershipMovesAHolding(w3, env):
    h = identity("guarded-person")
    _issue(w3, env, env.issuer, SCHEME, [h], [4], [ref("g1")])
    expect_revert(w3, env.stranger, env.ledger.functions.claimHolding(h, env.stranger.address),
                  "PointsLedgerNotMembership", (env.stranger.address,))
    assert env.ledger.functions.balanceOf(_held(env, h), SCHEME).call() == 4


def test_registerResident_withNothingHeld_claimsNothing(w3, env):
    person = Account.create().address
    receipt = send(w3, env.onboarding, env.membership.functions.registerResident(person, identity("nothing-held")))
    assert env.ledger.events.HoldingClaimed().process_receipt(receipt) == ()
    assert env.ledger.events.AccountMoved().process_receipt(receipt) == ()


def test_heldPoints_moveEvenWhileTheLedgerIsPaused(w3, env):
    """Registration is not a spend: a ledger-wide pause stops balances changing hands, not a person joining."""
    h = identity("joins-during-pause")
    _issue(w3, env, env.issuer, SCHEME, [h], [6], [ref("p1")])
    send_impersonated(w3, env.consortium.address, env.ledger.functions.pauseAll())
    person = Account.create().address
    send(w3, env.onboarding, env.membership.functions.registerResident(person, h))
    assert env.ledger.functions.balanceOf(person, SCHEME).call() == 6
    assert env.ledger.functions.heldAccountOf(h).call() != ZERO
