// distsync DLQ console: one render function per page; the shell's data-page picks it.
"use strict";

const REFRESH_MS = 10000;

async function whoami() {
  try {
    const me = (await api("/v1/console/me")).data;
    document.getElementById("who").textContent = me.open ? "authentication off" : `${me.subject} (${me.method})`;
    document.getElementById("signout").hidden = me.open;
    return me;
  } catch (e) { return null; }
}

function depthCell(q) {
  const d = q.live_depth === null || q.live_depth === undefined ? "?" : q.live_depth;
  return el("td", { class: "num" }, String(d));
}

async function overviewPage() {
  let timer = null;
  const restore = el("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); const v = ev.target.archive.value.trim(); if (v) restoreArchive(v); } },
    el("label", { for: "archive" }, "Restore from archive id"), el("input", { id: "archive", name: "archive", autocomplete: "off", required: true }),
    el("button", { type: "submit", class: "secondary" }, "Restore…"));
  async function load(force) {
    let data;
    try { data = (await api(`/v1/console/overview${force ? "?refresh=true" : ""}`)).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); return; }
    const rows = data.queues.map((q) => el("tr", {},
      el("th", { scope: "row" }, el("a", { href: `/console/services/${enc(q.target)}` }, q.target)),
      depthCell(q),
      el("td", { text: fmtTime(q.oldest) }), el("td", { text: fmtTime(q.newest) }),
      el("td", { class: "num", text: String(q.group_count || 0) }),
      el("td", {}, q.hourly ? hourlyChart(q.hourly, q.target) : "–"),
      el("td", { class: "state-" + q.state, text: q.error || q.live_error || q.state + (q.built_at ? `, ${ago(q.built_at)}` : "") })));
    const busy = data.queues.some((q) => q.state === "scanning" || q.state === "refreshing");
    content(table("Every dead-letter queue, and unrouted", ["Queue", "Depth", "Oldest failure", "Newest failure", "Groups", "Per hour, last 24 h", "Summary"], rows),
      el("p", { class: "hint", text: `Depth is live; groups, oldest and newest come from the last walk of each queue. Refreshes every ${REFRESH_MS / 1000} s.` }),
      el("button", { type: "button", class: "secondary", onclick: () => load(true) }, "Refresh now"), restore);
    setStatus(`Updated ${fmtTime(new Date().toISOString())}`);
    clearTimeout(timer);
    timer = setTimeout(() => load(false), busy ? 2000 : REFRESH_MS);
  }
  await load(false);
}

async function loginPage() {
  const next = new URLSearchParams(location.search).get("next") || "/console/";
  const safeNext = next.startsWith("/console") ? next : "/console/";
  const form = el("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    Cred.set(form.kind.value, form.credential.value.trim());
    try {
      const me = (await api("/v1/console/me", { noRedirect: true })).data;
      setStatus(`Signed in as ${me.subject}`);
      location.assign(safeNext);
    } catch (e) {
      if (e.status === 403) { location.assign(safeNext); return; } // valid, without dlq:read (an auditor)
      Cred.clear(); setStatus("Sign-in failed: " + e.detail, "error"); form.credential.focus();
    }
  } },
    el("fieldset", {}, el("legend", { text: "Credential type" }),
      el("label", {}, el("input", { type: "radio", name: "kind", value: "key", checked: true }), " API key"),
      el("label", {}, el("input", { type: "radio", name: "kind", value: "bearer" }), " Bearer token (from the identity provider)")),
    el("label", { for: "credential" }, "Key or token"),
    el("input", { id: "credential", name: "credential", type: "password", autocomplete: "off", required: true }),
    el("button", { type: "submit", class: "primary" }, "Sign in"),
    el("p", { class: "hint", text: "Kept in this tab only (sessionStorage) and sent as a request header; closing the tab forgets it." }));
  content(form);
  form.credential.focus();
}

