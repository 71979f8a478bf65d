"""Reading the dialplan's call notes from DBGetTree rows."""

from __future__ import annotations

from cti.astdb import read_call_notes


def test_notes_are_read_and_strangers_skipped() -> None:
    notes = read_call_notes(
        [
            ("/cc/1700.5_answered", "1700000012.250/PJSIP/1001-0000000a"),
            ("/cc/1700.5_ended", "1700000040.125"),
            ("/cc/1700.6_ended", "not a time"),
            ("/cc/1700.7_answered", "1700000001.000/"),  # no channel
            ("/cc/1700.8_other", "1"),
            ("/elsewhere/1700.9_ended", "1700000050.000"),
            ("/cc/1700.10_ended", "inf"),
        ]
    )
    assert notes.answered == {"1700.5": (1700000012.25, "PJSIP/1001-0000000a")}
    assert notes.ended == {"1700.5": 1700000040.125}
    assert notes and not read_call_notes([])


def test_an_ended_note_says_when_the_caller_had_entered_the_queue() -> None:
    notes = read_call_notes(
        [
            ("/cc/1700.1_ended", "1700000040.125/1700000031.500"),  # queued, then hung up
            ("/cc/1700.2_ended", "1700000041.000/"),  # never reached the queue
            ("/cc/1700.3_ended", "1700000042.000/1800000000.000"),  # queued after it ended?
        ]
    )
    assert notes.ended == {"1700.1": 1700000040.125, "1700.2": 1700000041.0, "1700.3": 1700000042.0}
    assert notes.queued == {"1700.1": 1700000031.5}


def test_an_ended_note_says_when_the_line_arrived_and_from_which_number() -> None:
    notes = read_call_notes(
        [
            ("/cc/1700.1_ended", "1700000040.125/1700000031.500/1700000020.250/13900001234"),
            ("/cc/1700.2_ended", "1700000041.000//1700000039.000/"),  # no number, not queued
            ("/cc/1700.3_ended", "1700000042.000//1800000000.000/139"),  # arrived after it ended?
            ("/cc/1700.4_ended", "1700000043.000//x/139"),  # not a time
            ("/cc/1700.5_ended", "1700000044.000/1700000043.000/1700000040.000/a/b"),
        ]
    )
    assert notes.entered == {
        "1700.1": (1700000020.25, "13900001234"),
        "1700.2": (1700000039.0, ""),
        "1700.5": (1700000040.0, "a/b"),  # the number is last: a "/" in it shifts nothing
    }
    assert notes.queued == {"1700.1": 1700000031.5, "1700.5": 1700000043.0}
    assert set(notes.ended) == {"1700.1", "1700.2", "1700.3", "1700.4", "1700.5"}


def test_an_agent_legs_left_note_is_its_own_end_beside_the_callers() -> None:
    notes = read_call_notes(
        [
            ("/cc/1700.1_ended", "1700000060.000/1700000001.000"),  # stayed on for the survey
            ("/cc/1700.2_left", "1700000040.250"),  # the agent's leg of that call
            ("/cc/1700.3_left", "soon"),
        ]
    )
    assert notes.left == {"1700.2": 1700000040.25}
    assert notes.ended == {"1700.1": 1700000060.0}  # an agent leg is not a caller's line
    assert notes.line_ends() == {"1700.1": 1700000060.0, "1700.2": 1700000040.25}
    assert sorted(notes.keys) == ["1700.1_ended", "1700.2_left", "1700.3_left"]
    assert read_call_notes([("/cc/1700.2_left", "1700000040.250")])  # worth applying alone
