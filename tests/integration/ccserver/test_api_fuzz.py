"""schemathesis against /openapi.json: every route, as every kind of caller.

Without credentials, with the admin token, and logged in as an agent (a
bearer session token) and as a supervisor of one team (the session cookie):
no answer may be a 5xx, and none may contradict the document (status, media
type, body schema). Examples are bounded so the run stays well under a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

TOKEN = "ivr-test-token"  # the hotline fixture's
EXAMPLES = 15  # per operation, without and with the admin token
SESSION_EXAMPLES = 5  # per operation for each logged-in person: a few seconds a role
STATUSES: list[int] = []  # every answer's status: the run did reach the server
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# (who, headers, examples); the people first: the admin's run may change passwords
Caller = tuple[str, dict[str, str], int]


def fuzz(base: str, callers: list[Caller]) -> list[str]:
    """Run every operation as each caller; the failures, one line each."""
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    failures: list[str] = []
    for who, headers, examples in callers:
        for result in schema.get_all_operations():
            operation = result.ok()
            if who in ("agent", "supervisor") and operation.path == "/api/logout":
                continue  # it would end the very session under test
            failures += _fuzz_one(base, operation, headers, who, examples)
    return failures


async def sessions(base: str) -> list[Caller]:
    """An agent (bearer session token) and a supervisor of the faults team (cookie)."""
    admin = {"Authorization": f"Bearer {TOKEN}"}
    callers: list[Caller] = []
    async with aiohttp.ClientSession(headers=admin) as http:
        for user in (
            {"name": "ana", "password": "ana-password", "role": "agent", "agent_id": "ana"},
            {"name": "sam", "password": "sam-password", "role": "supervisor",
             "teams": ["faults"], "phone": "1009"},
        ):  # fmt: skip
            async with http.post(base + "/api/users", json=user) as resp:
                assert resp.status == 201, await resp.text()
    async with aiohttp.ClientSession() as http:
        login = {"name": "ana", "password": "ana-password", "bearer": True}
        async with http.post(base + "/api/login", json=login) as resp:
            token = (await resp.json())["token"]
        callers.append(("agent", {"Authorization": f"Bearer {token}"}, SESSION_EXAMPLES))
        login = {"name": "sam", "password": "sam-password"}
        async with http.post(base + "/api/login", json=login) as resp:
            cookie = resp.cookies["ccsession"].value
        callers.append(("supervisor", {"Cookie": f"ccsession={cookie}"}, SESSION_EXAMPLES))
    return callers


def _fuzz_one(
    base: str, operation: Any, headers: dict[str, str], who: str, examples: int
) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=headers, timeout=10)
        STATUSES.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, FailureGroup) as exc:  # each failure named, the run goes on
            # (a FailureGroup is a BaseExceptionGroup: ``except Exception`` lets it through)
            failures.append(f"{operation.label} as {who}: {str(exc)[:400]}")

    run()
    return failures


@pytest.mark.timeout(120)
async def test_no_5xx_and_no_answer_against_the_schema(hotline) -> None:
    callers = await sessions(hotline.base)
    callers += [("admin", {"Authorization": f"Bearer {TOKEN}"}, EXAMPLES), ("nobody", {}, EXAMPLES)]
    failures = await asyncio.to_thread(fuzz, hotline.base, callers)
    assert failures == []
    # every side was reached: answers served, inputs refused, roles and tokens refused
    assert {200, 400, 401, 403, 404} <= set(STATUSES), sorted(set(STATUSES))
    assert len(STATUSES) > 200
    # the people's sessions lasted the whole run: their last answers were not 401s
    for who, headers, _ in callers[:2]:
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(hotline.base + "/api/me") as resp,
        ):
            assert resp.status == 200 and (await resp.json())["role"] == who


async def test_what_the_fuzzing_found_stays_fixed(hotline) -> None:
    """Inputs schemathesis once found answered against the schema, asked again."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        # a vanishing interval: an infinite traffic, once sent as the invalid JSON `Infinity`
        query = "calls=0.005&aht=73639.7&agents=34607&interval_minutes=5e-324"
        async with http.get(f"{hotline.base}/api/staffing?{query}") as resp:
            assert resp.status == 400, await resp.text()
            assert "too large" in (await resp.json())["error"]
