"""Helpers shared by the services: ids, time, EIP-712 pre-checks, pagination."""
from __future__ import annotations

import datetime as dt
import secrets
import time

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from exchange_api.errors import InvalidRequest, NotFound

_BACKEND_FAST: bool | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def iso(t: dt.datetime | None) -> str:
    return (t or dt.datetime.utcnow()).replace(microsecond=(t.microsecond if t else 0)).isoformat() + "Z"


def now() -> int:
    return int(time.time())


def redemption_id(resident: str, nonce: bytes) -> str:
    return "0x" + keccak(abi_encode(["address", "bytes32"], [resident, nonce])).hex()


def order_ref(text: str) -> tuple[str, str | None]:
    """(bytes32 hex, label): a 0x-bytes32 as it is, any other text hashed (keccak256 of its UTF-8)."""
    if text.startswith("0x") and len(text) == 66:
        try:
            bytes.fromhex(text[2:])
            return text.lower(), None
        except ValueError:
            pass
    return "0x" + keccak(text=text).hex(), text


def should_precheck(mode: str) -> bool:
    """Recovering a signature in pure Python costs several ms; with libsecp256k1 (coincurve) it is cheap. 'auto'
    pre-checks only then; otherwise the node's simulation (eth_call) checks the signature natively."""
    global _BACKEND_FAST
    if mode != "auto":
        return mode == "always"
    if _BACKEND_FAST is None:
        try:
            import coincurve  # noqa: F401
            _BACKEND_FAST = True
        except ImportError:
            _BACKEND_FAST = False
    return _BACKEND_FAST


def recover_typed(document: dict, signature: bytes) -> str:
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    return Account.recover_message(encode_typed_data(full_message=document), signature=signature)


def check_signer(document: dict, signature: bytes, expected: str) -> None:
    try:
        signer = recover_typed(document, signature)
    except Exception:
        raise InvalidRequest("the signature cannot be recovered", code="invalid_signature", field="signature")
    if to_checksum_address(signer) != to_checksum_address(expected):
        raise InvalidRequest("the signature is not the resident's", code="invalid_signature", field="signature")


def page(rows: list, limit: int, to_public) -> dict:
    return {"object": "list", "data": [to_public(r) for r in rows[:limit]], "has_more": len(rows) > limit}


def cursor_seq(s, model, starting_after: str | None, **scope) -> int | None:
    if not starting_after:
        return None
    from sqlalchemy import select
    q = select(model.seq).where(model.id == starting_after)
    for k, v in scope.items():
        q = q.where(getattr(model, k) == v)
    seq = s.scalar(q)
    if seq is None:
        raise NotFound("starting_after names no object of this list", code="invalid_cursor", field="starting_after")
    return seq
