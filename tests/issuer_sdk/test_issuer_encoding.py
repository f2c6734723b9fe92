"""The fast path is byte-equal to web3 / eth-account: calldata, signing hash, signature, raw transaction."""
from __future__ import annotations

import os

import pytest
import rlp
from eth_account import Account
from eth_keys import keys
from hypothesis import given, settings, strategies as st
from web3 import Web3

from issuer_sdk.encoding import FastFunction, UnsignedTx, tx_hash, word_address
from issuer_sdk.ledger import Issuance, LedgerCodec, item_words, load_abi, reason_word
from issuer_sdk.refs import RefHasher
from issuer_sdk.signer import LocalSigner, sign_tx
from ledger_node.rlp_encoding import encode as rlp_encode

ABI = load_abi()
LEDGER = Web3().eth.contract(address=Web3.to_checksum_address("0x" + "ab" * 20), abi=ABI)
CODEC = LedgerCodec(ABI)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: Web3.to_checksum_address(b))
amounts = st.integers(min_value=1, max_value=2**96 - 1)
refs32 = st.binary(min_size=32, max_size=32)
reasons = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**256 - 1),
       st.lists(st.tuples(addresses, amounts, refs32, reasons), min_size=0, max_size=40))
def test_issueBatch_calldataEqualsWeb3(scheme, rows):
    residents = [r[0] for r in rows]
    amts = [r[1] for r in rows]
    refs = [r[2] for r in rows]
    codes = [r[3] for r in rows]
    words = [item_words(Issuance(a, n, None), f) for a, n, f in zip(residents, amts, refs)]
    columns = [list(c) for c in zip(*words)] if words else [[], [], []]
    expected = bytes.fromhex(LEDGER.encode_abi("issueBatch", [scheme, residents, amts, refs])[2:])
    assert CODEC.batch_data(scheme, *columns, None) == expected
    assert CODEC.batch_fn.encode(scheme, residents, amts, refs) == expected
    expected_r = bytes.fromhex(LEDGER.encode_abi("issueBatchWithReason", [scheme, residents, amts, refs, codes])[2:])
    assert CODEC.batch_data(scheme, *columns, [reason_word(c) for c in codes]) == expected_r


@settings(max_examples=30, deadline=None)
@given(addresses, amounts, refs32, reasons)
def test_singleCalls_calldataEqualsWeb3(resident, amount, ref, reason):
    web3_of = lambda fn, *a: bytes.fromhex(LEDGER.encode_abi(fn, list(a))[2:])  # noqa: E731
    assert CODEC.issue_data(1, resident, amount, ref, None) == web3_of("issue", 1, resident, amount, ref)
    assert CODEC.issue_data(1, resident, amount, ref, reason) == web3_of("issueWithReason", 1, resident, amount, ref,
                                                                        reason)
    assert CODEC.revoke_data(4, resident, amount, ref, reason) == web3_of("revoke", 4, resident, amount, ref, reason)
    assert CODEC.ref_state_fn.encode(2, ref) == web3_of("refState", 2, ref)


def test_fastFunction_refusesTypesItCannotEncode():
    with pytest.raises(ValueError):
        FastFunction.from_types("f", ["string"])
    with pytest.raises(ValueError):
        CODEC.issue_fn.encode(1, "0x" + "11" * 20, -1, b"\x00" * 32)


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.integers(min_value=0, max_value=2**64 - 1),
       st.integers(min_value=21_000, max_value=100_000_000))
def test_signedTransaction_equalsEthAccount(data, nonce, gas):
    account = Account.create()
    tx = UnsignedTx(7007, nonce, gas, bytes.fromhex("ab" * 20), data)
    raw = sign_tx(LocalSigner(bytes(account.key)), tx)
    expected = account.sign_transaction(tx.as_dict())
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash(raw) == "0x" + bytes(expected.hash).hex()


rlp_items = st.recursive(st.integers(min_value=0, max_value=2**300) | st.binary(max_size=80),
                         lambda inner: st.lists(inner, max_size=6), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(rlp_items)
def test_rlpEncode_equalsThePyrlpPackage(item):
    assert rlp_encode(item) == rlp.encode(item)


def test_localSigner_equalsEthKeys():
    for _ in range(200):
        key, digest = os.urandom(32), os.urandom(32)
        sig = keys.PrivateKey(key).sign_msg_hash(digest)
        assert LocalSigner(key).sign_hash(digest) == (sig.v, sig.r, sig.s)
        assert LocalSigner("0x" + key.hex()).address == keys.PrivateKey(key).public_key.to_checksum_address()


@settings(max_examples=50, deadline=None)
@given(addresses, st.integers(min_value=2, max_value=41))
def test_addressChecksum_acceptsWhatEthUtilsAccepts(address, flip):
    """A resident's hex is refused exactly when its mixed case is not the EIP-55 checksum."""
    typo = address[:flip] + address[flip].swapcase() + address[flip + 1:]
    body = typo[2:]
    valid = body in (body.lower(), body.upper()) or Web3.to_checksum_address(typo) == typo
    assert word_address(address) == bytes(12) + bytes.fromhex(address[2:])
    if valid:
        assert word_address(typo) == word_address(address)
    else:
        with pytest.raises(ValueError):
            word_address(typo)


def test_refHasher_isKeccakOfSaltAndRef():
    from eth_hash.auto import keccak

    salt = bytes(range(32))
    assert RefHasher(salt)("shift-1") == keccak(salt + b"shift-1")
    assert RefHasher("0x" + salt.hex())(42) == keccak(salt + b"42")
    assert RefHasher(salt)("a") != RefHasher(bytes(32))("a")
