"""A programme's mapping file: how its export becomes issuance, as data (YAML), read and checked with line numbers.

The file says where the records come from (CSV or JSON lines), which columns are which typed fields, who the
resident is, which activity a record is, the rule table (activity -> points, limits, reason code), the
idempotency ref and the version of the rules. `load_mapping` reads it into an `AdapterSpec`, or raises
`MappingInvalid` listing every problem with its line in the file and a stable code; nothing is issued from a file
that does not load. The format is documented in issuer_sdk/README.md ("Mapping files").

Numbers are exact: a YAML number such as `0.1` is read from its text as Decimal("0.1"), never through a float.
"""
from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

import yaml

from issuer_sdk.errors import MappingInvalid, MappingProblem
from ledger_node.domain import UINT32_MAX, UINT96_MAX, UINT256_MAX

FORMAT = "citypoints-adapter/1"
MAX_FILE_BYTES = 256 * 1024
MAX_FIELDS = 64
MAX_RULES = 1000
MAX_CONDITIONS = 64
MAX_TEXT = 256

FIELD_TYPES = ("decimal", "integer", "date", "month", "choice", "text", "address")
CHECKS = {  # condition -> (field types it applies to, default code, default sentence)
    "not_future": (("date",), "future_date", "{field} {value} is in the future"),
    "month_over": (("month",), "month_not_over", "{field} {value} has not ended"),
    "non_empty": (("text",), "empty_{field}", "{field} is empty"),
    "nonzero": (("decimal", "integer"), "zero_{field}", "{field} is zero"),
}
SOURCE_FORMATS = ("csv", "jsonl")
TEMPLATE_NAMES = ("record_id", "resident", "rule", "program")  # besides the declared fields

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PROGRAM = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACTIVITY = re.compile(r"^[a-z0-9][a-z0-9_./-]{0,63}$")
_CODE = _NAME
_INTEGER = re.compile(r"^[-+]?[0-9]+$")
_DECIMAL = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_MAX_PLACES = 18

# Named resident lookups an issuing system registers in code (`register_resident_lookup`): a mapping file names
# one (`resident: {lookup: NAME, column: COL}`) to turn its column (a card number, say) into the resident's address.
RESIDENT_LOOKUPS: dict[str, Callable[[str], str | None]] = {}


def register_resident_lookup(name: str, lookup: Callable[[str], str | None]) -> None:
    """Make `lookup(value) -> address or None` available to mapping files as `resident: {lookup: name}`."""
    if not _NAME.match(name):
        raise ValueError(f"a lookup name is lower-case letters, digits and _ (got {name!r})")
    RESIDENT_LOOKUPS[name] = lookup


# -- what a loaded file holds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    name: str
    column: str
    type: str
    required: bool = False
    minimum: Decimal | int | None = None
    maximum: Decimal | int | None = None
    places: int = 6
    default: int | None = None
    values: tuple[str, ...] = ()
    max_length: int = MAX_TEXT
    pattern: str | None = None

    def document(self) -> dict:
        out = {"column": self.column, "type": self.type, "required": self.required}
        for key in ("minimum", "maximum", "default", "pattern"):
            if getattr(self, key) is not None:
                out[key] = str(getattr(self, key))
        if self.type == "decimal":
            out["places"] = self.places
        if self.type == "choice":
            out["values"] = list(self.values)
        if self.type == "text":
            out["max_length"] = self.max_length
        return out


