import type { Command } from "commander";
import { expandEvents } from "../../audit/folded-result.js";
import type { AuditEvent, SessionSummary } from "../../store/store.js";
import { type AdminClientOptions, adminGet, printTable, withAdminOptions } from "../admin-client.js";
import { registerPlayCommand } from "./play.js";
import { adminSend } from "./requests.js";

type ListOptions = AdminClientOptions & {
  json?: boolean;
  subject?: string;
  connection?: string;
  active?: boolean;
  live?: boolean;
  limit?: string;
};

interface LiveSessionRow {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly clientAddress: string;
  readonly startedAt: string;
  readonly lastActivityAt: string;
  /** The replica serving it (every replica's sessions are listed on a shared store). */
  readonly gatewayId?: string;
}

export function registerSessionsCommands(program: Command): void {
  const sessions = program
    .command("sessions")
    .description("list and inspect recorded sessions (via the admin API)");
  registerPlayCommand(sessions);
  withAdminOptions(
    sessions
      .command("list")
      .description("recent sessions, newest first")
      .option("--subject <sub>", "only this principal")
      .option("--connection <name>", "only this connection")
      .option("--active", "only sessions still open")
      .option(
        "--live",
        "the sessions open right now, every protocol, with their last activity (every replica's on a shared store)",
      )
      .option("--limit <n>", "how many", "50"),
  ).action(async (options: ListOptions) => {
    if (options.live) {
      const { sessions: live } = await adminGet<{ sessions: LiveSessionRow[] }>(
        options,
        "/api/sessions/live",
      );
      const shown = live.filter(
        (s) =>
          (options.subject === undefined || s.subject === options.subject) &&
          (options.connection === undefined || s.connection === options.connection),
      );
      if (options.json) return void process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      return printTable(
        ["ID", "GATEWAY", "PROTOCOL", "STARTED", "LAST ACTIVITY", "SUBJECT", "CONNECTION", "CLIENT"],
        shown.map((s) => [
          s.id,
          s.gatewayId ?? "",
          s.protocol,
          s.startedAt,
          s.lastActivityAt,
          s.subject,
          s.connection,
          s.clientAddress,
        ]),
      );
    }
    const query = new URLSearchParams();
    if (options.subject) query.set("subject", options.subject);
    if (options.connection) query.set("connection", options.connection);
    if (options.active) query.set("active", "true");
    query.set("limit", options.limit ?? "50");
    const { sessions: list } = await adminGet<{ sessions: SessionSummary[] }>(
      options,
      `/api/sessions?${query}`,
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    printTable(
      ["ID", "PROTOCOL", "STARTED", "SUBJECT", "CONNECTION", "OPS", "DENIED", "STATUS"],
      list.map((s) => [
        s.id,
        s.protocol,
        s.startedAt,
        s.subject,
        s.connection,
        String(s.operations),
        String(s.denied),
        s.endedAt === null ? "active" : `ended: ${s.endReason ?? ""}`,
      ]),
    );
  });
  withAdminOptions(
    sessions
      .command("kill")
      .description(
        "end a live session at once: the client gets an error, its backend and ephemeral role are gone",
      )
      .argument("<id>", "session id"),
  ).action(async (id: string, options: AdminClientOptions & { json?: boolean }) => {
    const result = await adminSend<{ killed: string }>(
      options,
      "DELETE",
      `/api/sessions/${encodeURIComponent(id)}`,
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(`session ${result.killed} terminated\n`);
  });
  withAdminOptions(
    sessions
      .command("show")
      .description("a session's timeline: every statement, verdict and result")
      .argument("<id>", "session id"),
  ).action(async (id: string, options: AdminClientOptions & { json?: boolean }) => {
    const detail = await adminGet<{ session: SessionSummary; events: AuditEvent[] }>(
      options,
      `/api/sessions/${encodeURIComponent(id)}`,
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(detail, null, 2)}\n`);
    const s = detail.session;
    process.stdout.write(
      `session ${s.id}\n  subject     ${s.subject} (groups: ${s.groups.join(", ") || "none"})\n  connection  ${s.connection} (${s.protocol})\n  client      ${s.clientAddress}\n  started     ${s.startedAt}\n  ended       ${s.endedAt ?? "still active"}${s.endReason ? ` (${s.endReason})` : ""}\n\n`,
    );
    printTable(
      ["TIME", "EVENT", "DETAIL"],
      // The API sends logical events already (expanding again changes nothing); chained ones still read right.
      expandEvents(detail.events).map((event) => [event.ts.slice(11, 23), event.kind, describe(event)]),
      100,
    );
  });
}

function describe(event: AuditEvent): string {
  const data = event.data as Record<string, unknown>;
  switch (event.kind) {
    case "operation": {
      const verdict = data.verdict as { decision: string; reason: string };
      const statements = (data.statements as { text: string }[]).map((s) => s.text).join("; ");
      return `${verdict.decision.toUpperCase()} ${statements}${verdict.decision === "allow" ? "" : ` -- ${verdict.reason}`}`;
    }
    case "operation_result": {
      const error = data.error as { code: string; message: string } | undefined;
      return `${data.rows} rows in ${data.durationMs} ms${error ? ` ERROR ${error.code} ${error.message}` : ""}`;
    }
    case "session_start":
      return `${data.subject} from ${data.clientAddress} to ${data.connection}`;
    case "session_end":
      return String(data.reason);
    default:
      return JSON.stringify(data);
  }
}
