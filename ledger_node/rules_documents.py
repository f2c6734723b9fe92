"""The programmes' published rule tables: the audit checks cited issuance against them, the API names the rule
of each cited entry in a resident's history.

A rules document is what governance publishes (`SchemeRegistry.publishRules` holds its sha256): the canonical JSON
of a mapping file's rules (issuer_sdk/README.md, "Mapping files"; sorted keys, no spaces, UTF-8). The audit reads
such documents from directories of `*.json` files (by default the shipped programmes' published documents,
issuer_sdk/adapters/mappings/published/; `citypoints audit --rules DIR` adds more) and finds each by the hash a
batch cites, so a document is trusted for what it hashes to, never for its name. The audit imports nothing of the
SDK: it reads the document's data.

What the chain shows of an entry is its amount and its reason code, so the deterministic part of a rule is checked:
the reason code names a rule of the cited version; a flat rule's amount is its `points`; a per-unit rule's amount
is at most what the unit field's maximum earns (`max_points` caps it, `min_points` raises it) and, when both the
unit and the points per unit are whole numbers, a multiple of the points per unit (or the min/max it was clamped
to). What the record held (hours, a date) is off chain: those checks are the issuer's.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path

from ledger_node import paths

DEFAULT_DIRS = (paths.ROOT / "issuer_sdk" / "adapters" / "mappings" / "published",)
MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class Rule:
    activity: str
    reason: int
    name_zh: str | None
    name_en: str | None
    points: int | None
    per_unit: Decimal | None
    unit: str | None
    unit_max: Decimal | None
    unit_whole: bool  # the unit field holds whole numbers (type integer)
    min_points: int | None
    max_points: int | None

    def allows(self, amount: int) -> bool:
        if self.points is not None:
            return amount == self.points
        if self.max_points is not None and amount > self.max_points:
            return False
        if self.unit_max is not None and amount > max(self.ceiling(), self.min_points or 0):
            return False
        if self.min_points is not None and amount == self.min_points:
            return True
        if self.max_points is not None and amount == self.max_points:
            return True
        if self.unit_whole and self.per_unit == self.per_unit.to_integral_value() and self.per_unit > 0:
            return amount % int(self.per_unit) == 0 and (self.min_points is None or amount >= self.min_points)
        return self.min_points is None or amount >= self.min_points

    def ceiling(self) -> int:
        """The most points the unit field's maximum earns, before max_points."""
        return int((self.unit_max * self.per_unit).to_integral_value(ROUND_FLOOR))

    def expected(self) -> str:
        """The rule's amounts in words, for a finding's evidence."""
        if self.points is not None:
            return f"exactly {self.points} points"
        parts = [f"floor({self.unit} x {self.per_unit})"]
        if self.unit_whole and self.per_unit == self.per_unit.to_integral_value():
            parts.append(f"a multiple of {self.per_unit}")
        hi = [x for x in (self.max_points, self.ceiling() if self.unit_max is not None else None) if x is not None]
        if hi:
            parts.append(f"at most {min(hi)}")
        if self.min_points is not None:
            parts.append(f"at least {self.min_points}")
        return ", ".join(parts) + " points"


@dataclass(frozen=True)
class RuleTable:
    sha256: str  # hex, no 0x
    program: str | None
    scheme: int | None
    label: str | None  # the document's own rules_version ("volunteer-2026.1")
    by_reason: dict[int, tuple[Rule, ...]]

    def check(self, reason: int, amount: int) -> tuple[str, str] | None:
        """None when the entry keeps a rule of this table; else (problem code, what was expected)."""
        rules = self.by_reason.get(reason)
        if not rules:
            return "entry-cites-no-rule", f"a reason code of the table: {sorted(self.by_reason)}"
        if any(r.allows(amount) for r in rules):
            return None
        return "amount-breaks-rule", " or ".join(f"{r.activity}: {r.expected()}" for r in rules)

    def names(self) -> dict[int, dict]:
        """reason code -> {activity, zh, en} of its first rule (what a resident's history calls it)."""
        return {reason: {"activity": rules[0].activity, "zh": rules[0].name_zh, "en": rules[0].name_en}
                for reason, rules in self.by_reason.items()}


class RulesLibrary:
    """The rules documents the audit knows, by sha256 (of the file's bytes and of its canonical JSON)."""

    def __init__(self, dirs: tuple[Path, ...] | list[Path] = DEFAULT_DIRS):
        self.tables: dict[str, RuleTable] = {}
        self.unreadable: list[str] = []
        for d in dirs:
            for path in sorted(Path(d).glob("*.json")) if Path(d).is_dir() else ():
                self._load(path)

    def get(self, sha256: str) -> RuleTable | None:
        return self.tables.get(_hex(sha256))

    def for_scheme(self, scheme: int) -> list[str]:
        return sorted(h for h, t in self.tables.items() if t.scheme == scheme)

    def _load(self, path: Path) -> None:
        try:
            data = path.read_bytes()
            if len(data) > MAX_DOCUMENT_BYTES:
                raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
            document = json.loads(data)
            canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            for digest in {hashlib.sha256(data).hexdigest(), hashlib.sha256(canonical).hexdigest()}:
                self.tables[digest] = table_of(document, digest)
        except (OSError, ValueError, TypeError, KeyError, InvalidOperation) as exc:
            self.unreadable.append(f"{path}: {exc}")


def table_of(document: dict, sha256: str) -> RuleTable:
    """A rules document's table; raises ValueError / KeyError / TypeError for one that is not a rule table."""
    fields = document.get("fields", {})
    by_reason: dict[int, list[Rule]] = {}
    for activity, r in document["rules"].items():
        unit = r.get("unit")
        field = fields.get(unit, {}) if unit else {}
        name = r.get("name") or {}
        rule = Rule(activity, int(r["reason"]), name.get("zh"), name.get("en"),
                    int(r["points"]) if "points" in r else None,
                    Decimal(str(r["points_per_unit"])) if "points_per_unit" in r else None, unit,
                    Decimal(str(field["maximum"])) if "maximum" in field else None, field.get("type") == "integer",
                    int(r["min_points"]) if "min_points" in r else None,
                    int(r["max_points"]) if "max_points" in r else None)
        if (rule.points is None) == (rule.per_unit is None):
            raise ValueError(f"rule {activity!r} has neither points nor points_per_unit (or both)")
        by_reason.setdefault(rule.reason, []).append(rule)
    scheme = document.get("scheme")
    return RuleTable(sha256, document.get("program"), int(scheme) if scheme is not None else None,
                     document.get("rules_version"), {k: tuple(v) for k, v in by_reason.items()})


def _hex(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value).lower().removeprefix("0x")


__all__ = ["DEFAULT_DIRS", "Rule", "RuleTable", "RulesLibrary", "table_of"]
