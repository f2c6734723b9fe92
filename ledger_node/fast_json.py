"""JSON encoding on the node's hot path. A raw transaction is about 100,000 hex digits, which the standard encoder
escapes character by character (0.2 ms and more each time, twice per transaction: the journal record and the
engine request); orjson writes the same bytes in microseconds. orjson refuses integers beyond 64 bits, which an
operator's parameters may hold: those go through the standard encoder. (Decoding stays with the standard module:
orjson reads such integers as floats.)
"""
from __future__ import annotations

import json

import orjson


def dumps(obj) -> bytes:
    """Compact JSON, keys in insertion order."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()
