"""What the generic adapter stands on: reading exports (CSV, JSON lines), the push call, the field parsers, rounding.
The rules themselves are data: a programme's mapping file, run by `mapped.MappedAdapter`.

An adapter maps one native record of its program to exactly one issuance, or rejects it with a stable
reason code and a sentence. Nothing is skipped silently and nothing is issued in part: a record is
either wholly valid (one item issued, its ref derived from the record) or wholly rejected.

Money-like values (hours, kilograms, kilometres, prices) are read as Decimal, never float: a CSV cell
"2.5" and a JSON-lines number 2.5 both become Decimal("2.5"); a Python float handed to `push` is
rejected (`inexact_number`). Points are rounded down, explicitly (ROUND_FLOOR), so rounding never
creates points.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import abc
from functools import lru_cache
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from issuer_sdk.errors import RecordRejected
from issuer_sdk.ledger import Issuance
from ledger_node.domain import UINT96_MAX

_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$")


@dataclass(slots=True)  # not frozen: a frozen dataclass costs twice as much to make, one a record (read-only by use)
class Outcome:
    """One record's fate. `line` is its (first) line in the file, `offset` the byte offset just after it."""

    line: int
    offset: int
    record: Mapping[str, Any]
    issuance: Issuance | None = None
    reason: str | None = None
    detail: str | None = None
    rule: str | None = None  # the activity of the rule table that gave the amount (mapping files)

    @property
    def rejected(self) -> bool:
        return self.issuance is None


