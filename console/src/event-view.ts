import { type Child, h } from "./dom.js";
import { duration, when } from "./format.js";
import { highlightSql, withMasks } from "./sql-highlight.js";
import type { AuditEvent } from "./types.js";

/**
 * One audit event as a readable card: a title saying what happened, then its facts as labelled values.
 * Every kind has a renderer; a kind this console does not know yet still shows its fields as a list, never
 * as raw JSON. Long values wrap inside the card (CSS: overflow-wrap anywhere), so no card widens the page.
 */
type Renderer = (data: Record<string, unknown>) => { title: string; tone?: Tone; body: Child[] };
type Tone = "ok" | "bad" | "warn" | "info";

const text = (value: unknown): string =>
  value === undefined || value === null ? "" : typeof value === "string" ? value : String(value);
const list = (value: unknown): string => (Array.isArray(value) ? value.map(text).join(", ") : text(value));

function facts(pairs: [label: string, value: Child | undefined][]): HTMLElement {
  const dl = h("dl", { class: "facts" });
  for (const [label, value] of pairs) {
    if (value === undefined || value === "" || value === null) continue;
    dl.append(h("dt", {}, label), h("dd", {}, value));
  }
  return dl;
}

const DECISION_TONE: Record<string, Tone> = { allow: "ok", deny: "bad", approval: "warn" };

const RENDERERS: Record<string, Renderer> = {
  session_start: (d) => ({
    title: `Session started: ${text(d.subject)} → ${text(d.connection)} (${text(d.protocol)})`,
    tone: "info",
    body: [
      facts([
        ["Groups", list(d.groups)],
        ["Client", text(d.clientAddress)],
        ["Issuer", text(d.issuer)],
      ]),
    ],
  }),
  session_end: (d) => ({ title: "Session ended", body: [facts([["Reason", text(d.reason)]])] }),
  auth_failure: (d) => ({
    title: "Sign-in refused",
    tone: "bad",
    body: [
      facts([
        ["Reason", text(d.reason ?? d.message)],
        ["Client", text(d.clientAddress)],
      ]),
    ],
  }),
  operation: (d) => {
    const verdict = (d.verdict ?? {}) as Record<string, unknown>;
    const decision = text(verdict.decision);
    const statements = Array.isArray(d.statements) ? (d.statements as Record<string, unknown>[]) : [];
    return {
      title: `${decision === "allow" ? "Allowed" : decision === "deny" ? "Denied" : "Held for approval"}: ${statements.map((s) => text(s.verb)).join(", ") || "operation"}`,
      tone: DECISION_TONE[decision] ?? "info",
      body: [
        ...statements.map((statement) => statementView(statement)),
        facts([
          ["Policies", list(verdict.rules)],
          ["Reason", text(verdict.reason)],
          ["Parameters", parametersView(d.parameters)],
        ]),
      ],
    };
  },
  operation_result: (d) => ({
    title: d.error ? "Upstream error" : "Result",
    ...(d.error ? { tone: "bad" as const } : {}),
    body: [
      facts([
        ["Rows", text(d.rows ?? d.rowCount)],
        ["Command", text(d.commandTag ?? d.tag ?? (Array.isArray(d.tags) ? d.tags.join(", ") : ""))],
        ["Duration", typeof d.durationMs === "number" ? duration(d.durationMs) : undefined],
        ["Exit status", text(d.exitCode ?? d.exitStatus)],
        ["Masked values", text(d.masked ?? d.maskedValues)],
        ["Error", d.error === undefined ? undefined : withMasks(describe(d.error))],
      ]),
    ],
  }),
  protocol_error: (d) => ({
    title: "Protocol error",
    tone: "bad",
    body: [facts([["Error", text(d.message ?? d.code ?? d.error)]])],
  }),
  approval_requested: (d) => ({
    title: "Approval requested",
    tone: "warn",
    body: [
      facts([
        ["Request", requestLink(d.requestId ?? d.id)],
        ["Approvers", text(d.group)],
        ["Expires", when(d.expiresAt as number)],
      ]),
    ],
  }),
  approval_vote: (d) => ({
    title: `${text(d.approver)} voted ${text(d.vote)}`,
    tone: d.vote === "approve" ? "ok" : "bad",
    body: [
      facts([
        ["Request", requestLink(d.requestId)],
        ["Reason", text(d.reason)],
        ["Grant window", typeof d.grantForMs === "number" ? duration(d.grantForMs) : undefined],
      ]),
    ],
  }),
  approval_decided: (d) => ({
    title: `Request ${text(d.state ?? d.decision)}`,
    tone: d.state === "approved" || d.decision === "approved" ? "ok" : "bad",
    body: [
      facts([
        ["Request", requestLink(d.requestId)],
        ["Reason", text(d.reason ?? d.decisionReason)],
      ]),
    ],
  }),
  approval_released: (d) => ({
    title: "Released by approval",
    tone: "ok",
    body: [
      facts([
        ["Request", requestLink(d.requestId)],
        ["Grant", text(d.grantId)],
      ]),
    ],
  }),
  grant_created: (d) => ({
    title: `Grant for ${text(d.principal)}`,
    tone: "ok",
    body: [
      facts([
        ["Connection", text(d.connection)],
        ["Accesses", list(d.accesses)],
        ["Until", when(d.expiresAt as number)],
      ]),
    ],
  }),
  grant_revoked: (d) => ({
    title: "Grant revoked",
    tone: "bad",
    body: [
      facts([
        ["Grant", text(d.grantId)],
        ["By", text(d.revokedBy)],
        ["Reason", text(d.reason)],
      ]),
    ],
  }),
  session_recording: (d) => ({
    title: `Terminal recording, part ${Number(d.chunk ?? 0) + 1}`,
    body: [
      facts([
        ["Channel", text(d.recording)],
        ["Events", Array.isArray(d.events) ? String(d.events.length) : ""],
        ["Truncated", d.truncated ? "yes, at the size limit" : undefined],
      ]),
    ],
  }),
  session_killed: (d) => ({
    title: `Session killed by ${text(d.by)}`,
    tone: "bad",
    body: [facts([["Principal", text(d.subject)]])],
  }),
  principal_blocked: (d) => ({
    title: `${text(d.principal)} blocked by ${text(d.by)}`,
    tone: "bad",
    body: [facts([["Reason", text(d.reason)]])],
  }),
  principal_unblocked: (d) => ({
    title: `${text(d.principal)} unblocked by ${text(d.by)}`,
    tone: "ok",
    body: [],
  }),
};

