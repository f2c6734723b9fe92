"""The named actions a member can propose: one row each (name, target contract, function, typed arguments, a check
of the contract's own rules run before anything is sent, and how the call is said in words).

Arguments arrive as strings from the command line; `parse_values` turns them into typed values or refuses them with
a stable code (ledger_node.governance.errors), reading from the chain what a check needs (known schemes, members,
statuses). The same rows say a decoded call in words (ledger_node.governance.words), so a proposal made by
`raw` or by Python reads the same as one made by name.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, is_checksum_address, to_checksum_address
from web3 import Web3

from ledger_node.abi_types import abi_type, split_types
from ledger_node.deploy.system import Call, call
from ledger_node.domain import (MAX_RATE, ROLES, STATUS_NAMES, UINT64_MAX, UINT96_MAX, UINT256_MAX,
                                SchemeStatus, credits_decimal)
from ledger_node.governance.city import City
from ledger_node.governance.errors import argument_error, contract_rule, from_call_error, from_revert
from ledger_node.governance.formats import PROPOSAL_STATES, credits_per_point, duration


@dataclass(frozen=True)
class Param:
    name: str
    kind: str        # a key of PARSERS
    help: str
    optional: bool = False


@dataclass(frozen=True)
class Action:
    name: str
    contract: str    # deployment name of the target ("*" for raw: the argument names it)
    function: str
    params: tuple[Param, ...]
    summary: str
    args: Callable[[City, dict], list]                  # the function's ABI arguments from the parsed values
    say: Callable[[City, tuple], str]                   # a decoded call (its ABI arguments, in order) in words
    check: Callable[[City, dict], None] | None = None   # the contract's rules, run before sending
    when: Callable[[tuple], bool] | None = None         # for functions two actions share (suspend / reinstate)

    def usage(self) -> str:
        return " ".join([self.name] + [f"[{p.name}]" if p.optional else p.name for p in self.params])

    def calls(self, city: City, values: dict) -> list[Call]:
        if self.check:
            self.check(city, values)
        return [call(city[self.contract], self.function, *self.args(city, values))]


# --- argument parsers ---------------------------------------------------------------------------------------------

def _integer(text: str, low: int, high: int, what: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", text.strip()):
        raise argument_error("invalid_integer", f"{what} {text!r} is not an integer")
    value = int(text)
    if not low <= value <= high:
        raise argument_error("invalid_integer", f"{what} {value} is outside {low}..{high}")
    return value


def parse_address(text: str, what: str = "address", *, allow_zero: bool = False) -> str:
    """A checksummed address (an all-lowercase one is taken too: it carries no checksum to get wrong)."""
    if not Web3.is_address(text) or not (is_checksum_address(text) or text[2:] == text[2:].lower()):
        raise argument_error("invalid_address", f"{what} {text!r}")
    address = to_checksum_address(text)
    if int(address, 16) == 0 and not allow_zero:
        raise contract_rule("MembershipZeroValue", what)
    return address


def _scheme(city: City, text: str, what: str) -> int:
    scheme = _integer(text, 1, UINT256_MAX, what)
    if scheme not in city.scheme_ids():
        raise contract_rule("PointsLedgerUnknownScheme", f"scheme {scheme}")
    return scheme


def _new_scheme(city: City, text: str, what: str) -> int:
    scheme = _integer(text, 1, UINT256_MAX, what)
    if scheme in city.scheme_ids():
        raise contract_rule("PointsLedgerSchemeExists", f"scheme {scheme}")
    return scheme


def _rate(city: City, text: str, what: str) -> int:
    rate = _integer(text, 0, UINT256_MAX, what)
    if not 1 <= rate <= MAX_RATE:
        raise contract_rule("RatesInvalidRate", f"{rate}: 1..{MAX_RATE} credit cents a point x 1e6")
    return rate


# Membership.grantRole takes these; merchants and issuer accounts have their own functions (and actions)
GRANTABLE = ("AUDITOR", "ONBOARDING", "RELAYER", "OPERATOR", "LEDGER_OPERATOR")


def _role(city: City, text: str, what: str) -> str:
    name = text.upper().removesuffix("_ROLE")
    if name not in GRANTABLE:
        raise contract_rule("MembershipRoleNotGrantable", f"{text!r}; one of {', '.join(GRANTABLE)}")
    return name


def require_open(city: City, proposal_id: int) -> None:
    """Refuse an unknown or closed proposal with the contract's own codes."""
    from web3.exceptions import ContractLogicError

    try:
        state = city["Consortium"].functions.proposalState(proposal_id).call()
    except ContractLogicError as exc:
        raise from_call_error(exc) from None
    if state not in (1, 2, 3):  # Pending, Queued, Ready
        raise from_revert("ConsortiumProposalNotOpen", (proposal_id, state))


