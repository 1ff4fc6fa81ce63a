// The page: search as you type, sessions by date, a session as a conversation.
// Every text from a transcript is put into the page with textContent or as a
// text node, never as HTML; the server's Content-Security-Policy runs nothing else.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 100; // messages per page of a transcript
const MAX_PAGES_TO_HIT = 50; // pages loaded at most to reach a hit

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// The session credential: handed over once by the login answer (a <meta>), then
// kept in this tab's sessionStorage, which no other port or site can read, and
// sent as a header. No cookie: a browser sends those to every port of a host.
const SESSION_KEY = "si-session";
(function takeCredential() {
  const meta = document.querySelector('meta[name="si-session"]');
  if (meta) {
    sessionStorage.setItem(SESSION_KEY, meta.content);
    meta.remove();
    history.replaceState(null, "", "/" + location.hash); // the used link out of the address bar
  }
})();

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const response = await fetch(`/api${path}?${query}`, {
    credentials: "omit",
    headers: { "X-Session": sessionStorage.getItem(SESSION_KEY) || "" },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function when(iso) {
  return iso ? iso.slice(0, 16).replace("T", " ") : "";
}

function firstLine(text, n = 160) {
  const line = (text || "").split("\n", 1)[0];
  return line.length > n ? line.slice(0, n) + "…" : line;
}

function copyButton(text) {
  const button = el("button", { type: "button", class: "copy", text: "Copy" });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (e) {
      button.textContent = "Select and copy";
    }
  });
  return button;
}

// ---- views -------------------------------------------------------------

function show(view) {
  for (const name of ["search", "sessions", "session"]) $(`view-${name}`).hidden = name !== view;
  $("nav-search").toggleAttribute("aria-current", view === "search");
  $("nav-sessions").toggleAttribute("aria-current", view === "sessions");
}

function route() {
  const [path, query] = location.hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  if (path === "/sessions") {
    show("sessions");
    loadSessions(0);
  } else if (path === "/session") {
    show("session");
    openSession(params);
  } else {
    show("search");
    $("q").focus();
  }
}

// ---- search ------------------------------------------------------------

let searchTimer = null;
let searchSeq = 0;

function searchSoon() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 250); // debounced: one request per pause
}

async function runSearch() {
  const q = $("q").value.trim();
  const seq = ++searchSeq;
  const results = $("results");
  if (!q) {
    results.replaceChildren();
    $("search-info").textContent = "";
    return;
  }
  const params = {
    q, limit: "10",
    project: $("f-project").value.trim(),
    agent: $("f-agent").value,
    kind: $("f-kind").value,
    since: $("f-since").value ? `${$("f-since").value}T00:00:00Z` : "",
    until: $("f-until").value ? `${$("f-until").value}T23:59:59.999Z` : "",
    half_life_s: $("f-recent").checked ? String(30 * 86400) : "",
  };
  try {
    const started = performance.now();
    const hits = await api("/search", params);
    if (seq !== searchSeq) return; // a newer query is on its way
    const weak = hits.length && hits[0].confident === false ? "no confident match; closest: " : "";
    $("search-info").textContent = `${weak}${hits.length} sessions in ${Math.round(performance.now() - started)} ms`;
    results.replaceChildren(...hits.map(renderHit));
  } catch (e) {
    if (seq === searchSeq) $("search-info").textContent = `Search failed: ${e.message}`;
  }
}

function renderHit(hit) {
  const target = new URLSearchParams({
    path: hit.path, offset: String(hit.offset), turn: String(hit.turn || 0),
    session: hit.session_id, project: hit.project || "",
  });
  const passage = el("p", { class: "passage" },
    el("span", { class: "muted", text: hit.context_before || "" }),
    el("mark", { text: hit.text || "" }),
    el("span", { class: "muted", text: hit.context_after || "" }));
  const where = [when(hit.timestamp), hit.project, hit.git_branch && `(${hit.git_branch})`, hit.agent]
    .filter(Boolean).join("  ·  ");
  return el("li", { class: hit.confident === false ? "hit weak" : "hit" },
    el("a", { href: `#/session?${target}`, class: "open", text: firstLine(hit.prompt || hit.text, 120) }),
    el("p", { class: "muted", text: where }),
    hit.prompt ? el("p", { class: "asked" }, el("strong", { text: "Asked: " }), firstLine(hit.prompt, 300)) : null,
    ...(hit.highlight || []).map((h) => el("p", { class: "highlight" },
      el("strong", { text: `${KIND_LABELS[h.kind] || h.kind}${h.timestamp ? ", " + when(h.timestamp) : ""}: ` }),
      el("mark", { text: h.text }))),
    passage,
    hit.conclusion ? el("p", { class: "concluded" }, el("strong", { text: "Concluded: " }), firstLine(hit.conclusion, 300)) : null,
    el("p", { class: "resume" }, el("code", { text: hit.resume || "" }), copyButton(hit.resume || "")));
}