@dataclass(frozen=True)
class Condition:
    check: str
    field: str
    code: str
    message: str

    def document(self) -> dict:
        return {"check": self.check, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Template:
    """An idempotency-ref template such as `volunteer:{record_id}`: literal text and field names."""

    text: str
    parts: tuple[tuple[str, str | None], ...]  # (literal, name or None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for _, n in self.parts if n)


@dataclass(frozen=True)
class RuleSpec:
    """One row of the rule table: the records it applies to (`when`) and what they earn."""

    activity: str
    line: int
    when: dict[str, str]
    reason: int
    points: int | None = None
    points_per_unit: Decimal | None = None
    unit: str | None = None
    min_points: int | None = None
    max_points: int | None = None
    conditions: tuple[Condition, ...] = ()
    reads: tuple[str, ...] = ()
    ref: Template | None = None
    name: tuple[str, str] | None = None  # (中文, English): what a resident's history calls the rule

    def document(self) -> dict:
        out: dict[str, Any] = {"when": dict(sorted(self.when.items())), "reason": self.reason}
        if self.name is not None:  # only when given, so a table without names keeps its hash
            out["name"] = {"zh": self.name[0], "en": self.name[1]}
        if self.points is not None:
            out["points"] = self.points
        else:
            out["points_per_unit"] = str(self.points_per_unit)
            out["unit"] = self.unit
        for key in ("min_points", "max_points"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.conditions:
            out["conditions"] = [c.document() for c in self.conditions]
        if self.reads:
            out["reads"] = list(self.reads)
        if self.ref:
            out["ref"] = self.ref.text
        return out


@dataclass(frozen=True)
class AdapterSpec:
    """A mapping file, checked. `rules_sha256` is the hash every issued item of a run cites (see `rules_document`)."""

    path: str
    program: str
    scheme: int
    rules_version: str
    record_id_column: str
    resident_column: str
    resident_lookup: str | None
    fields: dict[str, FieldSpec]
    conditions: tuple[Condition, ...]
    rules: tuple[RuleSpec, ...]
    ref: Template
    source_format: str | None = None
    description: str = ""
    rules_sha256: str = field(default="", compare=False)

    def rules_document(self) -> dict:
        """What decides whether a record earns and how much: everything but the source format and description."""
        return {"format": FORMAT, "program": self.program, "scheme": self.scheme, "rules_version": self.rules_version,
                "record_id": {"column": self.record_id_column},
                "resident": {"column": self.resident_column, "lookup": self.resident_lookup},
                "fields": {n: f.document() for n, f in self.fields.items()},
                "conditions": [c.document() for c in self.conditions],
                "rules": {r.activity: r.document() for r in self.rules}, "ref": self.ref.text}


def canonical_json(document: dict) -> bytes:
    """A rules document as the bytes its hash is of: JSON, sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rules_sha256(document: dict) -> str:
    """sha256 (hex) of the canonical JSON of a rules document: what a run cites and what governance can publish
    (SchemeRegistry.publishRules takes the same 32 bytes)."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


# -- loading -----------------------------------------------------------------------------------------------------

def load_mapping(path: str | Path) -> AdapterSpec:
    """Read and check a mapping file; raises MappingInvalid with every problem and its line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MappingInvalid(str(path), [MappingProblem(0, "mapping_too_large",
                                                            f"{size:,} bytes; a mapping file is at most "
                                                            f"{MAX_FILE_BYTES:,}")])
        data = path.read_bytes()
    except OSError as exc:
        raise MappingInvalid(str(path), [MappingProblem(0, "mapping_unreadable", str(exc))]) from None
    return parse_mapping(data, str(path))


def parse_mapping(data: bytes | str, name: str = "<mapping>") -> AdapterSpec:
    """`load_mapping` of a file's contents (`name` is what errors call it)."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_FILE_BYTES:
        raise MappingInvalid(name, [MappingProblem(0, "mapping_too_large",
                                                   f"{len(data):,} bytes; a mapping file is at most "
                                                   f"{MAX_FILE_BYTES:,}")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingInvalid(name, [MappingProblem(0, "mapping_unreadable", f"not UTF-8 text: {exc}")]) from None
    try:
        _check_events(text, name)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise MappingInvalid(name, [MappingProblem(line, "mapping_syntax",
                                                   f"not valid YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise MappingInvalid(name, [MappingProblem(0, "mapping_syntax", f"not valid YAML: {exc}")]) from None
    if node is None:
        raise MappingInvalid(name, [MappingProblem(1, "mapping_empty", "the file holds no mapping")])
    spec = _Reader(name).spec(node)
    return spec


MAX_DEPTH = 8  # a mapping file nests 5 levels at most (rules > rule > conditions > condition > key)


def _check_events(text: str, name: str) -> None:
    """Refuse, before building anything, what would let a small file cost a lot: YAML aliases (each would be
    walked again: a few lines can expand to millions of nodes) and deep nesting."""
    problems, depth = [], 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            problems.append(MappingProblem(event.start_mark.line + 1, "mapping_alias",
                                           f"YAML aliases (*{event.anchor}) are not allowed in a mapping file; "
                                           "write the value out"))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise MappingInvalid(name, [MappingProblem(event.start_mark.line + 1, "mapping_too_deep",
                                                           f"nested more than {MAX_DEPTH} levels")])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    if problems:
        raise MappingInvalid(name, problems)


_BAD = object()  # a value that had a problem (already recorded)


class _Reader:
    """Walks the YAML nodes, recording every problem with its line, and builds the spec."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[MappingProblem] = []
        self.bad_fields: set[str] = set()  # declared but with a problem: references to them are not problems again

    def unknown(self, node, name: str, message: str) -> object:
        """A reference to a field `fields` lacks: a problem, unless the field is declared with a problem."""
        if name in self.bad_fields:
            return _BAD
        return self.problem(node, "unknown_field", message)

    def problem(self, node_or_line, code: str, message: str) -> object:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.start_mark.line + 1
        self.problems.append(MappingProblem(line, code, message))
        return _BAD

    # -- node kinds --------------------------------------------------------------------------------------------

    def mapping(self, node, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = (),
                free_keys: bool = False) -> dict[str, Any] | object:
        """{key: value node}; unknown, duplicate and missing keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            return self.problem(node, "not_an_object", f"{where} must be a mapping of keys to values")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.problem(key_node, "bad_key", f"{where}: a key must be a plain word (quote it if YAML reads "
                                                  f"{getattr(key_node, 'value', key_node)!r} as something else)")
                continue
            key = key_node.value
            if key in out:
                self.problem(key_node, "duplicate_key", f"{where}: {key!r} is given twice")
                continue
            if not free_keys and key not in allowed:
                self.problem(key_node, "unknown_key", f"{where}: unknown key {key!r} (known: {', '.join(allowed)})")
                continue
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                self.problem(node, "missing_key", f"{where}: {key!r} is required")
        return out

    def seq(self, node, where: str, limit: int) -> list | object:
        if not isinstance(node, yaml.SequenceNode):
            return self.problem(node, "not_a_list", f"{where} must be a list")
        if len(node.value) > limit:
            return self.problem(node, "bad_value", f"{where}: at most {limit} entries")
        return list(node.value)

    def scalar(self, node, where: str) -> yaml.ScalarNode | object:
        if not isinstance(node, yaml.ScalarNode):
            return self.problem(node, "bad_value", f"{where} must be a single value, not a list or mapping")
        return node

    def string(self, node, where: str, pattern: re.Pattern | None = None, what: str = "", limit: int = MAX_TEXT):
        node = self.scalar(node, where)
        if node is _BAD:
            return _BAD
        if node.tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"):
            return self.problem(node, "bad_value", f"{where} must be text (quote {node.value!r})")
        value = node.value
        if not value.strip():
            return self.problem(node, "bad_value", f"{where} is empty")
        if len(value) > limit:
            return self.problem(node, "bad_value", f"{where} is longer than {limit} characters")
        if pattern and not pattern.match(value):
            return self.problem(node, "bad_value", f"{where} {value!r} is not {what}")
        return value

    def integer(self, node, where: str, lo: int, hi: int):
        node = self.scalar(node, where)
        if node is _BAD:
            return _BAD
        text = node.value.strip()
        if node.tag == "tag:yaml.org,2002:float" or not _INTEGER.match(text):
            return self.problem(node, "bad_value", f"{where} must be a whole number, got {node.value!r}")
        value = int(text)
        if not lo <= value <= hi:
            return self.problem(node, "bad_value", f"{where} {value} is outside {lo}..{hi}")
        return value

    def decimal(self, node, where: str, lo: Decimal | None = None):
        """An exact decimal from the number's text (YAML `0.1` is Decimal("0.1"); no float in between)."""
        node = self.scalar(node, where)
        if node is _BAD:
            return _BAD
        text = node.value.strip()
        if node.tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool") or not _DECIMAL.match(text):
            return self.problem(node, "bad_value", f"{where} must be a decimal number, got {node.value!r}")
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            return self.problem(node, "bad_value", f"{where} {text!r} is not a number")
        if value.as_tuple().exponent < -_MAX_PLACES or abs(value) > UINT96_MAX:
            return self.problem(node, "bad_value", f"{where} {text} is beyond {_MAX_PLACES} decimal places or "
                                                   "the ledger's range")
        if lo is not None and value < lo:
            return self.problem(node, "bad_value", f"{where} {value} is below {lo}")
        return value

    def boolean(self, node, where: str):
        node = self.scalar(node, where)
        if node is _BAD:
            return _BAD
        if node.tag != "tag:yaml.org,2002:bool":
            return self.problem(node, "bad_value", f"{where} must be true or false, got {node.value!r}")
        return node.value.lower() in ("true", "yes", "on", "y")

    # -- the file ----------------------------------------------------------------------------------------------

    def spec(self, root) -> AdapterSpec:
        top = self.mapping(root, "the mapping", ("format", "program", "description", "scheme", "rules_version",
                                                 "source", "record_id", "resident", "fields", "conditions", "rules",
                                                 "ref"),
                           required=("format", "program", "scheme", "rules_version", "resident", "fields", "rules",
                                     "ref"))
        if top is _BAD:
            raise MappingInvalid(self.name, self.problems)
        get = lambda key: top[key][1] if key in top else None  # noqa: E731
        if "format" in top:
            fmt = self.string(get("format"), "format")
            if fmt is not _BAD and fmt != FORMAT:
                self.problem(get("format"), "unsupported_format", f"format {fmt!r}: this SDK reads {FORMAT!r}")
        program = self.string(get("program"), "program", _PROGRAM, "a programme name (a-z, 0-9, _ and -)") \
            if "program" in top else _BAD
        description = self.string(get("description"), "description", limit=1000) if "description" in top else ""
        scheme = self.integer(get("scheme"), "scheme", 1, UINT256_MAX) if "scheme" in top else _BAD
        version = self.string(get("rules_version"), "rules_version",
                              re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"),
                              "a version (letters, digits, . _ + -, at most 64)") if "rules_version" in top else _BAD
        source_format = None
        if "source" in top:
            src = self.mapping(get("source"), "source", ("format",))
            if src is not _BAD and "format" in src:
                source_format = self.string(src["format"][1], "source.format")
                if source_format is not _BAD and source_format not in SOURCE_FORMATS:
                    source_format = self.problem(src["format"][1], "bad_value",
                                                 f"source.format {source_format!r} is not one of csv, jsonl")
        record_id_column = "record_id"
        if "record_id" in top:
            rid = self.mapping(get("record_id"), "record_id", ("column",), required=("column",))
            if rid is not _BAD and "column" in rid:
                record_id_column = self.string(rid["column"][1], "record_id.column", limit=128)
        resident_column, lookup = "resident", None
        if "resident" in top:
            res = self.mapping(get("resident"), "resident", ("column", "lookup"), required=("column",))
            if res is not _BAD:
                if "column" in res:
                    resident_column = self.string(res["column"][1], "resident.column", limit=128)
                if "lookup" in res:
                    lookup = self.string(res["lookup"][1], "resident.lookup", _NAME, "a lookup name")
                    if lookup is not _BAD and lookup not in RESIDENT_LOOKUPS:
                        lookup = self.problem(res["lookup"][1], "unknown_lookup",
                                              f"no resident lookup named {lookup!r} is registered in this SDK "
                                              f"(registered: {', '.join(sorted(RESIDENT_LOOKUPS)) or 'none'})")
        fields = self.fields(get("fields")) if "fields" in top else {}
        conditions = self.conditions(get("conditions"), "conditions", fields) if "conditions" in top else ()
        ref = self.template(get("ref"), "ref", fields) if "ref" in top else _BAD
        rules = self.rules(get("rules"), fields) if "rules" in top else ()
        if rules is not _BAD and ref is not _BAD:
            rules = tuple(self.with_reads(r, fields, ref) for r in rules)
        if self.problems:
            raise MappingInvalid(self.name, self.problems)
        spec = AdapterSpec(self.name, program, scheme, version, record_id_column, resident_column, lookup, fields,
                           tuple(conditions), tuple(rules), ref, source_format, description or "")
        return _with_hash(spec)

    def fields(self, node) -> dict[str, FieldSpec]:
        entries = self.mapping(node, "fields", (), free_keys=True)
        if entries is _BAD:
            return {}
        if not entries:
            self.problem(node, "bad_value", "fields: declare at least one field")
        if len(entries) > MAX_FIELDS:
            self.problem(node, "bad_value", f"fields: at most {MAX_FIELDS}")
        out: dict[str, FieldSpec] = {}
        for name, (key_node, value_node) in entries.items():
            where = f"field {name!r}"
            if not _NAME.match(name) or name in TEMPLATE_NAMES:
                self.problem(key_node, "bad_value", f"{where}: a field name is lower-case letters, digits and _, "
                                                    f"and not one of {', '.join(TEMPLATE_NAMES)}")
                continue
            spec = self.field(name, value_node, where)
            if spec is not _BAD:
                out[name] = spec
            else:
                self.bad_fields.add(name)
        return out

    def field(self, name: str, node, where: str):
        common = ("type", "column", "required")
        per_type = {"decimal": ("min", "max", "places"), "integer": ("min", "max", "default"), "date": (),
                    "month": (), "choice": ("values",), "text": ("max_length", "pattern"), "address": ()}
        entries = self.mapping(node, where, common + tuple(k for ks in per_type.values() for k in ks),
                               required=("type",))
        if entries is _BAD or "type" not in entries:
            return _BAD
        kind = self.string(entries["type"][1], f"{where}: type")
        if kind is _BAD:
            return _BAD
        if kind not in FIELD_TYPES:
            return self.problem(entries["type"][1], "bad_value",
                                f"{where}: type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
        values: dict[str, Any] = {"name": name, "column": name, "type": kind}
        bad = False
        for key, (key_node, value_node) in entries.items():
            if key in common or key in per_type[kind]:
                continue
            self.problem(key_node, "unknown_key", f"{where}: {key!r} is not a setting of a {kind} field")
            bad = True
        if "column" in entries:
            values["column"] = self.string(entries["column"][1], f"{where}: column", limit=128)
        if "required" in entries:
            values["required"] = self.boolean(entries["required"][1], f"{where}: required")
        if kind == "decimal":
            values["minimum"] = Decimal(0)
            for key, attr in (("min", "minimum"), ("max", "maximum")):
                if key in entries:
                    values[attr] = self.decimal(entries[key][1], f"{where}: {key}")
            if "places" in entries:
                values["places"] = self.integer(entries["places"][1], f"{where}: places", 0, _MAX_PLACES)
        if kind == "integer":
            values["minimum"] = 0
            for key, attr in (("min", "minimum"), ("max", "maximum"), ("default", "default")):
                if key in entries:
                    values[attr] = self.integer(entries[key][1], f"{where}: {key}", 0, UINT96_MAX)
        if kind == "choice":
            if "values" not in entries:
                return self.problem(node, "missing_key", f"{where}: a choice field lists its values")
            items = self.seq(entries["values"][1], f"{where}: values", 1000)
            if items is not _BAD:
                choices = []
                for item in items:
                    text = self.string(item, f"{where}: a value", limit=64)
                    if text is _BAD:
                        continue
                    text = text.strip().lower()
                    if text in choices:
                        self.problem(item, "duplicate_key", f"{where}: value {text!r} is listed twice")
                    choices.append(text)
                values["values"] = tuple(choices)
                if not choices:
                    self.problem(entries["values"][1], "bad_value", f"{where}: list at least one value")
        if kind == "text":
            if "max_length" in entries:
                values["max_length"] = self.integer(entries["max_length"][1], f"{where}: max_length", 1, 10_000)
            if "pattern" in entries:
                pattern = self.string(entries["pattern"][1], f"{where}: pattern")
                if pattern is not _BAD:
                    try:
                        re.compile(pattern)
                        values["pattern"] = pattern
                    except re.error as exc:
                        self.problem(entries["pattern"][1], "bad_value", f"{where}: pattern is not a regular "
                                                                         f"expression: {exc}")
        lo, hi = values.get("minimum"), values.get("maximum")
        if lo not in (None, _BAD) and hi not in (None, _BAD) and lo > hi:
            self.problem(node, "bad_value", f"{where}: min {lo} is above max {hi}")
        if bad or any(v is _BAD for v in values.values()):
            return _BAD
        return FieldSpec(**values)

    def conditions(self, node, where: str, fields: dict[str, FieldSpec]) -> tuple[Condition, ...]:
        items = self.seq(node, where, MAX_CONDITIONS)
        if items is _BAD:
            return ()
        out = []
        for item in items:
            entries = self.mapping(item, f"a condition of {where}", ("check", "field", "code", "message"),
                                   required=("check", "field"))
            if entries is _BAD or "check" not in entries or "field" not in entries:
                continue
            check = self.string(entries["check"][1], "check")
            name = self.string(entries["field"][1], "field")
            if check is _BAD or name is _BAD:
                continue
            if check not in CHECKS:
                self.problem(entries["check"][1], "bad_value", f"check {check!r} is not one of {', '.join(CHECKS)}")
                continue
            if name not in fields:
                self.unknown(entries["field"][1], name, f"check {check}: no field named {name!r}")
                continue
            types, code, message = CHECKS[check]
            if fields[name].type not in types:
                self.problem(entries["field"][1], "wrong_field_type",
                             f"check {check} applies to a {' or '.join(types)} field; {name} is {fields[name].type}")
                continue
            if "code" in entries:
                code = self.string(entries["code"][1], "code", _CODE, "a code (lower-case letters, digits, _)")
            if "message" in entries:
                message = self.string(entries["message"][1], "message", limit=200)
            if code is _BAD or message is _BAD:
                continue
            out.append(Condition(check, name, code.replace("{field}", name), message.replace("{field}", name)))
        return tuple(out)

    def template(self, node, where: str, fields: dict[str, FieldSpec]):
        text = self.string(node, where, limit=200)
        if text is _BAD:
            return _BAD
        parts = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            return self.problem(node, "bad_template", f"{where} {text!r}: {exc} (write names as {{name}})")
        for literal, name, spec, conversion in parsed:
            if name is None:
                parts.append((literal, None))
                continue
            if name in self.bad_fields:
                return _BAD
            if spec or conversion or name not in (*TEMPLATE_NAMES, *fields):
                return self.problem(node, "bad_template",
                                    f"{where} {text!r}: {{{name}}} is not a field or one of "
                                    f"{', '.join(TEMPLATE_NAMES)} (no format specs)")
            parts.append((literal, name))
        if not any(n for _, n in parts):
            return self.problem(node, "bad_template", f"{where} {text!r} names no field: every record would get "
                                                      "the same ref")
        return Template(text, tuple(parts))

    def rules(self, node, fields: dict[str, FieldSpec]):
        entries = self.mapping(node, "rules", (), free_keys=True)
        if entries is _BAD:
            return _BAD
        if not entries:
            self.problem(node, "no_rules", "rules: the table has no rule")
            return _BAD
        if len(entries) > MAX_RULES:
            return self.problem(node, "bad_value", f"rules: at most {MAX_RULES}")
        out = []
        seen: dict[tuple, str] = {}
        for activity, (key_node, value_node) in entries.items():
            if not _ACTIVITY.match(activity):
                self.problem(key_node, "bad_value", f"rule {activity!r}: an activity name is lower-case letters, "
                                                    "digits and _ . / -")
                continue
            rule = self.rule(activity, value_node, fields)
            if rule is _BAD:
                continue
            key = tuple(sorted(rule.when.items()))
            if key in seen:
                self.problem(value_node, "duplicate_rule",
                             f"rule {activity!r} applies to the same records as rule {seen[key]!r}")
                continue
            seen[key] = activity
            out.append(rule)
        return tuple(out)

    def rule(self, activity: str, node, fields: dict[str, FieldSpec]):
        where = f"rule {activity!r}"
        entries = self.mapping(node, where, ("when", "reason", "name", "points", "points_per_unit", "unit",
                                             "min_points", "max_points", "conditions", "reads", "ref"),
                               required=("reason",))
        if entries is _BAD:
            return _BAD
        n_before = len(self.problems)
        values: dict[str, Any] = {"activity": activity, "line": node.start_mark.line + 1, "when": {}}
        if "when" in entries:
            when = self.mapping(entries["when"][1], f"{where}: when", (), free_keys=True)
            if when is not _BAD:
                for name, (key_node, value_node) in when.items():
                    if name not in fields:
                        self.unknown(key_node, name, f"{where}: when names no field {name!r}")
                        continue
                    if fields[name].type != "choice":
                        self.problem(key_node, "wrong_field_type", f"{where}: when selects by choice fields; "
                                                                   f"{name} is {fields[name].type}")
                        continue
                    value = self.string(value_node, f"{where}: when {name}", limit=64)
                    if value is _BAD:
                        continue
                    value = value.strip().lower()
                    if value not in fields[name].values:
                        self.problem(value_node, "unknown_choice", f"{where}: {value!r} is not a value of {name} "
                                                                   f"({', '.join(fields[name].values)})")
                        continue
                    values["when"][name] = value
        if "reason" in entries:
            values["reason"] = self.integer(entries["reason"][1], f"{where}: reason", 0, UINT32_MAX)
        if "name" in entries:
            names = self.mapping(entries["name"][1], f"{where}: name", ("zh", "en"), required=("zh", "en"))
            if names is _BAD or not {"zh", "en"} <= set(names):
                values["name"] = _BAD
            else:
                values["name"] = (self.string(names["zh"][1], f"{where}: name.zh", limit=64),
                                  self.string(names["en"][1], f"{where}: name.en", limit=64))
                if _BAD in values["name"]:
                    values["name"] = _BAD
        if ("points" in entries) == ("points_per_unit" in entries):
            self.problem(node, "missing_key" if "points" not in entries else "bad_value",
                         f"{where}: give either points (a flat amount) or points_per_unit with unit")
        if "points" in entries:
            values["points"] = self.integer(entries["points"][1], f"{where}: points", 0, UINT96_MAX)
            if "unit" in entries:
                self.problem(entries["unit"][0], "bad_value", f"{where}: unit goes with points_per_unit, not points")
        if "points_per_unit" in entries:
            values["points_per_unit"] = self.decimal(entries["points_per_unit"][1], f"{where}: points_per_unit",
                                                     Decimal(0))
            if "unit" not in entries:
                self.problem(node, "missing_key", f"{where}: points_per_unit needs unit (the field it multiplies)")
            else:
                unit = self.string(entries["unit"][1], f"{where}: unit")
                if unit is not _BAD and unit not in fields:
                    self.unknown(entries["unit"][1], unit, f"{where}: unit names no field {unit!r}")
                elif unit is not _BAD and fields[unit].type not in ("decimal", "integer"):
                    self.problem(entries["unit"][1], "wrong_field_type",
                                 f"{where}: unit must be a decimal or integer field; {unit} is {fields[unit].type}")
                else:
                    values["unit"] = unit
        for key in ("min_points", "max_points"):
            if key in entries:
                values[key] = self.integer(entries[key][1], f"{where}: {key}", 0, UINT96_MAX)
        if values.get("min_points") not in (None, _BAD) and values.get("max_points") not in (None, _BAD) and \
                values["min_points"] > values["max_points"]:
            self.problem(node, "bad_value", f"{where}: min_points is above max_points")
        if "conditions" in entries:
            values["conditions"] = self.conditions(entries["conditions"][1], f"{where}: conditions", fields)
        if "reads" in entries:
            items = self.seq(entries["reads"][1], f"{where}: reads", MAX_FIELDS)
            reads = []
            for item in items if items is not _BAD else ():
                name = self.string(item, f"{where}: reads")
                if name is not _BAD and name not in fields:
                    self.unknown(item, name, f"{where}: reads names no field {name!r}")
                elif name is not _BAD:
                    reads.append(name)
            values["reads"] = tuple(reads)
        if "ref" in entries:
            values["ref"] = self.template(entries["ref"][1], f"{where}: ref", fields)
        if len(self.problems) > n_before or any(v is _BAD for v in values.values()):
            return _BAD
        return RuleSpec(**values)

    @staticmethod
    def with_reads(rule: RuleSpec, fields: dict[str, FieldSpec], ref: Template) -> RuleSpec:
        """Every field the rule reads, in the order `fields` declares them: its unit, its conditions' fields, its
        ref's fields and what it lists under `reads`."""
        wanted = set(rule.reads) | {c.field for c in rule.conditions} | set((rule.ref or ref).names)
        if rule.unit:
            wanted.add(rule.unit)
        return RuleSpec(**{**rule.__dict__, "reads": tuple(n for n in fields if n in wanted)})


def _with_hash(spec: AdapterSpec) -> AdapterSpec:
    return AdapterSpec(**{**spec.__dict__, "rules_sha256": rules_sha256(spec.rules_document())})


__all__ = ["FORMAT", "AdapterSpec", "canonical_json", "FieldSpec", "Condition", "RuleSpec", "Template", "load_mapping",
           "parse_mapping", "register_resident_lookup", "RESIDENT_LOOKUPS", "rules_sha256"]
