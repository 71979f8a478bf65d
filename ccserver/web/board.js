// The supervisor board: per queue the callers waiting, the longest wait, the service level
// (last 30 minutes and today) against the queue's target, answered / abandoned today and
// the agents by state; the agents grid with state, reason and time in state; alerts; the actions
// on an agent: force not ready, log out, edit skills, and listen / whisper / barge on their call
// from the supervisor's own phone; the outage notices in progress, declared and ended from
// here. Live through the stream; the outages (not on the stream) are read every few seconds.
"use strict";
(function () {
  const { $, t, reason, api, clock } = window.CC;
  const STATES = ["available", "offered", "on_call", "wrap_up", "not_ready", "logged_out"];
  let me = null;
  let agents = new Map();
  let queues = [];
  let editing = null; // the agent whose skills are being edited
  let outages = [];
  let outagePoll = null;
  let spying = null; // the last listen-in asked for: shown in the page's language
  const OUTAGE_POLL_MS = 3000;

  const canAct = () => me && (me.role === "supervisor" || me.role === "admin");
  const percent = (x) => (x === null || x === undefined ? "-" : Math.round(x * 100) + "%");
  const skillsText = (skills) => Object.entries(skills).sort().map(([s, l]) => `${s}=${l}`).join(", ");

  function render() {
    renderQueues();
    renderAgents();
    renderAlerts();
    renderOutages();
    renderNotice();
  }

  function renderNotice() {
    $("notice").textContent = spying ? `${t(spying.mode)} ${spying.name}: ${t("spy_started")}${spying.phone}` : "";
  }

  const when = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleString(document.documentElement.lang) : "-");

  function renderQueues() {
    const body = $("board-queues").querySelector("tbody");
    body.textContent = "";
    for (const q of queues) {
      const row = body.insertRow();
      row.dataset.queue = q.name;
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; return c; };
      cell("name", q.name);
      cell("waiting", q.waiting);
      const wait = cell("longest", clock(q.longest_wait_s));
      if (q.max_wait_s && q.longest_wait_s > q.max_wait_s) wait.classList.add("breach");
      const sl = cell("sl30", `${percent(q.sl_30m)} / ${t("target")} ${percent(q.sl_target)} (${q.sl_threshold_s}s)`);
      if (q.sl_30m !== null && q.sl_30m !== undefined && q.sl_30m < q.sl_target) sl.classList.add("breach");
      cell("sltoday", percent(q.sl_today));
      cell("answered", q.answered_today ?? "-");
      cell("abandoned", q.abandoned_today ?? "-");
      const counts = {};
      for (const a of agents.values()) if (a.queues.includes(q.name)) counts[a.state] = (counts[a.state] || 0) + 1;
      cell("by-state", STATES.filter((s) => counts[s]).map((s) => `${t("state_" + s)} ${counts[s]}`).join(" · ") || "-");
    }
  }

  function button(cls, key, enabled, onClick) {
    const b = document.createElement("button");
    b.type = "button"; b.className = cls; b.textContent = t(key); b.disabled = !enabled;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderAgents() {
    const body = $("agents").querySelector("tbody");
    body.textContent = "";
    for (const a of [...agents.values()].sort((x, y) => x.id.localeCompare(y.id))) {
      const row = body.insertRow();
      row.dataset.agent = a.id;
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; return c; };
      cell("name", `${a.name} (${a.id})`);
      cell("state", t("state_" + a.state)).dataset.state = a.state;
      cell("reason", reason(a.reason));
      cell("since", clock(Date.now() / 1000 - a.since)).dataset.since = a.since;
      cell("skills", skillsText(a.skills));
      const actions = row.insertCell();
      actions.className = "actions";
      if (!canAct()) continue;
      const free = ["available", "wrap_up", "not_ready"].includes(a.state);
      const talking = a.state === "on_call" && Boolean(a.call_id);
      actions.append(
        button("force-not-ready", "force_not_ready", free && a.state !== "not_ready", () => force(a.id, "not_ready")),
        button("force-logout", "force_logout", free, () => force(a.id, "logout")),
        button("edit-skills", "edit_skills", true, () => edit(a.id)),
        ...["listen", "whisper", "barge"].map((mode) => button("spy-" + mode, mode, talking, () => spy(a, mode))),
      );
    }
  }

  function renderAlerts() {
    const list = $("alerts");
    list.textContent = "";
    const add = (cls, text, queue) => {
      const li = document.createElement("li");
      li.className = cls; li.textContent = text;
      if (queue) li.dataset.queue = queue;
      list.appendChild(li);
    };
    for (const q of queues) {
      if (q.sl_30m !== null && q.sl_30m !== undefined && q.sl_30m < q.sl_target) {
        add("alert-sl", `${q.name}: ${t("alert_sl")} (${percent(q.sl_30m)} < ${percent(q.sl_target)})`, q.name);
      }
      if (q.max_wait_s && q.longest_wait_s > q.max_wait_s) {
        add("alert-max-wait", `${q.name}: ${t("alert_max_wait")} (${clock(q.longest_wait_s)})`, q.name);
      }
    }
    if (!list.children.length) add("none", t("no_alerts"));
  }

  function tick() {
    document.querySelectorAll("#agents td.since").forEach((c) => {
      c.textContent = clock(Date.now() / 1000 - Number(c.dataset.since));
    });
  }

  async function force(agentId, action) {
    const { status, data } = await api("POST", `/api/agents/${encodeURIComponent(agentId)}`, { action });
    $("message").textContent = status === 200 ? "" : (data && data.error) || String(status);
  }

  // ChanSpy from the supervisor's own phone: it rings, she picks up and is in the call
  async function spy(agent, mode) {
    spying = null; renderNotice();
    if (!me.phone) { $("message").textContent = t("spy_no_phone"); $("my-phone").focus(); return; }
    const { status, data } = await api("POST", `/api/calls/${encodeURIComponent(agent.call_id)}/spy`, { mode });
    if (status !== 202) { $("message").textContent = (data && data.error) || String(status); return; }
    $("message").textContent = "";
    spying = { mode, name: agent.name, phone: data.phone };
    renderNotice();
  }

  async function savePhone() {
    const phone = $("my-phone").value.trim() || null;
    const { status, data } = await api("PATCH", "/api/me", { phone });
    if (status !== 200) { $("message").textContent = (data && data.error) || String(status); return; }
    me.phone = data.phone;
    $("message").textContent = "";
  }

  function renderOutages() {
    const body = $("outages").querySelector("tbody");
    body.textContent = "";
    for (const o of outages) {
      const row = body.insertRow();
      row.dataset.outage = o.id;
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; return c; };
      cell("area", [...o.regions, ...o.number_prefixes.map((p) => p + "*")].join(", "));
      cell("message", o.message);
      cell("declared", when(o.declared_at));
      cell("until", when(o.expected_fix_at));
      cell("deflected", o.deflected);
      const actions = row.insertCell();
      actions.className = "actions";
      if (canAct()) actions.append(button("end-outage", "end_outage", true, () => endOutage(o.id)));
    }
    if (!outages.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = 6; cell.className = "none"; cell.textContent = t("no_outages");
    }
  }

  async function loadOutages() {
    const { status, data } = await api("GET", "/api/outages?active=1");
    if (status !== 200 || !me) return;
    outages = data.outages;
    renderOutages();
  }

  const listed = (text) => text.split(/[,，\s]+/).filter(Boolean);

  async function declareOutage(event) {
    event.preventDefault();
    const body = { regions: listed($("outage-regions").value), number_prefixes: listed($("outage-prefixes").value),
      message: $("outage-message").value.trim() };
    // datetime-local is the browser's local time; the API reads a time without a zone as UTC
    if ($("outage-until").value) body.expected_fix_at = new Date($("outage-until").value).toISOString();
    const { status, data } = await api("POST", "/api/outages", body);
    if (status !== 201) { $("outage-error").textContent = (data && data.error) || String(status); return; }
    $("outage-error").textContent = "";
    $("outage-form").reset();
    await loadOutages();
  }

  async function endOutage(id) {
    const { status, data } = await api("POST", `/api/outages/${id}/resolve`);
    $("message").textContent = status === 200 ? "" : (data && data.error) || String(status);
    await loadOutages();
  }

  function edit(agentId) {
    editing = agentId;
    $("skills-agent").textContent = agentId;
    $("skills-input").value = skillsText(agents.get(agentId).skills);
    $("skills-error").textContent = "";
    $("skills-editor").hidden = false;
    $("skills-input").focus();
  }

  async function saveSkills() {
    const skills = {};
    for (const part of $("skills-input").value.split(/[,，\s]+/).filter(Boolean)) {
      const [name, level] = part.split(/[=:]/);
      if (!name || !/^\d+$/.test(level || "")) { $("skills-error").textContent = t("skills_hint"); return; }
      skills[name] = Number(level);
    }
    const { status, data } = await api("PUT", `/api/agents/${encodeURIComponent(editing)}/skills`, { skills });
    if (status !== 200) { $("skills-error").textContent = (data && data.error) || String(status); return; }
    $("skills-editor").hidden = true;
    editing = null;
  }

  function onMessage(msg) {
    if (msg.type === "hello") {
      agents = new Map(msg.agents.map((a) => [a.id, a]));
      queues = msg.queues;
    } else if (msg.type === "agent") {
      agents.set(msg.agent.id, msg.agent);
    } else if (msg.type === "queues") {
      queues = msg.queues;
    } else {
      return;
    }
    // a grid redrawn only when an agent changes: its buttons stay put between changes
    if (msg.type !== "queues") renderAgents();
    renderQueues(); // agents by state follow the agents
    renderAlerts();
  }

  window.CC.session({
    view: "board-view",
    onStart(who) {
      me = who;
      $("who").textContent = who.name;
      const board = ["supervisor", "admin", "quality"].includes(who.role);
      $("message").textContent = board ? "" : t("not_a_supervisor");
      $("phone-setting").hidden = !canAct() || who.kind !== "user";
      $("my-phone").value = who.phone || "";
      $("outage-form").hidden = !canAct();
      if (board) {
        window.CC.connect(onMessage);
        loadOutages();
        outagePoll = setInterval(loadOutages, OUTAGE_POLL_MS);
      }
    },
    onStop() {
      me = null; agents = new Map(); queues = []; outages = []; spying = null;
      if (outagePoll) clearInterval(outagePoll);
      outagePoll = null;
      render();
    },
    onLanguage: render,
  });
  $("skills-save").addEventListener("click", saveSkills);
  $("phone-save").addEventListener("click", savePhone);
  $("outage-form").addEventListener("submit", declareOutage);
  $("skills-cancel").addEventListener("click", () => { $("skills-editor").hidden = true; editing = null; });
  setInterval(tick, 1000);
})();
