"""The EIP-712 messages residents sign (DESIGN.md): typed-data documents that any standard wallet library
(eth-account, ethers, viem, MetaMask's eth_signTypedData_v4) signs as they are.
"""
from __future__ import annotations

DOMAIN_NAME = "CityPoints"
DOMAIN_VERSION = "1"

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

TYPES = {
    "RedemptionConsent": [
        {"name": "resident", "type": "address"},
        {"name": "merchant", "type": "address"},
        {"name": "credits", "type": "uint256"},
        {"name": "orderRef", "type": "bytes32"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
    "ExchangeIntent": [
        {"name": "resident", "type": "address"},
        {"name": "fromScheme", "type": "uint256"},
        {"name": "toScheme", "type": "uint256"},
        {"name": "points", "type": "uint256"},
        {"name": "minReceived", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
    "PreferredOrder": [
        {"name": "resident", "type": "address"},
        {"name": "schemes", "type": "uint256[]"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def typed_data(primary_type: str, chain_id: int, verifying_contract: str, message: dict) -> dict:
    """The full EIP-712 document (domain, types, primaryType, message) for `primary_type`."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN, primary_type: TYPES[primary_type]},
        "primaryType": primary_type,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": verifying_contract},
        "message": message,
    }


def sign(account, document: dict) -> bytes:
    """Sign a typed-data document with an eth-account LocalAccount; returns the 65-byte signature."""
    return bytes(account.sign_typed_data(full_message=document).signature)