def _open_proposal(city: City, text: str, what: str) -> int:
    proposal_id = _integer(text, 1, UINT256_MAX, what)
    require_open(city, proposal_id)
    return proposal_id


KINDS = {"valued": 1, "eligibility-only": 2}  # ISchemeRegistry.SchemeKind
KIND_NAMES = {v: k for k, v in KINDS.items()}
MAX_RULES_FILE = 10 * 1024 * 1024


def _label(city: City, text: str, what: str) -> str:
    if not 1 <= len(text.encode()) <= 64:
        raise contract_rule("SchemeRegistryInvalidProfile", f"{what} {text!r}: 1 to 64 bytes")
    return text


def _colour(city: City, text: str, what: str) -> bytes:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise argument_error("invalid_colour", f"{what} {text!r}: #RRGGBB")
    return bytes.fromhex(text[1:])


def _kind(city: City, text: str, what: str) -> int:
    if text not in KINDS:
        raise argument_error("invalid_kind", f"{what} {text!r}: one of {', '.join(KINDS)}")
    return KINDS[text]


def _rules_file(city: City, text: str, what: str) -> bytes:
    """The sha256 of the rules document at path `text` (the document itself is published at URI)."""
    import hashlib
    from pathlib import Path

    try:
        data = Path(text).read_bytes()[:MAX_RULES_FILE + 1]
    except OSError as exc:
        raise argument_error("rules_unreadable", f"{what} {text}: {exc.strerror or exc}") from None
    if not data or len(data) > MAX_RULES_FILE:
        raise argument_error("rules_unreadable", f"{what} {text}: empty or over {MAX_RULES_FILE:,} bytes")
    return hashlib.sha256(data).digest()


def _uri(city: City, text: str, what: str) -> str:
    if not 1 <= len(text.encode()) <= 256:
        raise contract_rule("SchemeRegistryInvalidRules", f"{what} {text!r}: 1 to 256 bytes")
    return text


PARSERS: dict[str, Callable[[City, str, str], Any]] = {
    "label": _label,
    "colour": _colour,
    "kind": _kind,
    "rules_file": _rules_file,
    "uri": _uri,
    "role": _role,
    "open_proposal": _open_proposal,
    "address": lambda city, text, what: parse_address(text, what),
    "scheme": _scheme,
    "new_scheme": _new_scheme,
    "rate": _rate,
    "count": lambda city, text, what: _integer(text, 1, UINT256_MAX, what),
    "months": lambda city, text, what: _integer(text, 1, 255, what),  # PointsLedger.setExpiry's uint8, never 0
    "uint64": lambda city, text, what: _integer(text, 0, UINT64_MAX, what),
    "uint96": lambda city, text, what: _integer(text, 0, UINT96_MAX, what),
    "uint256": lambda city, text, what: _integer(text, 0, UINT256_MAX, what),
    "contract": lambda city, text, what: (city.contract_named(text), text)[1],
    "text": lambda city, text, what: text,
}


def parse_values(city: City, action: Action, texts: list[str]) -> dict:
    required = sum(1 for p in action.params if not p.optional)
    if not required <= len(texts) <= len(action.params):
        raise argument_error("bad_arguments", f"usage: {action.usage()}")
    return {p.name: PARSERS[p.kind](city, text, p.name) for p, text in zip(action.params, texts)}


# --- reads the checks and the words use ---------------------------------------------------------------------------

def _members(city: City) -> list[str]:
    return city["Consortium"].functions.members().call()


def _status(city: City, scheme: int) -> int:
    return city["PointsLedger"].functions.schemeInfo(scheme).call()[0]


def _expect_status(allowed: tuple[SchemeStatus, ...]):
    def check(city: City, v: dict) -> None:
        status = _status(city, v["SCHEME"])
        if status not in allowed:
            raise contract_rule("PointsLedgerInvalidTransition",
                                f"scheme {v['SCHEME']} is {STATUS_NAMES[status]}")
    return check


def _check_pause(paused: bool):
    def check(city: City, v: dict) -> None:
        if city["PointsLedger"].functions.paused().call() == paused:
            raise contract_rule("PointsLedgerPauseUnchanged", "paused" if paused else "not paused")
    return check


def _check_add_member(city: City, v: dict) -> None:
    if v["ADDRESS"] in _members(city):
        raise contract_rule("ConsortiumAlreadyMember", v["ADDRESS"])


