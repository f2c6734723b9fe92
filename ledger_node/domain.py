"""The domain's constants and rules for every Python part: role ids, what a scheme id and a scheme status mean,
how points turn into credits (and which way each conversion rounds), and the integer limits the contracts store.

The contracts are the source: roles in contracts/libraries/Roles.sol, rounding in contracts/libraries/CreditMath.sol
(used by Rates, Redemption and Exchange), statuses in IPointsLedger.SchemeStatus, limits in the types the contracts
store. They are written again here so that code without a node (the API's indexed reads, the SDK's checks before
signing, the auditor's replay) computes exactly what the chain does; tests/test_domain_constants.py checks every
value against the compiled contracts and the deployed contracts' getters.

Scheme ids are uint256, the ERC-1155 token id of that kind of points. They are data, added by governance: no id
has a meaning in code (the demo city's 1-4 live in its description, not here).
"""
from __future__ import annotations

from enum import IntEnum

from eth_hash.auto import keccak  # eth_hash, not eth_utils: eth_utils costs ~150 ms at every CLI start

# --- roles (contracts/libraries/Roles.sol; Membership holds them) ---------------------------------------------

ROLE_NAMES = ("MERCHANT", "AUDITOR", "ONBOARDING", "RELAYER", "OPERATOR", "LEDGER_OPERATOR")


def role_id(name: str) -> str:
    """The role's id as the contracts compute it, `keccak256("CityPoints.<NAME>")`, as 0x-hex (what events and
    `hasRole` carry). Its getter on the contracts is `<NAME>_ROLE()`."""
    return "0x" + keccak(f"CityPoints.{name}".encode()).hex()


ROLES: dict[str, str] = {name: role_id(name) for name in ROLE_NAMES}


# --- the identity-use trail (contracts/interfaces/IIdentityTrail.sol: the same table in its NatSpec) ---------------

# purpose code -> name: why a resident's personal data was used. IdentityTrail refuses any other code.
TRAIL_PURPOSES: dict[int, str] = {
    1: "onboarding",
    2: "identity-recheck",
    3: "issuance-lookup",
    4: "recovery-verification",
    5: "eligibility-proof",
    6: "data-export",
    7: "legal-request",
}
TRAIL_PURPOSE_CODES: dict[str, int] = {name: code for code, name in TRAIL_PURPOSES.items()}


# --- a resident's signed intents (contracts/residents/ResidentIntents.sol) -----------------------------------------

def redemption_id(resident: str, nonce: bytes) -> str:
    """keccak256(abi.encode(resident, nonce)) as 0x-hex: a redemption's id in Redemption, the `ref` of an exchange's
    burn and mint in Exchange (the two words written out)."""
    return "0x" + keccak(bytes(12) + bytes.fromhex(resident[2:]) + bytes(nonce)).hex()


# --- clearing (contracts/interfaces/IClearing.sol) ------------------------------------------------------------------

MERCHANT_PAIR, ISSUER_PAIR = 1, 2  # a statement's kind, part of its id


def statement_id(kind: int, period: int, a: int, b: int) -> str:
    """A statement's id as Clearing computes it, keccak256(abi.encode(uint8 kind, period, a, b)), as 0x-hex: a
    merchant pair's `a` is the scheme and `b` the merchant (its address as an integer), an issuer pair's the lower
    and the higher scheme."""
    return "0x" + keccak(b"".join(x.to_bytes(32, "big") for x in (kind, period, a, b))).hex()


# --- points held for people who have not joined (PointsLedger.issueToIdentities) -------------------------------------

HELD_DOMAIN = keccak(b"CityPoints.PointsLedger.heldFor")


def held_account_of(identity_hash: bytes | str) -> str:
    """PointsLedger.heldAccountOf: keccak256(abi.encode(domain, identityHash)) cut to 160 bits, checksummed: where
    a person's points wait until they join. An address of a hash, so no one holds its key."""
    h = bytes.fromhex(identity_hash[2:]) if isinstance(identity_hash, str) else bytes(identity_hash)
    raw = keccak(HELD_DOMAIN + h)[12:].hex()
    digest = keccak(raw.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(raw))


# --- scheme status (IPointsLedger.SchemeStatus) -------------------------------------------------------------------

class SchemeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    PAUSED = 2
    RETIRED = 3


# What Redemption counts and spends: a paused scheme's points are frozen, a retired scheme's can still be spent.
SPENDABLE = (SchemeStatus.ACTIVE, SchemeStatus.RETIRED)
STATUS_NAMES = {s.value: s.name.lower() for s in SchemeStatus}

# IConsortium.ProposalState in words (`citypoints gov` and the console's API): Pending awaits approvals, Queued
# waits out its notice, Ready can be executed
PROPOSAL_STATES = {1: "open", 2: "queued", 3: "executable", 4: "executed", 5: "cancelled", 6: "expired"}

# --- credits (contracts/libraries/CreditMath.sol; Rates' getters) --------------------------------------------------

RATE_SCALE = 10**6        # a rate is credit cents per point, times RATE_SCALE
CREDIT_DECIMALS = 2       # credit amounts are integers of credit cents
MAX_RATE = 10**8 * RATE_SCALE


def credits_decimal(cents: int) -> str:
    """Credit cents as people read them and the API writes them (`creditsDecimal`): -1205 -> "-12.05"; exact, never
    a float."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 10**CREDIT_DECIMALS)
    return f"{sign}{whole}.{frac:0{CREDIT_DECIMALS}d}"


def value_decimal(value: int) -> str:
    """Value units (credit cents x RATE_SCALE: points' worth, change) as credits people read: exact, at least the
    credit's two decimals, more only where the value has them: 5_000_000 -> "0.05", 333_333 -> "0.00333333"."""
    sign = "-" if value < 0 else ""
    scale = 10**CREDIT_DECIMALS * RATE_SCALE
    whole, frac = divmod(abs(int(value)), scale)
    digits = f"{frac:0{len(str(scale)) - 1}d}".rstrip("0")
    return f"{sign}{whole}.{digits.ljust(CREDIT_DECIMALS, '0')}"


def credits_of(points: int, rate: int) -> int:
    """Credits that `points` are worth at `rate`, rounded down: against the resident who spends or sells them
    (CreditMath.creditsOf; Rates.creditsFor)."""
    return points * rate // RATE_SCALE


def points_to_pay(credits: int, rate: int) -> int:
    """Points it takes to pay `credits` at `rate` (> 0), rounded up: against the resident who pays
    (CreditMath.pointsToPay; Rates.pointsFor; the last part of a redemption)."""
    return -(-credits * RATE_SCALE // rate)


def points_bought(credits: int, rate: int) -> int:
    """Points that `credits` buy at `rate` (> 0), rounded down: against the resident who receives them
    (CreditMath.pointsBought; what an exchange mints)."""
    return credits * RATE_SCALE // rate


# --- limits (the integer types the contracts take and store) -----------------------------------------------------

UINT32_MAX = 2**32 - 1     # a reason code (PointsLedger.issueWithReason)
UINT64_MAX = 2**64 - 1     # seconds: refund window, timestamps
UINT96_MAX = 2**96 - 1     # points of a balance, an issuance, a quota or a cap; credits of a redemption
UINT256_MAX = 2**256 - 1   # scheme ids, points an exchange names
EXCHANGE_NONCE_WINDOW = 64  # an exchange nonce (1..UINT64_MAX) is usable once, at most this far below the highest
