"""Consents (with their plan, an array of Part structs) and intents signed by standard EIP-712 libraries from raw
typed-data JSON (eth-account, and ethers as the wallet page signs) are the same bytes and verify on chain."""
import json
import os
import shutil
import subprocess

from eth_account import Account

from ledger_node import paths
from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import now, send
from .conftest import RATE_2, START_1, START_2


# The wallet page signs with ethers (exchange_api/wallet/src/views/pay.js: BaseWallet.signTypedData with the types
# the API sent, EIP712Domain left out); run here from node_modules as the page bundles it.
ETHERS_SIGN = """
const { Wallet } = require('ethers');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const { EIP712Domain, ...types } = input.doc.types;
new Wallet(input.key).signTypedData(input.doc.domain, types, input.doc.message).then((s) => console.log(s));
"""


def _ethers_signature(key: bytes, doc: dict) -> bytes:
    node = shutil.which("node")
    assert node, "node is needed to sign as the wallet page does (ethers from node_modules)"
    out = subprocess.run([node, "-e", ETHERS_SIGN], input=json.dumps({"key": "0x" + bytes(key).hex(), "doc": doc}),
                         capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    return bytes.fromhex(out.stdout.strip()[2:])


def _consent_json(w3, value, resident, parts: list[tuple[int, int, int]], nonce: str) -> str:
    """A RedemptionConsent document as raw JSON, as the API sends it to the wallet (numbers as decimal strings)."""
    return json.dumps({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "RedemptionConsent": [{"name": "resident", "type": "address"}, {"name": "merchant", "type": "address"},
                                  {"name": "credits", "type": "uint256"}, {"name": "parts", "type": "Part[]"},
                                  {"name": "orderRef", "type": "bytes32"}, {"name": "nonce", "type": "bytes32"},
                                  {"name": "deadline", "type": "uint256"}],
            "Part": [{"name": "scheme", "type": "uint256"}, {"name": "points", "type": "uint256"},
                     {"name": "credits", "type": "uint256"}],
        },
        "primaryType": "RedemptionConsent",
        "domain": {"name": "CityPoints", "version": "1", "chainId": w3.eth.chain_id,
                   "verifyingContract": value.redemption.address},
        "message": {"resident": resident.address, "merchant": value.city.merchant.address,
                    "credits": str(sum(c for _, _, c in parts)),
                    "parts": [{"scheme": str(s), "points": str(p), "credits": str(c)} for s, p, c in parts],
                    "orderRef": "0x" + "ab" * 32, "nonce": nonce, "deadline": str(now(w3) + 600)},
    })


def test_redemptionConsent_withItsPlan_signedFromRawTypedDataJsonByEthAccountAndEthers_isAccepted(w3, value):
    resident = value.city.residents[2]
    nonce = "0x" + os.urandom(32).hex()
    # two parts: 25 volunteer points pay 250 cents; 3 traffic points (99.999999 cents) pay 99, the rest is change
    parts = [(SCHEME, 25, 250), (OTHER_SCHEME, 3, 99)]
    raw = _consent_json(w3, value, resident, parts, nonce)
    signed = bytes(Account.sign_typed_data(resident.key, full_message=json.loads(raw)).signature)
    assert _ethers_signature(resident.key, json.loads(raw)) == signed  # the wallet page's library, byte for byte
    m = json.loads(raw)["message"]
    ours = typed_data("RedemptionConsent", w3.eth.chain_id, value.redemption.address,
                      {**m, "credits": 349, "parts": [{"scheme": s, "points": p, "credits": c} for s, p, c in parts],
                       "orderRef": bytes.fromhex("ab" * 32), "nonce": bytes.fromhex(nonce[2:]),
                       "deadline": int(m["deadline"])})
    assert sign(resident, ours) == signed  # and the service's own document
    # the same plan with its parts the other way round is another document: another signature
    swapped = _consent_json(w3, value, resident, parts[::-1], nonce)
    assert _ethers_signature(resident.key, json.loads(swapped)) != signed
    send(w3, value.city.merchant, value.redemption.functions.redeem(
        (m["resident"], m["merchant"], 349, parts, bytes.fromhex("ab" * 32), bytes.fromhex(nonce[2:]),
         int(m["deadline"])), signed))
    assert value.balances(resident) == (START_1 - 25, START_2 - 3)
    assert value.change(resident, OTHER_SCHEME) == 3 * RATE_2 - 99 * 10**6


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
                    "minReceived": 8, "nonce": "0x" + value.exchange_nonce(resident).hex(), "deadline": now(w3) + 600},
    }
    signature = Account.sign_typed_data(resident.key, full_message=doc).signature
    assert _ethers_signature(resident.key, doc) == bytes(signature)
    m = doc["message"]
    send(w3, value.city.relayer, value.exchange.functions.exchange(
        m["resident"], SCHEME, OTHER_SCHEME, 30, 8, bytes.fromhex(m["nonce"][2:]), m["deadline"], signature))
    assert value.balances(resident)[0] == START_1 - 30


def test_eip712Domain_returnsTheDesignDomain(w3, value):
    for contract in (value.redemption, value.exchange):
        fields, name, version, chain_id, verifying, salt, extensions = contract.functions.eip712Domain().call()
        assert (fields, name, version, chain_id, verifying) == (b"\x0f", "CityPoints", "1", w3.eth.chain_id,
                                                                  contract.address)
        assert salt == b"\x00" * 32 and extensions == []
