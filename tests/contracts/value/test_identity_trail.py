"""IdentityTrail: the onboarding office, auditors and relayers append uses of residents' personal data in batches
(one IdentityUsed event per entry, only a counter stored); a resident objects to an entry with a signed
TrailObjection anyone relays, once. Writes build/gas/trail.json (`citypoints bench gas`)."""
from __future__ import annotations

import json
import os

import pytest
from eth_account import Account

from ledger_node import paths
from ledger_node.domain import TRAIL_PURPOSE_CODES, TRAIL_PURPOSES
from ledger_node.typed_data import sign, typed_data

from ..helpers import expect_revert, now, send
from ..test_gas import _slots

ONBOARDING, LOOKUP = TRAIL_PURPOSE_CODES["onboarding"], TRAIL_PURPOSE_CODES["issuance-lookup"]
GAS_PER_ENTRY_LIMIT = 10_000
BATCH = 200


@pytest.fixture
def trail(value):
    return value.contracts["IdentityTrail"]


def entries(residents, actor, purpose=ONBOARDING, label="r"):
    return [(getattr(r, "address", r), actor.address, purpose, os.urandom(16) + label.encode().ljust(16, b"\0"))
            for r in residents]


def objection(w3, trail, resident, entry_id, *, signer=None, nonce=None, deadline=None):
    message = {"entryId": entry_id, "resident": resident.address, "nonce": nonce or os.urandom(32),
               "deadline": now(w3) + 600 if deadline is None else deadline}
    return message, sign(signer or resident, typed_data("TrailObjection", w3.eth.chain_id, trail.address, message))


def object_fn(trail, message, signature):
    return trail.functions.object(tuple(message.values()), signature)


def test_record_batch_emitsOneEventPerEntry_withConsecutiveIds_andTheBlockTime(w3, value, trail):
    city = value.city
    before = trail.functions.entryCount().call()
    batch = entries(city.residents[:3], city.onboarding)
    receipt = send(w3, city.onboarding, trail.functions.record(batch))
    events = trail.events.IdentityUsed().process_receipt(receipt)
    at = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert [(e["args"]["id"], e["args"]["resident"], e["args"]["actor"], e["args"]["purpose"],
             e["args"]["requestRef"], e["args"]["at"]) for e in events] == [
        (before + 1 + i, r, a, p, ref, at) for i, (r, a, p, ref) in enumerate(batch)]
    assert trail.functions.entryCount().call() == before + 3
    # a relayer records on behalf of an issuer account (the API's resident lookup)
    receipt = send(w3, city.relayer, trail.functions.record(entries(city.residents[:1], city.issuer, LOOKUP)))
    (event,) = trail.events.IdentityUsed().process_receipt(receipt)
    assert (event["args"]["id"], event["args"]["actor"], event["args"]["purpose"]) == (before + 4,
                                                                                         city.issuer.address, LOOKUP)


def test_record_gasPerEntryInABatch_isUnder10k_andOnlyTheCounterIsWritten(w3, value, trail):
    city = value.city
    residents = [Account.create().address for _ in range(BATCH)]
    send(w3, city.onboarding, trail.functions.record(entries(residents[:1], city.onboarding)))  # counter nonzero
    receipt = send(w3, city.onboarding, trail.functions.record(entries(residents, city.onboarding)))
    per_entry = receipt["gasUsed"] / BATCH
    slots = _slots(w3, receipt["transactionHash"], trail.address)[0]
    print(f"\nIdentityTrail.record: {receipt['gasUsed']} gas for {BATCH} entries = {per_entry:.0f} gas per entry; "
          f"{slots} storage slot(s) written")
    assert per_entry <= GAS_PER_ENTRY_LIMIT
    assert slots == 1
    single = send(w3, city.onboarding, trail.functions.record(entries(residents[:1], city.onboarding)))
    out = paths.ROOT / "build" / "gas"
    out.mkdir(parents=True, exist_ok=True)
    (out / "trail.json").write_text(json.dumps({"recordBatch": BATCH, "recordBatchGas": receipt["gasUsed"],
                                                "gasPerEntry": round(per_entry), "recordOneGas": single["gasUsed"],
                                                "slotsWritten": slots}, indent=2))


