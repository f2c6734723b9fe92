"""Consents and intents signed by a standard EIP-712 library, from raw typed-data JSON, verify on chain."""
import json
import os

from eth_account import Account

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import now, send
from .conftest import START_1


def test_redemptionConsent_signedFromRawTypedDataJson_isAccepted(w3, value):
    resident = value.city.residents[2]
    nonce = "0x" + os.urandom(32).hex()
    raw = json.dumps({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "RedemptionConsent": [{"name": "resident", "type": "address"}, {"name": "merchant", "type": "address"},
                                  {"name": "credits", "type": "uint256"}, {"name": "orderRef", "type": "bytes32"},
                                  {"name": "nonce", "type": "bytes32"}, {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": "RedemptionConsent",
        "domain": {"name": "CityPoints", "version": "1", "chainId": w3.eth.chain_id,
                   "verifyingContract": value.redemption.address},
        "message": {"resident": resident.address, "merchant": value.city.merchant.address, "credits": 250,
                    "orderRef": "0x" + "ab" * 32, "nonce": nonce, "deadline": now(w3) + 600},
    })
    signed = Account.sign_typed_data(resident.key, full_message=json.loads(raw))
    m = json.loads(raw)["message"]
    send(w3, value.city.merchant, value.redemption.functions.redeem(
        m["resident"], m["merchant"], m["credits"], bytes.fromhex(m["orderRef"][2:]), bytes.fromhex(nonce[2:]),
        m["deadline"], signed.signature))
    assert value.balances(resident)[0] == START_1 - 25


def test_exchangeIntent_signedFromRawTypedDataJson_isAccepted(w3, value):
    resident = value.city.residents[3]
    doc = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "ExchangeIntent": [{"name": "resident", "type": "address"}, {"name": "fromScheme", "type": "uint256"},
                               {"name": "toScheme", "type": "uint256"}, {"name": "points", "type": "uint256"},
                               {"name": "minReceived", "type": "uint256"}, {"name": "nonce", "type": "bytes32"},
                               {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": "ExchangeIntent",
        "domain": {"name": "CityPoints", "version": "1", "chainId": w3.eth.chain_id,
                   "verifyingContract": value.exchange.address},
        "message": {"resident": resident.address, "fromScheme": SCHEME, "toScheme": OTHER_SCHEME, "points": 30,
                    "minReceived": 8, "nonce": "0x" + "cd" * 32, "deadline": now(w3) + 600},
    }
    signature = Account.sign_typed_data(resident.key, full_message=doc).signature
    m = doc["message"]
    send(w3, value.city.relayer, value.exchange.functions.exchange(
        m["resident"], SCHEME, OTHER_SCHEME, 30, 8, b"\xcd" * 32, m["deadline"], signature))
    assert value.balances(resident)[0] == START_1 - 30


def test_eip712Domain_returnsTheDesignDomain(w3, value):
    for contract in (value.redemption, value.exchange):
        fields, name, version, chain_id, verifying, salt, extensions = contract.functions.eip712Domain().call()
        assert (fields, name, version, chain_id, verifying) == (b"\x0f", "CityPoints", "1", w3.eth.chain_id,
                                                                  contract.address)
        assert salt == b"\x00" * 32 and extensions == []
