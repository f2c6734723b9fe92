"""QBFT extraData: Besu's documented vector, and the generated genesis decoded by the independent `rlp` package."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
from eth_utils import to_checksum_address

from ledger_node.consortium import errors as E
from ledger_node.consortium.description import load_description
from ledger_node.consortium.errors import ConsortiumError
from ledger_node.consortium.extradata import decode_qbft_extra_data, encode_qbft_extra_data
from ledger_node.consortium.generate import generate_network

EXAMPLE = Path(__file__).resolve().parents[2] / "ledger_node" / "consortium" / "example-consortium.yaml"

# Besu docs, QBFT "Generate extra data": `besu rlp encode --type=QBFT_EXTRA_DATA` of these four
# validators (in this order) gives exactly this string.
# https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#extra-data
DOCS_VALIDATORS = [
    "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
    "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
    "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
    "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
]
DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08"
    "b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b"
    "8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0"
)
# The genesis example on the same page (block header validator selection).
DOCS_GENESIS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297"
    "a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6"
    "d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0"
)


def test_matches_besu_documented_vector():
    assert encode_qbft_extra_data(DOCS_VALIDATORS) == DOCS_EXTRA_DATA


def test_decodes_besu_documented_genesis():
    decoded = decode_qbft_extra_data(DOCS_GENESIS_EXTRA_DATA)
    assert decoded.vanity == b"\x00" * 32 and decoded.vote is None and decoded.round == 0 and decoded.seals == ()
    assert [v.lower() for v in decoded.validators] == [
        "0x64a702e6263b7297a96638cac6ae65e6541f4169", "0x3923390ad55e90c237593b3b0e401f3b08a03185",
        "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692", "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78"]
    assert encode_qbft_extra_data(list(decoded.validators)) == DOCS_GENESIS_EXTRA_DATA


def test_generated_genesis_holds_exactly_the_generated_validators(tmp_path):
    consortium = load_description(EXAMPLE)
    generate_network(consortium, tmp_path)
    genesis = json.loads((tmp_path / "genesis.json").read_text())

    # Independent decode: the `rlp` package, not our codec.
    items = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert len(items) == 5
    vanity, validators, vote, round_, seals = items
    assert vanity == b"\x00" * 32
    assert vote == [] and round_ == b"" and seals == []  # QBFT: round is a scalar, 0 -> 0x80

    # Expected: the addresses of the key files the run wrote, derived here from the private keys.
    from eth_keys import keys

    expected = set()
    for node in consortium.validators:
        private = bytes.fromhex((tmp_path / node.name / "key").read_text().strip()[2:])
        expected.add(keys.PrivateKey(private).public_key.to_checksum_address())
    got = [to_checksum_address(v) for v in validators]
    assert set(got) == expected and len(got) == len(expected) == 7
    assert got == sorted(got, key=lambda a: bytes.fromhex(a[2:])), "validators in ascending order"
    non_validator = (tmp_path / "api-gateway" / "address").read_text().strip()
    assert non_validator not in got


def test_roundtrip_and_duplicates():
    addrs = [to_checksum_address("0x" + f"{i:02x}" * 20) for i in range(1, 9)]
    assert list(decode_qbft_extra_data(encode_qbft_extra_data(addrs)).validators) == addrs
    with pytest.raises(ConsortiumError) as info:
        encode_qbft_extra_data([addrs[0], addrs[0]])
    assert info.value.code == E.EXTRADATA_INVALID


@pytest.mark.parametrize("bad", [
    "0x",
    "zz",
    DOCS_EXTRA_DATA + "00",  # trailing bytes
    # IBFT 2.0 style: round as 4 fixed bytes (0x8400000000) is not QBFT
    "0x" + rlp.encode([b"\x00" * 32, [b"\x11" * 20], [], b"\x00\x00\x00\x00", []]).hex(),
    "0x" + rlp.encode([b"\x00" * 31, [], [], b"", []]).hex(),  # short vanity
    "0x" + rlp.encode([b"\x00" * 32, [b"\x11" * 19], [], b"", []]).hex(),  # short address
])
def test_decoder_rejects_malformed(bad):
    with pytest.raises(ConsortiumError) as info:
        decode_qbft_extra_data(bad)
    assert info.value.code == E.EXTRADATA_INVALID


def test_decoder_reads_votes():
    add = rlp.encode([b"\x00" * 32, [b"\x11" * 20], [b"\x22" * 20, b"\xff"], b"\x01", [b"\x33" * 65]])
    drop = rlp.encode([b"\x00" * 32, [b"\x11" * 20], [b"\x22" * 20, b""], b"", []])
    a = decode_qbft_extra_data(add)
    assert a.vote == (to_checksum_address(b"\x22" * 20), True) and a.round == 1 and len(a.seals) == 1
    assert decode_qbft_extra_data(drop).vote == (to_checksum_address(b"\x22" * 20), False)
