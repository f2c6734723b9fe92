"""The adapter a mapping file describes: one record -> one issuance (amount by the rule table) or a rejection.

A record is read in this order, and the first problem is its rejection (code and sentence):
1. the columns of `record_id`, `resident` and every `required: true` field are present (`missing_field`);
   the record id is an id (`bad_record_id`), the resident an address or found by the lookup (`bad_resident`,
   `unknown_resident`);
2. the required fields, parsed in the order `fields` declares them (the SDK's field parsers: `bad_<field>`,
   `<field>_out_of_range`, `unknown_<field>`, `inexact_number`...), each followed by the conditions on it;
3. the rule: choice fields named in the rules' `when`, in declared order, narrow the table until one rule is
   left (the first in table order if several); a value no rule takes is `no_rule`;
4. the rule's conditions on fields read so far; then the fields the rule reads (its unit, its conditions' and
   its ref's fields, its `reads`), in declared order, each followed by its conditions;
5. the amount: `points`, or floor(unit x points_per_unit) (Decimal, rounded down), raised to `min_points`
   and capped at `max_points`; zero is `zero_points`. The ref is the rule's (or the file's) template filled in.

A condition is checked as soon as its field is read. The file is compiled once into small functions (a parser a
field, its conditions, the rule narrowing memoised by the values read), as the bench holds the adapter to 0.8 of
the SDK's own `issue_many` throughput.
"""
from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any, Callable, Mapping

from issuer_sdk.adapters.base import (Adapter, _blank, _checksummed, _resident, address_field, choice_field,
                                      date_field, decimal_field, floor_points, int_field)
from issuer_sdk.adapters.mapping import RESIDENT_LOOKUPS, AdapterSpec, Condition, FieldSpec, RuleSpec, Template
from issuer_sdk.errors import RecordRejected

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
Reader = Callable[[Mapping[str, Any]], Any]  # a record -> the field's value, or RecordRejected


class MappedAdapter(Adapter):
    """An Adapter whose rules are a mapping file (`AdapterSpec`); see issuer_sdk/README.md, "Mapping files"."""

    def __init__(self, spec: AdapterSpec):
        self.spec = spec
        self.program = spec.program
        self.default_scheme = spec.scheme
        self.rules_version = spec.rules_version
        self.rules_sha256 = spec.rules_sha256
        self.record_id_column = spec.record_id_column
        self.required = (spec.record_id_column, spec.resident_column,
                         *(f.column for f in spec.fields.values() if f.required))
        self._readers: dict[str, Reader] = {n: _reader(f) for n, f in spec.fields.items()}
        self._field_conditions = {n: tuple(c for c in spec.conditions if c.field == n) for n in spec.fields}
        self._first = tuple((n, self._readers[n], self._field_conditions[n])
                            for n, f in spec.fields.items() if f.required)
        self._selectors = tuple(n for n in spec.fields if any(n in r.when for r in spec.rules))
        self._narrowed: dict[tuple, tuple[RuleSpec, ...]] = {}  # (selector values so far) -> rules left
        # the common table: one choice field picks the rule (every rule names it, each value once)
        single = self._selectors[0] if len(self._selectors) == 1 else None
        self._by_value = {r.when[single]: r for r in spec.rules} \
            if single and all(single in r.when for r in spec.rules) else None
        self._lookup = RESIDENT_LOOKUPS.get(spec.resident_lookup) if spec.resident_lookup else None

    @property
    def source_format(self) -> str | None:
        return self.spec.source_format

    def read_file(self, path, *, start_offset: int = 0, start_line: int = 0, fmt: str | None = None):
        return super().read_file(path, start_offset=start_offset, start_line=start_line,
                                 fmt=fmt or self.spec.source_format)

    # -- one record ------------------------------------------------------------------------------------------

    def resident_of(self, record: Mapping[str, Any]) -> str:
        column = self.spec.resident_column
        if self._lookup is None:
            return _resident(record, column)
        key = str(record.get(column, "")).strip()
        found = self._lookup(key)
        if not found:
            raise RecordRejected("unknown_resident", f"{column} {key!r}: the {self.spec.resident_lookup} lookup "
                                                     "knows no resident by it")
        try:
            return _checksummed(str(found))
        except ValueError as exc:
            raise RecordRejected("bad_resident", f"the {self.spec.resident_lookup} lookup gave {found!r}: {exc}") \
                from None

    def build(self, record: Mapping[str, Any], record_id: str, resident: str) -> tuple[int, int, str, str]:
        values: dict[str, Any] = {}
        for name, read, conditions in self._first:
            value = values[name] = read(record)
            for condition in conditions:
                _check(condition, value)
        rule = self._select(record, values)
        for condition in rule.conditions:
            if condition.field in values:
                _check(condition, values[condition.field])
        for name in rule.reads:
            if name not in values:
                value = values[name] = self._readers[name](record)
                for condition in self._field_conditions[name]:
                    _check(condition, value)
                for condition in rule.conditions:
                    if condition.field == name:
                        _check(condition, value)
        if rule.points is not None:
            amount = rule.points
        else:
            amount = floor_points(values[rule.unit] * rule.points_per_unit)
        if rule.min_points is not None and amount < rule.min_points:
            amount = rule.min_points
        if rule.max_points is not None and amount > rule.max_points:
            amount = rule.max_points
        return amount, rule.reason, self._ref(rule.ref or self.spec.ref, record_id, resident, rule, values), \
            rule.activity

    def _select(self, record, values: dict) -> RuleSpec:
        """The rule: each selector the remaining rules name, read and matched in declared order."""
        if self._by_value is not None and self._selectors[0] in values:
            rule = self._by_value.get(values[self._selectors[0]])
            if rule is not None:
                return rule
        candidates = self.spec.rules
        key: tuple = ()
        for name in self._selectors:
            if not any(name in r.when for r in candidates):
                continue
            if name not in values:
                value = values[name] = self._readers[name](record)
                for condition in self._field_conditions[name]:
                    _check(condition, value)
            value = values[name]
            key += ((name, value),)
            narrowed = self._narrowed.get(key)
            if narrowed is None:
                narrowed = self._narrowed[key] = tuple(r for r in candidates if r.when.get(name, value) == value)
            candidates = narrowed
            if not candidates:
                said = ", ".join(f"{n}={v}" for n, v in key)
                raise RecordRejected("no_rule", f"no rule of the table applies to {said}")
        return candidates[0]

    def _ref(self, template: Template, record_id: str, resident: str, rule: RuleSpec, values: dict) -> str:
        out = []
        for literal, name in template.parts:
            out.append(literal)
            if name is None:
                continue
            if name == "record_id":
                out.append(record_id)
            elif name == "resident":
                out.append(resident.lower())
            elif name == "rule":
                out.append(rule.activity)
            elif name == "program":
                out.append(self.program)
            else:
                value = values[name]
                out.append(value.isoformat() if isinstance(value, date) else str(value))
        return "".join(out)