def test_record_refusesNonActors_badEntries_andOthersUses(w3, value, trail):
    city = value.city
    r = city.residents[0].address
    for stranger in (city.merchant, city.issuer, city.member):  # an issuer account appends through the relayer
        expect_revert(w3, stranger, trail.functions.record(entries([r], stranger)), "IdentityTrailUnauthorized",
                      (stranger.address,))
    expect_revert(w3, city.onboarding, trail.functions.record([]), "IdentityTrailInvalidBatch", (0, 256))
    expect_revert(w3, city.onboarding, trail.functions.record(entries([r] * 257, city.onboarding)),
                  "IdentityTrailInvalidBatch", (257, 256))
    ok = entries([r], city.onboarding)[0]
    expect_revert(w3, city.onboarding, trail.functions.record([ok, ("0x" + "00" * 20, *ok[1:])]),
                  "IdentityTrailZeroAddress", (1,))
    for bad in (0, max(TRAIL_PURPOSES) + 1):
        expect_revert(w3, city.onboarding, trail.functions.record([(r, ok[1], bad, ok[3])]),
                      "IdentityTrailUnknownPurpose", (0, bad))
    # the onboarding office and auditors record only their own uses
    expect_revert(w3, city.auditor, trail.functions.record(entries([r], city.onboarding)),
                  "IdentityTrailActorMismatch", (0, city.onboarding.address, city.auditor.address))
    assert send(w3, city.auditor, trail.functions.record(entries([r], city.auditor, TRAIL_PURPOSE_CODES[
        "legal-request"])))["status"] == 1


def test_object_once_bySignature_anyoneRelays_replayAndForgeryRefused(w3, value, trail):
    city = value.city
    resident = city.residents[1]
    send(w3, city.onboarding, trail.functions.record(entries([resident, resident], city.onboarding)))
    entry_id = trail.functions.entryCount().call()  # the second of the two
    message, signature = objection(w3, trail, resident, entry_id)
    stranger = Account.create()
    # forged: another key signs for the resident
    forged = objection(w3, trail, resident, entry_id, signer=stranger, nonce=message["nonce"])
    expect_revert(w3, city.relayer, object_fn(trail, *forged), "IdentityTrailInvalidSignature", (resident.address,))
    # altered after signing: the signature no longer matches
    expect_revert(w3, city.relayer, object_fn(trail, {**message, "entryId": entry_id - 1}, signature),
                  "IdentityTrailInvalidSignature")
    expect_revert(w3, city.relayer, object_fn(trail, {**message, "entryId": entry_id + 1000}, signature),
                  "IdentityTrailUnknownEntry", (entry_id + 1000,))
    expired = objection(w3, trail, resident, entry_id, deadline=now(w3) - 1)
    expect_revert(w3, city.relayer, object_fn(trail, *expired), "IdentityTrailObjectionExpired")
    assert not trail.functions.objectionNonceUsed(resident.address, message["nonce"]).call()
    receipt = send(w3, city.merchant, object_fn(trail, message, signature))  # anyone relays
    (event,) = trail.events.UseObjected().process_receipt(receipt)
    assert dict(event["args"]) == {"entryId": entry_id, "resident": resident.address,
                                   "submitter": city.merchant.address, "nonce": message["nonce"]}
    assert trail.functions.objectionNonceUsed(resident.address, message["nonce"]).call()
    expect_revert(w3, city.relayer, object_fn(trail, message, signature), "IdentityTrailObjectionUsed",
                  (resident.address, message["nonce"]))


def test_objectionDigest_isTheTypedDataOfTheWallets(w3, value, trail):
    from ledger_node.typed_data import digest
    message, _ = objection(w3, trail, value.city.residents[0], 1)
    assert trail.functions.objectionDigest(tuple(message.values())).call() == digest(
        "TrailObjection", w3.eth.chain_id, trail.address, message)