async function servicePage() {
  const { service } = pageData();
  document.getElementById("title").textContent = `Failure groups: ${service}`;
  async function load(force) {
    let s;
    try { s = (await api(`/v1/console/${enc(service)}/groups${force ? "?refresh=true&wait=5" : ""}`)).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); return; }
    if (s.state === "scanning") { setStatus("Reading the queue for the first time…"); setTimeout(() => load(false), 1000); return; }
    const rows = s.groups.map((g) => el("tr", {},
      el("th", { scope: "row" }, el("a", { href: `/console/services/${enc(service)}/groups/${enc(g.id)}` }, g.exception_type)),
      el("td", {}, (g.patterns || []).map((p) => el("div", { class: "pattern" }, el("code", { text: p.pattern || "(no message)" }), ` ×${p.count}`))),
      el("td", { text: g.event_type }), el("td", { class: "num", text: String(g.count) }),
      el("td", { text: fmtTime(g.oldest) }), el("td", { text: fmtTime(g.newest) }),
      el("td", { class: "num", text: String(g.flagged) })));
    const partial = s.scanned < s.depth ? ` (the first ${s.scanned} of ${s.depth} messages)` : "";
    content(el("p", {}, `Depth ${s.live_depth ?? s.depth}; groups as of ${fmtTime(s.built_at)}${partial}, state ${s.state}.`),
      table(`Failure groups of ${service}`, ["Exception type", "Message patterns", "Event type", "Count", "First seen", "Last seen", "Flagged"], rows),
      el("button", { type: "button", class: "secondary", onclick: () => load(true) }, "Refresh now"));
    setStatus(s.groups.length ? "" : "No dead letters.");
    if (s.state === "refreshing") setTimeout(() => load(false), 2000);
  }
  await load(false);
}

async function groupPage() {
  const { service, group } = pageData();
  // after an operation: a new walk of the queue (waited for a few seconds), then this group
  async function refreshed() {
    try { await api(`/v1/console/${enc(service)}/groups?refresh=true&wait=5`); } catch (e) { /* shown by load */ }
    await load();
  }
  async function load() {
    let g;
    try { g = (await api(`/v1/console/${enc(service)}/groups/${enc(group)}`)).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); content(el("a", { href: `/console/services/${enc(service)}` }, `Back to ${service}`)); return; }
    document.getElementById("title").textContent = `${g.exception_type} · ${g.event_type}`;
    const boxes = [];
    const rows = g.messages.map((m) => {
      const box = el("input", { type: "checkbox", value: m.id, "aria-label": `Select ${m.id}` });
      boxes.push(box);
      return el("tr", {}, el("td", {}, box),
        el("th", { scope: "row" }, el("a", { href: `/console/services/${enc(service)}/messages/${enc(m.id)}` }, m.id)),
        el("td", { text: (m.exception_message || "").slice(0, 160) }), el("td", { class: "num", text: String(m.attempts) }),
        el("td", { class: "num", text: String(m.replay_count) }), el("td", { text: fmtTime(m.last_failure) }));
    });
    const all = el("input", { type: "checkbox", id: "whole", "aria-describedby": "whole-hint" });
    const selection = () => {
      if (all.checked) return { groups: [group] };
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      return ids.length ? { ids } : null;
    };
    content(el("p", {}, `${g.count} message(s), first seen ${fmtTime(g.oldest)}, last seen ${fmtTime(g.newest)}. `,
      el("a", { href: `/console/services/${enc(service)}` }, `All groups of ${service}`)),
      el("div", { class: "inline" }, all, el("label", { for: "whole" }, ` Act on the whole group (${g.count})`),
        el("span", { id: "whole-hint", class: "hint", text: " instead of the messages ticked below" })),
      actionBar(service, selection, refreshed),
      table(`Messages: ${g.messages.length} of ${g.count} shown, as of ${fmtTime(g.built_at)}`, ["Select", "Event id", "Exception message", "Attempts", "Replays", "Last failure"], rows));
  }
  await load();
}