def _check_remove_member(city: City, v: dict) -> None:
    members = _members(city)
    if v["ADDRESS"] not in members:
        raise argument_error("unknown_member", v["ADDRESS"])
    threshold = city["Consortium"].functions.threshold().call()
    if threshold > len(members) - 1:
        raise contract_rule("ConsortiumInvalidThreshold",
                            f"M is {threshold}; {len(members) - 1} members would be left: lower M first")


def _emergency(city: City, v: dict) -> int:
    if v.get("EMERGENCY") is not None:
        return v["EMERGENCY"]
    return min(city["Consortium"].functions.emergencyThreshold().call(), v["THRESHOLD"])


def _check_thresholds(city: City, v: dict) -> None:
    members = len(_members(city))
    m, e = v["THRESHOLD"], _emergency(city, v)
    if not 1 <= e <= m <= members:
        raise contract_rule("ConsortiumInvalidThreshold",
                            f"M {m}, emergency {e}, {members} members: need 1 <= emergency <= M <= members")


def _issuers(city: City, scheme: int) -> list[str]:
    return city["Membership"].functions.issuerAccounts(scheme).call()


def _check_add_issuer(city: City, v: dict) -> None:
    if v["ADDRESS"] in _issuers(city, v["SCHEME"]):
        raise argument_error("already_issuer", f"{v['ADDRESS']} in scheme {v['SCHEME']}")


def _merchant_state(city: City, address: str) -> str:
    m = city["Membership"].functions
    if not m.isMerchant(address).call():
        return "none"
    return "active" if m.isMerchantActive(address).call() else "suspended"


def _expect_merchant(*allowed: str):
    def check(city: City, v: dict) -> None:
        state = _merchant_state(city, v["ADDRESS"])
        if state in allowed:
            return
        if state == "none":
            raise contract_rule("MembershipNotMerchant", v["ADDRESS"])
        if "none" in allowed:
            raise contract_rule("MembershipAlreadyMerchant", v["ADDRESS"])
        raise contract_rule("MembershipMerchantStatusUnchanged", f"{v['ADDRESS']} is {state}")
    return check


def _expiry_months(city: City, scheme: int) -> int:
    return city["PointsLedger"].functions.schemeInfo(scheme).call()[6]


def _check_expiry(city: City, v: dict) -> None:
    """PointsLedger.setExpiry's rules: set on a scheme without points, afterwards only shortened."""
    current = _expiry_months(city, v["SCHEME"])
    if current == 0:
        supply = city["PointsLedger"].functions.totalSupply(v["SCHEME"]).call()
        if supply:
            raise contract_rule("PointsLedgerExpiryNeedsEmptyScheme", f"scheme {v['SCHEME']} holds {supply:,} "
                                                                      "points: set an expiry before it issues")
    elif v["MONTHS"] >= current:
        raise contract_rule("PointsLedgerExpiryOnlyShortens", f"scheme {v['SCHEME']}'s points expire after "
                                                              f"{_months(current)}: only a shorter expiry may follow")


def _months(n: int) -> str:
    return "1 month" if n == 1 else f"{n} months"


def _check_pair(city: City, v: dict) -> None:
    if v["FROM"] == v["TO"]:
        raise contract_rule("ExchangePairNotAllowed", "a scheme cannot be exchanged for itself")


def _function_abi(contract, name: str) -> dict:
    found = [i for i in contract.abi if i.get("type") == "function" and i["name"] == name]
    if len(found) != 1:
        raise argument_error("unknown_function", f"{name!r} ({len(found)} functions of that name)")
    return found[0]


def _selector(contract, name: str) -> bytes:
    item = _function_abi(contract, name)
    return function_signature_to_4byte_selector(f"{name}({','.join(abi_type(i) for i in item['inputs'])})")


def function_name(city: City, target: str, selector: bytes) -> str:
    """`Rates.setRate` for a known target and selector; else the address and the selector's hex."""
    found = city.contract_at(target)
    if found:
        name, contract = found
        for item in contract.abi:
            if item.get("type") == "function":
                sig = f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"
                if function_signature_to_4byte_selector(sig) == bytes(selector):
                    return f"{name}.{item['name']}"
        return f"{name}.0x{bytes(selector).hex()}"
    return f"{target}.0x{bytes(selector).hex()}"


def _policy(city: City, target: str, selector: bytes) -> tuple[int, bool]:
    return tuple(city["Consortium"].functions.callPolicy(target, selector).call())


def _notice_args(city: City, v: dict) -> list:
    target = city.contract_named(v["CONTRACT"])
    selector = _selector(target, v["FUNCTION"])
    _, emergency = _policy(city, target.address, selector)
    return [target.address, selector, v["SECONDS"], emergency]


