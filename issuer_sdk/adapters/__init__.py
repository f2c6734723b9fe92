"""One adapter a program: each maps its program's native records to issuance with configurable rules."""
from issuer_sdk.adapters.base import Adapter, Outcome, Rules
from issuer_sdk.adapters.culture import CultureAdapter, CultureRules
from issuer_sdk.adapters.green import GreenAdapter, GreenRules
from issuer_sdk.adapters.traffic import TrafficAdapter, TrafficRules
from issuer_sdk.adapters.volunteer import VolunteerAdapter, VolunteerRules

ADAPTERS: dict[str, type[Adapter]] = {a.program: a for a in (VolunteerAdapter, TrafficAdapter, CultureAdapter,
                                                              GreenAdapter)}


def adapter_for(program: str, rules=None) -> Adapter:
    try:
        return ADAPTERS[program](rules)
    except KeyError:
        raise ValueError(f"unknown program {program!r}; one of {', '.join(ADAPTERS)}") from None


__all__ = ["Adapter", "Outcome", "Rules", "ADAPTERS", "adapter_for", "VolunteerAdapter", "VolunteerRules",
           "TrafficAdapter", "TrafficRules", "CultureAdapter", "CultureRules", "GreenAdapter", "GreenRules"]
