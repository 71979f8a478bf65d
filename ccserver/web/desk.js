// The agent desktop: log in, sign in to the queues, ready / not ready, the offered call's
// screen pop before the phone is answered, state and time in state, wrap-up ended early.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("ccserver.lang") || (navigator.language.startsWith("zh") ? "zh-CN" : "en");
  if (!window.I18N[lang]) lang = "zh-CN";
  let me = null;
  let agent = null;
  let pop = null;
  let socket = null;

  const t = (key) => window.I18N[lang][key] ?? window.I18N.en[key] ?? key;

  function translate() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    renderReasons();
    renderAgent();
    renderPop();
  }

  async function api(method, path, body) {
    const resp = await fetch(path, {
      method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { status: resp.status, data };
  }

  function show(view) {
    $("login-view").hidden = view !== "login";
    $("desk-view").hidden = view !== "desk";
  }

  function renderReasons() {
    const select = $("reason");
    const current = select.value;
    select.textContent = "";
    for (const code of (me && me.reason_codes) || []) {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = t("reason_" + code);
      select.appendChild(option);
    }
    if (current) select.value = current;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function renderAgent() {
    if (!me) return;
    const state = agent ? agent.state : "";
    $("state").dataset.state = state;
    $("state").textContent = agent ? t("state_" + state) : "-";
    $("reason-now").textContent = agent && agent.reason ? "(" + t("reason_" + agent.reason) + ")" : "";
    const is = (...states) => states.includes(state);
    $("acd-login-btn").disabled = !is("logged_out");
    $("ready-btn").disabled = !is("not_ready", "wrap_up");
    $("notready-btn").disabled = !is("available", "wrap_up");
    $("reason").disabled = !is("available", "wrap_up");
    $("endwrap-btn").disabled = !is("wrap_up");
    $("acd-logout-btn").disabled = !is("available", "not_ready", "wrap_up");
    tick();
  }

  function tick() {
    if (!agent) return;
    $("state-time").textContent = clock(Date.now() / 1000 - agent.since);
    const left = agent.state === "wrap_up" && agent.until ? agent.until - Date.now() / 1000 : null;
    $("wrap-left").textContent = left !== null ? "· " + t("wrap_left") + " " + clock(left) : "";
  }

  function renderPop() {
    const live = pop && agent && agent.call_id === pop.call_id;
    $("pop").hidden = !live;
    if (!live) return;
    $("pop-caller").textContent = pop.caller || "-";
    $("pop-queue").textContent = pop.queue || "-";
    $("pop-account").textContent = pop.account || "-";
    const c = pop.customer;
    $("pop-customer").textContent = c
      ? `${c.name} · ${t("tier")} ${c.tier} · ${t("balance")} ${(c.balance_cents / 100).toFixed(2)} ${c.currency}`
      : "-";
    $("pop-ivr").textContent = pop.ivr_path || "-";
    $("pop-ticket").textContent = pop.ticket || "-";
  }

  function renderQueues(queues) {
    const body = $("queues").querySelector("tbody");
    body.textContent = "";
    for (const q of queues) {
      const row = body.insertRow();
      row.insertCell().textContent = q.name;
      row.insertCell().textContent = q.waiting;
      row.insertCell().textContent = clock(q.longest_wait_s);
    }
  }

  function mine(a) { return me && a.id === me.agent_id; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/stream`);
    socket.onopen = () => { $("link").dataset.i18n = "link_up"; $("link").className = "link-up"; $("link").textContent = t("link_up"); };
    socket.onclose = () => {
      $("link").dataset.i18n = "link_down"; $("link").className = "link-down"; $("link").textContent = t("link_down");
      if (me) setTimeout(() => { if (me) connect(); }, 2000);
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "hello") {
        agent = msg.agents.find(mine) || null;
        renderQueues(msg.queues);
        for (const offer of msg.offers) if (offer.agent_id === me.agent_id) pop = offer;
      } else if (msg.type === "agent" && mine(msg.agent)) {
        agent = msg.agent;
      } else if (msg.type === "queues") {
        renderQueues(msg.queues);
      } else if (msg.type === "offer" && msg.agent_id === me.agent_id) {
        pop = msg;
      }
      renderAgent();
      renderPop();
    };
  }

  function start(who) {
    me = who;
    lang = who.language;
    localStorage.setItem("ccserver.lang", lang);
    $("who").textContent = who.name + (who.agent_id ? " · " + who.agent_id : "");
    $("message").textContent = who.agent_id ? "" : t("not_an_agent");
    show("desk");
    translate();
    connect();
  }

  async function act(action) {
    if (!me || !me.agent_id) return;
    const body = { action };
    if (action === "not_ready") body.reason = $("reason").value;
    const { status, data } = await api("POST", `/api/agents/${encodeURIComponent(me.agent_id)}`, body);
    $("message").textContent = status === 200 ? "" : (data && data.error) || String(status);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, data } = await api("POST", "/api/login", { name: $("name").value, password: $("password").value });
    if (status === 200) { $("password").value = ""; $("login-error").textContent = ""; start(data); return; }
    $("login-error").textContent = status === 429 ? t("too_many") : t("wrong_login");
  });
  $("logout-btn").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    me = null; agent = null; pop = null;
    if (socket) socket.close();
    show("login");
  });
  $("lang").addEventListener("change", async () => {
    lang = $("lang").value;
    localStorage.setItem("ccserver.lang", lang);
    translate();
    if (me && me.kind === "user") await api("PATCH", "/api/me", { language: lang });
  });
  $("acd-login-btn").addEventListener("click", () => act("login"));
  $("ready-btn").addEventListener("click", () => act("ready"));
  $("notready-btn").addEventListener("click", () => act("not_ready"));
  $("endwrap-btn").addEventListener("click", () => act("end_wrap_up"));
  $("acd-logout-btn").addEventListener("click", () => act("logout"));
  setInterval(tick, 1000);

  translate();
  api("GET", "/api/me").then(({ status, data }) => (status === 200 ? start(data) : show("login")));
})();