def _say_notice(city: City, a: tuple) -> str:
    target, selector, delay, emergency = a
    now, now_emergency = _policy(city, target, selector)
    flag = "" if emergency == now_emergency else f"; emergency flag {'on' if emergency else 'off'}"
    return (f"set the notice of {function_name(city, target, selector)} to {duration(delay)} ({delay} s)"
            f"{flag} (now {duration(now)})")


def _role_name(role) -> str:
    hexed = "0x" + bytes(role).hex()
    return next((name for name, rid in ROLES.items() if rid == hexed), hexed)


def _holds(city: City, role, account: str) -> str:
    return "held" if city["Membership"].functions.hasRole(role, account).call() else "not held"


def _check_lifetime(city: City, v: dict) -> None:
    if v["SECONDS"] == 0:
        raise contract_rule("ConsortiumInvalidLifetime", "0")


# --- raw calls -----------------------------------------------------------------------------------------------------

def _raw_calls(city: City, v: dict) -> list[Call]:
    contract = city.contract_named(v["CONTRACT"])
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\s*", v["SIGNATURE"])
    if not match:
        raise argument_error("unknown_function", f"{v['SIGNATURE']!r} is not a signature like setRate(uint256,uint256)")
    name, types = match.group(1), split_types(match.group(2).replace(" ", ""))
    signature = f"{name}({','.join(types)})"
    known = {f"{i['name']}({','.join(abi_type(x) for x in i['inputs'])})" for i in contract.abi
             if i.get("type") == "function"}
    if signature not in known:
        raise argument_error("unknown_function", f"{v['CONTRACT']} has no {signature}")
    try:
        values = json.loads(v["ARGS"])
    except ValueError as exc:
        raise argument_error("bad_arguments", f"ARGS is not JSON: {exc}") from None
    if not isinstance(values, list) or len(values) != len(types):
        raise argument_error("bad_arguments", f"ARGS must be a JSON list of {len(types)} values for {signature}")
    converted = [_abi_value(t, x, f"argument {k + 1}") for k, (t, x) in enumerate(zip(types, values))]
    data = function_signature_to_4byte_selector(signature) + abi_encode(types, converted)
    return [(contract.address, data)]


