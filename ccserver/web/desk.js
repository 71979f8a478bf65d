// The agent desktop: log in, sign in to the queues, ready / not ready, the offered call's
// screen pop before the phone is answered, state and time in state; during the call hold /
// resume (held is what Asterisk's Hold / Unhold events said, never the button), blind and
// attended transfers, notes and tickets; wrap-up with a disposition code, ended early or by
// the timer; the callbacks due.
"use strict";
(function () {
  const { $, t, api, clock } = window.CC;
  let me = null;
  let agent = null;
  let pop = null;
  let call = null; // GET /api/agents/{id}/call: Asterisk's hold state, the consult, wrap-up needs
  let notesOf = null; // the call the notes below belong to
  let tickets = [];

  function render() {
    renderReasons();
    renderAgent();
    renderPop();
    renderCall();
  }

  const agentPath = () => `/api/agents/${encodeURIComponent(me.agent_id)}`;
  const busy = () => agent && ["on_call", "wrap_up"].includes(agent.state);

  async function refreshCall() {
    if (!me || !me.agent_id) return;
    const { status, data } = await api("GET", agentPath() + "/call");
    if (status !== 200) return;
    call = data;
    const current = call.call_id || call.last_call_id;
    if (current !== notesOf) { notesOf = current; $("notes").textContent = ""; refreshTickets(); }
    renderCall();
  }

  function fill(select, items, keepBlank) {
    const current = select.value;
    select.textContent = "";
    if (keepBlank) select.appendChild(new Option("-", ""));
    for (const [value, label] of items) select.appendChild(new Option(label, value));
    if ([...select.options].some((o) => o.value === current)) select.value = current;
  }

  function renderCall() {
    const state = agent ? agent.state : "";
    const talking = state === "on_call" && call && call.call_id;
    $("call-panel").hidden = !talking;
    $("notes-panel").hidden = !(busy() && call && (call.call_id || call.last_call_id));
    $("wrap-panel").hidden = state !== "wrap_up";
    if (!call) return;
    $("held").dataset.held = call.held ? "1" : "0";
    $("held").textContent = t(call.held ? "on_hold" : "talking");
    $("hold-btn").disabled = !talking || call.held;
    $("resume-btn").disabled = !talking || !call.held;
    fill($("xfer-target"), [
      ...call.colleagues.map((c) => ["agent:" + c.id, c.name + (c.free ? "" : " (" + t("busy") + ")")]),
      ...call.queues.map((q) => ["queue:" + q, t("queue") + " " + q]),
    ], false);
    const consult = call.consult;
    $("consult").textContent = consult
      ? `${t("consulting")} ${consult.agent} · ${t(consult.answered ? "consult_answered" : "consult_ringing")}`
      : "";
    $("xfer-btn").disabled = !talking || !!consult;
    $("xfer-complete-btn").disabled = !consult || !consult.answered;
    $("xfer-cancel-btn").disabled = !consult;
    // a code added in the configuration shows as it is
    const word = (c) => (t("disposition_" + c) === "disposition_" + c ? c : t("disposition_" + c));
    fill($("disposition"), call.disposition_codes.map((c) => [c, word(c)]), !call.disposition_required);
    $("endwrap-btn").disabled = state !== "wrap_up" || call.disposition_required;
  }

  function say(id, status, data) {
    $(id).textContent = status < 300 ? "" : (data && data.error) || String(status);
    return status < 300;
  }

  async function hold(on) {
    $("call-message").textContent = "";
    const { status, data } = await api("POST", agentPath() + "/call/" + (on ? "hold" : "resume"));
    if (!say("call-message", status, data)) return;
    if (call) call.held = data.held; // Asterisk's word, as the server heard it
    if (!data.confirmed) $("call-message").textContent = t(on ? "hold_not_confirmed" : "resume_not_confirmed");
    renderCall();
  }

  async function transfer() {
    const [type, ...rest] = $("xfer-target").value.split(":");
    const body = { kind: $("xfer-kind").value };
    body[type] = rest.join(":");
    const { status, data } = await api("POST", agentPath() + "/call/transfer", body);
    say("call-message", status, data);
    refreshCall();
  }

  async function endConsult(how) {
    const { status, data } = await api("POST", agentPath() + "/call/" + how);
    say("call-message", status, data);
    refreshCall();
  }

  async function addNote() {
    const text = $("note-text").value.trim();
    if (!text) return;
    const { status, data } = await api("POST", agentPath() + "/call/notes", { text });
    if (!say("ticket-message", status, data)) return;
    const item = document.createElement("li");
    item.textContent = text;
    $("notes").appendChild(item);
    $("note-text").value = "";
  }

  async function refreshTickets() {
    const { status, data } = await api("GET", "/api/tickets?status=open");
    if (status !== 200) return;
    const mine = (k) => (pop && ((pop.account && k.account === pop.account) || (pop.caller && k.caller === pop.caller)))
      || (call && k.call_id === (call.call_id || call.last_call_id));
    tickets = data.tickets.filter(mine);
    fill($("ticket-select"), tickets.map((k) => [k.number, `${k.number} · ${k.category}`]), false);
  }

  async function newTicket() {
    const body = { category: $("ticket-category").value.trim() || "fault" };
    const note = $("ticket-note").value.trim();
    if (note) body.note = note;
    const { status, data } = await api("POST", "/api/tickets", body);
    if (!say("ticket-message", status, data)) return;
    $("ticket-message").textContent = t("ticket_opened") + " " + data.number;
    $("ticket-note").value = "";
    refreshTickets();
  }

  async function updateTicket(close) {
    const number = $("ticket-select").value;
    const text = $("ticket-update").value.trim();
    if (!number || !text) return;
    const body = close ? { close: true, resolution: text } : { note: text };
    const { status, data } = await api("PATCH", "/api/tickets/" + encodeURIComponent(number), body);
    if (!say("ticket-message", status, data)) return;
    $("ticket-message").textContent = t(close ? "ticket_closed" : "ticket_noted") + " " + data.number;
    $("ticket-update").value = "";
    refreshTickets();
  }

  async function fileWrapUp() {
    const body = { end: true };
    if ($("disposition").value) body.code = $("disposition").value;
    const text = $("disposition-text").value.trim();
    if (text) body.text = text;
    const { status, data } = await api("POST", agentPath() + "/wrap_up", body);
    if (say("wrap-message", status, data)) $("disposition-text").value = "";
  }

  async function refreshCallbacks() {
    if (!me || !me.agent_id) return;
    const { status, data } = await api("GET", agentPath() + "/callbacks");
    if (status !== 200) return;
    const body = $("callbacks").querySelector("tbody");
    body.textContent = "";
    for (const c of data.callbacks) {
      const row = body.insertRow();
      row.insertCell().textContent = c.number;
      row.insertCell().textContent = c.queue;
      row.insertCell().textContent = clock(c.waiting_s);
      row.insertCell().textContent = t("callback_" + c.state);
    }
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
      const before = agent ? agent.state : null;
      agent = msg.agent;
      if (agent.state !== before) refreshCall();
    } else if (msg.type === "queues") {
      renderQueues(msg.queues);
    } else if (msg.type === "offer" && msg.agent_id === me.agent_id) {
      pop = msg;
    }
    renderAgent();
    renderPop();
    renderCall();
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
      if (who.agent_id) { refreshCall(); refreshCallbacks(); }
    },
    onStop() { me = null; agent = null; pop = null; call = null; notesOf = null; },
    onLanguage: render,
  });
  $("acd-login-btn").addEventListener("click", () => act("login"));
  $("ready-btn").addEventListener("click", () => act("ready"));
  $("notready-btn").addEventListener("click", () => act("not_ready"));
  $("endwrap-btn").addEventListener("click", () => act("end_wrap_up"));
  $("acd-logout-btn").addEventListener("click", () => act("logout"));
  $("hold-btn").addEventListener("click", () => hold(true));
  $("resume-btn").addEventListener("click", () => hold(false));
  $("xfer-btn").addEventListener("click", transfer);
  $("xfer-complete-btn").addEventListener("click", () => endConsult("complete_transfer"));
  $("xfer-cancel-btn").addEventListener("click", () => endConsult("cancel_transfer"));
  $("note-btn").addEventListener("click", addNote);
  $("ticket-btn").addEventListener("click", newTicket);
  $("ticket-note-btn").addEventListener("click", () => updateTicket(false));
  $("ticket-close-btn").addEventListener("click", () => updateTicket(true));
  $("wrap-done-btn").addEventListener("click", fileWrapUp);
  setInterval(tick, 1000);
  // Asterisk's hold state and the consult come from the server: asked every second in a call
  setInterval(() => { if (busy()) refreshCall(); }, 1000);
  setInterval(refreshCallbacks, 5000);
})();
