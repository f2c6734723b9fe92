"""The service checks residents' signatures over a directly computed EIP-712 digest: it must be the digest
eth-account computes from the typed-data document (what wallets sign), and recovery must name the signer."""
from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from hypothesis import given, settings, strategies as st

from ledger_node.typed_data import TYPES, digest, recover, sign, typed_data

CONTRACT = "0x" + "5a" * 20


def _messages(resident: str) -> list[tuple[str, dict]]:
    return [
        ("RedemptionConsent", {"resident": resident, "merchant": Account.create().address, "credits": 12_345,
                               "parts": [{"scheme": 2, "points": 300, "credits": 10_000},
                                         {"scheme": 2**200, "points": 0, "credits": 2_345}],
                               "orderRef": os.urandom(32), "nonce": "0x" + os.urandom(32).hex(),
                               "deadline": 2**40}),
        ("ExchangeIntent", {"resident": resident, "fromScheme": 1, "toScheme": 2**200, "points": 7,
                            "minReceived": 0, "nonce": os.urandom(32), "deadline": 1}),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["RedemptionConsent", "ExchangeIntent"])
def test_digest_equalsEthAccountsAndRecoversTheSigner(index):
    resident = Account.create()
    primary, message = _messages(resident.address)[index]
    document = typed_data(primary, 7007, CONTRACT, message)
    signable = encode_typed_data(full_message=document)
    assert digest(primary, 7007, CONTRACT, message) == keccak(b"\x19" + signable.version + signable.header
                                                              + signable.body)
    assert recover(digest(primary, 7007, CONTRACT, message), sign(resident, document)) == resident.address
    other = typed_data(primary, 7008, CONTRACT, message)  # another chain: another digest, another signer
    assert recover(digest(primary, 7007, CONTRACT, message), sign(resident, other)) != resident.address


def test_recover_malformedSignature_raisesValueError():
    with pytest.raises(ValueError):
        recover(b"\x00" * 32, b"\x01" * 64)
    with pytest.raises(ValueError):
        recover(b"\x00" * 32, b"\x01" * 64 + bytes([30]))


def _field(typ: str) -> st.SearchStrategy:
    if typ.endswith("[]"):
        return st.lists(_field(typ[:-2]), max_size=3)
    if typ in TYPES:
        return st.fixed_dictionaries({f["name"]: _field(f["type"]) for f in TYPES[typ]})
    if typ == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: Account.create().address if b[0] % 2 else
                                                       "0x" + b.hex())
    if typ == "bytes32":
        return st.binary(min_size=32, max_size=32)
    if typ.startswith("uint"):
        return st.integers(min_value=0, max_value=2 ** int(typ[4:]) - 1)
    raise AssertionError(f"no strategy for {typ}")


@pytest.mark.parametrize("primary", sorted(TYPES))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_digest_equalsEthAccounts_forEveryTypeSigned(primary, data):
    message = data.draw(_field(primary))
    signable = encode_typed_data(full_message=typed_data(primary, 7007, CONTRACT, message))
    assert digest(primary, 7007, CONTRACT, message) == keccak(b"\x19" + signable.version + signable.header
                                                              + signable.body)
