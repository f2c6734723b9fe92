"""Schemathesis against the running API (issue 19): every operation of /openapi.json, valid and invalid inputs
generated from the document, sent with real API keys to the live service (real node, SQLite or PostgreSQL).
No answer may be a 5xx, an undocumented status, or a body that contradicts the document; invalid input must be
refused (4xx). The seed is printed (SCHEMATHESIS_SEED=<n> repeats a run)."""
from __future__ import annotations

import os
import random
import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from .conftest import auth

# cases per operation and generation mode (valid, invalid): 1,000+ in all on SQLite; fewer on PostgreSQL, whose
# run repeats the same operations on the other store (together ~2.5 min on a loaded 2-core machine)
CASES = {"sqlite": 25, "postgresql": 8}
MINIMUM = {"sqlite": 1000, "postgresql": 300}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# other operations: the merchant's key (a manager's)
KEY_FOR = {"onboarding": "onboarding", "statements": "auditor", "merchant_applications": "auditor"}


def test_schemathesis_everyOperation_no5xxNoSchemaViolation(api, live, keys, capsys):
    backend = "sqlite" if live.settings.is_sqlite else "postgresql"
    per_operation = int(os.environ.get("SCHEMATHESIS_CASES_PER_OPERATION", CASES[backend]))
    run_seed = int(os.environ.get("SCHEMATHESIS_SEED") or random.randrange(2**32))
    with capsys.disabled():
        print(f"\nschemathesis: seed {run_seed} (SCHEMATHESIS_SEED={run_seed} repeats it)")
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    counts: dict[str, int] = {}
    failures: list[str] = []
    t0 = time.monotonic()
    spent: dict[str, float] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        t_op = time.monotonic()
        key = next((keys[role] for part, role in KEY_FOR.items() if part in operation.path), keys["merchant"])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

            @seed(run_seed)
            @settings(max_examples=per_operation, deadline=None, database=None, derandomize=False,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                live.app.state.auth_failures.clear()  # valid keys only: no failure should count, but stay sure
                response = case.call(base_url=live.url, headers=auth(key), timeout=30)
                counts[operation.label] = counts.get(operation.label, 0) + 1
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:  # noqa: BLE001 - collected, reported together with the seed
                    failures.append(f"{operation.label} [{mode.value}] -> {response.status_code}: "
                                    f"{str(exc).splitlines()[0][:300]}")
            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
        spent[operation.label] = time.monotonic() - t_op
    if os.environ.get("SCHEMATHESIS_TIMES"):
        with capsys.disabled():
            for label, t in sorted(spent.items(), key=lambda x: -x[1]):
                print(f"  {t:6.2f} s  {counts.get(label, 0):4d}  {label}")
    total = sum(counts.values())
    with capsys.disabled():
        print(f"schemathesis ({backend}): {total} cases over {len(counts)} operations in "
              f"{time.monotonic() - t0:.1f} s, {len(failures)} failures (seed {run_seed})")
    assert not failures, f"seed {run_seed}:\n" + "\n".join(sorted(set(failures))[:30])
    operations = sum(len(ops) for ops in live.app.openapi()["paths"].values())
    assert len(counts) == operations, f"{len(counts)} of {operations} operations ran"
    if "SCHEMATHESIS_CASES_PER_OPERATION" not in os.environ:
        assert total >= MINIMUM[backend], f"only {total} cases generated (seed {run_seed})"
