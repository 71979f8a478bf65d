// The admin page: the ACD's live configuration (/api/config). Agents with their softphone
// and skills, queues with their routing settings, reason and disposition codes; each change
// goes to the running ACD at once (or is refused with its reason) and is kept in the database.
"use strict";
(function () {
  const { $, t, api } = window.CC;
  let config = null;
  let me = null;

  const skillsText = (skills) => Object.entries(skills || {}).sort().map(([s, l]) => `${s}=${l}`).join(", ");
  const enc = encodeURIComponent;

  // "general=5, tech=3" -> {general: 5, tech: 3}; null when a part is not skill=number
  function parseSkills(text) {
    const out = {};
    for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [name, level] = part.split("=").map((p) => p.trim());
      if (!name || level === undefined || level === "" || !Number.isInteger(Number(level))) return null;
      out[name] = Number(level);
    }
    return out;
  }

  function say(error, notice) {
    $("message").textContent = error || "";
    $("notice").textContent = notice || "";
  }

  function button(cls, key, onClick) {
    const b = document.createElement("button");
    b.type = "button"; b.className = cls; b.textContent = t(key);
    b.addEventListener("click", onClick);
    return b;
  }

  async function load() {
    const { status, data } = await api("GET", "/api/config");
    if (status !== 200) { say((data && data.error) || String(status)); return; }
    config = data;
    render();
  }

  // one change: the answer carries the whole configuration as it is now
  async function change(method, path, body) {
    const { status, data } = await api(method, path, body);
    if (status !== 200 && status !== 201) {
      say((data && data.error) || String(status));
      return false;
    }
    config = data.config;
    say("", `${t("cfg_saved")} ${config.version}`);
    render();
    return true;
  }

  // nothing of a configuration shown (logged out, or not an admin)
  function clearAll() {
    $("cfg-version").textContent = "-";
    for (const id of ["cfg-agents", "cfg-queues"]) $(id).querySelector("tbody").textContent = "";
    $("codes").textContent = "";
  }

  function render() {
    if (!config) { clearAll(); return; }
    $("cfg-version").textContent = config.version;
    renderAgents();
    renderQueues();
    renderSettings();
    renderCodes();
  }

  // engine-wide settings: the form shows what the running ACD has
  const SETTINGS = [
    ["set-aging", "aging_s"], ["set-vip-boost", "vip_boost"], ["set-resume", "resume_window_s"],
    ["set-cb-answer", "callback_answer_s"], ["set-cb-attempts", "callback_attempts"],
    ["set-cb-retry", "callback_retry_s"],
  ];

  function renderSettings() {
    const s = config.settings;
    for (const [id, key] of SETTINGS) $(id).value = s[key];
    $("set-default-queue").value = s.default_queue ?? "";
    $("set-vip-numbers").value = (s.vip_numbers || []).join(", ");
    $("set-no-answer").checked = !!s.no_answer_not_ready;
  }

  async function saveSettings(event) {
    event.preventDefault();
    const body = {
      vip_numbers: $("set-vip-numbers").value.split(",").map((n) => n.trim()).filter(Boolean),
      no_answer_not_ready: $("set-no-answer").checked,
    };
    for (const [id, key] of SETTINGS) body[key] = Number($(id).value);
    const queue = $("set-default-queue").value.trim();
    if (queue) body.default_queue = queue;
    await change("PUT", "/api/config/settings", body);
  }

  function renderAgents() {
    const body = $("cfg-agents").querySelector("tbody");
    body.textContent = "";
    for (const a of config.agents) {
      const row = body.insertRow();
      row.dataset.agent = a.id;
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; };
      cell("id", a.id); cell("name", a.name); cell("endpoint", a.endpoint); cell("skills", skillsText(a.skills));
      const actions = row.insertCell();
      actions.className = "actions";
      actions.append(
        button("edit-agent", "edit", () => editAgent(a)),
        button("remove-agent", "remove", () => change("DELETE", `/api/config/agents/${enc(a.id)}`)),
      );
    }
  }

  function editAgent(a) {
    $("agent-id").value = a.id; $("agent-id").readOnly = true;
    $("agent-name").value = a.name; $("agent-endpoint").value = a.endpoint;
    $("agent-skills").value = skillsText(a.skills);
    $("agent-skills").focus();
  }

  function clearAgent() {
    $("agent-form").reset(); $("agent-id").readOnly = false;
  }

  async function saveAgent(event) {
    event.preventDefault();
    const skills = parseSkills($("agent-skills").value);
    if (skills === null) { say(t("cfg_bad_skills")); return; }
    const id = $("agent-id").value.trim();
    const body = { name: $("agent-name").value.trim(), endpoint: $("agent-endpoint").value.trim(), skills };
    if (await change("PUT", `/api/config/agents/${enc(id)}`, body)) clearAgent();
  }

  function renderQueues() {
    const body = $("cfg-queues").querySelector("tbody");
    body.textContent = "";
    for (const q of config.queues) {
      const row = body.insertRow();
      row.dataset.queue = q.name;
      const cell = (cls, text) => { const c = row.insertCell(); c.className = cls; c.textContent = text; };
      cell("name", q.name); cell("skills", skillsText(q.skills)); cell("priority", q.priority);
      cell("strategy", t("strategy_" + q.strategy));
      cell("sl", `${Math.round(q.service_level * 100)}% / ${q.within_s}s`);
      cell("ring", q.ring_timeout_s); cell("wrap", q.wrap_up_s);
      cell("max-wait", q.max_wait_s === null ? "-" : `${q.max_wait_s} (${t("max_wait_" + q.max_wait_action)})`);
      const actions = row.insertCell();
      actions.className = "actions";
      actions.append(
        button("edit-queue", "edit", () => editQueue(q)),
        button("remove-queue", "remove", () => change("DELETE", `/api/config/queues/${enc(q.name)}`)),
      );
    }
  }

  function editQueue(q) {
    $("queue-name").value = q.name; $("queue-name").readOnly = true;
    $("queue-skills").value = skillsText(q.skills);
    $("queue-priority").value = q.priority;
    $("queue-strategy").value = q.strategy;
    $("queue-sl").value = Math.round(q.service_level * 1000) / 10;
    $("queue-within").value = q.within_s;
    $("queue-ring").value = q.ring_timeout_s;
    $("queue-wrap").value = q.wrap_up_s;
    $("queue-max-wait").value = q.max_wait_s ?? "";
    $("queue-max-wait-action").value = q.max_wait_action;
    $("queue-overflow").value = q.overflow_to ?? "";
    $("queue-escalation").value = JSON.stringify(q.escalation);
  }

  function clearQueue() {
    $("queue-form").reset(); $("queue-name").readOnly = false;
  }

  async function saveQueue(event) {
    event.preventDefault();
    const name = $("queue-name").value.trim();
    const skills = parseSkills($("queue-skills").value);
    if (skills === null) { say(t("cfg_bad_skills")); return; }
    let escalation = [];
    try { escalation = JSON.parse($("queue-escalation").value.trim() || "[]"); } catch (e) { say(t("cfg_bad_escalation")); return; }
    const known = config.queues.find((q) => q.name === name) || {};
    const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
    const body = {
      ...known, skills, escalation,
      priority: number("queue-priority") ?? 0,
      strategy: $("queue-strategy").value,
      service_level: number("queue-sl") === undefined ? known.service_level : number("queue-sl") / 100,
      within_s: number("queue-within") ?? known.within_s,
      ring_timeout_s: number("queue-ring") ?? known.ring_timeout_s,
      wrap_up_s: number("queue-wrap") ?? known.wrap_up_s,
      max_wait_s: number("queue-max-wait") ?? null,
      max_wait_action: $("queue-max-wait-action").value,
      overflow_to: $("queue-overflow").value.trim() || null,
    };
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    delete body.name;
    if (await change("PUT", `/api/config/queues/${enc(name)}`, body)) clearQueue();
  }

  function renderCodes() {
    const holder = $("codes");
    holder.textContent = "";
    for (const [kind, codes] of Object.entries(config.codes)) {
      const box = document.createElement("div");
      box.className = "codes"; box.dataset.kind = kind;
      const title = document.createElement("h3");
      title.textContent = t("cfg_codes_" + kind);
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const key of ["cfg_code", "cfg_label_zh", "cfg_label_en", "actions"]) {
        const th = document.createElement("th"); th.textContent = t(key); head.appendChild(th);
      }
      const body = table.createTBody();
      for (const c of codes) {
        const row = body.insertRow();
        row.dataset.code = c.code;
        for (const [cls, text] of [["code", c.code], ["zh", c.label_zh || ""], ["en", c.label_en || ""]]) {
          const cell = row.insertCell(); cell.className = cls; cell.textContent = text;
        }
        const actions = row.insertCell();
        actions.className = "actions";
        actions.append(button("remove-code", "remove",
          () => change("DELETE", `/api/config/codes/${enc(kind)}?code=${enc(c.code)}`)));
      }
      const add = document.createElement("div");
      add.className = "add";
      const input = (cls, key) => {
        const i = document.createElement("input");
        i.className = cls; i.placeholder = t(key); i.setAttribute("aria-label", t(key)); i.maxLength = cls === "new-code" ? 64 : 100;
        return i;
      };
      const code = input("new-code", "cfg_code"), zh = input("new-zh", "cfg_label_zh"), en = input("new-en", "cfg_label_en");
      add.append(code, zh, en, button("add-code", "add", () => {
        const body = { code: code.value.trim(), label_zh: zh.value.trim() || null, label_en: en.value.trim() || null };
        change("POST", `/api/config/codes/${enc(kind)}`, body);
      }));
      box.append(title, table, add);
      holder.appendChild(box);
    }
  }

  $("agent-form").addEventListener("submit", saveAgent);
  $("agent-clear").addEventListener("click", clearAgent);
  $("queue-form").addEventListener("submit", saveQueue);
  $("queue-clear").addEventListener("click", clearQueue);
  $("settings-form").addEventListener("submit", saveSettings);

  window.CC.session({
    view: "admin-view",
    onStart(who) {
      me = who;
      $("who").textContent = `${who.name} (${t("role_" + who.role)})`;
      if (who.role !== "admin") { config = null; clearAll(); say(t("admin_only")); return; }
      say("");
      load();
    },
    onStop() { me = null; config = null; clearAll(); say(""); },
    onLanguage() {
      if (me) $("who").textContent = `${me.name} (${t("role_" + me.role)})`;
      render();
    },
  });
})();
