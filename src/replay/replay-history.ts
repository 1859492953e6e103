import type { Decision, Verdict } from "../operation/operation.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import { requestOfInput } from "../policy/recorded-input.js";
import type { AuditReader } from "../store/store.js";
import {
  type HistoryWindow,
  IdentityInterner,
  inWindow,
  type RecordedOperation,
  recordedHistory,
} from "./recorded-operations.js";
import { type NotRedecided, redecide } from "./redecide.js";

/**
 * Re-decides every recorded operation of a window against the current and a candidate policy set and counts
 * what would change. Both sets are asked (not the recorded verdict compared with the candidate) so a policy
 * edit already deployed since is not mistaken for the candidate's effect. Memory is bounded: a page of
 * events, one counter per (change, principal, action) up to MAX_GROUPS per change (the rest share one
 * OTHER_PRINCIPALS counter), a few examples per counter, the engines' bounded caches.
 */

export type Change = "newly_denied" | "newly_allowed" | "newly_approval";
export const CHANGES: readonly Change[] = ["newly_denied", "newly_allowed", "newly_approval"];

export interface ReplayExample {
  readonly seq: number;
  readonly sessionId: string | null;
  readonly at: string;
  readonly statements: readonly string[];
  /** The candidate's reason. */
  readonly reason: string;
}

export interface ChangeGroup {
  readonly principal: string;
  readonly action: string;
  count: number;
  readonly examples: ReplayExample[];
}

export interface ReplayReport {
  readonly since: string | null;
  readonly until: string | null;
  /** Audit events read. */
  events: number;
  /** Operations in the window (after the principal/connection filters). */
  operations: number;
  redecided: number;
  unchanged: number;
  /**
   * Operations the record does not allow re-deciding, by reason; `needsPreview` of them were never previewed
   * while a `@preview` permit would preview them now (redecide.ts): a preview cannot be re-run on past data.
   */
  readonly notRedecidable: { count: number; needsPreview: number; readonly reasons: Record<string, number> };
  /** Re-decided by the current policies differently from what was recorded (policies changed since). */
  driftFromRecorded: number;
  readonly changes: Record<Change, { count: number; readonly groups: ChangeGroup[] }>;
  /** Operations that ran (allowed, or held then released) that the candidate denies. */
  readonly regressions: { count: number; readonly examples: ReplayExample[] };
  elapsedMs: number;
}

export interface ReplayOptions extends HistoryWindow {
  readonly reader: AuditReader;
  readonly current: PolicyEngine;
  readonly candidate: PolicyEngine;
  readonly connection?: string;
  readonly principal?: string;
  /** Examples kept per (change, principal, action). Default 3. */
  readonly examples?: number;
  readonly onProgress?: (progress: {
    readonly events: number;
    readonly seq: number;
    readonly elapsedMs: number;
  }) => void;
  readonly now?: () => number;
}

/**
 * Decisions each engine keeps while replaying: a history repeats the same few questions, so a larger cache than
 * a gateway's pays; bounded, so memory is too (about 100 MB for both engines when full).
 */
export const REPLAY_CACHE_SIZE = 50_000;

/** Held operations the candidate denies, waiting to see whether an approval let them run. */
const MAX_PENDING_HELD = 100_000;
/**
 * (principal, action) counters kept per change; past it, changes of further pairs are counted under one group
 * (OTHER_PRINCIPALS), so a history of millions of distinct callers does not grow the report with them.
 */
export const MAX_GROUPS = 1000;
export const OTHER_PRINCIPALS = "(other principals)";
/** Distinct not-re-decidable reasons kept; the rest are counted under OTHER_REASONS. */
const MAX_REASONS = 100;
const OTHER_REASONS = "(other reasons)";
const MAX_EXAMPLE_TEXT = 300;