class Adapter:
    """Reading, checking and pushing records; `MappedAdapter` (a mapping file) sets `program`, `default_scheme`,
    `required`, `record_id_column` and implements `build`."""

    program: str
    default_scheme: int
    required: tuple[str, ...] = ("record_id", "resident")
    record_id_column: str = "record_id"

    # -- entry points ------------------------------------------------------------------------------------------

    def convert(self, record: Mapping[str, Any]) -> Issuance:
        """The one issuance `record` stands for; raises RecordRejected with a reason code otherwise."""
        return self._convert(record)[0]

    def _convert(self, record: Mapping[str, Any], source: Any = None) -> tuple[Issuance, str | None]:
        """(the issuance, carrying `source`; the rule it cites)."""
        if record.__class__ is not dict and not isinstance(record, abc.Mapping):
            raise RecordRejected("malformed_record", f"a record is a mapping of fields, got {type(record).__name__}",
                                 record=record)
        get = record.get
        missing = ()
        for k in self.required:  # the common case (every cell a non-blank str) checked without a call a column
            v = get(k)
            if v.__class__ is not str or not v.strip():
                missing = [k for k in self.required if _blank(get(k))]
                break
        if missing:
            raise RecordRejected("missing_field", f"missing {', '.join(missing)}", record=dict(record))
        record_id = str(record[self.record_id_column]).strip()
        if not _RECORD_ID.match(record_id):
            raise RecordRejected("bad_record_id", f"record_id {record_id!r} is not 1-128 id characters",
                                 record=dict(record))
        try:
            resident = self.resident_of(record)
            amount, reason, ref, rule = self.build(record, record_id, resident)
        except RecordRejected as exc:
            exc.record = dict(record)
            exc.attempted["record"] = dict(record)
            raise
        if amount <= 0:
            raise RecordRejected("zero_points", "the record is worth no points under the rules (rounded down)",
                                 record=dict(record))
        if amount > UINT96_MAX:
            raise RecordRejected("too_many_points", f"{amount} points is beyond the ledger's range", record=dict(record))
        return Issuance(resident, amount, ref, reason, source), rule

    def check(self, record: Mapping[str, Any], *, line: int = 0, offset: int = 0) -> Outcome:
        """`convert` that returns an Outcome instead of raising."""
        try:
            issuance, rule = self._convert(record, (line, offset))
        except RecordRejected as exc:
            return Outcome(line, offset, record, None, exc.reason, exc.detail)
        return Outcome(line, offset, record, issuance, rule=rule)

    def resident_of(self, record: Mapping[str, Any]) -> str:
        """The resident's checksummed address; raises RecordRejected."""
        return _resident(record)

    def push(self, client, record: Mapping[str, Any]):
        """The push interface: validate one record and issue it now. Returns the client's IssueResult;
        raises RecordRejected (nothing sent) or the client's IssuerError."""
        issuance = self.convert(record)
        return client.issue(issuance.resident, issuance.amount, issuance.ref, reason=issuance.reason)

    def push_many(self, client, records: Iterable[Mapping[str, Any]]):
        """Validate every record, issue the valid ones in batches; returns (IssueManySummary, rejected Outcomes).
        The batches cite the published version of the adapter's rules (`citation`), checked before any is sent."""
        outcomes = [self.check(r, line=i + 1) for i, r in enumerate(records)]
        rejected = [o for o in outcomes if o.rejected]
        summary = client.issue_many((o.issuance for o in outcomes if not o.rejected),
                                    rules_version=self.citation(client))
        return summary, rejected

    def citation(self, client) -> int | None:
        """The version of the scheme's published rules this adapter applies: the one whose hash is the adapter's
        `rules_sha256`. RulesNotPublished when the scheme has published rules and none is this document (the file
        differs from what governance published: nothing may be issued under it); None when the scheme has
        published no rules (nothing to cite) or the adapter has no rules hash."""
        sha = getattr(self, "rules_sha256", None)
        return client.rules_citation(sha, required=False) if sha else None

    def read_file(self, path: str | Path, *, start_offset: int = 0, start_line: int = 0,
                  fmt: str | None = None) -> Iterator[Outcome]:
        """Every record of a CSV (header row) or JSON-lines export, validated, in file order.

        `start_offset` / `start_line` resume after a checkpoint (the offset must be a record boundary)."""
        path = Path(path)
        fmt = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
        if fmt == "jsonl":
            yield from self._read_jsonl(path, start_offset, start_line)
        elif fmt == "csv":
            yield from self._read_csv(path, start_offset, start_line)
        else:
            raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")

    # -- for subclasses ----------------------------------------------------------------------------------------

    def build(self, record: Mapping[str, Any], record_id: str, resident: str) -> tuple[int, int | None, str, str]:
        """(points, reason code, ref, the rule it cites) of a record; raise RecordRejected."""
        raise NotImplementedError

    # -- reading -----------------------------------------------------------------------------------------------

    def _read_jsonl(self, path: Path, start_offset: int, start_line: int) -> Iterator[Outcome]:
        with open(path, "rb") as f:
            f.seek(start_offset)
            offset, line_no = start_offset, start_line
            for raw in f:
                line_no += 1
                offset += len(raw)
                text = raw.strip()
                if not text:
                    continue
                try:
                    record = json.loads(text, parse_float=Decimal)
                except ValueError as exc:
                    yield Outcome(line_no, offset, {"_raw": text.decode(errors="replace")}, None, "malformed_record",
                                  f"not JSON: {exc}")
                    continue
                if not isinstance(record, dict):
                    yield Outcome(line_no, offset, {"_raw": text.decode(errors="replace")}, None, "malformed_record",
                                  "a JSON line must be an object")
                    continue
                yield self.check(record, line=line_no, offset=offset)

    def _read_csv(self, path: Path, start_offset: int, start_line: int) -> Iterator[Outcome]:
        with open(path, "rb") as f:
            header_raw = f.readline()
            header = next(csv.reader([header_raw.decode("utf-8-sig")]), [])
            names = [h.strip() for h in header]
            if not names or any(not n for n in names):
                raise RecordRejected("malformed_header", f"{path}: the first row must name every column",
                                     record={"header": header})
            if start_offset <= len(header_raw):
                start_offset, start_line = len(header_raw), 1
            f.seek(start_offset)
            tracker = _LineTracker(f, start_offset, start_line)
            for row in csv.reader(tracker):
                first_line = tracker.first_line_of_row
                tracker.row_done()
                if not row or not "".join(row).strip():  # a blank line, or only blank cells
                    continue
                if len(row) != len(names):
                    yield Outcome(first_line, tracker.offset, {"_raw": ",".join(row)}, None, "malformed_record",
                                  f"{len(row)} columns, the header has {len(names)}")
                    continue
                yield self.check(dict(zip(names, row)), line=first_line, offset=tracker.offset)


