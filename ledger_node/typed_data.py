"""The EIP-712 messages residents and consortium members sign (docs/DESIGN.md): typed-data documents that any standard wallet library
(eth-account, ethers, viem, MetaMask's eth_signTypedData_v4) signs as they are.
"""
from __future__ import annotations

from functools import lru_cache

from eth_hash.auto import keccak as _keccak

DOMAIN_NAME = "CityPoints"
DOMAIN_VERSION = "1"

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

TYPES = {
    # The plan is signed with the price (IRedemption: exact change): the chain takes exactly these parts.
    "RedemptionConsent": [
        {"name": "resident", "type": "address"},
        {"name": "merchant", "type": "address"},
        {"name": "credits", "type": "uint256"},
        {"name": "parts", "type": "Part[]"},
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
    "Part": [
        {"name": "scheme", "type": "uint256"},
        {"name": "points", "type": "uint256"},
        {"name": "credits", "type": "uint256"},
    ],
    # Signed by the OLD key of a resident whose recovery is pending (verifying contract: Membership). `nonce` is
    # the pending request's (Membership.pendingRecovery(account).nonce), so it cannot be replayed on a later one.
    "RecoveryObjection": [
        {"name": "account", "type": "address"},
        {"name": "newAccount", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    # Signed by a resident who does not recognise a use of their personal data (verifying contract: IdentityTrail,
    # `object`): entry `entryId` of the trail, used once (nonce) until deadline.
    "TrailObjection": [
        {"name": "entryId", "type": "uint256"},
        {"name": "resident", "type": "address"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
    # Signed to the API, not a contract (exchange_api/services/residents.py): the resident's login, which lets
    # them read their own open payment requests. Verifying contract: Membership.
    "ResidentLogin": [
        {"name": "resident", "type": "address"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ],
    # Signed by a consortium member (verifying contract: Consortium, `approveBySig`): `callsHash` is
    # Consortium.proposalCallsHash(proposalId) = calls_hash(the proposal's calls), so the approval binds the
    # proposal's content, not only its number.
    # Signed by a resident for one service (verifying contract: SchemeRegistry, `proveEligibility`): "I hold at
    # least minPoints of scheme", used once (nonce) until deadline.
    "EligibilityProof": [
        {"name": "resident", "type": "address"},
        {"name": "scheme", "type": "uint256"},
        {"name": "minPoints", "type": "uint256"},
        {"name": "service", "type": "address"},
        {"name": "nonce", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
    "ProposalApproval": [
        {"name": "proposalId", "type": "uint256"},
        {"name": "callsHash", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def _struct_types(primary_type: str) -> list[str]:
    """The struct types `primary_type` refers to (here one level deep: RedemptionConsent's Part), sorted."""
    return sorted({f["type"][:-2] for f in TYPES[primary_type] if f["type"].endswith("[]") and f["type"][:-2] in TYPES})


def calls_hash(calls) -> bytes:
    """keccak256(abi.encode(calls)) of a proposal's calls, each (target address, data bytes): what
    Consortium.proposalCallsHash holds and a ProposalApproval signs."""
    from eth_abi import encode
    norm = [(checksum(t), bytes.fromhex(d[2:]) if isinstance(d, str) else bytes(d)) for t, d in calls]
    return _keccak(encode(["(address,bytes)[]"], [norm]))


def typed_data(primary_type: str, chain_id: int, verifying_contract: str, message: dict) -> dict:
    """The full EIP-712 document (domain, types, primaryType, message) for `primary_type`."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN, primary_type: TYPES[primary_type],
                  **{name: TYPES[name] for name in _struct_types(primary_type)}},
        "primaryType": primary_type,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": verifying_contract},
        "message": message,
    }


def sign(account, document: dict) -> bytes:
    """Sign a typed-data document with an eth-account LocalAccount; returns the 65-byte signature."""
    return bytes(account.sign_typed_data(full_message=document).signature)


def digest(primary_type: str, chain_id: int, verifying_contract: str, message: dict) -> bytes:
    """The EIP-712 hash a wallet signs for a message of this module's TYPES (static fields, arrays of them and of flat
    structs: RedemptionConsent with its Part[]): the same bytes as eth-account's generic encoder, at a small
    fraction of its cost (a service checks hundreds of signatures a second). Each type's encoding is built once."""
    return _keccak(b"\x19\x01" + _domain_separator(chain_id, verifying_contract.lower())
                   + _struct_hash(primary_type)(message))


def recover(digest_: bytes, signature: bytes) -> str:
    """The checksummed address that signed `digest_` (65 bytes r || s || v, v 27/28 or 0/1); ValueError if none."""
    import coincurve
    if len(signature) != 65:
        raise ValueError("a signature is 65 bytes")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1):
        raise ValueError("bad recovery id")
    public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest_, hasher=None)
    return checksum("0x" + _keccak(public.format(compressed=False)[1:])[-20:].hex())


@lru_cache(maxsize=1 << 16)
def checksum(address: str) -> str:
    """EIP-55 form, cached: the same few thousand accounts sign and appear in event after event."""
    from eth_utils import to_checksum_address
    return to_checksum_address(address)


@lru_cache(maxsize=None)
def _struct_hash(name: str):
    """message -> hashStruct(message) of type `name`: its fields' encoders, chosen once."""
    type_hash = _type_hash(name)
    fields = [(f["name"], _field_encoder(f["type"])) for f in TYPES[name]]

    def hash_struct(message: dict) -> bytes:
        return _keccak(type_hash + b"".join(encode(message[field]) for field, encode in fields))
    return hash_struct


def _field_encoder(typ: str):
    if typ.endswith("[]"):  # the hash of its items' encodings (a struct's: its struct hash)
        item = _struct_hash(typ[:-2]) if typ[:-2] in TYPES else _field_encoder(typ[:-2])
        return lambda items: _keccak(b"".join(item(x) for x in items))
    if typ == "address":
        return lambda value: bytes(12) + (bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value))
    if typ == "bytes32":
        def bytes32(value) -> bytes:
            raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
            if len(raw) != 32:
                raise ValueError("a bytes32 field needs 32 bytes")
            return raw
        return bytes32
    if typ.startswith("uint"):
        return lambda value: int(value).to_bytes(32, "big")
    raise ValueError(f"{typ} is not a flat EIP-712 field type")


@lru_cache(maxsize=None)
def _type_hash(primary_type: str) -> bytes:
    def encode_type(name: str) -> str:
        return f"{name}(" + ",".join(f"{f['type']} {f['name']}" for f in TYPES[name]) + ")"
    return _keccak((encode_type(primary_type) + "".join(encode_type(t) for t in _struct_types(primary_type))).encode())


@lru_cache(maxsize=None)
def _domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    type_hash = _keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return _keccak(type_hash + _keccak(DOMAIN_NAME.encode()) + _keccak(DOMAIN_VERSION.encode())
                   + chain_id.to_bytes(32, "big") + _field_encoder("address")(verifying_contract))
