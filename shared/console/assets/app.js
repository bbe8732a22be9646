// The o2c console page: plain JavaScript modules, no framework and no build step (the whole
// page is three small files bundled into the function). Data is only ever put into the page as
// text (textContent), never as HTML.
const $ = (id) => document.getElementById(id);
let session = null;

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function showError(message) { $("error").textContent = message || ""; }

async function api(method, path, body) {
  const headers = { "accept": "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    headers["x-csrf-token"] = session ? session.csrf : "";
  }
  const r = await fetch("api" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error((data && (data.detail || data.title)) || ("HTTP " + r.status));
  return data;
}

function row(tbody, cells, onClick) {
  const tr = el("tr");
  for (const c of cells) tr.appendChild(el("td", c));
  if (onClick) { tr.classList.add("clickable"); tr.addEventListener("click", onClick); }
  tbody.appendChild(tr);
  return tr;
}

// ---------------------------------------------------------------- orders
async function searchOrders(ev) {
  if (ev) ev.preventDefault();
  showError("");
  const by = $("search-by").value;
  const params = new URLSearchParams();
  params.set(by, $("search-value").value.trim());
  if ($("search-from").value) params.set("from", $("search-from").value);
  if ($("search-to").value) params.set("to", $("search-to").value);
  try {
    const found = await api("GET", "/orders?" + params.toString());
    const tbody = $("orders-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const o of found) {
      row(tbody, [o.id, o.state, o.email, o.total, o.created_at], () => openOrder(o.id));
    }
    if (found.length === 0) row(tbody, ["no orders found", "", "", "", ""]);
  } catch (e) { showError(e.message); }
}

async function openOrder(id) {
  showError("");
  try {
    const o = await api("GET", "/orders/" + encodeURIComponent(id));
    const d = $("order-detail");
    d.replaceChildren();
    d.appendChild(el("h3", `Order ${o.id} — ${o.state}`));
    const ids = el("table", undefined, { id: "order-ids" });
    for (const [system, value] of Object.entries(o.ids)) {
      if (value) row(ids, [system, value]);
    }
    d.appendChild(ids);
    d.appendChild(el("p", `spec ${o.spec_version || "bundled"}, capture ${o.capture_policy || "on_accept"}`));
    const t = el("table", undefined, { class: "timeline", id: "order-timeline" });
    row(t, ["at", "what", "from → to", "why", "reference"]);
    for (const e of o.timeline) {
      row(t, [e.at, e.what, (e.from || "") + (e.to ? " → " + e.to : ""), e.why, e.external_ref || ""]);
    }
    d.appendChild(t);
  } catch (e) { showError(e.message); }
}

// ---------------------------------------------------------------- quarantine
async function loadQuarantine() {
  showError("");
  try {
    const items = await api("GET", "/quarantine");
    const tbody = $("quarantine-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const q of items) {
      const state = q.resolution ? `${q.resolution.outcome} by ${q.resolution.by}` : "open";
      row(tbody, [q.event_id, q.order_id || "", q.failure.class, q.failure.path, q.spec_version, state, "details"],
        () => openQuarantined(q.event_id));
    }
    if (items.length === 0) row(tbody, ["nothing quarantined", "", "", "", "", "", ""]);
  } catch (e) { showError(e.message); }
}

async function openQuarantined(id) {
  showError("");
  try {
    const q = await api("GET", "/quarantine/" + encodeURIComponent(id));
    const d = $("quarantine-detail");
    d.replaceChildren();
    d.appendChild(el("h3", `Event ${q.event_id} (${q.event_type}), order ${q.order_id || "-"}`));
    d.appendChild(el("p", `${q.failure.class} at ${q.failure.path}: ${q.failure.message}`, { id: "quarantine-failure" }));
    d.appendChild(el("p", "Suggested fix: " + (q.suggested_fix || "none for this path"), { id: "quarantine-fix" }));
    d.appendChild(el("pre", JSON.stringify(q.view, null, 2)));
    const operator = session && session.role === "operator";
    for (const [label, dry] of [["Dry run", true], ["Replay", false]]) {
      const b = el("button", label, { id: dry ? "quarantine-dry-run" : "quarantine-replay" });
      if (!operator) { b.disabled = true; b.title = "operators only"; }
      b.addEventListener("click", async () => {
        try {
          const r = await api("POST", `/quarantine/${encodeURIComponent(id)}/replay`, { dry_run: dry });
          $("quarantine-result").textContent = `${r.outcome}: ${JSON.stringify(r)}`;
          if (!dry) loadQuarantine();
        } catch (e) { showError(e.message); }
      });
      d.appendChild(b);
    }
    d.appendChild(el("p", "", { id: "quarantine-result" }));
  } catch (e) { showError(e.message); }
}

// ---------------------------------------------------------------- dead letters
async function loadDeadLetters() {
  showError("");
  try {
    const r = await api("GET", "/dead-letters");
    const tbody = $("dlq-table").querySelector("tbody");
    tbody.replaceChildren();
    let n = 0;
    for (const q of r.queues) {
      for (const m of q.messages) {
        n += 1;
        const fix = m.suggestion ? `${m.suggestion.summary} (${m.suggestion.confidence})` : "none";
        row(tbody, [q.queue, m.class, m.order_id || "", m.reason, fix], () => openDeadLetter(q.queue, m));
      }
    }
    if (n === 0) row(tbody, ["no dead letters", "", "", "", ""]);
  } catch (e) { showError(e.message); }
}

// The suggested patch as a diff: each operation, the value before (red) and after (green).
function patchDiff(m) {
  const d = el("div", undefined, { class: "diff", id: "dlq-diff" });
  let before = {};
  try { before = JSON.parse(m.body_preview); } catch (_) { /* a cut preview */ }
  const at = (doc, pointer) => pointer.split("/").slice(1)
    .reduce((v, k) => (v == null ? undefined : v[k.replace(/~1/g, "/").replace(/~0/g, "~")]), doc);
  for (const op of m.suggestion.patch) {
    if (op.op === "test") continue; // the patch's guard on the old value, shown by the next op
    const old = at(before, op.path);
    if (op.op !== "add" && old !== undefined) d.appendChild(el("div", `- ${op.path}: ${JSON.stringify(old)}`, { class: "del" }));
    if (op.op !== "remove" && op.op !== "test") d.appendChild(el("div", `+ ${op.path}: ${JSON.stringify(op.value)}`, { class: "add" }));
  }
  return d;
}

function openDeadLetter(queue, m) {
  const d = $("dlq-detail");
  d.replaceChildren();
  d.appendChild(el("h3", `${queue}: ${m.message_id} (order ${m.order_id || "-"}, ${m.order_state || "state unknown"})`));
  d.appendChild(el("p", `${m.class}: ${m.reason}`, { id: "dlq-reason" }));
  d.appendChild(el("p", m.hint));
  d.appendChild(el("pre", m.body_preview));
  if (m.suggestion) {
    d.appendChild(el("p", `Suggested fix (confidence ${m.suggestion.confidence}): ${m.suggestion.summary}`, { id: "dlq-fix" }));
    d.appendChild(patchDiff(m));
  }
  const operator = session && session.role === "operator";
  for (const [label, dry, suggested, id] of [["Dry run with the fix", true, true, "dlq-dry-run"],
                                             ["Replay with the fix", false, true, "dlq-replay"],
                                             ["Replay as is", false, false, "dlq-replay-as-is"]]) {
    if (suggested && !m.suggestion) continue;
    const b = el("button", label, { id });
    if (!operator) { b.disabled = true; b.title = "operators only"; }
    b.addEventListener("click", async () => {
      try {
        const r = await api("POST", "/dead-letters/replay",
          { queue, message_ids: [m.message_id], apply_suggested: suggested, dry_run: dry });
        const rep = r.queues.flatMap((q) => q.messages).map((x) => x.replay).filter(Boolean)[0];
        $("dlq-result").textContent = rep ? `${rep.outcome}: ${rep.body_preview || ""}` : JSON.stringify(r.summary);
        if (!dry) loadDeadLetters();
      } catch (e) { showError(e.message); }
    });
    d.appendChild(b);
  }
  d.appendChild(el("p", "", { id: "dlq-result" }));
}

// ---------------------------------------------------------------- audit
async function loadAudit() {
  try {
    const entries = await api("GET", "/audit");
    const tbody = $("audit-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const a of entries) row(tbody, [a.at, a.who, a.action, a.target, JSON.stringify(a.after)]);
  } catch (e) { showError(e.message); }
}

// ---------------------------------------------------------------- frame
function show(view) {
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + view;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === view);
  if (view === "quarantine") loadQuarantine();
  if (view === "dead-letters") loadDeadLetters();
  if (view === "audit") loadAudit();
}

async function start() {
  const r = await fetch("api/session", { credentials: "same-origin" });
  const s = await r.json();
  $("stage").textContent = s.stage || "";
  if (!r.ok) {
    session = null;
    $("login").hidden = false;
    $("dev-login").hidden = !s.dev_login;
    $("cognito-login").hidden = !!s.dev_login;
    $("nav").hidden = true;
    $("logout").hidden = true;
    for (const v of document.querySelectorAll(".view")) v.hidden = true;
    return;
  }
  session = s;
  $("login").hidden = true;
  $("nav").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `${s.user} (${s.role}${s.via === "dev-login" ? ", dev login" : ""})`;
  show((location.hash || "#orders").slice(1));
}

$("dev-login-button").addEventListener("click", async () => {
  try {
    await api("POST", "/session", { user: $("dev-user").value, role: $("dev-role").value });
    await start();
  } catch (e) { showError(e.message); }
});
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/logout", {}); } catch (e) { showError(e.message); }
  await start();
});
$("order-search").addEventListener("submit", searchOrders);
window.addEventListener("hashchange", () => session && show(location.hash.slice(1)));
start();
