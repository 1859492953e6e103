import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { checkChainAnchor, parseChainAnchor } from "../../audit/chain-anchor.js";
import type { ChainVerificationReport } from "../../audit/verify-chain.js";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { logicalEvents } from "../../store/logical-events.js";
import { openAuditReader } from "../../store/open-audit-reader.js";
import { AUDIT_JOURNAL_FILE, assertSqliteStore, sqliteStorePath } from "../../store/open-stores.js";
import { startNewSqliteSegment } from "../../store/sqlite-new-segment.js";
import { AUDIT_EVENT_KINDS, type AuditEvent, type AuditFilter, MAX_PAGE_SIZE } from "../../store/store.js";
import { printTable } from "../admin-client.js";
import {
  checkStoreCheckpoints,
  printCheckpointReport,
  readVerifierKey,
  registerCheckpointCommands,
} from "./audit-checkpoints.js";
import { registerPruneCommand } from "./audit-prune.js";

/** Where to find the store: the same config the gateway runs with, optionally with another data_dir. */
export interface AuditStoreOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

export interface AuditVerifyOptions extends AuditStoreOptions {
  /** `SEQ:HASH` printed by an earlier verify: that event must still be in the chain, unchanged. */
  readonly expectHead?: string;
  /** Verifier key (or a file holding one): every signed checkpoint must verify and match the chain. */
  readonly key?: string;
  /** Checkpoint notes kept outside the store (files), checked against the chain too. */
  readonly checkpoint?: string[];
  readonly json?: boolean;
}

export interface AuditNewSegmentOptions extends AuditStoreOptions {
  readonly reason: string;
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
      .option(
        "--key <verifier-key>",
        "checkpoint verifier key (name+hash+base64, from latch audit key) or a file holding it: every signed checkpoint must verify and match the chain",
      )
      .option(
        "--checkpoint <file...>",
        "signed checkpoints kept outside the store (latch audit checkpoint output): each must verify and match the chain (needs --key)",
      )
      .option("--json", "print the result as JSON"),
  ).action(async (options: AuditVerifyOptions) => {
    process.exitCode = await runAuditVerify(options);
  });
  withStoreOptions(
    audit
      .command("new-segment")
      .description(
        "after a failed verify: keep the broken events as evidence, record who goes on and why in a chained audit_segment_start event, and let the gateway start again (stop the gateway first)",
      )
      .requiredOption("--reason <text>", "why you go on (kept in the audit log), e.g. an incident ticket")
      .option("--json", "print the result as JSON"),
  ).action(async (options: AuditNewSegmentOptions) => {
    process.exitCode = await runAuditNewSegment(options);
  });
  registerCheckpointCommands(audit, withStoreOptions);
  registerPruneCommand(audit, withStoreOptions);
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
  const verifier = options.key === undefined ? undefined : readVerifierKey(options.key);
  if (options.checkpoint !== undefined && verifier === undefined)
    throw invalidOption("--checkpoint needs --key: a checkpoint is only as good as the key that signed it");
  const { reader, where: file, close } = openAuditReader(loadStoreConfig(options));
  try {
    let report = await reader.verifyChain();
    if (anchor !== undefined) {
      const [event] = anchor.seq === 0 ? [] : await reader.events({ afterSeq: anchor.seq - 1, limit: 1 });
      const anchoredHash = event?.seq === anchor.seq ? event.hash : undefined;
      report = checkChainAnchor(report, anchor, (seq) => (seq === anchor.seq ? anchoredHash : undefined));
    }
    const checkpoints =
      verifier === undefined
        ? undefined
        : await checkStoreCheckpoints(reader, verifier, options.checkpoint ?? [], report.pruned);
    const head = `${report.head.seq}:${report.head.hash}`;
    const ok = report.ok && (checkpoints === undefined || checkpoints.problems.length === 0);
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ file, ...report, ok, chainOk: report.ok, head: report.ok ? head : undefined, checkpoints }, null, 2)}\n`,
      );
      return ok ? 0 : 1;
    }
    if (report.ok) {
      process.stdout.write(`audit chain OK: ${report.events} events, head ${head}\n`);
      if (report.pruned !== undefined)
        process.stdout.write(
          `pruned by retention: events 1..${report.pruned.through}, anchored by the checkpoint at event ${report.pruned.anchorSeq}${verifier === undefined ? " (pass --key to check its signature)" : ""}\n`,
        );
      printAcknowledged(report);
      process.stdout.write(
        `keep this head somewhere the gateway cannot write, and later run: latch audit verify --expect-head ${head}\n`,
      );
    } else {
      process.stdout.write(
        `${describeProblem(report.part, report.firstBadSeq ?? 0, report.problem ?? "")}\n`,
      );
      printMoreProblems(report);
      printAcknowledged(report);
    }
    if (checkpoints !== undefined && verifier !== undefined) printCheckpointReport(checkpoints, verifier);
    return ok ? 0 : 1;
  } finally {
    await close();
  }
}

/** Acknowledges what a failed verify found, in a new segment; returns the exit code (0 when the store verifies after). */
export async function runAuditNewSegment(options: AuditNewSegmentOptions): Promise<number> {
  const reason = options.reason.trim();
  if (reason.length < 3) throw invalidOption("--reason must say why you go on (it is kept in the audit log)");
  const { file, journalFile } = resolveStore(options, "latch audit new-segment");
  const user = os.userInfo().username;
  const result = await startNewSqliteSegment(file, journalFile, {
    reason,
    operator: `${user}@${os.hostname()}`,
  });
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ file, ...result }, null, 2)}\n`);
  } else if (result.segmentSeq === undefined) {
    process.stdout.write(
      `the audit store verifies (${result.before.events} events): nothing to acknowledge, nothing written\n`,
    );
  } else {
    process.stdout.write(`found:\n`);
    for (const problem of result.before.problems ?? [])
      process.stdout.write(`  ${describeProblem(problem.part, problem.seq, problem.problem)}\n`);
    for (const repair of result.repaired) process.stdout.write(`repaired: ${repair}\n`);
    process.stdout.write(
      `new segment started at event ${result.segmentSeq} (audit_segment_start, reason kept)\n`,
    );
    if (result.after.ok) {
      const head = `${result.after.head.seq}:${result.after.head.hash}`;
      process.stdout.write(`audit chain OK again, head ${head}: the gateway can start\n`);
    } else {
      process.stdout.write(
        `still broken: ${describeProblem(result.after.part, result.after.firstBadSeq ?? 0, result.after.problem ?? "")}\n`,
      );
    }
  }
  return result.after.ok ? 0 : 1;
}

