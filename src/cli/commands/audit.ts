import path from "node:path";
import type { Command } from "commander";
import { checkChainAnchor, parseChainAnchor } from "../../audit/chain-anchor.js";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { assertSqliteStore, sqliteStorePath } from "../../store/open-stores.js";
import { openSqliteAuditReader } from "../../store/sqlite-audit-reader.js";
import { AUDIT_EVENT_KINDS, type AuditEvent, type AuditFilter, MAX_PAGE_SIZE } from "../../store/store.js";
import { printTable } from "../admin-client.js";

/** Where to find the store: the same config the gateway runs with, optionally with another data_dir. */
export interface AuditStoreOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

export interface AuditVerifyOptions extends AuditStoreOptions {
  /** `SEQ:HASH` printed by an earlier verify: that event must still be in the chain, unchanged. */
  readonly expectHead?: string;
  readonly json?: boolean;
}

export interface AuditSearchOptions extends AuditStoreOptions {
  readonly session?: string;
  readonly subject?: string;
  readonly decision?: string;
  readonly text?: string;
  readonly kind?: string;
  readonly after?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command("audit")
    .description("check and search the audit log (reads the store directly; works while the gateway runs)");
  withStoreOptions(
    audit
      .command("verify")
      .description(
        "recompute the hash chain of the audit log; exits 1 if any event was edited, removed or reordered",
      )
      .option("--expect-head <seq:hash>", "a head printed by an earlier verify, kept outside the store")
      .option("--json", "print the result as JSON"),
  ).action(async (options: AuditVerifyOptions) => {
    process.exitCode = await runAuditVerify(options);
  });
  withStoreOptions(
    audit
      .command("search")
      .description("list audit events, oldest first, matching every filter given")
      .option("--session <id>", "only this session")
      .option("--subject <sub>", "only sessions of this principal")
      .option("--decision <decision>", "only operations with this verdict: allow, deny or approval")
      .option("--text <str>", "only operations whose statement text contains this (case-insensitive)")
      .option("--kind <kind>", "only this event kind, e.g. session_start")
      .option("--after <seq>", "only events after this seq (to page on)")
      .option("--limit <n>", `how many (at most ${MAX_PAGE_SIZE})`, "100")
      .option("--json", "print JSON instead of a table"),
  ).action(async (options: AuditSearchOptions) => {
    process.exitCode = await runAuditSearch(options);
  });
}

function withStoreOptions(command: Command): Command {
  return command
    .option("-c, --config <file>", "gateway config file (default: ./latch.yaml)")
    .option("--data-dir <dir>", "data directory holding latch.db (default: data_dir from the config)");
}

/** Verifies the chain; prints the result; returns the exit code (0 intact, 1 broken). */
export async function runAuditVerify(options: AuditVerifyOptions): Promise<number> {
  const anchor = options.expectHead === undefined ? undefined : parseChainAnchor(options.expectHead);
  const file = resolveStoreFile(options);
  const reader = openSqliteAuditReader(file);
  try {
    let report = await reader.verifyChain();
    if (anchor !== undefined) {
      const [event] = anchor.seq === 0 ? [] : await reader.events({ afterSeq: anchor.seq - 1, limit: 1 });
      const anchoredHash = event?.seq === anchor.seq ? event.hash : undefined;
      report = checkChainAnchor(report, anchor, (seq) => (seq === anchor.seq ? anchoredHash : undefined));
    }
    const head = `${report.head.seq}:${report.head.hash}`;
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ file, ...report, head: report.ok ? head : undefined }, null, 2)}\n`,
      );
    } else if (report.ok) {
      process.stdout.write(`audit chain OK: ${report.events} events, head ${head}\n`);
      process.stdout.write(
        `keep this head somewhere the gateway cannot write, and later run: latch audit verify --expect-head ${head}\n`,
      );
    } else {
      process.stdout.write(`audit chain BROKEN at event ${report.firstBadSeq}: ${report.problem}\n`);
    }
    return report.ok ? 0 : 1;
  } finally {
    reader.close();
  }
}

/** Prints matching events as a table (or JSON); returns the exit code. */
export async function runAuditSearch(options: AuditSearchOptions): Promise<number> {
  const filter = searchFilter(options);
  const reader = openSqliteAuditReader(resolveStoreFile(options));
  try {
    const events = await reader.events(filter);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
      return 0;
    }
    const subjects = new Map<string, string>();
    for (const sessionId of new Set(events.map((event) => event.sessionId))) {
      if (sessionId !== null) subjects.set(sessionId, (await reader.getSession(sessionId))?.subject ?? "");
    }
    const subjectOf = (sessionId: string | null): string =>
      sessionId === null ? "" : (subjects.get(sessionId) ?? "");
    printTable(
      ["SEQ", "TIME", "KIND", "SESSION", "SUBJECT", "DETAIL"],
      events.map((event) => [
        String(event.seq),
        event.ts,
        event.kind,
        event.sessionId ?? "",
        subjectOf(event.sessionId),
        describeEvent(event),
      ]),
      80,
    );
    return 0;
  } finally {
    reader.close();
  }
}

function resolveStoreFile(options: AuditStoreOptions): string {
  // A --data-dir given on the command line is relative to where the operator is, not to the config file.
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  const { config } = loadConfig(options.config, overrides);
  assertSqliteStore(config);
  return sqliteStorePath(config);
}

const DECISIONS = ["allow", "deny", "approval"] as const;

function searchFilter(options: AuditSearchOptions): AuditFilter {
  const decision = options.decision;
  if (decision !== undefined && !(DECISIONS as readonly string[]).includes(decision)) {
    throw invalidOption(`--decision must be one of ${DECISIONS.join(", ")}, got "${decision}"`);
  }
  const kind = options.kind;
  if (kind !== undefined && !(AUDIT_EVENT_KINDS as readonly string[]).includes(kind)) {
    throw invalidOption(`--kind must be one of ${AUDIT_EVENT_KINDS.join(", ")}, got "${kind}"`);
  }
  return {
    sessionId: options.session,
    subject: options.subject,
    decision: decision as AuditFilter["decision"],
    text: options.text,
    kind: kind as AuditFilter["kind"],
    afterSeq: options.after === undefined ? undefined : wholeNumber("--after", options.after, 0),
    limit: options.limit === undefined ? undefined : wholeNumber("--limit", options.limit, 1),
  };
}

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw invalidOption(`${name} must be a whole number >= ${min}`);
  return value;
}

function invalidOption(detail: string): LatchError {
  return new LatchError("config_invalid", { detail });
}

/** One line per event: the statement and verdict for operations, the gist of the body otherwise. */
function describeEvent(event: AuditEvent): string {
  const data = event.data as Record<string, unknown>;
  if (event.kind === "operation") {
    const verdict = (data.verdict ?? {}) as { decision?: string; reason?: string };
    const statements = Array.isArray(data.statements) ? (data.statements as { text?: string }[]) : [];
    const text = statements.map((statement) => statement.text ?? "").join("; ");
    const why = verdict.decision === "allow" || !verdict.reason ? "" : ` -- ${verdict.reason}`;
    return `${(verdict.decision ?? "?").toUpperCase()} ${text}${why}`;
  }
  if (event.kind === "session_start")
    return `${data.subject} from ${data.clientAddress} to ${data.connection}`;
  if (event.kind === "session_end") return String(data.reason ?? "");
  return JSON.stringify(data);
}
