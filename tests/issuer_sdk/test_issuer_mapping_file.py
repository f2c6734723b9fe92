"""Mapping files: a malformed one is refused with every problem's line in the file and a stable code; a good one
reads numbers exactly and hashes its rules independently of comments and layout."""
from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from issuer_sdk.adapters import MAPPINGS_DIR, load_adapter, parse_mapping, register_resident_lookup
from issuer_sdk.adapters.mapping import MAX_FILE_BYTES, RESIDENT_LOOKUPS, load_mapping
from issuer_sdk.errors import ConfigurationError, MappingInvalid

GOOD = textwrap.dedent("""\
    format: citypoints-adapter/1
    program: library
    scheme: 66
    rules_version: "1"
    resident: {column: resident}
    fields:
      kind: {type: choice, required: true, values: [loan, event]}
      pages: {type: integer, min: 1, max: 5000}
    rules:
      loan: {when: {kind: loan}, reason: 1, points_per_unit: 0.1, unit: pages}
      event: {when: {kind: event}, reason: 2, points: 5}
    ref: "library:{record_id}"
    """)


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(MappingInvalid) as info:
        parse_mapping(text, "test.yaml")
    assert isinstance(info.value, ConfigurationError) and info.value.code == "invalid_mapping"
    for p in info.value.problems:
        assert p.message and str(p) in str(info.value)  # every problem says why in words, and is in the message
    return [(p.line, p.code) for p in info.value.problems]


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def test_goodFile_readsNumbersExactly():
    spec = parse_mapping(GOOD)
    loan = spec.rules[0]
    assert (loan.activity, loan.points_per_unit, loan.unit, loan.reason) == ("loan", Decimal("0.1"), "pages", 1)
    assert type(loan.points_per_unit) is Decimal and spec.fields["pages"].maximum == 5000


@pytest.mark.parametrize("text,expected", [
    ("format: [unclosed\n", [(2, "mapping_syntax")]),
    ("", [(1, "mapping_empty")]),
    ("- a\n- b\n", [(1, "not_an_object")]),
    (GOOD + "a: 1\n---\nb: 2\n", [(14, "mapping_syntax")]),  # a second YAML document
    (edit("format: citypoints-adapter/1", "format: citypoints-adapter/9"), [(1, "unsupported_format")]),
    (edit("fields:", "x: &big [a, a, a]\ny: [*big, *big]\nfields:"), [(7, "mapping_alias"), (7, "mapping_alias")]),
    (edit("fields:", "x: " + "[" * 40 + "]" * 40 + "\nfields:"), [(6, "mapping_too_deep")]),
    (edit("scheme: 66\n", ""), [(1, "missing_key")]),
    (edit("scheme: 66", "scheme: 66\nschema: 1"), [(4, "unknown_key")]),
    (edit("scheme: 66", "scheme: 66\nscheme: 67"), [(4, "duplicate_key")]),
    (edit("scheme: 66", "scheme: 0"), [(3, "bad_value")]),
    (edit("scheme: 66", "scheme: 1.5"), [(3, "bad_value")]),
    (edit("type: integer, min: 1", "type: float, min: 1"), [(8, "bad_value")]),
    (edit("max: 5000}", "max: 5000, places: 2}"), [(8, "unknown_key")]),
    (edit("min: 1, max: 5000", "min: 9, max: 5"), [(8, "bad_value")]),
    (edit("reason: 2, points: 5", "reason: 2, points: 2.5"), [(11, "bad_value")]),
    (edit("reason: 2, points: 5", "reason: 2, points: -5"), [(11, "bad_value")]),
    (edit("reason: 2, points: 5", "reason: 4294967296, points: 5"), [(11, "bad_value")]),
    (edit("reason: 2, points: 5", "reason: 2"), [(11, "missing_key")]),
    (edit("points_per_unit: 0.1", "points_per_unit: .inf"), [(10, "bad_value")]),
    (edit("unit: pages", "unit: weight"), [(10, "unknown_field")]),
    (edit("unit: pages", "unit: kind"), [(10, "wrong_field_type")]),
    (edit("when: {kind: event}", "when: {kind: concert}"), [(11, "unknown_choice")]),
    (edit("when: {kind: event}", "when: {genre: event}"), [(11, "unknown_field")]),
    (edit("when: {kind: event}", "when: {kind: loan}"), [(11, "duplicate_rule")]),
    (edit('ref: "library:{record_id}"', 'ref: "library:{loan_id}"'), [(12, "bad_template")]),
    (edit('ref: "library:{record_id}"', 'ref: "library"'), [(12, "bad_template")]),
    (edit('ref: "library:{record_id}"', 'ref: "library:{record_id!r}"'), [(12, "bad_template")]),
    (edit("resident: {column: resident}", "resident: {column: card, lookup: citizen_card}"),
     [(5, "unknown_lookup")]),
    (edit("rules:\n  loan: {when: {kind: loan}, reason: 1, points_per_unit: 0.1, unit: pages}\n"
          "  event: {when: {kind: event}, reason: 2, points: 5}", "rules: {}"), [(9, "no_rules")]),
    (edit("pages: {type: integer, min: 1, max: 5000}",
          "pages: {type: integer, min: 1, max: 5000}\nconditions:\n  - {check: not_future, field: pages}"),
     [(10, "wrong_field_type")]),
])
def test_malformedFile_problemsHaveTheirLines(text, expected):
    assert problems(text) == expected