function describeProblem(part: string | undefined, seq: number, problem: string): string {
  if (part === "sessions") return `sessions index BROKEN: ${problem}`;
  if (part === "journal") return `audit journal BROKEN at event ${seq}: ${problem}`;
  if (part === "head") return `audit chain head record BROKEN: ${problem}`;
  return `audit chain BROKEN at event ${seq}: ${problem}`;
}

const MAX_PRINTED_PROBLEMS = 20;

function printMoreProblems(report: ChainVerificationReport): void {
  const more = (report.problems ?? []).slice(1);
  for (const problem of more.slice(0, MAX_PRINTED_PROBLEMS))
    process.stdout.write(`  and: ${describeProblem(problem.part, problem.seq, problem.problem)}\n`);
  if (more.length > MAX_PRINTED_PROBLEMS)
    process.stdout.write(`  and ${more.length - MAX_PRINTED_PROBLEMS} more (--json lists them all)\n`);
  process.stdout.write(
    `keep a copy of the data directory; once you know what happened, restore it from a copy or run: latch audit new-segment --reason "<why>"\n`,
  );
}

function printAcknowledged(report: ChainVerificationReport): void {
  for (const found of report.acknowledged ?? []) {
    process.stdout.write(
      `acknowledged: event ${found.seq} (${found.problem}), by the new segment at event ${found.segmentSeq}\n`,
    );
  }
}

/** Prints matching events as a table (or JSON); returns the exit code. */
export async function runAuditSearch(options: AuditSearchOptions): Promise<number> {
  const filter = searchFilter(options);
  const { reader, close } = openAuditReader(loadStoreConfig(options));
  try {
    const events = await logicalEvents(reader, filter);
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
    await close();
  }
}

function loadStoreConfig(options: AuditStoreOptions) {
  // A --data-dir given on the command line is relative to where the operator is, not to the config file.
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  return loadConfig(options.config, overrides).config;
}

function resolveStore(options: AuditStoreOptions, command: string): { file: string; journalFile: string } {
  const config = loadStoreConfig(options);
  assertSqliteStore(config, command);
  return { file: sqliteStorePath(config), journalFile: path.join(config.data_dir, AUDIT_JOURNAL_FILE) };
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
