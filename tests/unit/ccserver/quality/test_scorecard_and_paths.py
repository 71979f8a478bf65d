"""The scorecard's arithmetic, recording file names, and which files may be served."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccserver.config import ConfigError, QualitySection, ScoreCriterion, load_config
from ccserver.quality import ScoreError, weighted_score
from ccserver.quality.store import audio_path
from ccserver.routing.recording import OUR_NAME, recording_name

CARD = [
    ScoreCriterion(id="a", label_zh="甲", label_en="A", weight=1, max_points=5),
    ScoreCriterion(id="b", label_zh="乙", label_en="B", weight=3, max_points=10),
]


def test_the_score_is_the_weighted_share_of_points() -> None:
    assert weighted_score(CARD, {"a": 5, "b": 10}) == 100.0
    assert weighted_score(CARD, {"a": 0, "b": 0}) == 0.0
    # a: 1 x 5/5, b: 3 x 5/10 -> (1 + 1.5) / 4
    assert weighted_score(CARD, {"a": 5, "b": 5}) == 62.5
    assert weighted_score(QualitySection().scorecard, {
        "greeting": 5, "understanding": 5, "resolution": 0, "courtesy": 5, "closing": 5,
    }) == 62.5  # fmt: skip


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ({"a": 6, "b": 0}, "a: 6 points is not within 0-5"),
        ({"a": -1, "b": 0}, "a: -1 points"),
        ({"a": 1}, "b: points missing"),
        ({"a": 1, "b": 1, "c": 1}, "no criterion 'c'"),
    ],
)
def test_points_that_do_not_fit_are_refused(points: dict[str, int], message: str) -> None:
    with pytest.raises(ScoreError, match=message):
        weighted_score(CARD, points)


def test_a_scorecard_with_twice_the_same_id_is_refused() -> None:
    twice = [c.model_dump() for c in (CARD[0], CARD[0])]
    with pytest.raises(ConfigError, match="unique"):
        load_config(None, quality={"scorecard": twice})


def test_recording_names_are_plain_and_dated_in_utc() -> None:
    assert recording_name("1796030731.939", 0) == "1970/01/01/1796030731.939.wav"
    # a call id is never a path: separators and leading dots are neutralised
    name = recording_name("../../etc/passwd", 86400 * 365)
    assert name == "1971/01/01/_.._etc_passwd.wav" and ".." not in Path(name).parts
    found = OUR_NAME.search("/var/spool/asterisk/monitor/2026/11/30/1796030731.939.wav")
    assert found is not None and found.group(1) == "2026/11/30/1796030731.939.wav"


def test_only_files_under_the_directory_are_served(tmp_path: Path) -> None:
    root = tmp_path / "monitor"
    (root / "2026" / "11" / "30").mkdir(parents=True)
    good = root / "2026" / "11" / "30" / "c1.wav"
    good.write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("no")
    os.symlink(tmp_path / "secret.txt", root / "link.wav")
    assert audio_path(root, "2026/11/30/c1.wav") == good.resolve()
    for name in ("../secret.txt", "/etc/passwd", "2026/11/30/missing.wav", "", ".",
                 "2026", "link.wav", "2026/../../secret.txt"):  # fmt: skip
        assert audio_path(root, name) is None, name
