"""Program adapters: each maps its program's native records to issuance with configurable rules.

A programme joins as data: a mapping file (issuer_sdk/adapters/mappings/<program>.yaml, or any file given to
`citypoints issue --adapter`) read by `load_adapter` into a `MappedAdapter`.
"""
from pathlib import Path

from issuer_sdk.adapters.base import Adapter, Outcome, Rules
from issuer_sdk.adapters.culture import CultureAdapter, CultureRules
from issuer_sdk.adapters.green import GreenAdapter, GreenRules
from issuer_sdk.adapters.mapped import MappedAdapter
from issuer_sdk.adapters.mapping import load_mapping, parse_mapping, register_resident_lookup
from issuer_sdk.adapters.traffic import TrafficAdapter, TrafficRules
from issuer_sdk.adapters.volunteer import VolunteerAdapter, VolunteerRules

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"

ADAPTERS: dict[str, type[Adapter]] = {a.program: a for a in (VolunteerAdapter, TrafficAdapter, CultureAdapter,
                                                              GreenAdapter)}


def load_adapter(path: str | Path) -> MappedAdapter:
    """The adapter a mapping file describes; raises MappingInvalid (every problem with its line) otherwise."""
    return MappedAdapter(load_mapping(path))


def adapter_for(program: str, rules=None) -> Adapter:
    try:
        return ADAPTERS[program](rules)
    except KeyError:
        raise ValueError(f"unknown program {program!r}; one of {', '.join(ADAPTERS)}") from None


__all__ = ["Adapter", "Outcome", "Rules", "ADAPTERS", "adapter_for", "VolunteerAdapter", "VolunteerRules",
           "TrafficAdapter", "TrafficRules", "CultureAdapter", "CultureRules", "GreenAdapter", "GreenRules",
           "MappedAdapter", "MAPPINGS_DIR", "load_adapter", "load_mapping", "parse_mapping",
           "register_resident_lookup"]