export async function replayHistory(options: ReplayOptions): Promise<ReplayReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const keep = options.examples ?? 3;
  const report = emptyReport(options);
  const groups = new Map<string, ChangeGroup>();
  const interner = new IdentityInterner();
  const pendingHeld = new Map<string, ReplayExample>();

  const history = recordedHistory(options.reader, options, (seq, events) => {
    report.events += events;
    options.onProgress?.({ events: report.events, seq, elapsedMs: now() - started });
  });
  for await (const item of history) {
    if (item.kind === "released") {
      const example = pendingHeld.get(item.operationId);
      if (example !== undefined) {
        pendingHeld.delete(item.operationId);
        addRegression(report, example, keep);
      }
      continue;
    }
    const operation = item.operation;
    if (!inWindow(options, operation.at)) continue;
    const { input } = operation;
    if (typeof input === "string") {
      // Without the recorded input the principal and connection are unknown: counted only when unfiltered.
      if (options.principal !== undefined || options.connection !== undefined) continue;
      report.operations += 1;
      notRedecidable(report, input, false);
      continue;
    }
    if (options.principal !== undefined && input.subject !== options.principal) continue;
    if (options.connection !== undefined && input.connection !== options.connection) continue;
    report.operations += 1;
    const identity = interner.identityOf(input);
    const request = { ...requestOfInput(input, identity), connectionLabels: interner.labelsOf(input) };
    const currently = redecide(options.current, request, operation, "current");
    const candidately = redecide(options.candidate, request, operation, "candidate");
    if ("reason" in currently || "reason" in candidately) {
      const { reason, needsPreview } = "reason" in currently ? currently : (candidately as NotRedecided);
      notRedecidable(report, reason, needsPreview);
      continue;
    }
    const current = currently.verdict;
    const candidate = candidately.verdict;
    report.redecided += 1;
    if (current.decision !== operation.recorded && operation.recorded !== "unknown")
      report.driftFromRecorded += 1;
    const change = changeOf(current.decision, candidate.decision);
    if (change === undefined) {
      report.unchanged += 1;
      continue;
    }
    const example = exampleOf(operation, candidate);
    const action = input.steps[0]?.action ?? "?";
    const group = groupOf(groups, report.changes[change].groups, change, input.subject, action);
    group.count += 1;
    report.changes[change].count += 1;
    if (group.examples.length < keep) group.examples.push(example);
    if (change !== "newly_denied") continue;
    if (operation.recorded === "allow") addRegression(report, example, keep);
    else if (operation.recorded === "approval" && pendingHeld.size < MAX_PENDING_HELD) {
      pendingHeld.set(operation.operationId, example);
    }
  }
  for (const change of CHANGES) {
    report.changes[change].groups.sort((a, b) => b.count - a.count || a.principal.localeCompare(b.principal));
  }
  report.elapsedMs = now() - started;
  return report;
}

/** The (change, principal, action) counter, or the change's OTHER_PRINCIPALS one once MAX_GROUPS are kept. */
function groupOf(
  groups: Map<string, ChangeGroup>,
  listed: ChangeGroup[],
  change: Change,
  principal: string,
  action: string,
): ChangeGroup {
  const own = `${change}\u0000${principal}\u0000${action}`;
  const full = !groups.has(own) && listed.length >= MAX_GROUPS;
  const key = full ? `${change}\u0000` : own;
  let group = groups.get(key);
  if (group === undefined) {
    group = {
      principal: full ? OTHER_PRINCIPALS : principal,
      action: full ? "*" : action,
      count: 0,
      examples: [],
    };
    groups.set(key, group);
    listed.push(group);
  }
  return group;
}

function notRedecidable(report: ReplayReport, reason: string, needsPreview: boolean): void {
  const { reasons } = report.notRedecidable;
  report.notRedecidable.count += 1;
  if (needsPreview) report.notRedecidable.needsPreview += 1;
  const key =
    Object.hasOwn(reasons, reason) || Object.keys(reasons).length < MAX_REASONS ? reason : OTHER_REASONS;
  reasons[key] = (reasons[key] ?? 0) + 1;
}

function changeOf(current: Decision, candidate: Decision): Change | undefined {
  if (current === candidate) return undefined;
  if (candidate === "deny") return "newly_denied";
  if (candidate === "allow") return "newly_allowed";
  return "newly_approval";
}

function exampleOf(operation: RecordedOperation, verdict: Verdict): ReplayExample {
  return {
    seq: operation.seq,
    sessionId: operation.sessionId,
    at: new Date(operation.at).toISOString(),
    statements: operation.texts.map((text) =>
      text.length > MAX_EXAMPLE_TEXT ? `${text.slice(0, MAX_EXAMPLE_TEXT)}…` : text,
    ),
    reason: verdict.reason,
  };
}

function addRegression(report: ReplayReport, example: ReplayExample, keep: number): void {
  report.regressions.count += 1;
  if (report.regressions.examples.length < Math.max(keep, 10)) report.regressions.examples.push(example);
}

function emptyReport(window: HistoryWindow): ReplayReport {
  const change = () => ({ count: 0, groups: [] as ChangeGroup[] });
  return {
    since: window.since === undefined ? null : new Date(window.since).toISOString(),
    until: window.until === undefined ? null : new Date(window.until).toISOString(),
    events: 0,
    operations: 0,
    redecided: 0,
    unchanged: 0,
    notRedecidable: { count: 0, needsPreview: 0, reasons: {} },
    driftFromRecorded: 0,
    changes: { newly_denied: change(), newly_allowed: change(), newly_approval: change() },
    regressions: { count: 0, examples: [] },
    elapsedMs: 0,
  };
}