def test_malformedFile_everyProblemIsListed_notJustTheFirst():
    text = (edit("scheme: 66", "scheme: -1")
            .replace("unit: pages", "unit: weight")
            .replace('ref: "library:{record_id}"', 'ref: "library:{nope}"'))
    assert problems(text) == [(3, "bad_value"), (10, "unknown_field"), (12, "bad_template")]


def test_fileLimits(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(GOOD + "#" * MAX_FILE_BYTES)
    with pytest.raises(MappingInvalid) as info:
        load_mapping(big)
    assert [p.code for p in info.value.problems] == ["mapping_too_large"]
    with pytest.raises(MappingInvalid) as info:
        load_mapping(tmp_path / "missing.yaml")
    assert [p.code for p in info.value.problems] == ["mapping_unreadable"]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe" + GOOD.encode("utf-16-le"))
    with pytest.raises(MappingInvalid) as info:
        load_mapping(binary)
    assert [p.code for p in info.value.problems] == ["mapping_unreadable"]


def test_rulesHash_followsTheRulesNotTheLayout():
    base = parse_mapping(GOOD).rules_sha256
    assert len(base) == 64
    relaid = "# the library's programme\n" + GOOD.replace("rules:\n", "rules:    # the table\n\n").replace(
        "ref:", "source: {format: jsonl}\ndescription: layout only\nref:")
    assert parse_mapping(relaid).rules_sha256 == base
    assert parse_mapping(GOOD.replace("points: 5", "points: 6")).rules_sha256 != base
    assert parse_mapping(GOOD.replace('rules_version: "1"', 'rules_version: "2"')).rules_sha256 != base
    assert parse_mapping(GOOD.replace("points_per_unit: 0.1", "points_per_unit: 0.10")).rules_sha256 != base


def test_residentLookup_namedHook_findsTheResident():
    card_holders = {"CD-0001": "0x" + "cd" * 20}
    register_resident_lookup("test_card", card_holders.get)
    try:
        adapter = load_adapter_text(edit("resident: {column: resident}", "resident: {column: card, lookup: test_card}"))
        item = adapter.convert({"record_id": "l-1", "card": "CD-0001", "kind": "event"})
        assert (item.resident.lower(), item.amount, item.ref) == ("0x" + "cd" * 20, 5, "library:l-1")
        with pytest.raises(Exception) as info:
            adapter.convert({"record_id": "l-2", "card": "CD-9999", "kind": "event"})
        assert info.value.reason == "unknown_resident"
    finally:
        RESIDENT_LOOKUPS.pop("test_card")


def load_adapter_text(text: str):
    from issuer_sdk.adapters import MappedAdapter

    return MappedAdapter(parse_mapping(text))


def test_shippedMappings_allLoad():
    programs = sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))
    assert programs == ["culture", "green", "residence", "traffic", "volunteer"]
    assert sorted(load_adapter(MAPPINGS_DIR / f"{p}.yaml").default_scheme for p in programs) == [1, 2, 3, 4, 5]


def test_readmeExample_isAValidMappingFile():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "issuer_sdk" / "README.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    spec = parse_mapping(example, "README example")
    assert (spec.program, [r.activity for r in spec.rules]) == ("library", ["loan", "reading_club"])


def test_everyReasonCodeOfTheShippedMappings_hasItsWordsInTheWallet_inBothLanguages():
    """A resident sees why they got points by the reason code's label (exchange_api/wallet/src/i18n.js): every
    code a shipped mapping file issues has one, in English and in Chinese."""
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "exchange_api" / "wallet" / "src" / "i18n.js").read_text()
    zh_at = source.index("const zh = {")
    english = set(re.findall(r'"(reason\.\d+\.\d+)"', source[:zh_at]))
    chinese = set(re.findall(r'"(reason\.\d+\.\d+)"', source[zh_at:]))
    issued = {f"reason.{adapter.default_scheme}.{rule.reason}"
              for adapter in (load_adapter(p) for p in MAPPINGS_DIR.glob("*.yaml")) for rule in adapter.spec.rules}
    assert len(issued) >= 20 and issued <= english and issued <= chinese, issued - (english & chinese)


def test_publishedRulesDocuments_areTheShippedMappingFilesCanonicalDocuments():
    """mappings/published/ holds each shipped file's rules document as governance publishes it (the bytes whose
    sha256 goes on chain, which the auditor loads by that hash): never out of step with the YAML."""
    from issuer_sdk.adapters import PROGRAMS, adapter_for
    from issuer_sdk.adapters.mapping import canonical_json

    published = sorted(p.name for p in (MAPPINGS_DIR / "published").glob("*.json"))
    assert published == sorted(f"{adapter_for(p).rules_version}.json" for p in PROGRAMS)
    for program in PROGRAMS:
        adapter = adapter_for(program)
        data = (MAPPINGS_DIR / "published" / f"{adapter.rules_version}.json").read_bytes()
        assert data == canonical_json(adapter.spec.rules_document())
        assert __import__("hashlib").sha256(data).hexdigest() == adapter.rules_sha256


def test_ruleNames_areInTheRulesDocument_andBothLanguagesAreNeeded():
    base = (MAPPINGS_DIR / "traffic.yaml").read_text()
    spec = parse_mapping(base)
    assert spec.rules_document()["rules"]["pedestrian_yield"]["name"] == {"zh": "礼让行人",
                                                                          "en": "Yielding to pedestrians"}
    with pytest.raises(MappingInvalid) as info:
        parse_mapping(base.replace("name: {zh: 礼让行人, en: Yielding to pedestrians}", "name: {zh: 礼让行人}"))
    assert [p.code for p in info.value.problems] == ["missing_key"]
