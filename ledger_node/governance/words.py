"""Any proposal call back in words, from the ABI: a named action's sentence with the value in force now ("set rate of
scheme 2 (traffic): 1 point = 5.00 credits (now 4.00)"), else `Contract.function(arg=value, ...)`, else the raw
target and data. Works for calls made by `citypoints gov`, by Python (`propose_and_execute`) or by anyone.

"(now ...)" is the value in force as the call is read; for a proposal already decided (executed, cancelled,
expired) it says nothing about the proposal, so `current=False` leaves it out (a sentence that shows it ends
with it)."""
from __future__ import annotations

import re

from ledger_node.governance.actions import action_for
from ledger_node.governance.city import City


NOW = re.compile(r" \(now .*\)$")


def describe_call(city: City, target: str, data: bytes, *, current: bool = True) -> dict:
    """{target, contract, function, args, action, words} of one call; unknown parts are None."""
    data = bytes(data)
    out = {"target": target, "contract": None, "function": None, "args": None, "action": None,
           "data": "0x" + data.hex()}
    found = city.contract_at(target)
    if not found:
        out["words"] = f"call {target} with data 0x{data.hex()}"
        return out
    name, contract = found
    out["contract"] = name
    try:
        fn, params = contract.decode_function_input(data)
    except Exception:  # noqa: BLE001 - no function of its ABI has the selector, or the data does not decode
        out["words"] = f"{name}: call with data 0x{data.hex()} (no function of its ABI)"
        return out
    inputs = [i["name"] for i in fn.abi["inputs"]]
    args = tuple(params[i] for i in inputs)
    out["function"] = fn.abi["name"]
    out["args"] = {i: _plain(params[i]) for i in inputs}
    action = action_for(name, fn.abi["name"], args)
    if action:
        out["action"] = action.name
        try:
            words = action.say(city, args)
            out["words"] = words if current else NOW.sub("", words)
            return out
        except Exception:  # noqa: BLE001 - a value the sentence reads may be gone (a retired contract): say it plainly
            pass
    out["words"] = f"{name}.{fn.abi['name']}({', '.join(f'{k}={_shown(v)}' for k, v in out['args'].items())})"
    return out


def _plain(value):
    """JSON-ready: bytes as 0x-hex, lists element by element."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):  # a struct argument
        return {k: _plain(v) for k, v in value.items()}
    return value


def _shown(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
