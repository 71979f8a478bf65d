// The quality page: recorded calls (filtered by date, agent and queue, a page at a time),
// played in the browser, and scored on the configured scorecard by quality staff.
// Supervisors hear their teams' calls; agents are not let in (the API refuses them too).
"use strict";
(function () {
  const { $, t, api, clock } = window.CC;
  const PAGE = 20;
  const READERS = ["quality", "supervisor", "admin"];
  let me = null;
  let criteria = [];
  let rows = [];
  let offset = 0;
  let total = 0;
  let current = null; // the recording under review

  const canScore = () => me && (me.role === "quality" || me.role === "admin");
  const when = (epoch) => new Date(epoch * 1000).toLocaleString(document.documentElement.lang);
  const label = (c) => (document.documentElement.lang === "en" ? c.label_en : c.label_zh);
  const pct = (x) => (x === null || x === undefined ? t("not_scored") : x.toFixed(1) + "%");

  function range() {
    // whole local days: from the start of "from" to the end of "to"
    const q = new URLSearchParams();
    if ($("f-from").value) q.set("from", String(new Date($("f-from").value + "T00:00").getTime() / 1000));
    if ($("f-to").value) q.set("to", String(new Date($("f-to").value + "T00:00").getTime() / 1000 + 86400));
    if ($("f-agent").value.trim()) q.set("agent", $("f-agent").value.trim());
    if ($("f-queue").value.trim()) q.set("queue", $("f-queue").value.trim());
    q.set("limit", String(PAGE));
    q.set("offset", String(offset));
    return q;
  }

  async function load() {
    const { status, data } = await api("GET", "/api/recordings?" + range().toString());
    if (status !== 200) { $("message").textContent = (data && data.error) || String(status); return; }
    $("message").textContent = "";
    rows = data.recordings;
    total = data.total;
    renderList();
  }

  function renderList() {
    const body = $("recordings").querySelector("tbody");
    body.textContent = "";
    if (!rows.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = 7; cell.className = "none"; cell.textContent = t("no_recordings");
    }
    for (const r of rows) {
      const row = body.insertRow();
      row.dataset.call = r.call_id;
      if (current && current.call_id === r.call_id) row.classList.add("current");
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; return c; };
      cell("started", when(r.started_at));
      cell("caller", r.caller || "-");
      cell("agent", r.agent || "-");
      cell("queue", r.queue || "-");
      cell("talk", clock(r.talk_s));
      const score = cell("score", pct(r.score));
      if (r.score === null) score.classList.add("none");
      const play = document.createElement("button");
      play.type = "button"; play.className = "play"; play.textContent = t("play");
      play.addEventListener("click", () => review(r));
      row.insertCell().append(play);
    }
    $("page-info").textContent = total ? `${offset + 1}-${offset + rows.length} / ${total}` : "";
    $("prev-btn").disabled = offset === 0;
    $("next-btn").disabled = offset + rows.length >= total;
  }

  function review(r) {
    current = r;
    $("review").hidden = false;
    $("review-call").textContent = `${r.call_id} · ${r.agent || "-"} · ${when(r.started_at)}`;
    $("player").src = `/api/recordings/${encodeURIComponent(r.call_id)}/audio`;
    $("score-result").textContent = "";
    $("comment").value = "";
    $("criteria").querySelector("tbody").textContent = "";
    renderCriteria();
    renderList();
    $("player").play().catch(() => {}); // autoplay may be refused: the controls are there
  }

  function renderCriteria() {
    const body = $("criteria").querySelector("tbody");
    const given = {}; // points typed so far survive a language switch
    for (const input of body.querySelectorAll("input[data-criterion]")) given[input.dataset.criterion] = input.value;
    body.textContent = "";
    for (const c of criteria) {
      const row = body.insertRow();
      row.insertCell().textContent = label(c);
      row.insertCell().textContent = String(c.weight);
      const input = document.createElement("input");
      input.type = "number"; input.min = "0"; input.max = String(c.max_points); input.step = "1";
      input.required = true; input.name = c.id; input.dataset.criterion = c.id;
      input.disabled = !canScore();
      input.value = given[c.id] ?? "";
      const cell = row.insertCell();
      cell.append(input, document.createTextNode(` / ${c.max_points}`));
    }
    $("score-btn").hidden = !canScore();
    $("comment").disabled = !canScore();
  }

  async function submitScore(event) {
    event.preventDefault();
    if (!current) return;
    const points = {};
    for (const input of $("criteria").querySelectorAll("input[data-criterion]")) {
      points[input.dataset.criterion] = Number(input.value);
    }
    const body = { points, comment: $("comment").value.trim() || null };
    const { status, data } = await api("POST", `/api/recordings/${encodeURIComponent(current.call_id)}/score`, body);
    if (status !== 201) { $("score-result").textContent = (data && data.error) || String(status); return; }
    $("score-result").textContent = `${t("score_saved")} ${data.score.toFixed(1)}%`;
    current.score = data.score;
    renderList();
  }

  function start(who) {
    me = who;
    $("who").textContent = `${who.name} (${who.role})`;
    if (!READERS.includes(who.role)) {
      $("message").textContent = t("not_for_quality");
      $("recordings-panel").hidden = true;
      return;
    }
    $("recordings-panel").hidden = false;
    api("GET", "/api/scorecard").then(({ status, data }) => {
      if (status === 200) { criteria = data.criteria; renderCriteria(); }
    });
    offset = 0;
    load();
  }

  $("filter-form").addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  $("prev-btn").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  $("next-btn").addEventListener("click", () => { offset += PAGE; load(); });
  $("score-form").addEventListener("submit", submitScore);

  window.CC.session({
    view: "quality-view",
    onStart: start,
    onStop: () => { me = null; current = null; $("player").removeAttribute("src"); $("review").hidden = true; },
    onLanguage: () => { renderList(); renderCriteria(); },
  });
})();
