// The status page: renders /api/events' state events, and with a signed-in session sends lock
// commands. Everything from the server is put in with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let session = { controls: false, signed_in: false };
let current = null;
let busy = false;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function ago(iso) {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return new Date(t).toLocaleString();
}

function when(iso) {
  const span = el("time", iso ? { datetime: iso, title: new Date(iso).toLocaleString() } : {}, ago(iso));
  span.dataset.iso = iso || "";
  return span;
}

function row(dl, label, value, cls) {
  dl.append(el("dt", {}, label), el("dd", cls ? { class: cls } : {}, value));
}

const models = { lock_pro: "Lock PRO", lock_go: "Lock GO" };
const stateClass = { locked: "ok", unlocked: "warn", semi_locked: "warn", jammed: "bad", unknown: "muted" };

function lockCard(l) {
  const title = l.name || l.serial;
  const state = l.jammed ? "jammed" : (l.state || "unknown");
  const li = el("li", { class: "card", "data-serial": l.serial, "aria-label": title });
  li.append(el("h3", {}, title), el("p", { class: "sub" }, [models[l.model] || l.model, l.serial].filter(Boolean).join(" · ")));
  li.append(el("p", { class: "big " + (stateClass[state] || ""), "data-field": "state" }, state.replaceAll("_", " ")));
  const dl = el("dl");
  let battery = l.battery == null ? "unknown" : l.battery + " %";
  if (l.charging) battery += " (charging)";
  row(dl, "Battery", battery, l.battery != null && l.battery < 20 ? "bad" : "");
  row(dl, "Door", l.door ? l.door.replaceAll("_", " ") : "no sensor");
  row(dl, "Connection", l.connected == null ? "unknown" : (l.connected ? "connected" : "disconnected"),
    l.connected === false ? "bad" : "");
  row(dl, "Bridge", l.bridge || "cloud only");
  if (l.last_user) {
    // Who last moved the lock, from the Tedee Cloud API's activity log.
    const who = l.last_user + (l.last_source ? " (" + l.last_source.replaceAll("_", " ") + ")" : "");
    row(dl, "Last moved by", l.last_moved ? el("span", {}, who, ", ", when(l.last_moved)) : who);
  }
  row(dl, "Last activity", when(l.updated_at));
  row(dl, "Last event", when(l.timestamp));
  li.append(dl);
  if (session.signed_in) {
    const buttons = el("div", { class: "buttons", role: "group", "aria-label": "Commands for " + title });
    for (const cmd of l.commands || []) {
      const b = el("button", { type: "button", "data-command": cmd, class: cmd === "lock" ? "" : "secondary",
        "aria-label": cmd[0].toUpperCase() + cmd.slice(1) + " " + title }, cmd[0].toUpperCase() + cmd.slice(1));
      b.disabled = busy;
      b.addEventListener("click", () => command(l.serial, title, cmd));
      buttons.append(b);
    }
    li.append(buttons);
  }
  return li;
}

function bridgeCard(b) {
  const title = b.name;
  const li = el("li", { class: "card", "data-bridge": b.name, "aria-label": "Bridge " + title });
  li.append(el("h3", {}, title), el("p", { class: "sub" }, [b.tedee_name, b.serial, b.firmware].filter(Boolean).join(" · ") || "not reported yet"));
  const dl = el("dl");
  row(dl, "Cloud link", b.connected == null ? "unknown" : (b.connected ? "connected" : "disconnected"),
    b.connected === false ? "bad" : "");
  const h = b.health;
  if (h) {
    row(dl, "Bridge API", h.api ? "reachable" : (h.last_sync ? "failing" : "not reached yet"), h.api ? "ok" : "bad");
    row(dl, "Callback", h.callback.replaceAll("_", " "), h.callback === "failed" ? "bad" : (h.callback === "registered" ? "ok" : ""));
    row(dl, "Last sync", when(h.last_sync));
    if (h.last_error) row(dl, "Last error", h.last_error, "bad");
  } else {
    row(dl, "Bridge API", "not configured (webhooks only)");
  }
  row(dl, "Last update", when(b.updated_at));
  li.append(dl);
  return li;
}

function render() {
  if (!current) return;
  // Keep keyboard focus on the same button across a re-render.
  const focused = document.activeElement;
  const focusKey = focused && focused.dataset && focused.dataset.command &&
    [focused.closest("[data-serial]").dataset.serial, focused.dataset.command];
  $("locks").replaceChildren(...current.locks.map(lockCard));
  $("bridges").replaceChildren(...current.bridges.map(bridgeCard));
  $("locks-empty").hidden = current.locks.length > 0;
  $("bridges-empty").hidden = current.bridges.length > 0;
  $("version").textContent = current.version ? "tedee2mqtt " + current.version : "";
  if (focusKey) {
    const b = document.querySelector(`[data-serial="${CSS.escape(focusKey[0])}"] [data-command="${focusKey[1]}"]`);
    if (b) b.focus();
  }
}

function renderSession() {
  $("signin").hidden = !session.controls || session.signed_in;
  $("signedin").hidden = !session.signed_in;
  render();
}

function ask(text) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

async function command(serial, title, cmd) {
  if (cmd !== "lock" && !(await ask(cmd === "unlock" ? `Unlock ${title}?` : `Open ${title}? The door will unlatch.`))) {
    return;
  }
  const status = $("command-status");
  busy = true;
  render();
  status.textContent = `${cmd} ${title}…`;
  try {
    const res = await fetch(`api/locks/${encodeURIComponent(serial)}/${cmd}`, {
      method: "POST", headers: { "X-CSRF-Token": session.csrf || "" }, credentials: "same-origin" });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) { session = { controls: true, signed_in: false }; renderSession(); }
    status.textContent = body.ok ? `${title}: ${cmd} done` + (body.state ? ` (${body.state})` : "")
      : `${title}: ${cmd} failed: ${body.error || res.statusText}`;
  } catch (e) {
    status.textContent = `${title}: ${cmd} failed: ${e.message}`;
  } finally {
    busy = false;
    render();
  }
}

async function loadSession() {
  const res = await fetch("api/session", { credentials: "same-origin" });
  if (res.ok) session = await res.json();
  renderSession();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = $("signin-error");
  err.textContent = "";
  const res = await fetch("api/login", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ password: $("password").value }) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { err.textContent = body.error || res.statusText; return; }
  $("password").value = "";
  session = body;
  renderSession();
});

$("signout").addEventListener("click", async () => {
  await fetch("api/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": session.csrf || "" } });
  session = { controls: true, signed_in: false };
  renderSession();
});

function connect() {
  const live = $("live");
  const es = new EventSource("api/events");
  es.addEventListener("state", (ev) => {
    current = JSON.parse(ev.data);
    live.textContent = "Live";
    live.className = "live on";
    render();
  });
  es.onerror = () => {
    live.textContent = "Reconnecting…";
    live.className = "live off";
    if (es.readyState === EventSource.CLOSED) { // refused (too many pages open): try again later
      setTimeout(connect, 10000);
    }
  };
}

// Relative times ("2 min ago") age without an event.
setInterval(() => {
  for (const t of document.querySelectorAll("time")) t.textContent = ago(t.dataset.iso);
}, 15000);

loadSession().finally(connect);
