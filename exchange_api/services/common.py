"""Helpers shared by the services: the caller, ids, time, EIP-712 pre-checks, pagination, and the two steps of every
relayed call (`simulate`, then `relay`)."""
from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from dataclasses import dataclass

from eth_utils import keccak
from sqlalchemy import select

from exchange_api import errors
from exchange_api.chain import CHECK_GAS, ChainClient, ChainRevert, RpcFailure
from exchange_api.errors import InvalidRequest, NotFound
from exchange_api.relayer import Mined, Relayer
from exchange_api.store.db import Store
from ledger_node.typed_data import digest, recover


@dataclass
class Principal:
    """The caller a service acts for: an API key (deps.py) and, for a merchant key, its merchant."""
    key_id: str
    role: str
    merchant_id: int | None = None
    merchant: str | None = None  # the merchant's address
    merchant_name: str | None = None
    account: str | None = None  # an issuer key's issuer account on chain
    scope: str | None = None  # a merchant key's staff scope: cashier | manager (merchant_keys.SCOPES)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def iso(t: dt.datetime | None) -> str:
    """A stored time (UTC, no zone) as the API writes it; None: now, to the second."""
    return (t or dt.datetime.utcnow().replace(microsecond=0)).isoformat() + "Z"


def now() -> int:
    return int(time.time())


def order_ref(text: str) -> tuple[str, str | None]:
    """(bytes32 hex, label): a 0x-bytes32 as it is, any other text hashed (keccak256 of its UTF-8)."""
    if text.startswith("0x") and len(text) == 66:
        try:
            bytes.fromhex(text[2:])
            return text.lower(), None
        except ValueError:
            pass
    return "0x" + keccak(text=text).hex(), text


async def check_signature(chain: ChainClient, primary_type: str, contract: str, message: dict, signature: bytes,
                          resident: str) -> bool:
    """The signature is the resident's authentication: recovered here (libsecp256k1, ~0.1 ms) so a wrong one is
    refused at once. True when it is the resident's key's; False for a resident that is a contract wallet
    (EIP-1271), which signs in its own way: the chain's check in a simulation decides for it."""
    flaw = ecdsa_flaw(signature)
    signer = None
    if flaw is None:
        try:
            signer = recover(digest(primary_type, chain.chain_id, chain.addresses[contract], message), signature)
        except ValueError:
            flaw = "it cannot be recovered"
    if signer == resident:
        return True
    if not await chain.has_code(resident):
        raise InvalidRequest(f"the signature is not the resident's: {flaw}" if flaw else
                             "the signature is not the resident's", code="invalid_signature", field="signature")
    return False


def ecdsa_refusal(account: str, digest_: bytes, signature: bytes) -> str | None:
    """Why `signature` is not `account`'s own key's over `digest_` as the contracts' ECDSA reads it (`ecdsa_flaw`:
    65 bytes, low s, v 27/28; then the recovered key), or None when it is. For what only an account's key may sign
    (a login, an objection): no EIP-1271."""
    flaw = ecdsa_flaw(signature)
    if flaw is not None:
        return flaw
    try:
        signer = recover(digest_, signature)
    except ValueError:
        return "it cannot be recovered"
    return None if signer == account else "another key signed it"


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def ecdsa_flaw(signature: bytes) -> str | None:
    """Why the contracts' ECDSA (OpenZeppelin 5 `tryRecover`, through SignatureChecker for an account without
    code) refuses `signature`, or None: 65 bytes r || s || v only (no 64-byte EIP-2098 form), s in the lower half
    of the curve's order (no malleable twin), v 27 or 28, r and s in 1..n-1."""
    if len(signature) != 65:
        return f"{len(signature)} bytes, not 65"
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if s > SECP256K1_N // 2:
        return "s is in the upper half of the curve order (a malleable signature)"
    if v not in (27, 28):
        return f"v is {v}, not 27 or 28"
    if not (0 < r < SECP256K1_N) or s == 0:
        return "r or s is out of range"
    return None


def page(rows: list, limit: int, to_public) -> dict:
    return {"object": "list", "data": [to_public(r) for r in rows[:limit]], "has_more": len(rows) > limit}


def cursor_seq(s, model, starting_after: str | None, **scope) -> int | None:
    if not starting_after:
        return None
    q = select(model.seq).where(model.id == starting_after)
    for k, v in scope.items():
        q = q.where(getattr(model, k) == v)
    seq = s.scalar(q)
    if seq is None:
        raise NotFound("starting_after names no object of this list", code="invalid_cursor", field="starting_after")
    return seq


async def recorded(store: Store, model, record_id: str) -> bool:
    """Does the store hold the `model` row (redemption, exchange) with this id? After an IntegrityError at its
    persist: its own key taken means submitted before; any other constraint is the service's fault."""
    return await store.run(lambda s: s.scalar(select(model.seq).where(model.id == record_id))) is not None


async def simulate(chain: ChainClient, to: str, data: bytes, sender: str, gas: int | None = None) -> None:
    """Ask the chain what `sender` sending `data` to `to` would do, before anything is signed or a nonce taken: a
    refusal is its contract error (a 4xx naming it) and nothing is sent. At most CHECKS_AT_ONCE checks (chain.py) are
    on the node at once; the others wait their turn here (a caller's time budget counts the wait). `gas`: what the
    call may use (the node's cap when not given)."""
    try:
        async with chain.checks:
            await chain.call(to, data, sender=sender, gas=gas)
    except ChainRevert as exc:
        raise errors.from_contract_error(exc.name, exc.args_)


async def check_signed(chain: ChainClient, relayer: Relayer, to: str, data: bytes, wait_s: float) -> None:
    """A resident's signed consent or intent (a redemption, an exchange) checked before it is relayed: `simulate`d
    from the relayer's first account with CHECK_GAS, within `wait_s` (asyncio.TimeoutError past it)."""
    relayers = relayer.addresses
    await asyncio.wait_for(simulate(chain, to, data, relayers[0] if relayers else None, CHECK_GAS), wait_s)


async def relay(relayer: Relayer, timeout_s: float, *, kind: str, subject_id: str, to: str, data: bytes, gas: int,
                account=None) -> tuple[str, Mined | None]:
    """Submit `data` to `to` through the relayer (from `account`, else a relayer account) and wait up to
    `timeout_s`: (its hash, its outcome once mined, or None while pending). A refusal, at the send or in the block
    (another submission of the same signed message came first), is its contract error."""
    try:
        h = await relayer.submit(kind=kind, subject_id=subject_id, to=to, data=data, gas=gas, account=account)
    except (ChainRevert, RpcFailure) as exc:
        raise errors.from_contract_error(getattr(exc, "name", None), getattr(exc, "args_", ()))
    mined = await relayer.wait(h, timeout_s)
    if mined is not None and not mined.ok:
        raise errors.from_contract_error(*(mined.error or (None, ())))
    return h, mined
