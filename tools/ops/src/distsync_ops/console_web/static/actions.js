// distsync DLQ console: confirmation, operations as API tasks (progress, cancel, summary).
"use strict";

// ask for confirmation in the modal dialog; resolves true only for the confirm button
function confirmDialog(title, bodyNodes, okLabel) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...bodyNodes);
  const ok = document.getElementById("confirm-ok");
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "cancel";
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

function describeSelection(sel) {
  if (sel.ids && sel.ids.length) return `${sel.ids.length} selected message(s)`;
  if (sel.groups && sel.groups.length) return `every message of failure group ${sel.groups.join(", ")}`;
  return "the selection";
}

function planList(plan) {
  const items = Object.entries(plan || {}).map(([where, n]) => el("li", {}, `${n} → ${where}`));
  return items.length ? el("ul", { class: "plan" }, items) : el("p", { text: "Nothing would be published." });
}

function summaryNodes(view, expected) {
  const o = view.outcome || {};
  const rows = [
    ["state", view.state], ["action", o.action], ["queue", o.queue], ["matched", o.matched],
    ["done", o.done], ["failed", o.failed], ["skipped (flagged)", o.skipped_flagged],
    ["selected, left in the DLQ", view.state === "cancelled" ? Math.max(0, (expected || o.matched || 0) - (o.done || 0)) : null],
    ["archive id", o.archive_id], ["elapsed", o.elapsed_s !== undefined ? o.elapsed_s + " s" : null],
    ["error", view.error],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  const dl = el("dl", { class: "summary" }, rows.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  const extra = [];
  if (o.plan && Object.keys(o.plan).length) extra.push(el("h3", { text: "Destinations of the messages matched" }), planList(o.plan));
  if (o.errors && o.errors.length) extra.push(el("h3", { text: "Errors" }), el("ul", {}, o.errors.map((e) => el("li", { text: e }))));
  if (o.archive_id) {
    extra.push(el("button", { type: "button", class: "secondary", onclick: () => restoreArchive(o.archive_id) }, "Restore this archive"));
  }
  return [dl, ...extra];
}

// follow a task (GET /v1/dlq/tasks/{id}) until it ends; the panel offers Cancel meanwhile
async function followTask(first, onDone, expected) {
  const panel = document.getElementById("task");
  const state = document.getElementById("task-state");
  const bar = document.getElementById("task-progress");
  const cancel = document.getElementById("task-cancel");
  const close = document.getElementById("task-close");
  const out = document.getElementById("task-summary");
  panel.hidden = false;
  close.hidden = true;
  cancel.hidden = false;
  out.replaceChildren();
  document.getElementById("task-title").textContent = `Operation ${first.task}`;
  cancel.onclick = async () => {
    cancel.disabled = true;
    state.textContent = "Cancelling…";
    try { await api(`/v1/dlq/tasks/${enc(first.task)}`, { method: "DELETE" }); } catch (e) { state.textContent = "Cancel failed: " + e.detail; }
    cancel.disabled = false;
  };
  close.onclick = () => { panel.hidden = true; };
  let view = first;
  for (;;) {
    const o = view.outcome || {};
    // of how many: the dry run's count when there was one, else what matched so far
    const total = expected || o.matched || 0;
    bar.max = Math.max(1, expected || o.depth || total);
    bar.value = Math.min(bar.max, expected ? (o.done || 0) + (o.failed || 0) : (o.scanned || 0));
    state.textContent = `${o.action || "operation"}: ${view.state}, ${o.done || 0} done of ${total}` +
      ` (${o.scanned || 0} of ${o.depth || 0} read)`;
    if (view.state !== "running") break;
    await new Promise((r) => setTimeout(r, 400));
    try { view = (await api(`/v1/dlq/tasks/${enc(first.task)}`)).data; } catch (e) { state.textContent = "Lost the task: " + e.detail; break; }
  }
  cancel.hidden = true;
  close.hidden = false;
  out.replaceChildren(el("h3", { text: "Summary" }), ...summaryNodes(view, expected));
  close.focus();
  if (onDone) onDone(view);
  return view;
}

function pendingNotice(answer) {
  const panel = document.getElementById("task");
  panel.hidden = false;
  document.getElementById("task-title").textContent = "Waiting for a second person";
  document.getElementById("task-progress").value = 0;
  document.getElementById("task-cancel").hidden = true;
  const close = document.getElementById("task-close");
  close.hidden = false;
  close.onclick = () => { panel.hidden = true; };
  document.getElementById("task-state").textContent =
    `${answer.action} of ${answer.matched} messages from ${answer.service} is over the approval threshold (${answer.threshold}): request ${answer.approval} is pending.`;
  document.getElementById("task-summary").replaceChildren(
    el("p", {}, "Another person with the dlq:approve scope approves it on the ",
      el("a", { href: "/console/approvals" }, "approvals page"), "; it runs then."));
  close.focus();
}

// replay: a dry run first (where each would go), then confirm, then the task
async function replayAction(service, sel, onDone) {
  setStatus("Dry run: finding where each message would go…");
  let dry;
  try {
    dry = (await api(`/v1/dlq/${enc(service)}/replay?wait=true`, { method: "POST", body: { ...sel, dry_run: true } })).data;
  } catch (e) { setStatus("Dry run failed: " + e.detail, "error"); return; }
  setStatus("");
  const o = dry.outcome || {};
  const body = [
    el("p", { text: `Replay ${describeSelection(sel)} from ${service}: ${o.matched} message(s) match` +
      (o.skipped_flagged ? `, ${o.skipped_flagged} flagged (replayed too often) would be skipped.` : ".") }),
    el("h3", { text: "Where each would go (dry run)" }), planList(o.plan),
  ];
  if (o.errors && o.errors.length) body.push(el("ul", { class: "error" }, o.errors.map((t) => el("li", { text: t }))));
  const rate = el("input", { id: "rate", type: "number", min: "1", step: "any", inputmode: "decimal" });
  body.push(el("label", { for: "rate" }, "Messages per second (empty: as fast as the broker takes them)"), rate);
  if (!(await confirmDialog("Replay dead letters?", body, `Replay ${o.matched}`))) { setStatus("Replay not started."); return; }
  const perSecond = parseFloat(rate.value);
  await runAction(service, "replay", perSecond > 0 ? { ...sel, rate: perSecond } : sel, onDone, o.matched);
}

async function runAction(service, action, sel, onDone, expected) {
  let answer;
  try {
    answer = (await api(`/v1/dlq/${enc(service)}/${action}`, { method: "POST", body: sel })).data;
  } catch (e) { setStatus(`${action} refused: ${e.detail}`, "error"); return; }
  if (answer.state === "pending_approval") { pendingNotice(answer); if (onDone) onDone(answer); return; }
  await followTask(answer, onDone, expected);
}

async function archiveAction(service, sel, purge, onDone) {
  const what = purge ? "Purge" : "Archive";
  const text = purge
    ? `Purge ${describeSelection(sel)} from ${service}: each is copied to the archive, then removed from the DLQ. It can be restored from its archive id.`
    : `Archive ${describeSelection(sel)} from ${service}: each is copied to the archive and stays in the DLQ.`;
  if (!(await confirmDialog(`${what} dead letters?`, [el("p", { text })], what))) { setStatus(`${what} not started.`); return; }
  await runAction(service, purge ? "purge" : "archive", sel, onDone);
}

async function restoreArchive(archiveId) {
  const body = [el("p", { text: `Put every message of archive ${archiveId} back into the queue it came from.` })];
  if (!(await confirmDialog("Restore an archive?", body, "Restore"))) return;
  let answer;
  try { answer = (await api(`/v1/dlq/restore`, { method: "POST", body: { archive: archiveId } })).data; } catch (e) { setStatus("Restore refused: " + e.detail, "error"); return; }
  await followTask(answer);
}

function actionBar(service, selection, onDone) {
  const mk = (label, fn, cls) => el("button", { type: "button", class: cls, onclick: async () => {
    const sel = selection();
    if (!sel) { setStatus("Select at least one message first.", "error"); return; }
    await fn(sel);
  } }, label);
  return el("div", { class: "actions", role: "group", "aria-label": "Actions" },
    mk("Replay…", (s) => replayAction(service, s, onDone), "primary"),
    mk("Archive…", (s) => archiveAction(service, s, false, onDone), "secondary"),
    mk("Purge…", (s) => archiveAction(service, s, true, onDone), "danger"));
}
