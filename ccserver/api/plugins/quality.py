"""Quality monitoring: recorded calls, their audio, the scorecard and the scores.

Quality staff, supervisors (their teams' queues) and admins list recordings and
play them; quality staff (and admins) score them on the configured scorecard.
Agents do not hear recordings. The audio served is only ever a file the event log
names (``call.recording``) and that lies under ``recordings.dir``: a call id is a
plain name (no ``/``), and the resolved path must stay inside that directory.
"""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...config import QualitySection, RecordingsSection
from ...people.model import Principal
from ...quality import QualityStore, Recording, ScoreError
from ...quality.store import audio_path
from ...reporting.source import parse_time
from ..access import Forbidden, require
from ..deps import Deps
from ..errors import BadRequest, NotFound
from ..fields import MAX_YEAR, MIN_YEAR, Ident, Text, epoch_in_range
from ..routes import Route, add_route, respond

STORE_KEY = web.AppKey("quality_store", QualityStore)
RECORDINGS_KEY = web.AppKey("quality_recordings", RecordingsSection)
QUALITY_KEY = web.AppKey("quality_settings", QualitySection)
MAX_RANGE_KEY = web.AppKey("quality_max_range_s", float)
DEFAULT_DAYS = 7  # without from/to: the last week


def _a_time(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        epoch_in_range(parse_time(value))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"use ISO 8601 (2026-11-22T08:00) or epoch seconds, between {MIN_YEAR} and {MAX_YEAR}"
        ) from None
    return value


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(
        default=None, alias="from", max_length=40,
        description="start: ISO 8601 (UTC unless it says) or epoch seconds; default a week ago",
    )  # fmt: skip
    to: str | None = Field(default=None, max_length=40, description="end (exclusive); default now")

    _times = field_validator("from_", "to")(_a_time)

    def span(self, max_range_s: float) -> tuple[float, float]:
        end = parse_time(self.to) if self.to else time.time()
        start = parse_time(self.from_) if self.from_ else end - DEFAULT_DAYS * 86400
        if end <= start:
            raise BadRequest("to must be after from")
        if end - start > max_range_s:
            raise BadRequest(f"at most {max_range_s / 86400:g} days at once")
        return start, end


class RecordingQuery(Range):
    agent: Ident | None = Field(default=None, description="one agent's calls")
    queue: Ident | None = Field(default=None, description="one queue's calls")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class RecordingItem(BaseModel):
    call_id: str
    file: str = Field(description="relative to recordings.dir")
    started_at: float = Field(description="epoch seconds")
    queue: str | None
    agent: str | None
    caller: str
    answered_at: float | None
    talk_s: float
    score: float | None = Field(description="its quality score, 0-100, if scored")
    scored_by: str | None


class RecordingList(BaseModel):
    total: int = Field(description="recordings matching, over every page")
    from_: float = Field(alias="from")
    to: float
    recordings: list[RecordingItem]


