"""The Grafana wallboard only asks for metrics ccserver really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

GRAFANA = Path(__file__).resolve().parents[3] / "grafana"


def dashboard_metrics() -> set[str]:
    board = json.loads((GRAFANA / "dashboards" / "ccserver-wallboard.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs.append(board["templating"]["list"][0]["query"]["query"])
    return {m for e in exprs for m in re.findall(r"\bccserver_[a-z_]+", e)}


async def test_every_dashboard_metric_is_exposed(hotline) -> None:
    call = await hotline.sim.place_call("5559990001", dtmf="10w")
    await hotline.finish(call, timeout=20)
    async with aiohttp.ClientSession() as http, http.get(f"{hotline.base}/metrics") as resp:
        text = await resp.text()
    exposed = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    wanted = dashboard_metrics()
    assert {"ccserver_queue_service_level", "ccserver_agents", "ccserver_ivr_calls_total"} <= wanted
    assert wanted <= exposed, sorted(wanted - exposed)


def test_provisioning_points_at_the_dashboard_folder() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "ccserver.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"].endswith("/ccserver")
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    board = json.loads((GRAFANA / "dashboards" / "ccserver-wallboard.json").read_text())
    uids = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    assert uids == {source["datasources"][0]["uid"]}
    titles = [p["title"] for p in board["panels"]]
    assert len(titles) == len(set(titles))
