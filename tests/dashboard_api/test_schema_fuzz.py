"""Schemathesis against the app's own OpenAPI schema: requests generated from every operation,
valid and invalid, never get a 5xx, and every answer is one the schema lists, in its shape.

The examples are few per operation and derandomized, so CI repeats the same run in seconds;
`bench/` is the place for long fuzzing. Requests carry a staff token, so they reach the routes
behind the login (the refusals without one are tested in test_auth.py). Schemathesis' pytest plugin (`schema.parametrize()`
over a fixture) needs a pytest private that pytest 9 removed, so each operation gets its own
Hypothesis test here, all of them run, and the failures are reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.alerts.conftest import Harness
from tests.dashboard_api.conftest import close_wired, wired_app

EXAMPLES_PER_OPERATION = 25
# An event stream never ends, so a generated call could not be checked; this app runs without
# the live hub, where it answers 503. Its answers and refusals are tested in test_live.py.
STREAMS = frozenset({"/api/live"})

# Positive data the API still refuses (an unknown metric is any string to the schema) and
# negative data it still accepts are not failures: what matters is that every answer is a
# documented one, never a server error.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    tmp_path: Path, mode: GenerationMode
) -> None:
    app, harness = wired_app(tmp_path / "fuzz.duckdb")
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 19
        known = _known_path_values(harness)
        failures = {}
        for operation in operations:
            if operation.path in STREAMS:
                continue
            try:
                _exercise(operation, mode, known, app.state.staff)
            except Unsatisfiable:
                # No parameter, or only a free-text one: there is no invalid request to make.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # a check's failure group, with the request to replay
                failures[operation.label] = exc
    finally:
        close_wired(app, harness)
    assert not failures, "\n\n".join(f"{label}: {exc}" for label, exc in failures.items())


def _known_path_values(harness: Harness) -> dict[str, list[Any]]:
    """Valid requests name the site's devices and alerts (and one that is not there): random
    text would only ever meet the 404."""
    return {
        "device_id": [d.id for d in harness.config.devices] + ["fridge-9"],
        "alert_id": [a.id for a in harness.alerts()] + [2**63 - 1],
    }


def _cases(
    operation: APIOperation, mode: GenerationMode, known: dict[str, list[Any]]
) -> st.SearchStrategy[schemathesis.Case]:
    names = [name for name in known if f"{{{name}}}" in operation.path]
    if mode is GenerationMode.NEGATIVE or not names:
        return operation.as_strategy(generation_mode=mode)
    path = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names})
    return path.flatmap(lambda p: operation.as_strategy(generation_mode=mode, path_parameters=p))


def _exercise(
    operation: APIOperation,
    mode: GenerationMode,
    known: dict[str, list[Any]],
    headers: dict[str, str],
) -> None:
    @given(case=_cases(operation, mode, known))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS, headers=headers)

    call()