// ---- sessions list -----------------------------------------------------

let sessionsStart = 0;
let sessionsSeq = 0;

async function loadSessions(start) {
  const box = $("sessions");
  const seq = ++sessionsSeq; // only the latest load renders: two at once would list twice
  try {
    const project = $("sessions-project").value.trim();
    const answer = await api("/sessions", { start: String(start), limit: "50", project });
    if (seq !== sessionsSeq) return;
    if (start === 0) {
      box.replaceChildren();
      delete box.dataset.lastDay;
    }
    let lastDay = box.dataset.lastDay || "";
    for (const s of answer.sessions) {
      const day = new Date(s.changed * 1000).toISOString().slice(0, 10);
      if (day !== lastDay) {
        box.append(el("h3", { text: day }));
        lastDay = day;
      }
      const target = new URLSearchParams({ path: s.path, session: s.session_id, project: s.project || "" });
      box.append(el("article", { class: "session" },
        el("a", { href: `#/session?${target}`, text: firstLine(s.first_prompt || s.session_id, 140) }),
        el("p", { class: "muted", text: `${s.project || "-"}  ·  ${s.agent}  ·  ${Math.round(s.bytes / 1024)} KB` },
          ...(s.archived ? [" ", archivedBadge()] : []))));
    }
    box.dataset.lastDay = lastDay;
    sessionsStart = start + answer.sessions.length;
    $("sessions-more").hidden = sessionsStart >= answer.total;
  } catch (e) {
    if (seq === sessionsSeq) box.append(el("p", { text: `Could not list sessions: ${e.message}` }));
  }
}

// ---- one session -------------------------------------------------------

let transcript = { path: "", next: null };

const KIND_LABELS = { prompt: "You", answer: "Assistant", thinking: "Thinking", tool_call: "Tool call",
  tool_result: "Tool result", summary: "Summary", injected: "Injected" };

function renderMessage(m) {
  const label = KIND_LABELS[m.kind] || m.kind;
  const item = el("li", { class: `msg ${m.kind}`, "data-offset": String(m.offset), "data-turn": String(m.turn), tabindex: "-1" });
  const head = el("span", { class: "who", text: `${label}  ${when(m.timestamp)}` });
  const body = el("div", { class: "text", text: m.text });
  if (["thinking", "tool_call", "tool_result", "injected"].includes(m.kind)) {
    item.append(el("details", {}, el("summary", {}, head, " ", el("span", { class: "muted", text: firstLine(m.text, 100) })), body));
  } else {
    item.append(head, body);
  }
  return item;
}

// The agent deleted the file; the importer's archive still has it.
function archivedBadge() {
  return el("span", { class: "archived", title: "the agent deleted this transcript; shown from the importer's archive", text: "archived" });
}

async function loadPage() {
  const answer = await api("/transcript", { path: transcript.path, offset: String(transcript.next), limit: String(PAGE) });
  if (answer.archived && !$("session-meta").querySelector(".archived")) $("session-meta").append(" ", archivedBadge());
  $("messages").append(...answer.messages.map(renderMessage));
  transcript.next = answer.next;
  $("messages-more").hidden = answer.next === null;
  return answer.messages;
}

async function showResume(sessionId) {
  if (!sessionId) return;
  try {
    const summary = await api("/session", { id: sessionId });
    if (summary.resume && $("session-title").textContent === sessionId) {
      $("session-meta").append(" ", el("code", { class: "resume", text: summary.resume }), copyButton(summary.resume));
    }
  } catch (e) {
    // A session with nothing stored (all of it excluded) has no command to show.
  }
}

// The session as one file, made by the importer (redacted, as every view is).
async function exportSession(format) {
  try {
    const answer = await api("/export", { path: transcript.path, format });
    const link = el("a", { href: URL.createObjectURL(new Blob([answer.text], { type: answer.type })), download: answer.name });
    document.body.append(link);
    link.click();
    link.remove();
    $("export-info").textContent = `saved ${answer.name}`;
  } catch (e) {
    $("export-info").textContent = `Could not export: ${e.message}`;
  }
}

