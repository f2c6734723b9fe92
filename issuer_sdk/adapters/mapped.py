"""The adapter a mapping file describes: one record -> one issuance (amount by the rule table) or a rejection.

A record is read in this order, and the first problem is its rejection (code and sentence):
1. the columns of `record_id`, `resident` and every `required: true` field are present (`missing_field`);
   the record id is an id (`bad_record_id`), the resident an address or found by the lookup (`bad_resident`);
2. the required fields, parsed in the order `fields` declares them (the SDK's field parsers: `bad_<field>`,
   `<field>_out_of_range`, `unknown_<field>`, `inexact_number`...), each followed by the conditions on it;
3. the rule: choice fields named in the rules' `when`, in declared order, narrow the table until one rule is
   left (the first in table order if several); a value no rule takes is `no_rule`;
4. the rule's conditions on fields read so far; then the fields the rule reads (its unit, its conditions' and
   its ref's fields, its `reads`), in declared order, each followed by its conditions;
5. the amount: `points`, or floor(unit x points_per_unit) (Decimal, rounded down), raised to `min_points`
   and capped at `max_points`; zero is `zero_points`. The ref is the rule's (or the file's) template filled in.

A condition is checked as soon as its field is read.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from issuer_sdk.adapters.base import (Adapter, _blank, _checksummed, _resident, address_field, choice_field,
                                      date_field, decimal_field, floor_points, int_field)
from issuer_sdk.adapters.mapping import RESIDENT_LOOKUPS, AdapterSpec, Condition, FieldSpec, RuleSpec, Template
from issuer_sdk.errors import RecordRejected


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
        self._first = tuple(f for f in spec.fields.values() if f.required)
        self._selectors = tuple(n for n in spec.fields if any(n in r.when for r in spec.rules))
        self._conditions: dict[str, tuple[Condition, ...]] = {
            n: tuple(c for c in spec.conditions if c.field == n) for n in spec.fields}
        self._patterns = {n: re.compile(f.pattern) for n, f in spec.fields.items() if f.pattern}
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
        for spec in self._first:
            self._read(record, spec, values, ())
        rule = self._select(record, values)
        for condition in rule.conditions:
            if condition.field in values:
                _check(condition, values[condition.field])
        for name in rule.reads:
            if name not in values:
                self._read(record, self.spec.fields[name], values, rule.conditions)
        if rule.points is not None:
            amount = rule.points
        else:
            amount = floor_points(values[rule.unit] * rule.points_per_unit)
        if rule.min_points is not None and amount < rule.min_points:
            amount = rule.min_points
        if rule.max_points is not None and amount > rule.max_points:
            amount = rule.max_points
        ref = self._ref(rule.ref or self.spec.ref, record_id, resident, rule, values)
        return amount, rule.reason, ref, rule.activity

    def _read(self, record, spec: FieldSpec, values: dict, rule_conditions: tuple[Condition, ...]) -> None:
        view = record if spec.column == spec.name else {spec.name: record.get(spec.column)}
        kind, name = spec.type, spec.name
        if kind == "decimal":
            value: Any = decimal_field(view, name, minimum=spec.minimum, maximum=spec.maximum, places=spec.places)
        elif kind == "integer":
            value = int_field(view, name, minimum=spec.minimum, maximum=spec.maximum, default=spec.default)
        elif kind == "choice":
            value = choice_field(view, name, spec.values)
        elif kind == "date":
            value = date_field(view, name)
        elif kind == "address":
            value = address_field(view, name)
        elif kind == "month":
            text = view.get(name)
            if _blank(text):
                raise RecordRejected("missing_field", f"missing {name}")
            value = str(text).strip()
            if not _MONTH.fullmatch(value):
                raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not YYYY-MM")
        else:  # text: may be empty unless required (a non_empty condition can refuse it with its own code)
            raw = view.get(name)
            value = "" if raw is None else str(raw).strip()
            if len(value) > spec.max_length:
                raise RecordRejected(f"{name}_too_long", f"{name} is longer than {spec.max_length} characters")
            pattern = self._patterns.get(name)
            if value and pattern and not pattern.fullmatch(value):
                raise RecordRejected(f"bad_{name}", f"{name} {value!r} is not of the form {spec.pattern}")
        values[name] = value
        for condition in self._conditions[name]:
            _check(condition, value)
        for condition in rule_conditions:
            if condition.field == name:
                _check(condition, value)

    def _select(self, record, values: dict) -> RuleSpec:
        """The rule: each selector the remaining rules name, read and matched in declared order."""
        candidates = self.spec.rules
        chosen: list[tuple[str, str]] = []
        for name in self._selectors:
            if not any(name in r.when for r in candidates):
                continue
            if name not in values:
                self._read(record, self.spec.fields[name], values, ())
            value = values[name]
            chosen.append((name, value))
            candidates = tuple(r for r in candidates if r.when.get(name, value) == value)
            if not candidates:
                said = ", ".join(f"{n}={v}" for n, v in chosen)
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


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _check(condition: Condition, value: Any) -> None:
    check = condition.check
    if check == "not_future":
        failed = value > date.today()
    elif check == "month_over":
        failed = value >= date.today().strftime("%Y-%m")
    elif check == "non_empty":
        failed = not value
    else:  # nonzero
        failed = value == 0 or value == Decimal(0)
    if failed:
        raise RecordRejected(condition.code, condition.message.replace("{value}", str(value)))


__all__ = ["MappedAdapter"]