function kv(obj) {
  return el("dl", { class: "kv" }, Object.entries(obj || {}).map(([k, v]) =>
    [el("dt", { text: k }), el("dd", {}, typeof v === "object" ? el("pre", { text: JSON.stringify(v, null, 2) }) : String(v))]));
}

async function messagePage() {
  const { service, id } = pageData();
  let m;
  try { m = (await api(`/v1/console/${enc(service)}/messages/${enc(id)}`)).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); return; }
  document.getElementById("title").textContent = `Dead letter ${m.id}`;
  const h = m.headers || {};
  const trace = m.event && m.event.correlationid;
  const history = { "replay count": m.replay_count, "replayed by": h["replayed-by"], "replayed at": h["replayed-at"], "previous attempts": h["previous-attempts"] };
  Object.keys(history).forEach((k) => { if (history[k] === undefined || history[k] === null) delete history[k]; });
  const stack = h["stack-trace"];
  content(
    el("p", {}, el("a", { href: `/console/services/${enc(service)}/groups/${enc(m.group)}` }, `Failure group ${m.group}`),
      trace ? [" · ", el("a", { href: `/console/trace/${enc(trace)}` }, `Correlation trace ${trace}`)] : ""),
    actionBar(service, () => ({ ids: [m.id] }), () => setStatus("Done: this page shows the message as it was read.")),
    el("h2", { text: "Failure" }), kv({ type: m.type, "exception type": m.exception_type, "exception message": m.exception_message, attempts: m.attempts,
      "first failure": fmtTime(m.first_failure), "last failure": fmtTime(m.last_failure), "original exchange": m.original_exchange, "original routing key": m.original_routing_key }),
    el("h2", { text: "Stack trace" }), el("pre", { class: "stack", tabindex: 0, text: stack ? String(stack) : "(no stack trace in the headers)" }),
    el("h2", { text: "Replay history" }), Object.keys(history).length ? kv(history) : el("p", { text: "Never replayed." }),
    await operationsOn(service, m),
    el("h2", { text: "Failure headers" }), kv(Object.fromEntries(Object.entries(h).filter(([k]) => k !== "stack-trace"))),
    el("h2", { text: "CloudEvent" }), el("pre", { class: "event", tabindex: 0, text: m.event ? JSON.stringify(m.event, null, 2) : (m.body || "") + (m.body_problem ? `\n(${m.body_problem})` : "") }));
}

// the DLQ operations whose selector named this message or its group (the dlq audit log)
async function operationsOn(service, m) {
  let entries;
  const path = `/v1/console/${enc(service)}/messages/${enc(m.id)}/operations?group=${enc(m.group)}`;
  try { entries = (await api(path)).data; } catch (e) { return el("p", { class: "hint", text: "Operations: " + e.detail }); }
  const mine = entries;
  if (!mine.length) return el("p", { text: "No operation has selected this message or its group." });
  const rows = mine.map((e) => el("tr", {}, el("td", { text: fmtTime(e.started_at) }), el("th", { scope: "row", text: e.action }),
    el("td", { text: e.user || "" }), el("td", { text: e.status || "" }), el("td", { class: "num", text: String(e.done ?? "") }),
    el("td", { text: e.archive_id || e.target || "" })));
  return table("Operations that selected this message or its group", ["When", "Operation", "By", "Result", "Done", "Archive / target"], rows);
}

async function tracePage() {
  const { correlationid } = pageData();
  document.getElementById("title").textContent = `Correlation trace ${correlationid}`;
  let t;
  try { t = (await api(`/v1/console/trace/${enc(correlationid)}`)).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); return; }
  const rows = t.events.map((e) => el("tr", {}, el("td", { text: fmtTime(e.emitted_at || e.time) }), el("th", { scope: "row", text: e.type }),
    el("td", { text: e.id }), el("td", { text: e.emitted_by || "outside system" }),
    el("td", { text: (e.consumed_by || []).map((c) => `${c.service} ${fmtTime(c.at)}`).join("; ") || "–" }), el("td", { text: e.causationid || "" })));
  content(el("p", { text: `${t.events.length} event(s); services ${t.services.join(", ") || "–"}.` }),
    table("Events of this flow", ["Time", "Type", "Id", "Emitted by", "Consumed by", "Caused by"], rows),
    Object.keys(t.unreachable || {}).length ? el("p", { class: "error", text: "Unreachable: " + Object.keys(t.unreachable).join(", ") }) : "");
}

