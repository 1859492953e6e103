/**
 * The web console's browser script, shipped inline by console-page.ts (no build step, no external resources).
 *
 * Everything it shows comes from the audit log, and statement texts, subjects and error messages are written
 * by whoever connects through the gateway: the script therefore builds every node with createElement and
 * sets data only through textContent / properties, never through innerHTML. It is plain ES2020 kept in a raw
 * string, so it must contain no backtick and no dollar-brace sequence; a test compiles and runs it.
 */
export const CONSOLE_SCRIPT = String.raw`(function () {
  "use strict";
  var TOKEN_KEY = "latch.adminToken";
  var REFRESH_MS = 5000;
  var view = { name: "sessions", id: "" };
  var auditAfter = 0;
  var auditLastSeq = 0;
  var generation = 0;
  var inFlight = 0;
  var timer = null;
  var lastEvents = [];

  function $(id) { return document.getElementById(id); }
  function str(value) { return value === undefined || value === null ? "" : String(value); }
  function strings(value) { return Array.isArray(value) ? value.filter(function (v) { return typeof v === "string"; }) : []; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function when(iso) { var d = new Date(iso); return isNaN(d.getTime()) ? str(iso) : d.toLocaleString(); }
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return str(iso);
    return d.toLocaleTimeString() + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function decisionOf(event) { var v = event.data && event.data.verdict; return v && typeof v.decision === "string" ? v.decision : ""; }
  function badge(decision) {
    var known = decision === "allow" || decision === "deny" || decision === "approval";
    return el("span", "badge " + (known ? decision : "unknown"), decision || "?");
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  // --- API -------------------------------------------------------------------------------------------
  async function api(path) {
    inFlight++;
    try {
      var response = await fetch(path, { headers: { Authorization: "Bearer " + token(), Accept: "application/json" }, cache: "no-store" });
      var body = null;
      try { body = await response.json(); } catch (ignored) { body = null; }
      if (response.ok) return body;
      var message = body && typeof body.message === "string" ? body.message : "HTTP " + response.status;
      var error = new Error(response.status === 401 ? "token rejected: " + message
        : response.status === 403 ? "needs group: " + message : message);
      error.status = response.status;
      throw error;
    } finally { inFlight--; }
  }
  function setError(message) { $("error").textContent = message; $("error").hidden = !message; }
  function handleError(error) {
    if (error && (error.status === 401 || error.status === 403)) {
      // A rejected token will not start working by itself: forget it and ask again, saying why.
      sessionStorage.removeItem(TOKEN_KEY);
      stopTimer();
      showLogin(error.message);
    } else setError(error && error.message ? error.message : String(error));
  }

  async function loadHealth() {
    var out = $("health");
    try {
      var response = await fetch("/healthz", { cache: "no-store" });
      var body = await response.json();
      if (response.ok && body.status === "ok") {
        out.className = "health ok";
        out.textContent = "healthy · " + str(body.policies) + " policies · " + str(body.sessions) + " live sessions";
      } else {
        out.className = "health bad";
        out.textContent = "unhealthy · store " + str(body.store);
      }
    } catch (ignored) {
      out.className = "health bad";
      out.textContent = "gateway unreachable";
    }
  }

  // --- sessions list ---------------------------------------------------------------------------------
  function query(pairs) {
    var params = new URLSearchParams();
    pairs.forEach(function (pair) { if (pair[1]) params.set(pair[0], pair[1]); });
    return params.toString();
  }
  async function loadSessions(ticket) {
    var body = await api("/api/sessions?" + query([["limit", "200"], ["subject", $("filter-subject").value.trim()],
      ["connection", $("filter-connection").value.trim()], ["active", $("filter-active").value]]));
    if (ticket !== generation) return;
    var rows = (body.sessions || []).map(function (s) {
      var row = el("tr", "clickable");
      row.addEventListener("click", function () { location.hash = "session/" + encodeURIComponent(s.id); });
      var link = el("a", "", when(s.startedAt));
      link.href = "#session/" + encodeURIComponent(str(s.id));
      var started = el("td", "nowrap");
      started.append(link);
      var status = el("td");
      status.append(s.endedAt ? el("span", "status ended", "ended" + (s.endReason ? ": " + s.endReason : ""))
        : el("span", "status active", "active"));
      row.append(started, el("td", "", s.subject), el("td", "", strings(s.groups).join(", ")),
        el("td", "", str(s.connection) + " (" + str(s.protocol) + ")"), el("td", "mono", s.clientAddress),
        el("td", "num", s.operations), el("td", s.denied > 0 ? "num denied" : "num", s.denied), status);
      return row;
    });
    $("sessions-body").replaceChildren(...rows);
    $("sessions-empty").hidden = rows.length > 0;
  }

  // --- one session's timeline ------------------------------------------------------------------------
  async function loadSession(ticket) {
    var body = await api("/api/sessions/" + encodeURIComponent(view.id));
    if (ticket !== generation) return;
    var s = body.session || {};
    var facts = [["session", s.id], ["subject", s.subject], ["groups", strings(s.groups).join(", ")],
      ["connection", str(s.connection) + " (" + str(s.protocol) + ")"], ["client", s.clientAddress],
      ["started", when(s.startedAt)], ["status", s.endedAt ? "ended " + when(s.endedAt) + (s.endReason ? " (" + s.endReason + ")" : "") : "active"],
      ["operations", str(s.operations) + " (" + str(s.denied) + " denied)"]];
    $("session-summary").replaceChildren(...facts.reduce(function (nodes, fact) {
      return nodes.concat([el("dt", "", fact[0]), el("dd", "", fact[1])]);
    }, []));
    lastEvents = Array.isArray(body.events) ? body.events : [];
    renderTimeline();
  }
  function renderTimeline() {
    var results = new Map();
    lastEvents.forEach(function (e) { if (e.kind === "operation_result" && e.data) results.set(e.data.operationId, e); });
    var deniedOnly = $("denied-only").checked;
    var items = [];
    lastEvents.forEach(function (e) {
      if (e.kind === "operation_result") return;
      if (deniedOnly && !(e.kind === "operation" && decisionOf(e) === "deny")) return;
      items.push(e.kind === "operation" ? operationItem(e, results.get((e.data || {}).operationId)) : eventItem(e));
    });
    $("timeline").replaceChildren(...items);
    $("timeline-empty").hidden = items.length > 0;
  }
  function itemHead(event, label) {
    var head = el("div", "item-head");
    head.append(el("time", "time", clock(event.ts)), label, el("span", "muted", "#" + str(event.seq)));
    return head;
  }
  function operationItem(event, result) {
    var data = event.data || {};
    var verdict = data.verdict || {};
    var decision = decisionOf(event);
    var item = el("li", "item " + (decision === "deny" ? "is-deny" : decision === "approval" ? "is-approval" : "is-allow"));
    var head = itemHead(event, badge(decision));
    head.append(el("span", "muted", str(data.mode)));
    item.append(head);
    if (verdict.reason || strings(verdict.rules).length) {
      var rules = strings(verdict.rules);
      item.append(el("div", "reason", str(verdict.reason) + (rules.length ? " [" + rules.join(", ") + "]" : "")));
    }
    (Array.isArray(data.statements) ? data.statements : []).forEach(function (st) {
      item.append(el("pre", "sql", str(st && st.text)));
      var meta = [];
      if (st && st.verb) meta.push(str(st.verb));
      var read = strings(st && st.tablesRead), written = strings(st && st.tablesWritten), other = strings(st && st.tables);
      if (read.length) meta.push("reads " + read.join(", "));
      if (written.length) meta.push("writes " + written.join(", "));
      if (other.length && !read.length && !written.length) meta.push("tables " + other.join(", "));
      if (meta.length) item.append(el("div", "meta", meta.join(" · ")));
    });
    // Extended-protocol bind values: one array per Execute, values truncated by the gateway, null for SQL NULL.
    if (Array.isArray(data.parameters) && data.parameters.length) {
      var sets = data.parameters.map(function (row) {
        return "(" + (Array.isArray(row) ? row : [row]).map(function (v) { return v === null ? "NULL" : str(v); }).join(", ") + ")";
      });
      item.append(el("div", "meta mono", "parameters " + sets.join(" ")));
    }
    item.append(resultLine(result, decision));
    return item;
  }
  function resultSummary(d) {
    var parts = [];
    if (typeof d.rows === "number") parts.push(d.rows + " rows");
    if (typeof d.durationMs === "number") parts.push(d.durationMs.toFixed(1) + " ms");
    if (strings(d.commandTags).length) parts.push(strings(d.commandTags).join(", "));
    return parts.join(" · ");
  }
  function resultLine(result, decision) {
    if (!result) return el("div", "result muted", decision === "allow" ? "no result recorded (yet)" : "not forwarded");
    var d = result.data || {};
    var line = el("div", "result", resultSummary(d));
    if (d.error) line.append(el("div", "error-text", "error " + str(d.error.code) + ": " + str(d.error.message)));
    return line;
  }
  function eventItem(event) {
    var item = el("li", "item is-" + (event.kind === "protocol_error" ? "deny" : "info"));
    item.append(itemHead(event, el("span", "kind", str(event.kind).replace(/_/g, " "))));
    item.append(el("div", event.kind === "protocol_error" ? "error-text" : "meta", describe(event)));
    return item;
  }
  function describe(event) {
    var d = event.data || {};
    switch (event.kind) {
      case "session_start":
        return str(d.subject) + " → " + str(d.connection) + " (" + str(d.protocol) + ") from " + str(d.clientAddress) +
          (d.clientUser ? " as " + str(d.clientUser) : "") + (d.tls === undefined ? "" : d.tls ? ", TLS" : ", no TLS") +
          (d.issuer ? ", issuer " + str(d.issuer) : "");
      case "session_end": return "reason: " + str(d.reason);
      case "operation":
        return strings(Array.isArray(d.statements) ? d.statements.map(function (st) { return st && st.text; }) : []).join("; ");
      case "operation_result": return resultSummary(d) + (d.error ? " · error " + str(d.error.code) + ": " + str(d.error.message) : "");
      case "auth_failure":
        return str(d.code) + (d.reason ? ": " + str(d.reason) : "") + " · " + str(d.protocol) + " " + str(d.connection) +
          " from " + str(d.clientAddress) + (d.subject ? " · subject " + str(d.subject) : "");
      case "protocol_error": return str(d.code) + ": " + str(d.message);
      default: return JSON.stringify(d);
    }
  }

  // --- audit search ----------------------------------------------------------------------------------
  async function loadAudit(ticket) {
    var body = await api("/api/audit?" + query([["limit", "200"], ["text", $("audit-text").value.trim()],
      ["decision", $("audit-decision").value], ["subject", $("audit-subject").value.trim()],
      ["after", auditAfter > 0 ? String(auditAfter) : ""]]));
    if (ticket !== generation) return;
    var events = Array.isArray(body.events) ? body.events : [];
    var rows = events.map(function (e) {
      var session = el("td", "mono");
      if (e.sessionId) {
        var link = el("a", "", str(e.sessionId).slice(0, 8));
        link.href = "#session/" + encodeURIComponent(e.sessionId);
        link.title = str(e.sessionId);
        session.append(link);
      }
      var details = el("td", "details");
      if (e.kind === "operation") details.append(badge(decisionOf(e)), " ");
      var text = el("span", e.kind === "operation" ? "mono" : "", describe(e));
      text.title = describe(e);
      details.append(text);
      var row = el("tr");
      row.append(el("td", "num", e.seq), el("td", "nowrap", when(e.ts)), el("td", "", e.kind), session, details);
      return row;
    });
    $("audit-body").replaceChildren(...rows);
    $("audit-empty").hidden = rows.length > 0;
    $("audit-page").textContent = events.length ? "seq " + events[0].seq + "–" + events[events.length - 1].seq : "";
    auditLastSeq = events.length ? events[events.length - 1].seq : 0;
    $("audit-next").disabled = events.length < 200;
  }
  async function verifyChain() {
    var out = $("verify-result");
    out.className = "verify";
    out.textContent = "verifying…";
    try {
      var r = await api("/api/audit/verify");
      if (r.ok) {
        out.className = "verify ok";
        out.textContent = "OK · " + str(r.events) + " events" + (r.head ? " · head " + str(r.head.seq) + ":" + str(r.head.hash).slice(0, 16) : "");
      } else {
        out.className = "verify broken";
        out.textContent = "BROKEN at seq " + str(r.firstBadSeq) + (r.problem ? ": " + str(r.problem) : "");
      }
    } catch (error) {
      out.textContent = "";
      handleError(error);
    }
  }

  // --- routing, refresh, sign-in ---------------------------------------------------------------------
  async function refresh() {
    if (!token()) return;
    var ticket = ++generation;
    loadHealth();
    try {
      if (view.name === "session") await loadSession(ticket);
      else if (view.name === "audit") await loadAudit(ticket);
      else await loadSessions(ticket);
      if (ticket === generation) setError("");
    } catch (error) {
      if (ticket === generation) handleError(error);
    }
  }
  function route() {
    var hash = location.hash.replace(/^#/, "");
    if (hash.indexOf("session/") === 0) view = { name: "session", id: decodeURIComponent(hash.slice(8)) };
    else view = { name: hash === "audit" ? "audit" : "sessions", id: "" };
    $("sessions-view").hidden = view.name !== "sessions";
    $("session-view").hidden = view.name !== "session";
    $("audit-view").hidden = view.name !== "audit";
    $("tab-sessions").className = view.name === "audit" ? "tab" : "tab active";
    $("tab-audit").className = view.name === "audit" ? "tab active" : "tab";
    refresh();
  }
  function stopTimer() { if (timer !== null) clearInterval(timer); timer = null; }
  function startTimer() {
    stopTimer();
    if (!$("auto-refresh").checked || !token()) return;
    timer = setInterval(function () { if (inFlight === 0 && document.visibilityState !== "hidden") refresh(); }, REFRESH_MS);
  }
  function showLogin(message) {
    $("login").hidden = false;
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("login-error").textContent = message || "";
  }
  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    route();
    startTimer();
  }
  var debounce = null;
  function onFilter(resetPaging) {
    return function () {
      if (resetPaging) auditAfter = 0;
      clearTimeout(debounce);
      debounce = setTimeout(refresh, 300);
    };
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("token-input").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value.replace(/^Bearer\s+/i, ""));
    $("token-input").value = "";
    start();
  });
  $("sign-out").addEventListener("click", function (event) {
    event.preventDefault();
    sessionStorage.removeItem(TOKEN_KEY);
    stopTimer();
    showLogin("signed out");
  });
  $("auto-refresh").addEventListener("change", startTimer);
  $("denied-only").addEventListener("change", renderTimeline);
  $("verify-button").addEventListener("click", verifyChain);
  $("audit-first").addEventListener("click", function () { auditAfter = 0; refresh(); });
  $("audit-next").addEventListener("click", function () { auditAfter = auditLastSeq; refresh(); });
  ["filter-subject", "filter-connection", "filter-active"].forEach(function (id) { $(id).addEventListener("input", onFilter(false)); });
  ["audit-text", "audit-decision", "audit-subject"].forEach(function (id) { $(id).addEventListener("input", onFilter(true)); });
  window.addEventListener("hashchange", route);

  loadHealth();
  if (token()) start(); else showLogin("");
})();
`;
