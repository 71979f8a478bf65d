// What the pages share: their words (i18n.js), the API, the live stream, the login form
// and the language switch. Each page gives its own start and render functions.
"use strict";
window.CC = (function () {
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("ccserver.lang") || (navigator.language.startsWith("zh") ? "zh-CN" : "en");
  if (!window.I18N[lang]) lang = "zh-CN";
  let me = null;
  let socket = null;

  const t = (key) => window.I18N[lang][key] ?? window.I18N.en[key] ?? key;

  // a reason code in the page's language (codes added in the configuration show as they are)
  const reason = (code) => (code ? t("reason_" + code) : "");

  function translate() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
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

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function showLink(up) {
    const key = up ? "link_up" : "link_down";
    $("link").dataset.i18n = key; $("link").className = up ? "link-up" : "link-down"; $("link").textContent = t(key);
  }

  // the live stream of /api/stream, reconnected while someone is logged in
  function connect(onMessage) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/stream`);
    socket.onopen = () => showLink(true);
    socket.onclose = () => {
      showLink(false);
      if (me) setTimeout(() => { if (me) connect(onMessage); }, 2000);
    };
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
  }

  // the login form, the log-out button and the language: ``view`` is the page's main
  // section; ``onStart(who)`` runs once logged in, ``onLanguage()`` after a switch
  function session({ view, onStart, onStop, onLanguage }) {
    const show = (name) => { $("login-view").hidden = name !== "login"; $(view).hidden = name !== "page"; };
    function start(who) {
      me = who;
      lang = who.language;
      localStorage.setItem("ccserver.lang", lang);
      show("page");
      translate();
      onStart(who);
    }
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const { status, data } = await api("POST", "/api/login", { name: $("name").value, password: $("password").value });
      if (status === 200) { $("password").value = ""; $("login-error").textContent = ""; start(data); return; }
      $("login-error").textContent = status === 429 ? t("too_many") : t("wrong_login");
    });
    $("logout-btn").addEventListener("click", async () => {
      await api("POST", "/api/logout");
      me = null;
      if (onStop) onStop();
      if (socket) socket.close();
      show("login");
    });
    $("lang").addEventListener("change", async () => {
      lang = $("lang").value;
      localStorage.setItem("ccserver.lang", lang);
      translate();
      onLanguage();
      if (me && me.kind === "user") await api("PATCH", "/api/me", { language: lang });
    });
    translate();
    onLanguage();
    api("GET", "/api/me").then(({ status, data }) => (status === 200 ? start(data) : show("login")));
  }

  return { $, t, reason, api, clock, connect, session, translate };
})();