class _LineTracker:
    """Feeds csv.reader one decoded line at a time and knows the byte offset after the last line it gave."""

    def __init__(self, f: io.BufferedReader, offset: int, line: int):
        self._f = f
        self.offset = offset
        self.line = line
        self.first_line_of_row = line + 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = self._f.readline()
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.line += 1
        return raw.decode("utf-8", errors="replace")

    def row_done(self) -> None:
        self.first_line_of_row = self.line + 1


# -- field helpers for adapters --------------------------------------------------------------------------------

def decimal_field(record: Mapping[str, Any], name: str, *, minimum: Decimal | None = None,
                  maximum: Decimal | None = None, places: int = 6) -> Decimal:
    """A non-negative exact decimal; a float is refused (inexact), as are NaN, infinities and too many places."""
    value = record.get(name)
    if value.__class__ is str and (text := value.strip()):  # a CSV cell: the common case first
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not a number") from None
    else:
        if isinstance(value, float):
            raise RecordRejected("inexact_number", f"{name} must be a decimal string or integer, not a float "
                                                   f"({value!r})")
        if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
            raise RecordRejected("missing_field", f"missing {name}")
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not a number") from None
    if not number.is_finite():
        raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not a finite number")
    if number.as_tuple().exponent < -places:
        raise RecordRejected(f"bad_{name}", f"{name} {value!r} has more than {places} decimal places")
    if minimum is not None and number < minimum:
        raise RecordRejected(f"{name}_out_of_range", f"{name} {number} is below {minimum}")
    if maximum is not None and number > maximum:
        raise RecordRejected(f"{name}_out_of_range", f"{name} {number} is above {maximum}")
    return number


def int_field(record: Mapping[str, Any], name: str, *, minimum: int = 0, maximum: int | None = None,
              default: int | None = None) -> int:
    value = record.get(name)
    if _blank(value):
        if default is not None:
            return default
        raise RecordRejected("missing_field", f"missing {name}")
    if isinstance(value, float):
        raise RecordRejected("inexact_number", f"{name} must be an integer, not a float ({value!r})")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise RecordRejected(f"bad_{name}", f"{name} {value} is not a whole number")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not a whole number")
        number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        raise RecordRejected(f"{name}_out_of_range", f"{name} {number} is outside {minimum}..{maximum}")
    return number


def choice_field(record: Mapping[str, Any], name: str, allowed: Mapping[str, Any] | Iterable[str]) -> str:
    value = record.get(name)
    if _blank(value):
        raise RecordRejected("missing_field", f"missing {name}")
    text = str(value).strip().lower()
    if text not in allowed:
        raise RecordRejected(f"unknown_{name}", f"{name} {value!r} is not one of {', '.join(sorted(allowed))}")
    return text


def date_field(record: Mapping[str, Any], name: str) -> date:
    value = record.get(name)
    if _blank(value):
        raise RecordRejected("missing_field", f"missing {name}")
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def floor_points(value: Decimal) -> int:
    """Points are whole; the fraction is dropped, explicitly (never rounds up, never creates points)."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _resident(record: Mapping[str, Any], column: str = "resident") -> str:
    value = str(record.get(column, "")).strip()
    try:
        return _checksummed(value)
    except ValueError as exc:
        raise RecordRejected("bad_resident", f"resident {value!r}: {exc}", record=dict(record)) from None


def address_field(record: Mapping[str, Any], name: str) -> str:
    """An account address (checksummed); a wrong checksum is refused as a likely typo."""
    value = record.get(name)
    if _blank(value):
        raise RecordRejected("missing_field", f"missing {name}")
    try:
        return _checksummed(str(value).strip())
    except ValueError as exc:
        raise RecordRejected(f"bad_{name}", f"{name} {value!r}: {exc}") from None


@lru_cache(maxsize=32768)  # residents recur in an export; the checksum costs a keccak
def _checksummed(value: str) -> str:
    if not is_hex_address(value) or not value.startswith("0x"):
        raise ValueError("not an account address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError("wrong checksum (a typo?)")
    return to_checksum_address(value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


__all__ = ["Adapter", "Outcome", "decimal_field", "int_field", "choice_field", "date_field", "address_field",
           "floor_points"]
