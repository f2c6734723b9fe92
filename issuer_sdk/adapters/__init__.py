"""Program adapters: a programme joins as data, a mapping file read into a `MappedAdapter`.

The four programmes of the demo city have theirs in issuer_sdk/adapters/mappings/<program>.yaml (`adapter_for`);
any other file is read by `load_adapter` (`citypoints issue --adapter FILE`). The format: issuer_sdk/README.md,
"Mapping files".
"""
from pathlib import Path

from issuer_sdk.adapters.base import Adapter, Outcome
from issuer_sdk.adapters.mapped import MappedAdapter
from issuer_sdk.adapters.mapping import load_mapping, parse_mapping, register_resident_lookup

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
PROGRAMS: tuple[str, ...] = tuple(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))


def load_adapter(path: str | Path) -> MappedAdapter:
    """The adapter a mapping file describes; raises MappingInvalid (every problem with its line) otherwise."""
    return MappedAdapter(load_mapping(path))


def adapter_for(program: str) -> MappedAdapter:
    """The adapter of one of the shipped programmes (its mapping file in issuer_sdk/adapters/mappings/)."""
    if program not in PROGRAMS:
        raise ValueError(f"unknown program {program!r}; one of {', '.join(PROGRAMS)} (or give a mapping file: "
                         "--adapter FILE)")
    return load_adapter(MAPPINGS_DIR / f"{program}.yaml")


__all__ = ["Adapter", "Outcome", "MappedAdapter", "MAPPINGS_DIR", "PROGRAMS", "adapter_for", "load_adapter",
           "load_mapping", "parse_mapping", "register_resident_lookup"]