async function approvalsPage() {
  async function decide(a, approve) {
    const note = el("textarea", { id: "note", maxlength: 500 });
    const ok = await confirmDialog(`${approve ? "Approve" : "Reject"} request ${a.approval}?`,
      [el("p", { text: `${a.action} of ${a.matched} message(s) from ${a.service}, requested by ${a.requested_by}.` }), el("label", { for: "note" }, "Note for the audit log"), note],
      approve ? "Approve and run" : "Reject");
    if (!ok) return;
    try {
      const r = (await api(`/v1/dlq/approvals/${enc(a.approval)}/${approve ? "approve" : "reject"}`, { method: "POST", body: { note: note.value || null } })).data;
      if (approve && r.task) await followTask(r, () => load()); else { setStatus(`Request ${a.approval} ${r.status || "decided"}.`); load(); }
    } catch (e) { setStatus("Refused: " + e.detail, "error"); }
  }
  async function load() {
    let list;
    try { list = (await api("/v1/dlq/approvals?status=pending")).data; } catch (e) { setStatus("Could not load: " + e.detail, "error"); return; }
    const rows = list.map((a) => el("tr", {}, el("th", { scope: "row", text: a.approval }), el("td", { text: a.action }), el("td", { text: a.service }),
      el("td", { class: "num", text: String(a.matched) }), el("td", { text: a.requested_by }), el("td", { text: fmtTime(a.requested_at) }),
      el("td", { text: fmtTime(a.expires_at) }),
      el("td", {}, el("button", { type: "button", class: "primary", onclick: () => decide(a, true) }, `Approve ${a.approval}`),
        el("button", { type: "button", class: "secondary", onclick: () => decide(a, false) }, `Reject ${a.approval}`))));
    content(table("Requests waiting for a second person", ["Request", "Action", "Queue", "Messages", "Requested by", "At", "Expires", "Decide"], rows));
    setStatus(list.length ? "" : "No pending requests.");
  }
  await load();
}

async function auditPage() {
  const form = el("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); load(); } },
    el("label", { for: "action" }, "Action starts with"), el("input", { id: "action", name: "action", value: "dlq." }),
    el("button", { type: "submit", class: "secondary" }, "Show"));
  async function load() {
    let entries;
    const a = form.action.value.trim();
    try { entries = (await api(`/v1/audit?limit=200${a ? "&action=" + enc(a) : ""}`)).data; } catch (e) { setStatus("Could not load: " + e.detail + (e.status === 403 ? " (the audit:read scope is needed)" : ""), "error"); return; }
    const rows = entries.map((e) => el("tr", {}, el("td", { text: fmtTime(e.at) }), el("td", { text: (e.identity && e.identity.subject) || "" }),
      el("th", { scope: "row", text: e.action }), el("td", { text: e.target || "" }), el("td", { text: e.result || "" }),
      el("td", { text: e.counts ? JSON.stringify(e.counts) : "" }), el("td", { text: e.selector ? JSON.stringify(e.selector) : "" })));
    content(form, table("Who did what, when, with what result (newest first)", ["When", "Who", "Action", "Target", "Result", "Counts", "Selector"], rows));
    setStatus(`${entries.length} entries.`);
  }
  content(form);
  await load();
}

const PAGES = { overview: overviewPage, login: loginPage, service: servicePage, group: groupPage, message: messagePage,
  trace: tracePage, approvals: approvalsPage, audit: auditPage };

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("signout").addEventListener("click", () => { Cred.clear(); location.assign("/console/login"); });
  const page = pageData().page;
  if (page !== "login") await whoami();
  await (PAGES[page] || overviewPage)();
  document.body.dataset.ready = "true";
});
