"""Typed health snapshots: /healthz's JSON kept, metrics read fields, a lost figure is loud."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ccserver.metrics import build_registry
from ccserver.snapshots import HealthSnapshot, StoreSnapshot
from ccserver.store import EventWriter


def health() -> dict[str, Any]:
    """The dict ``Server.snapshot()`` returns today (all parts present)."""
    return {
        "acd": {
            "agents": [
                {"id": "ana", "name": "Ana", "state": "on_call", "skills": {"general": 5},
                 "queues": ["general", "billing"], "calls_handled": 3},
                {"id": "ben", "name": "Ben", "state": "available", "skills": {},
                 "queues": ["general"], "calls_handled": 0},
            ],
            "queues": [
                {"name": "general", "waiting": 2, "longest_wait_s": 31.5},
                {"name": "billing", "waiting": 0, "longest_wait_s": 0.0},
            ],
            "corrections": 1,
        },
        "ivr": {"outcomes": {"handoff": 4}, "sessions_active": 1, "sessions_total": 9,
                "sessions_failed": 0, "agi_port": 4573},
        "tickets": {"overdue": 2},
        "tasks": {"active": 3, "spawned": 10, "failed": 0, "failures": {}},
        "status": "ok",
        "version": "0.1.0",
        "uptime_s": 12.5,
        "cti": {
            "ami": {"connected": True, "sessions": 1, "reconnects": 2, "events_received": 50,
                    "frame_errors": 1, "resyncs": 3, "restarts": 0},
            "connected": True,
            "last_event_at": 1.0,
            "reconnects": 2,
            "active_calls": 4,
            "active_channels": 6,
            "calls_ended": 7,
            "events_by_name": {"Newchannel": 5, "MysteryEvent": 2},
        },
        "store": {"healthy": True, "queued": 1, "written": 100, "dropped": 0, "conflicts": 0,
                  "duplicates": 0, "spooled": 5, "spool_bytes": 900, "spool_errors": 0,
                  "lag_s": 0.25},
    }  # fmt: skip


def test_to_json_is_the_healthz_body_of_today() -> None:
    raw = health()
    assert HealthSnapshot.from_dict(copy.deepcopy(raw)).to_json() == raw
    bare = raw | {"acd": None, "ivr": None}
    assert HealthSnapshot.from_dict(bare).to_json() == bare


@pytest.mark.parametrize(
    "path", [("store", "spooled"), ("cti", "ami", "resyncs"), ("acd", "queues", 0, "waiting")]
)
def test_a_renamed_figure_is_an_error_not_a_zero(path: tuple[Any, ...]) -> None:
    raw = health()
    part: Any = raw
    for key in path[:-1]:
        part = part[key]
    part["renamed"] = part.pop(path[-1])
    with pytest.raises(KeyError):
        HealthSnapshot.from_dict(raw)


def test_metrics_read_the_typed_snapshot() -> None:
    snap = HealthSnapshot.from_dict(health())
    registry = build_registry(lambda: snap)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("ccserver_ami_up") == 1 and value("ccserver_ami_resyncs_total") == 3
    assert value("ccserver_ami_events_total", event="Newchannel") == 5
    assert value("ccserver_ami_events_total", event="other") == 2
    assert value("ccserver_calls_active") == 4 and value("ccserver_calls_ended_total") == 7
    assert value("ccserver_queue_calls_waiting", queue="general") == 2
    assert value("ccserver_queue_longest_wait_seconds", queue="general") == 31.5
    assert value("ccserver_agents", state="on_call") == 1
    assert value("ccserver_queue_agents", queue="billing", state="on_call") == 1
    assert value("ccserver_queue_agents", queue="general", state="available") == 1
    assert value("ccserver_tickets_overdue") == 2 and value("ccserver_ivr_sessions_active") == 1
    assert (
        value("ccserver_eventlog_spooled") == 5 and value("ccserver_eventlog_lag_seconds") == 0.25
    )
    assert value("ccserver_eventlog_written_total") == 100


def test_store_snapshot_of_a_writer(tmp_path: Path) -> None:
    writer = EventWriter(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    writer.written, writer.spool_errors, writer.oldest_pending_at = 2, 8, 90.0
    snap = StoreSnapshot.of_writer(writer, now=100.0)
    assert (snap.written, snap.spool_errors, snap.lag_s, snap.healthy) == (2, 8, 10.0, True)
    writer.oldest_pending_at = None
    assert StoreSnapshot.of_writer(writer, now=100.0).lag_s == 0.0
