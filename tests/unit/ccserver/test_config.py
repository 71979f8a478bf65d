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


@pytest.mark.parametrize(
    "value", ["first-token-123,second-token-456", '["first-token-123", "second-token-456"]']
)
def test_a_list_from_the_environment_is_comma_separated_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CCSERVER_HTTP__API_TOKENS", value)
    tokens = load_config(EXAMPLE).http.api_tokens
    assert [t.get_secret_value() for t in tokens] == ["first-token-123", "second-token-456"]


def test_unknown_environment_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCSERVER_NOPE__X", "1")
    with pytest.raises(ConfigError, match="CCSERVER_NOPE__X: no section 'nope'"):
        load_config(None)


def test_paths_in_a_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "cc.yaml"
    path.write_text(
        "store:\n  url: sqlite+aiosqlite:///data/cc.db\n  spool_dir: spool\n"
        "acd:\n  config: acd.yaml\nivr:\n  config: /abs/ivr.yaml\n"
    )
    monkeypatch.chdir(tmp_path)  # anywhere else than the file's folder
    settings = load_config(path)
    assert settings.store.url == f"sqlite+aiosqlite:///{folder}/data/cc.db"
    assert settings.store.spool_dir == str(folder / "spool")
    assert (
        settings.acd.config == str(folder / "acd.yaml") and settings.ivr.config == "/abs/ivr.yaml"
    )
    # the environment's values are taken as given
    monkeypatch.setenv("CCSERVER_ACD__CONFIG", "here.yaml")
    assert load_config(path).acd.config == "here.yaml"


def test_a_sqlite_store_keeps_its_spool_beside_it(tmp_path: Path) -> None:
    settings = load_config(None, store={"url": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert settings.store.spool_dir == str(tmp_path / "spool")
    assert load_config(None).store.spool_dir == "var/spool"  # the default store's
    pg = load_config(None, store={"url": "postgresql+asyncpg://u:p@db/cc"})
    assert pg.store.spool_dir == "var/spool"
    explicit = load_config(None, store={"url": f"sqlite+aiosqlite:///{tmp_path}/x.db",
                                        "spool_dir": None})  # fmt: skip
    assert explicit.store.spool_dir is None


def test_example_config_names_files_that_exist() -> None:
    settings = load_config(EXAMPLE)
    assert settings.acd.config and Path(settings.acd.config).is_file()
    assert settings.ivr.config and Path(settings.ivr.config).is_file()
