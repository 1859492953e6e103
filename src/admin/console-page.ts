import { createHash } from "node:crypto";
import { CONSOLE_SCRIPT } from "./console-script.js";

/**
 * The Content-Security-Policy pins the one inline script by its hash: even if some audit text ever slipped into
 * the DOM as markup, an injected <script> or on* handler would not run, and nothing can be sent anywhere but
 * this admin listener (connect-src 'self'). The page needs no other origin, so it works offline.
 */
const SCRIPT_HASH = `sha256-${createHash("sha256").update(CONSOLE_SCRIPT, "utf8").digest("base64")}`;
export const CONSOLE_CSP = [
  "default-src 'none'",
  `script-src '${SCRIPT_HASH}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const STYLE = `
:root { --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0969da;
  --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9; --warn: #7d4e00; --warn-bg: #fff8c5;
  color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d; --accent: #58a6ff;
    --ok: #3fb950; --ok-bg: #12261e; --bad: #ff7b72; --bad-bg: #2d1517; --warn: #e3b341; --warn-bg: #2e2511; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.45;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
.bar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 10px 20px; background: var(--card);
  border-bottom: 1px solid var(--line); }
.brand { font-size: 16px; }
.spacer { flex: 1; }
.health { padding: 2px 8px; border-radius: 10px; font-size: 12px; }
.health.ok { background: var(--ok-bg); color: var(--ok); }
.health.bad { background: var(--bad-bg); color: var(--bad); }
main { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; }
.login { max-width: 560px; margin: 40px auto; }
.login h1 { margin-top: 0; font-size: 20px; }
.login form { display: flex; gap: 8px; }
input, select, button { font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 10px; }
input[type="password"] { flex: 1; }
button { cursor: pointer; }
button:disabled { opacity: 0.5; cursor: default; }
.tabs { display: flex; gap: 4px; border-bottom: 1px solid var(--line); margin-bottom: 12px; }
.tab { padding: 8px 14px; text-decoration: none; color: var(--muted); border-bottom: 2px solid transparent; }
.tab.active { color: var(--fg); border-bottom-color: var(--accent); font-weight: 600; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 12px; }
.banner { background: var(--bad-bg); color: var(--bad); border: 1px solid var(--bad); border-radius: 6px; padding: 8px 12px; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
tr.clickable { cursor: pointer; }
tr.clickable:hover, tr.clickable:focus-within { background: var(--bg); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.nowrap { white-space: nowrap; }
td.denied { color: var(--bad); background: var(--bad-bg); font-weight: 700; }
td.details { max-width: 640px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.status, .badge, .kind { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.status.active { background: var(--ok-bg); color: var(--ok); }
.status.ended { color: var(--muted); font-weight: 400; }
.badge.allow { background: var(--ok-bg); color: var(--ok); }
.badge.deny { background: var(--bad-bg); color: var(--bad); }
.badge.approval { background: var(--warn-bg); color: var(--warn); }
.badge.unknown, .kind { background: var(--bg); color: var(--muted); border: 1px solid var(--line); }
.muted { color: var(--muted); }
.error-text { color: var(--bad); }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0 16px; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; overflow-wrap: anywhere; }
.timeline { list-style: none; margin: 12px 0; padding: 0 0 0 18px; border-left: 2px solid var(--line); }
.item { position: relative; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 14px; margin: 0 0 10px; }
.item::before { content: ""; position: absolute; left: -25px; top: 14px; width: 10px; height: 10px; border-radius: 50%;
  background: var(--muted); border: 2px solid var(--bg); }
.item.is-allow::before { background: var(--ok); }
.item.is-deny::before { background: var(--bad); }
.item.is-approval::before { background: var(--warn); }
.item.is-deny { border-color: var(--bad); }
.item-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.time { font-variant-numeric: tabular-nums; color: var(--muted); }
.reason { margin-top: 6px; }
.sql { margin: 8px 0 4px; padding: 8px 10px; background: var(--bg); border-radius: 6px; white-space: pre-wrap;
  overflow-wrap: anywhere; max-height: 320px; overflow: auto; }
.meta, .result { color: var(--muted); font-size: 13px; margin-top: 4px; }
.verify.ok { color: var(--ok); font-weight: 600; }
.verify.broken { color: var(--bad); font-weight: 700; }
@media (max-width: 700px) { main, .bar { padding-left: 10px; padding-right: 10px; } th, td { padding: 6px; } }
`;

const BODY = `
<header class="bar">
  <strong class="brand">Latch</strong>
  <span id="health" class="health">checking…</span>
  <span class="spacer"></span>
  <label><input type="checkbox" id="auto-refresh" checked> auto-refresh 5 s</label>
  <a href="#" id="sign-out" hidden>sign out</a>
</header>
<main>
  <section id="login" class="card login" hidden>
    <h1>Sign in to the admin console</h1>
    <p>Paste a bearer token of a member of an admin group (<code>identity.admin_groups</code>), for example from
      <code>latch token --sub alice --group latch-admins</code>. It is kept in this tab only (sessionStorage).</p>
    <form id="login-form">
      <input id="token-input" type="password" autocomplete="off" spellcheck="false" aria-label="bearer token" placeholder="eyJhbGciOi…">
      <button type="submit">Sign in</button>
    </form>
    <p id="login-error" class="error-text" role="alert"></p>
  </section>
  <section id="app" hidden>
    <nav class="tabs"><a id="tab-sessions" class="tab active" href="#sessions">Sessions</a><a id="tab-audit" class="tab" href="#audit">Audit</a></nav>
    <p id="error" class="banner" role="alert" hidden></p>
    <div id="sessions-view">
      <div class="filters">
        <input id="filter-subject" placeholder="subject" aria-label="subject">
        <input id="filter-connection" placeholder="connection" aria-label="connection">
        <select id="filter-active" aria-label="status"><option value="">all sessions</option><option value="true">active</option><option value="false">ended</option></select>
      </div>
      <div class="table-wrap"><table>
        <thead><tr><th>Started</th><th>Subject</th><th>Groups</th><th>Connection</th><th>Client</th><th class="num">Operations</th><th class="num">Denied</th><th>Status</th></tr></thead>
        <tbody id="sessions-body"></tbody>
      </table></div>
      <p id="sessions-empty" class="muted" hidden>No sessions match.</p>
    </div>
    <div id="session-view" hidden>
      <p><a href="#sessions">← all sessions</a></p>
      <dl id="session-summary" class="summary"></dl>
      <label><input type="checkbox" id="denied-only"> Denied only</label>
      <ol id="timeline" class="timeline"></ol>
      <p id="timeline-empty" class="muted" hidden>Nothing to show.</p>
    </div>
    <div id="audit-view" hidden>
      <div class="filters">
        <input id="audit-text" placeholder="statement text contains" aria-label="statement text">
        <select id="audit-decision" aria-label="decision"><option value="">any decision</option><option value="allow">allow</option><option value="deny">deny</option><option value="approval">approval</option></select>
        <input id="audit-subject" placeholder="subject" aria-label="subject">
        <button id="audit-first" type="button">First page</button>
        <button id="audit-next" type="button" disabled>Next page</button>
        <span id="audit-page" class="muted"></span>
        <span class="spacer"></span>
        <button id="verify-button" type="button">Verify chain</button>
        <span id="verify-result" class="verify" role="status"></span>
      </div>
      <div class="table-wrap"><table>
        <thead><tr><th class="num">Seq</th><th>Time</th><th>Kind</th><th>Session</th><th>Details</th></tr></thead>
        <tbody id="audit-body"></tbody>
      </table></div>
      <p id="audit-empty" class="muted" hidden>No events match.</p>
    </div>
  </section>
</main>`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CONSOLE_CSP}">
<meta name="referrer" content="no-referrer">
<title>Latch admin console</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}
<script>${CONSOLE_SCRIPT}</script>
</body>
</html>
`;

/** The web console served at GET / of the admin listener: one self-contained HTML document. */
export function consolePage(): string {
  return PAGE;
}