def _reader(spec: FieldSpec) -> Reader:
    """The field's parser (base.py's), its settings bound once; a renamed column is read under the field's name."""
    name, column = spec.name, spec.column
    kind = spec.type
    if kind == "decimal":
        lo, hi, places = spec.minimum, spec.maximum, spec.places
        parse = lambda r: decimal_field(r, name, minimum=lo, maximum=hi, places=places)  # noqa: E731
    elif kind == "integer":
        lo, hi, default = spec.minimum, spec.maximum, spec.default
        parse = lambda r: int_field(r, name, minimum=lo, maximum=hi, default=default)  # noqa: E731
    elif kind == "choice":
        allowed = frozenset(spec.values)
        parse = lambda r: choice_field(r, name, allowed)  # noqa: E731
    elif kind == "date":
        parse = lambda r: date_field(r, name)  # noqa: E731
    elif kind == "address":
        parse = lambda r: address_field(r, name)  # noqa: E731
    elif kind == "month":
        parse = lambda r: _month(r, name)  # noqa: E731
    else:
        pattern = re.compile(spec.pattern) if spec.pattern else None
        limit = spec.max_length
        parse = lambda r: _text(r, name, limit, pattern, spec.pattern)  # noqa: E731
    read = parse if column == name else (lambda r: parse({name: r.get(column)}))
    if kind == "text":
        return read
    # an export repeats its cells (a date, an activity, an amount of hours): a cell's parse is a pure function of
    # its text, so the value parsed from a text is kept (at most CELL_CACHE texts a field)
    cache: dict[str, Any] = {}

    def cached(r):
        raw = r.get(column)
        if raw.__class__ is not str:
            return read(r)
        value = cache.get(raw, _MISS)
        if value is _MISS:
            value = read(r)  # raises for a bad cell: only good ones are kept
            if len(cache) >= CELL_CACHE:
                cache.clear()
            cache[raw] = value
        return value
    return cached


CELL_CACHE = 4096
_MISS = object()


def _month(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if _blank(value):
        raise RecordRejected("missing_field", f"missing {name}")
    text = str(value).strip()
    if not _MONTH.fullmatch(text):
        raise RecordRejected(f"bad_{name}", f"{name} {text!r} is not YYYY-MM")
    return text


def _text(record: Mapping[str, Any], name: str, limit: int, pattern: re.Pattern | None, shown: str | None) -> str:
    """Text, maybe empty unless the field is required (a non_empty condition can refuse it with its own code)."""
    raw = record.get(name)
    value = "" if raw is None else str(raw).strip()
    if len(value) > limit:
        raise RecordRejected(f"{name}_too_long", f"{name} is longer than {limit} characters")
    if value and pattern and not pattern.fullmatch(value):
        raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not of the form {shown}")
    return value


_day = [0.0, date.min]  # (when today ends, epoch seconds; today): date.today() costs more than the whole check


def _today() -> date:
    if time.time() >= _day[0]:
        today = date.today()
        _day[:] = [datetime.combine(today + timedelta(days=1), datetime.min.time()).timestamp(), today]
    return _day[1]


def _check(condition: Condition, value: Any) -> None:
    check = condition.check
    if check == "not_future":
        failed = value > _today()
    elif check == "month_over":
        failed = value >= _today().strftime("%Y-%m")
    elif check == "non_empty":
        failed = not value
    else:  # nonzero
        failed = value == 0
    if failed:
        raise RecordRejected(condition.code, condition.message.replace("{value}", str(value)))


__all__ = ["MappedAdapter"]
