"""Configuration: validated at start, errors name the field, secrets stay secret."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from ccserver.config import ConfigError, load_config
from ccserver.logs import RedactSecrets

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "ccserver.example.yaml"


def test_example_config_is_valid() -> None:
    settings = load_config(EXAMPLE)
    assert settings.ami.port == 5038 and settings.http.port == 8080
    assert "change-me" not in repr(settings)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCSERVER_AMI__HOST", "10.1.2.3")
    monkeypatch.setenv("CCSERVER_AMI__SECRET", "from-env")
    settings = load_config(EXAMPLE)
    assert settings.ami.host == "10.1.2.3"
    assert settings.ami.to_settings().secret == "from-env"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ami:\n  port: 70000\n", "ami.port: Input should be less than or equal to 65535"),
        ("ami:\n  prot: 1\n", "ami.prot: Extra inputs are not permitted"),
        ("log:\n  level: LOUD\n", "log.level: Input should be"),
        (
            "store:\n  batch_size: 0\n",
            "store.batch_size: Input should be greater than or equal to 1",
        ),
        ("ami: [1, 2\n", "is not valid YAML"),
        ("- just\n- a list\n", "the top level must be a mapping"),
    ],
)
def test_invalid_config_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_config(path)


def test_run_with_invalid_config_exits_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("ami:\n  port: not-a-port\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ccserver", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "config error: ami.port:" in proc.stderr and "Traceback" not in proc.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "ccserver", "run", "--config", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_secrets_are_redacted_from_log_lines() -> None:
    redact = RedactSecrets(["s3cr3t"])
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "login with %s; Secret: abc", ("s3cr3t",), None
    )
    redact.filter(record)
    assert record.getMessage() == "login with ***; Secret: ***"
