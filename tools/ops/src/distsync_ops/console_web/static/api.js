// distsync DLQ console: credentials, the authenticated fetch, and small DOM helpers.
// Credentials live in sessionStorage (gone when the tab closes) and travel only as a header.
"use strict";

const CRED_KEY = "distsync.console.credentials";

const Cred = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(CRED_KEY) || "null"); } catch (e) { return null; }
  },
  set(kind, value) { sessionStorage.setItem(CRED_KEY, JSON.stringify({ kind, value })); },
  clear() { sessionStorage.removeItem(CRED_KEY); },
  headers() {
    const c = Cred.get();
    if (!c || !c.value) return {};
    return c.kind === "bearer" ? { Authorization: "Bearer " + c.value } : { "X-API-Key": c.value };
  },
};

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; this.detail = detail; }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign("/console/login?next=" + encodeURIComponent(next));
}

// fetch a JSON API path with the stored credentials; 401 sends the user to the login page
async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...Cred.headers(), ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "omit",
    cache: "no-store",
  });
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (resp.status === 401 && !options.noRedirect) { toLogin(); }
  if (!resp.ok) {
    const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : resp.statusText;
    throw new ApiError(resp.status, detail);
  }
  return { status: resp.status, data };
}

// el("a", {href: "/x", class: "y"}, "text", child...)
function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || attrs.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false || k === "svg") continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svgEl(tag, attrs) { return el(tag, { ...attrs, svg: true }); }

function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function table(caption, headers, rows) {
  return el("div", { class: "scroll" },
    el("table", {},
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

function setStatus(text, kind = "") {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = kind;
}

function content(...nodes) {
  const c = document.getElementById("content");
  c.replaceChildren(...nodes);
  return c;
}

function pageData() { return document.body.dataset; }

const enc = encodeURIComponent;

// a small bar chart of dead letters per hour, as inline SVG, with a text alternative
function hourlyChart(counts, label) {
  const w = 240, h = 40, n = counts.length, max = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", class: "chart",
    "aria-label": `${label}: ${total} dead letters in the last ${n} hours, at most ${max} in one hour` });
  const bw = w / n;
  counts.forEach((c, i) => {
    const bh = c ? Math.max(2, (c / max) * (h - 2)) : 0;
    const r = svgEl("rect", { x: (i * bw + 1).toFixed(1), y: (h - bh).toFixed(1), width: (bw - 2).toFixed(1), height: bh.toFixed(1) });
    r.append(svgEl("title", {}));
    r.firstChild.textContent = `${n - i} h ago: ${c}`;
    svg.append(r);
  });
  svg.append(svgEl("line", { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: "axis" }));
  return svg;
}