/** Keeps a shown value short and readable: nested objects become "key: value" pairs. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) return value.map(describe).join(", ");
  return Object.entries(value as Record<string, unknown>)
    .map(([key, inner]) => `${key}: ${describe(inner)}`)
    .join("; ");
}

function statementView(statement: Record<string, unknown>): HTMLElement {
  const tables = [
    ["reads", list(statement.tablesRead)],
    ["writes", list(statement.tablesWritten)],
    ["tables", statement.tablesRead || statement.tablesWritten ? "" : list(statement.tables)],
  ].filter(([, value]) => value !== "");
  return h(
    "div",
    { class: "statement" },
    // SQL gets its highlight; a shell command or an HTTP request is shown as recorded, masks marked.
    text(statement.verb).startsWith("sql:")
      ? highlightSql(text(statement.text))
      : h("pre", { class: "code" }, h("code", {}, withMasks(text(statement.text)))),
    tables.length > 0
      ? h("p", { class: "muted small" }, tables.map(([k, v]) => `${k} ${v}`).join(" · "))
      : null,
  );
}

function parametersView(value: unknown): Child | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out = h("ol", { class: "params" });
  for (const row of value) {
    const values = Array.isArray(row) ? row : [row];
    out.append(h("li", {}, withMasks(values.map((v) => (v === null ? "NULL" : text(v))).join(", "))));
  }
  return out;
}

function requestLink(id: unknown): Child | undefined {
  if (typeof id !== "string" || id === "") return undefined;
  return h("a", { href: `/console/requests/${encodeURIComponent(id)}`, "data-link": true }, id);
}

export function eventCard(event: AuditEvent): HTMLElement {
  const renderer = RENDERERS[event.kind];
  const shown = renderer?.(event.data) ?? {
    title: event.kind.replaceAll("_", " "),
    body: [facts(Object.entries(event.data).map(([key, value]) => [key, withMasks(describe(value))]))],
  };
  return h(
    "li",
    { class: `event tone-${shown.tone ?? "none"}`, "data-kind": event.kind },
    h(
      "div",
      { class: "event-head" },
      h("strong", {}, shown.title),
      h("time", { datetime: event.ts, class: "muted small" }, `${when(event.ts)} · #${event.seq}`),
    ),
    ...shown.body,
  );
}
