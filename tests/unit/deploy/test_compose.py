"""The compose stack agrees with itself: docker cannot run here, so its files are checked.

Every service, port, volume and host name that ccserver's config, Prometheus's
scrape config and Grafana's provisioning refer to must exist in
deploy/compose.yaml and agree; the images' files must exist in the repository.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from ccserver.config import load_config
from ivr.menu import load_ivr

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(DEPLOY / "compose.yaml")


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> source of a service's volumes."""
    out = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        out[target] = source
    return out


def published(service: dict[str, Any]) -> set[int]:
    """Container ports a service publishes (TCP)."""
    ports = set()
    for entry in service.get("ports", []):
        spec = str(entry)
        if not spec.endswith("/udp"):
            ports.add(int(spec.split(":")[-1].split("/")[0]))
    return ports


def ccserver_settings(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """deploy/ccserver.yaml with the environment the compose file gives the container."""
    env = compose["services"]["ccserver"]["environment"]
    for name, value in env.items():
        value = re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"value-of-{m.group(1)}-padded", value)
        monkeypatch.setenv(name, value)
    return load_config(DEPLOY / "ccserver.yaml")


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "asterisk", "ccserver", "prometheus", "grafana"}


def test_ccserver_reaches_asterisk_and_postgres_by_service_name(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ccserver_settings(compose, monkeypatch)
    services = compose["services"]
    assert settings.ami.host in services and settings.ami.port == 5038
    url = make_url(settings.store.url)
    assert url.host in services and url.host == "postgres" and url.port == 5432
    postgres = services["postgres"]["environment"]
    assert url.database == postgres["POSTGRES_DB"] and url.username == postgres["POSTGRES_USER"]
    assert "postgres" in services["ccserver"]["depends_on"]
    # listening on every interface inside the container, on the published port
    assert settings.http.host == "0.0.0.0" and settings.ivr.agi_host == "0.0.0.0"
    assert settings.http.port in published(services["ccserver"])
    # the spool lives on a named volume
    spool = mounts(services["ccserver"])[str(settings.store.spool_dir)]
    assert spool in compose["volumes"]


def test_asterisk_and_ccserver_trust_each_other_on_the_compose_network(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ccserver_settings(compose, monkeypatch)
    subnet = ipaddress.ip_network(compose["networks"]["cc"]["ipam"]["config"][0]["subnet"])
    asterisk = compose["services"]["asterisk"]
    assert ipaddress.ip_address(asterisk["networks"]["cc"]["ipv4_address"]) in subnet
    assert subnet in settings.ivr.agi_allow  # FastAGI sessions from Asterisk are let in
    entry = (DEPLOY / "asterisk" / "entrypoint.sh").read_text()
    # AMI lets ccserver's subnet in; the dialplan's FastAGI address is ccserver's
    assert f"permit = {subnet.network_address}/{subnet.netmask}" in entry
    assert f"CC_AGI=agi://${{CCSERVER_HOST}}:{settings.ivr.agi_port}" in entry
    assert asterisk["environment"]["CCSERVER_HOST"] == "ccserver"
    conf = (REPO / "asterisk" / "extensions.conf").read_text()
    assert re.search(r"^CC_AGI=agi://[^ ;]*", conf, re.M)  # what the entrypoint rewrites
    manager = (REPO / "asterisk" / "manager.conf").read_text()
    for line in (
        "bindaddr = 127.0.0.1",
        "secret = CHANGE-ME",
        "permit = 127.0.0.1/255.255.255.255",
    ):
        assert line in manager, line


def test_prometheus_scrapes_ccserver_and_grafana_reads_prometheus(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose["services"]
    prom_mounts = mounts(services["prometheus"])
    scrape = load(DEPLOY / prom_mounts["/etc/prometheus/prometheus.yml"])
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]  # fmt: skip
    settings = ccserver_settings(compose, monkeypatch)
    assert targets == [f"ccserver:{settings.http.port}"]

    graf = mounts(services["grafana"])
    provisioning = DEPLOY / graf["/etc/grafana/provisioning"]
    [source] = load(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert source["url"] == "http://prometheus:9090" and 9090 in published(services["prometheus"])
    [provider] = load(provisioning / "dashboards" / "ccserver.yaml")["providers"]
    dashboards = DEPLOY / graf[provider["options"]["path"]]
    assert (dashboards / "ccserver-wallboard.json").is_file()


def test_volumes_files_and_variables_exist(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for target, source in mounts(service).items():
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} -> {target}"
            else:
                assert source in named, f"{name}: volume {source} not declared"
        build = service.get("build")
        if build:
            context = DEPLOY / build["context"]
            assert (context / build["dockerfile"]).is_file()
    used = set(re.findall(r"\$\{(\w+)", (DEPLOY / "compose.yaml").read_text()))
    example = {line.split("=")[0] for line in (DEPLOY / "env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#")}  # fmt: skip
    assert used == example


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/asterisk/Dockerfile"])
def test_dockerfiles_copy_what_exists(dockerfile: str) -> None:
    text = (REPO / dockerfile).read_text()
    for line in text.splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"{dockerfile}: {source}"
    assert "HEALTHCHECK" in text


def test_the_ccserver_image_installs_the_wheel_with_its_config() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "pip install -e" not in text and "pip wheel" in text
    assert " AS build" in text  # multi-stage
    # the config the image runs with, and the files it names, are in the image
    assert 'CMD ["ccserver", "run", "--config", "/etc/ccserver/ccserver.yaml"]' in text
    config = load(DEPLOY / "ccserver.yaml")
    for path in (config["acd"]["config"], config["ivr"]["config"]):
        assert f" {path}\n" in text
    assert config["store"]["spool_dir"] in text.split("VOLUME", 1)[1].splitlines()[0]
    assert "CCSERVER_IVR__AGI_HOST=0.0.0.0" in text
    # the migrations travel inside the package
    link = REPO / "ccserver" / "migrations"
    assert (link / "env.py").is_file() and (link / "versions").is_dir()


def test_every_prompt_of_the_example_ivr_is_spoken_in_en_es_and_zh() -> None:
    rows = {}
    for line in (DEPLOY / "prompts" / "prompts.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, en, es, zh, _voice = line.split("\t")
            rows[name] = (en, es, zh)
    prompts = load_ivr(REPO / "config" / "ivr.example.yaml").all_prompts()
    missing = sorted(p for p in prompts if p not in rows or not all(rows[p]))
    assert missing == []
    assert set(load_ivr(REPO / "config" / "ivr.example.yaml").languages) == {"en", "es", "zh"}
