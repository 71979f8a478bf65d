"""The layers hold: lint-imports passes on the tree and fails when a forbidden import comes back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("cti", "acd", "ivr", "contracts", "ccserver")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


# each is one of the imports the layering removed, put back
COMEBACKS = [
    ("ivr/records.py", "from ccserver.store import schema", "neither the shell"),
    ("ivr/menu.py", "import ccserver.config", "neither the shell"),
    ("ivr/caller.py", "from cti.tracker import CallTracker", "independent"),
    ("acd/engine.py", "import aiohttp", "neither the shell"),
    ("contracts/dialplan.py", "import cti.events", "contracts import none"),
]


def test_the_tree_keeps_its_layers(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("path", "line", "contract"), COMEBACKS)
def test_a_forbidden_import_breaks_a_contract(
    tree: Path, path: str, line: str, contract: str
) -> None:
    target = tree / path
    original = target.read_text()
    head, sep, rest = original.partition("from __future__ import annotations\n")
    target.write_text(head + sep + line + "\n" + rest)
    try:
        result = lint(tree)
    finally:
        target.write_text(original)
    assert result.returncode == 1, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if "BROKEN" in ln]
    assert any(contract in ln for ln in broken), result.stdout