async function openSession(params) {
  transcript = { path: params.get("path"), next: 0 };
  $("export-info").textContent = "";
  $("messages").replaceChildren();
  $("session-title").textContent = params.get("session") || "";
  $("session-meta").replaceChildren(el("span", { text: params.get("project") || "" }));
  // The command to copy comes from the importer, never from the URL: a link
  // someone sent must not put a command of theirs behind the Copy button.
  showResume(params.get("session"));
  const offset = params.get("offset"), turn = Number(params.get("turn") || 0);
  try {
    for (let i = 0; i < MAX_PAGES_TO_HIT; i++) {
      const messages = await loadPage();
      const hit = offset === null ? null : messages.find(
        (m) => (m.offset === Number(offset) && m.offset > 0) || (Number(offset) === 0 && m.turn === turn));
      if (offset === null || hit || transcript.next === null) {
        if (hit) landOn(hit);
        break;
      }
    }
  } catch (e) {
    $("messages").append(el("li", { text: `Could not read the session: ${e.message}` }));
  }
}

function landOn(hit) {
  const selector = `li.msg[data-offset="${hit.offset}"][data-turn="${hit.turn}"]`;
  const item = $("messages").querySelector(selector);
  if (!item) return;
  item.classList.add("hit");
  const details = item.querySelector("details");
  if (details) details.open = true;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
}

// Find in session: marks every match in the loaded messages, steps through them.
let findState = { text: "", marks: [], at: -1 };

function clearMarks() {
  for (const mark of $("messages").querySelectorAll("mark.find")) mark.replaceWith(mark.textContent);
  $("messages").normalize();
}

function markMatches(text) {
  clearMarks();
  const marks = [];
  const needle = text.toLowerCase();
  for (const body of $("messages").querySelectorAll(".text")) {
    const node = body.firstChild;
    if (!node || node.nodeType !== Node.TEXT_NODE) continue;
    const value = node.textContent;
    const lower = value.toLowerCase();
    let from = 0, index;
    const parts = [];
    while ((index = lower.indexOf(needle, from)) >= 0) {
      parts.push(document.createTextNode(value.slice(from, index)));
      const mark = el("mark", { class: "find", text: value.slice(index, index + needle.length) });
      parts.push(mark);
      marks.push(mark);
      from = index + needle.length;
    }
    if (parts.length) {
      parts.push(document.createTextNode(value.slice(from)));
      body.replaceChildren(...parts);
    }
  }
  return marks;
}

function findNext(event) {
  event.preventDefault();
  const text = $("find").value.trim();
  if (!text) return;
  if (text !== findState.text) findState = { text, marks: markMatches(text), at: -1 };
  const { marks } = findState;
  if (!marks.length) {
    $("find-info").textContent = transcript.next === null ? "no match" : "no match in what is loaded";
    return;
  }
  findState.at = (findState.at + 1) % marks.length;
  const mark = marks[findState.at];
  const details = mark.closest("details");
  if (details) details.open = true;
  mark.scrollIntoView({ block: "center" });
  $("find-info").textContent = `${findState.at + 1} of ${marks.length}`;
}

// ---- status ------------------------------------------------------------

async function refreshStatus() {
  try {
    const s = await api("/status");
    const memory = s.health && s.health.memory ? `memory ${s.health.memory.level}` : "";
    const lag = s.pending_bytes ? `${Math.round(s.pending_bytes / 1024)} KB to import` : "caught up";
    $("status-text").textContent = [`${s.files} files`, `${s.points} points`, lag, memory].filter(Boolean).join("  ·  ");
    // Text stored under older redaction rules may still hold what today's catch.
    const stale = s.redaction && !s.redaction.current ? s.redaction.note : "";
    $("status-redaction").textContent = stale;
    $("status-redaction").hidden = !stale;
  } catch (e) {
    $("status-text").textContent = `status unavailable: ${e.message}`;
  }
}

// ---- wiring ------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("q").addEventListener("input", searchSoon);
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
  for (const id of ["f-project", "f-agent", "f-kind", "f-since", "f-until", "f-recent"]) {
    $(id).addEventListener("change", searchSoon);
  }
  $("sessions-more").addEventListener("click", () => loadSessions(sessionsStart));
  $("export-md").addEventListener("click", () => exportSession("markdown"));
  $("export-html").addEventListener("click", () => exportSession("html"));
  $("sessions-form").addEventListener("submit", (e) => { e.preventDefault(); loadSessions(0); });
  $("messages-more").addEventListener("click", () => loadPage().catch((e) => alert(e.message)));
  $("back").addEventListener("click", () => history.back());
  $("find-form").addEventListener("submit", findNext);
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement.tagName !== "INPUT") {
      e.preventDefault();
      location.hash = "#/search";
      $("q").focus();
    }
  });
  window.addEventListener("hashchange", route);
  route();
  refreshStatus();
  setInterval(refreshStatus, 5000); // live while the importer runs
});