class CallPath(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class Criterion(BaseModel):
    id: str
    label_zh: str = Field(description="zh-CN")
    label_en: str
    weight: float
    max_points: int


class Scorecard(BaseModel):
    criteria: list[Criterion]


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: dict[Ident, int] = Field(
        description="points per criterion id, 0 to its max_points", max_length=100
    )
    comment: Text | None = Field(default=None, max_length=2000)

    @field_validator("points")
    @classmethod
    def _bounded(cls, points: dict[str, int]) -> dict[str, int]:
        for key, value in points.items():
            if not 0 <= value <= 1000:
                raise ValueError(f"{key}: points must be within 0-1000")
        return points


class Score(BaseModel):
    call_id: str
    agent: str | None
    queue: str | None
    call_at: float = Field(description="when the call was answered, epoch seconds")
    points: dict[str, int]
    score: float = Field(description="weighted percentage, 0-100")
    comment: str | None
    scored_by: str
    scored_at: float


class ScoreQuery(Range):
    agent: Ident | None = None
    call_id: Ident | None = Field(default=None, description="one call's score (any date)")
    limit: int = Field(default=100, ge=1, le=1000)


class ScoreList(BaseModel):
    scores: list[Score]


def _teams(who: Principal) -> tuple[str, ...] | None:
    """The queues whose recordings this person may hear (None: all)."""
    return who.teams if who.role == "supervisor" else None


async def _readable(request: web.Request, call_id: str) -> Recording:
    rec = await request.app[STORE_KEY].recording(call_id)
    if rec is None:
        raise NotFound(f"no recording of call {call_id}")
    teams = _teams(require(request))
    if teams is not None and rec.queue not in teams:
        raise Forbidden(f"call {call_id} is not in your teams' queues")
    return rec


async def list_recordings(request: web.Request, query: RecordingQuery) -> web.Response:
    """Recorded calls, newest first, with their score if scored."""
    start, end = query.span(request.app[MAX_RANGE_KEY])
    total, page = await request.app[STORE_KEY].recordings(
        start,
        end,
        agent=query.agent,
        queue=query.queue,
        teams=_teams(require(request)),
        limit=query.limit,
        offset=query.offset,
    )
    body = {"total": total, "from": start, "to": end, "recordings": [r.as_dict() for r in page]}
    return respond(RecordingList.model_validate(body))


async def recording_audio(request: web.Request, path: CallPath) -> web.StreamResponse:
    """The recording's audio (WAV), streamed."""
    rec = await _readable(request, path.call_id)
    root = request.app[RECORDINGS_KEY].dir
    found = audio_path(root, rec.file) if root else None
    if found is None:
        raise NotFound(f"the recording of call {path.call_id} is not in recordings.dir")
    return web.FileResponse(
        found,
        headers={
            "Content-Type": "audio/wav",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def scorecard(request: web.Request) -> web.Response:
    """The criteria calls are scored on."""
    card = request.app[QUALITY_KEY].scorecard
    return respond(Scorecard(criteria=[Criterion.model_validate(c.model_dump()) for c in card]))


async def score_recording(request: web.Request, path: CallPath, body: ScoreBody) -> web.Response:
    """Score a recorded call (again: the new score replaces the old)."""
    rec = await _readable(request, path.call_id)
    who = require(request)
    try:
        saved = await request.app[STORE_KEY].score(rec, body.points, body.comment, who.name)
    except ScoreError as exc:
        raise BadRequest(str(exc)) from exc
    return respond(Score.model_validate(saved), 201)


async def list_scores(request: web.Request, query: ScoreQuery) -> web.Response:
    """Quality scores of the calls answered in the range (or of one call), newest first."""
    start, end = query.span(request.app[MAX_RANGE_KEY])
    rows = await request.app[STORE_KEY].scores(
        start, end, agent=query.agent, call_id=query.call_id, limit=query.limit
    )
    teams = _teams(require(request))
    if teams is not None:
        rows = [r for r in rows if r["queue"] in teams]
    return respond(ScoreList(scores=[Score.model_validate(r) for r in rows]))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.db is None or deps.recordings is None or deps.quality is None:
        return
    app[STORE_KEY] = QualityStore(deps.db, deps.quality.scorecard)
    app[RECORDINGS_KEY] = deps.recordings
    app[QUALITY_KEY] = deps.quality
    app[MAX_RANGE_KEY] = float((deps.reports.max_range_days if deps.reports else 92) * 86400)
    for route in (
        Route(method="GET", path="/api/recordings", handler=list_recordings,
              summary="Recorded calls", tag="quality", query=RecordingQuery,
              response=RecordingList, errors=(400,)),
        Route(method="GET", path="/api/recordings/{call_id}/audio", handler=recording_audio,
              summary="A recording's audio (WAV)", tag="quality", path_params=CallPath,
              media="audio/wav", errors=(403, 404)),
        Route(method="GET", path="/api/scorecard", handler=scorecard,
              summary="The quality scorecard", tag="quality", response=Scorecard),
        Route(method="POST", path="/api/recordings/{call_id}/score", handler=score_recording,
              summary="Score a recorded call", tag="quality", path_params=CallPath,
              body=ScoreBody, response=Score, status=201, errors=(400, 403, 404)),
        Route(method="GET", path="/api/scores", handler=list_scores,
              summary="Quality scores", tag="quality", query=ScoreQuery, response=ScoreList,
              errors=(400,)),
    ):  # fmt: skip
        add_route(app, route)
