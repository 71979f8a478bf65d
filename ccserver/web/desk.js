// The agent desktop: log in, sign in to the queues, ready / not ready, the offered call's
// screen pop before the phone is answered, state and time in state, wrap-up ended early.
"use strict";
(function () {
  const { $, t, api, clock } = window.CC;
  let me = null;
  let agent = null;
  let pop = null;

  function render() {
    renderReasons();
    renderAgent();
    renderPop();
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

  function onMessage(msg) {
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
  }

  async function act(action) {
    if (!me || !me.agent_id) return;
    const body = { action };
    if (action === "not_ready") body.reason = $("reason").value;
    const { status, data } = await api("POST", `/api/agents/${encodeURIComponent(me.agent_id)}`, body);
    $("message").textContent = status === 200 ? "" : (data && data.error) || String(status);
  }

  window.CC.session({
    view: "desk-view",
    onStart(who) {
      me = who;
      $("who").textContent = who.name + (who.agent_id ? " · " + who.agent_id : "");
      $("message").textContent = who.agent_id ? "" : t("not_an_agent");
      render();
      window.CC.connect(onMessage);
    },
    onStop() { me = null; agent = null; pop = null; },
    onLanguage: render,
  });
  $("acd-login-btn").addEventListener("click", () => act("login"));
  $("ready-btn").addEventListener("click", () => act("ready"));
  $("notready-btn").addEventListener("click", () => act("not_ready"));
  $("endwrap-btn").addEventListener("click", () => act("end_wrap_up"));
  $("acd-logout-btn").addEventListener("click", () => act("logout"));
  setInterval(tick, 1000);
})();
