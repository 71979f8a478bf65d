"""``ami`` as one node (a mapping, named "default") or several (a list), validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccserver.config import ConfigError, load_config

NODES = """\
ami:
  - name: A
    port: 5038
    trunk_to: {B: node_b}
  - name: B
    host: 10.0.0.2
    port: 5039
    trunk_to: {A: node_a}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ccserver.yaml"
    path.write_text(text)
    return path


def test_one_mapping_is_the_default_node(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, "ami:\n  port: 5040\n"))
    [node] = settings.ami_nodes()
    assert (node.name, node.port, node.trunk_to) == ("default", 5040, {})


def test_a_list_gives_each_node_with_its_trunks(tmp_path: Path) -> None:
    nodes = load_config(write(tmp_path, NODES)).ami_nodes()
    assert [(n.name, n.host, n.port) for n in nodes] == [
        ("A", "127.0.0.1", 5038),
        ("B", "10.0.0.2", 5039),
    ]
    assert nodes[0].trunk_to == {"B": "node_b"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ami:\n  - {name: A}\n  - {name: A}\n", "node names must differ (A repeated)"),
        ("ami:\n  - {name: A, trunk_to: {C: x}}\n", "node A: trunk_to names no other node: C"),
        ("ami:\n  - {name: A-1}\n", "ami.0.name: String should match pattern"),
        ("ami:\n  - {name: A, port: 0}\n", "ami.0.port: Input should be greater than"),
        ("ami: []\n", "ami: give at least one node"),
        ("ami: 5\n", "ami: give a mapping (one node) or a list of nodes"),
    ],
)
def test_a_bad_node_list_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)


def test_environment_variables_do_not_reach_into_a_node_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCSERVER_AMI__SECRET", "from-env")
    with pytest.raises(ConfigError, match="ami is a list of nodes"):
        load_config(write(tmp_path, NODES))
    monkeypatch.setenv("CCSERVER_AMI__SECRET", "from-env")
    assert load_config(write(tmp_path, "ami:\n  port: 5040\n")).ami_nodes()[0].port == 5040


def test_a_cross_node_queue_needs_a_trunk_between_every_two_nodes(tmp_path: Path) -> None:
    from ccserver.app import Server

    acd = tmp_path / "acd.yaml"
    acd.write_text(
        "queues: [{name: general, cross_node: true}]\n"
        "agents: [{id: ana, endpoint: '1001', skills: {}}]\n"
    )
    one_way = NODES.replace("    trunk_to: {A: node_a}\n", "")
    settings = load_config(
        write(tmp_path, one_way),
        acd={"config": str(acd)},
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"},
    )
    with pytest.raises(ConfigError, match="missing B->A"):
        Server(settings)