def _abi_value(t: str, x, what: str):
    """A JSON value as the ABI type `t` takes it; refused (nothing sent) when it does not fit."""
    if t.endswith("]"):
        inner, size = t[:t.rindex("[")], t[t.rindex("[") + 1:-1]
        if not isinstance(x, list) or (size and len(x) != int(size)):
            raise argument_error("bad_arguments", f"{what} must be a list for {t}")
        return [_abi_value(inner, item, what) for item in x]
    if t == "address":
        return parse_address(str(x), what, allow_zero=True)
    if t == "bool":
        if not isinstance(x, bool):
            raise argument_error("bad_arguments", f"{what} must be true or false for {t}")
        return x
    if re.fullmatch(r"u?int[0-9]*", t):
        bits = int(t.lstrip("uint") or 256)
        if isinstance(x, bool) or not isinstance(x, (int, str)):
            raise argument_error("invalid_integer", f"{what} must be an integer (or a string of digits) for {t}")
        low, high = (0, 2**bits - 1) if t.startswith("u") else (-(2**(bits - 1)), 2**(bits - 1) - 1)
        return _integer(str(x), low, high, what)
    if t == "string":
        if not isinstance(x, str):
            raise argument_error("bad_arguments", f"{what} must be a string")
        return x
    if t.startswith("bytes"):
        if not isinstance(x, str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", x):
            raise argument_error("bad_arguments", f"{what} must be 0x-hex for {t}")
        raw = bytes.fromhex(x[2:])
        if t != "bytes" and len(raw) != int(t[5:]):
            raise argument_error("bad_arguments", f"{what} must be {t[5:]} bytes for {t}")
        return raw
    raise argument_error("bad_arguments", f"{what}: type {t} is not supported by raw")


# --- the table -----------------------------------------------------------------------------------------------------

ADDRESS = Param("ADDRESS", "address", "a checksummed account address")
SCHEME = Param("SCHEME", "scheme", "a scheme id the PointsLedger knows")


def _rate_now(city: City, scheme: int) -> str:
    rate = city["Rates"].functions.rateOf(scheme).call()
    return credits_per_point(rate) if rate else "no rate"


def _now_seconds(getter: Callable[[City], int]) -> Callable[[City, tuple], str]:
    return lambda city, a: f"(now {duration(getter(city))})"


ACTIONS: tuple[Action, ...] = (
    Action("add-member", "Consortium", "addMember", (ADDRESS,), "Add a consortium member.",
           lambda c, v: [v["ADDRESS"]],
           lambda c, a: f"add {c.account(a[0])} to the consortium (now {len(_members(c))} members)",
           _check_add_member),
    Action("remove-member", "Consortium", "removeMember", (ADDRESS,),
           "Remove a consortium member (their approvals stop counting).",
           lambda c, v: [v["ADDRESS"]],
           lambda c, a: f"remove {c.account(a[0])} from the consortium (now {len(_members(c))} members)",
           _check_remove_member),
    Action("set-threshold", "Consortium", "setThresholds",
           (Param("THRESHOLD", "count", "M: approvals an ordinary proposal needs"),
            Param("EMERGENCY", "count", "approvals an emergency-only proposal needs (default: unchanged, at "
                                        "most M)", optional=True)),
           "Change M (and the emergency quorum).",
           lambda c, v: [v["THRESHOLD"], _emergency(c, v)],
           lambda c, a: (f"require {a[0]} approvals, {a[1]} for emergencies (now "
                         f"{c['Consortium'].functions.threshold().call()} and "
                         f"{c['Consortium'].functions.emergencyThreshold().call()} of {len(_members(c))} members)"),
           _check_thresholds),
    Action("add-issuer", "Membership", "setIssuerAccounts", (SCHEME, ADDRESS),
           "Add an issuer account to a scheme (the proposal sets the scheme's whole list: the current one plus it).",
           lambda c, v: [v["SCHEME"], _issuers(c, v["SCHEME"]) + [v["ADDRESS"]]],
           lambda c, a: (f"set the issuer accounts of scheme {c.scheme(a[0])} to "
                         f"{', '.join(c.account(x) for x in a[1]) or 'none'} (now "
                         f"{', '.join(c.account(x) for x in _issuers(c, a[0])) or 'none'})"),
           _check_add_issuer),
    Action("set-issuer-quota", "PointsLedger", "setIssuerDailyQuota",
           (SCHEME, Param("QUOTA", "uint96", "points the scheme's issuers may issue a day, together")),
           "Set a scheme's issuer daily quota (points).",
           lambda c, v: [v["SCHEME"], v["QUOTA"]],
           lambda c, a: (f"set the issuer daily quota of scheme {c.scheme(a[0])} to {a[1]:,} points (now "
                         f"{c['PointsLedger'].functions.schemeInfo(a[0]).call()[1]:,})")),
    Action("set-daily-cap", "PointsLedger", "setResidentDailyCap",
           (SCHEME, Param("CAP", "uint96", "points one resident may receive a day in the scheme")),
           "Set a scheme's resident daily cap (points).",
           lambda c, v: [v["SCHEME"], v["CAP"]],
           lambda c, a: (f"set the resident daily cap of scheme {c.scheme(a[0])} to {a[1]:,} points (now "
                         f"{c['PointsLedger'].functions.schemeInfo(a[0]).call()[2]:,})")),
    Action("set-expiry", "PointsLedger", "setExpiry",
           (SCHEME, Param("MONTHS", "months", "points credited in a month expire this many months after its end "
                                              "(1-255)")),
           "Make a scheme's points expire (before it issues; afterwards only shorter).",
           lambda c, v: [v["SCHEME"], v["MONTHS"]],
           lambda c, a: (f"make points of scheme {c.scheme(a[0])} expire {_months(a[1])} after the end of the month "
                         f"they are credited in (now {_months(m) if (m := _expiry_months(c, a[0])) else 'never'})"),
           _check_expiry),
    Action("set-rate", "Rates", "setRate",
           (SCHEME, Param("RATE", "rate", "credit cents a point x 1,000,000 (500000000 = 5.00 credits)")),
           "Set a scheme's rate (fixed point as in contracts/Rates.sol).",
           lambda c, v: [v["SCHEME"], v["RATE"]],
           lambda c, a: (f"set rate of scheme {c.scheme(a[0])}: 1 point = {credits_per_point(a[1])} credits "
                         f"(now {_rate_now(c, a[0])})")),
    Action("pause-scheme", "PointsLedger", "pauseScheme", (SCHEME,), "Pause a scheme (nothing moves in it).",
           lambda c, v: [v["SCHEME"]],
           lambda c, a: f"pause scheme {c.scheme(a[0])} (now {STATUS_NAMES[_status(c, a[0])]})",
           _expect_status((SchemeStatus.ACTIVE,))),
    Action("resume-scheme", "PointsLedger", "unpauseScheme", (SCHEME,), "Resume a paused scheme.",
           lambda c, v: [v["SCHEME"]],
           lambda c, a: f"resume scheme {c.scheme(a[0])} (now {STATUS_NAMES[_status(c, a[0])]})",
           _expect_status((SchemeStatus.PAUSED,))),
    Action("retire-scheme", "PointsLedger", "retireScheme", (SCHEME,),
           "Retire a scheme for good (no more issuance; its points can still be spent).",
           lambda c, v: [v["SCHEME"]],
           lambda c, a: f"retire scheme {c.scheme(a[0])} for good (now {STATUS_NAMES[_status(c, a[0])]})",
           _expect_status((SchemeStatus.ACTIVE, SchemeStatus.PAUSED))),
    Action("pause-all", "PointsLedger", "pauseAll", (), "Pause the whole ledger (every balance change).",
           lambda c, v: [],
           lambda c, a: f"pause the whole ledger (now {'paused' if c['PointsLedger'].functions.paused().call() else 'running'})",
           _check_pause(True)),
    Action("resume-all", "PointsLedger", "unpauseAll", (), "Resume the whole ledger.",
           lambda c, v: [],
           lambda c, a: f"resume the whole ledger (now {'paused' if c['PointsLedger'].functions.paused().call() else 'running'})",
           _check_pause(False)),
    Action("register-merchant", "Membership", "registerMerchant", (ADDRESS,), "Register a merchant.",
           lambda c, v: [v["ADDRESS"]],
           lambda c, a: f"register merchant {c.account(a[0])} (now {_merchant_state(c, a[0]).replace('none', 'not a merchant')})",
           _expect_merchant("none")),
    Action("suspend-merchant", "Membership", "setMerchantSuspended", (ADDRESS,),
           "Suspend a merchant (no redemptions at it).",
           lambda c, v: [v["ADDRESS"], True],
           lambda c, a: f"suspend merchant {c.account(a[0])} (now {_merchant_state(c, a[0]).replace('none', 'not a merchant')})",
           _expect_merchant("active"), when=lambda a: a[1] is True),
    Action("reinstate-merchant", "Membership", "setMerchantSuspended", (ADDRESS,), "Lift a merchant's suspension.",
           lambda c, v: [v["ADDRESS"], False],
           lambda c, a: f"reinstate merchant {c.account(a[0])} (now {_merchant_state(c, a[0]).replace('none', 'not a merchant')})",
           _expect_merchant("suspended"), when=lambda a: a[1] is False),
    Action("set-refund-window", "Redemption", "setRefundWindow",
           (Param("SECONDS", "uint64", "how long after a redemption a merchant may refund it"),),
           "Set the refund window (seconds).",
           lambda c, v: [v["SECONDS"]],
           lambda c, a: (f"set the refund window to {duration(a[0])} ({a[0]} s) "
                         f"(now {duration(c['Redemption'].functions.refundWindow().call())})")),
    Action("allow-pair", "Exchange", "setPairAllowed",
           (Param("FROM", "scheme", "scheme id given"), Param("TO", "scheme", "scheme id received")),
           "Allow exchanging points of FROM for points of TO.",
           lambda c, v: [v["FROM"], v["TO"], True],
           lambda c, a: (f"allow exchanging scheme {c.scheme(a[0])} for scheme {c.scheme(a[1])} (now "
                         f"{'allowed' if c['Exchange'].functions.pairAllowed(a[0], a[1]).call() else 'not allowed'})"),
           _check_pair, when=lambda a: a[2] is True),
    Action("disallow-pair", "Exchange", "setPairAllowed",
           (Param("FROM", "scheme", "scheme id given"), Param("TO", "scheme", "scheme id received")),
           "Stop exchanging points of FROM for points of TO.",
           lambda c, v: [v["FROM"], v["TO"], False],
           lambda c, a: (f"stop exchanging scheme {c.scheme(a[0])} for scheme {c.scheme(a[1])} (now "
                         f"{'allowed' if c['Exchange'].functions.pairAllowed(a[0], a[1]).call() else 'not allowed'})"),
           _check_pair, when=lambda a: a[2] is False),
    Action("set-notice", "Consortium", "setCallPolicy",
           (Param("CONTRACT", "contract", "deployment name, e.g. Rates"),
            Param("FUNCTION", "text", "function name, e.g. setRate"),
            Param("SECONDS", "uint64", "notice delay before such a call can be executed")),
           "Set the notice delay of calls to CONTRACT.FUNCTION (its emergency flag is kept).",
           _notice_args, _say_notice),
    Action("add-scheme", "PointsLedger", "addScheme",
           (Param("SCHEME", "new_scheme", "a new scheme id"),
            Param("QUOTA", "uint96", "issuer daily quota (points)"),
            Param("CAP", "uint96", "resident daily cap (points)")),
           "Add a scheme with its issuer daily quota and resident daily cap.",
           lambda c, v: [v["SCHEME"], v["QUOTA"], v["CAP"]],
           lambda c, a: f"add scheme {c.scheme(a[0])}: issuer daily quota {a[1]:,} points, resident daily cap {a[2]:,}"),
    Action("set-exchange-limit", "Exchange", "setDailyLimit",
           (Param("CENTS", "uint256", "credit cents a resident may exchange a day"),),
           "Set the residents' daily exchange limit (credit cents).",
           lambda c, v: [v["CENTS"]],
           lambda c, a: (f"set the daily exchange limit to {credits_decimal(a[0])} credits a resident "
                         f"(now {credits_decimal(c['Exchange'].functions.dailyLimit().call())})")),
)

def _check_initial_rate(city: City, v: dict) -> None:
    rate = city["Rates"].functions.rateOf(v["SCHEME"]).call()
    if rate:
        raise contract_rule("RatesAlreadySet", f"scheme {v['SCHEME']} has rate {rate}; change it with set-rate")
    if "SchemeRegistry" in city.contracts and city["SchemeRegistry"].functions.isEligibilityOnly(v["SCHEME"]).call():
        raise contract_rule("RatesEligibilityOnly", f"scheme {v['SCHEME']}")


def _check_describe(city: City, v: dict) -> None:
    if v["KIND"] == KINDS["eligibility-only"]:
        rate = city["Rates"].functions.rateOf(v["SCHEME"]).call()
        if rate:
            raise contract_rule("SchemeRegistryHasRate", f"scheme {v['SCHEME']} has rate {rate}")


def _check_rules(city: City, v: dict) -> None:
    if city["SchemeRegistry"].functions.profileOf(v["SCHEME"]).call()[6] == 0:
        raise contract_rule("SchemeRegistryUnknownScheme", f"scheme {v['SCHEME']} is not described yet "
                                                          f"(describe-scheme first)")


PROFILE_FIELDS = ("nameZh", "nameEn", "unitZh", "unitEn", "organisation", "colour", "kind")


def _say_describe(c: City, a: tuple) -> str:
    profile = a[1]  # a decoded call gives the struct as a dict, our own calls as a tuple
    zh, en, unit_zh, unit_en, organisation, colour, kind = (
        (profile[k] for k in PROFILE_FIELDS) if isinstance(profile, dict) else profile)
    return (f"describe scheme {a[0]} as {zh} / {en} (unit {unit_zh} / {unit_en}), issued by {organisation}, "
            f"colour #{bytes(colour).hex()}, {KIND_NAMES.get(kind, kind)}")


def _say_rules(c: City, a: tuple) -> str:
    version = c["SchemeRegistry"].functions.rulesVersion(a[0]).call()
    return (f"publish earning rules of scheme {c.scheme(a[0])}: sha256 0x{bytes(a[1]).hex()} at {a[2]} "
            f"(now version {version})")


ACTIONS += (
    Action("set-initial-rate", "Rates", "setInitialRate",
           (SCHEME, Param("RATE", "rate", "credit cents a point x 1,000,000 (500000000 = 5.00 credits)")),
           "Give a scheme without a rate its first rate (no notice: nobody holds value in it yet).",
           lambda c, v: [v["SCHEME"], v["RATE"]],
           lambda c, a: f"give scheme {c.scheme(a[0])} its first rate: 1 point = {credits_per_point(a[1])} credits",
           _check_initial_rate),
    Action("describe-scheme", "SchemeRegistry", "describeScheme",
           (SCHEME, Param("NAME_ZH", "label", "the programme's name in 中文"),
            Param("NAME_EN", "label", "its name in English"), Param("UNIT_ZH", "label", "its unit in 中文, e.g. 分"),
            Param("UNIT_EN", "label", "its unit in English, e.g. points"),
            Param("ORGANISATION", "label", "the issuing organisation"),
            Param("COLOUR", "colour", "#RRGGBB, the colour pages draw it with"),
            Param("KIND", "kind", "valued (redeemable, exchangeable at its rate) or eligibility-only")),
           "Describe a scheme in the registry: names, unit, organisation, colour and kind.",
           lambda c, v: [v["SCHEME"], (v["NAME_ZH"], v["NAME_EN"], v["UNIT_ZH"], v["UNIT_EN"], v["ORGANISATION"],
                                       v["COLOUR"], v["KIND"])],
           _say_describe, _check_describe),
    Action("publish-rules", "SchemeRegistry", "publishRules",
           (SCHEME, Param("FILE", "rules_file", "the rules document (its sha256 goes on chain)"),
            Param("URI", "uri", "where the document is published")),
           "Publish a new version of a scheme's earning rules (the document's sha256 and address).",
           lambda c, v: [v["SCHEME"], v["FILE"], v["URI"]],
           _say_rules, _check_rules),
    Action("remove-merchant", "Membership", "removeMerchant", (ADDRESS,), "Remove a merchant's role altogether.",
           lambda c, v: [v["ADDRESS"]],
           lambda c, a: f"remove merchant {c.account(a[0])} (now {_merchant_state(c, a[0]).replace('none', 'not a merchant')})",
           _expect_merchant("active", "suspended")),
    Action("grant-role", "Membership", "grantRole",
           (Param("ROLE", "role", "AUDITOR, ONBOARDING, RELAYER, OPERATOR or LEDGER_OPERATOR"), ADDRESS),
           "Grant a Membership role (not merchants' or issuers': they have their own actions).",
           lambda c, v: [ROLES[v["ROLE"]], v["ADDRESS"]],
           lambda c, a: f"grant {_role_name(a[0])} to {c.account(a[1])} (now {_holds(c, a[0], a[1])})"),
    Action("revoke-role", "Membership", "revokeRole",
           (Param("ROLE", "role", "AUDITOR, ONBOARDING, RELAYER, OPERATOR or LEDGER_OPERATOR"), ADDRESS),
           "Revoke a Membership role.",
           lambda c, v: [ROLES[v["ROLE"]], v["ADDRESS"]],
           lambda c, a: f"revoke {_role_name(a[0])} from {c.account(a[1])} (now {_holds(c, a[0], a[1])})"),
    Action("set-recovery-notice", "Membership", "setRecoveryNotice",
           (Param("SECONDS", "uint64", "how long an account's old key may object to its recovery"),),
           "Set the notice of account recoveries (seconds).",
           lambda c, v: [v["SECONDS"]],
           lambda c, a: (f"set the recovery notice to {duration(a[0])} ({a[0]} s) "
                         f"(now {duration(c['Membership'].functions.recoveryNotice().call())})")),
    Action("set-proposal-lifetime", "Consortium", "setProposalLifetime",
           (Param("SECONDS", "uint64", "how long a proposal stays open"),),
           "Set how long proposals stay open (seconds).",
           lambda c, v: [v["SECONDS"]],
           lambda c, a: (f"let proposals stay open {duration(a[0])} ({a[0]} s) "
                         f"(now {duration(c['Consortium'].functions.proposalLifetime().call())})"),
           _check_lifetime),
    Action("cancel-proposal", "Consortium", "cancelByGovernance",
           (Param("ID", "open_proposal", "an open proposal of any member"),),
           "Cancel any member's open proposal by governance.",
           lambda c, v: [v["ID"]],
           lambda c, a: f"cancel proposal {a[0]} (now {_proposal_state(c, a[0])})"),
)


def _proposal_state(city: City, proposal_id: int) -> str:
    return PROPOSAL_STATES[city["Consortium"].functions.proposalState(proposal_id).call()]


RAW = Action("raw", "*", "*",
             (Param("CONTRACT", "contract", "deployment name, e.g. Exchange"),
              Param("SIGNATURE", "text", "function signature, e.g. 'setDailyLimit(uint256)'"),
              Param("ARGS", "text", "the arguments as a JSON list, e.g. '[60000]'")),
             "Any call of a governed contract: target name, function signature, JSON arguments.",
             lambda c, v: [], lambda c, a: "")

BY_NAME: dict[str, Action] = {a.name: a for a in ACTIONS + (RAW,)}


def proposal_calls(city: City, name: str, texts: list[str]) -> list[Call]:
    """The calls of named action `name` with its command-line arguments, every argument and rule checked first."""
    action = BY_NAME.get(name)
    if action is None:
        raise argument_error("unknown_action", f"{name!r}; one of {', '.join(BY_NAME)}")
    values = parse_values(city, action, texts)
    if action is RAW:
        return _raw_calls(city, values)
    return action.calls(city, values)


def action_for(contract: str, function: str, args: tuple) -> Action | None:
    """The named action a decoded call is an instance of, if any."""
    for action in ACTIONS:
        if action.contract == contract and action.function == function and (action.when is None or action.when(args)):
            return action
    return None
