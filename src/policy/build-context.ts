import { isIP } from "node:net";
import type { CedarValueJson, Context, EntityJson } from "@cedar-policy/cedar-wasm/nodejs";
import type { HttpStepFacts, OperationStep } from "../operation/operation.js";
import type { TimeField } from "./cedar-schema.js";

/**
 * The Cedar `context` of one access, shaped exactly as `SqlContext` in cedar-schema.ts. Time is UTC so a
 * policy means the same thing on every replica whatever its local time zone.
 */

export type TimeContext = Readonly<Record<Exclude<TimeField, "date">, number> & { date: string }>;

export interface StatementContext {
  readonly verb: string;
  readonly has_where: boolean;
  readonly read_only: boolean;
  readonly statement_count: number;
  readonly table_count: number;
  /** Highest sensitivity level of the tables the statement touches (sensitivity.ts). */
  readonly sensitivity: string;
  readonly touches_masked: boolean;
  /** SSH operations: the command line, subsystem, forward target or env pair ("" for SQL). Top-level in Cedar. */
  readonly command: string;
  /** HTTP requests: what context.path/query/headers/body read (absent elsewhere: empty values). */
  readonly http: HttpStepFacts | undefined;
  /** `context.preview`: present only when a rolled-back preview of the operation ran (docs/approvals.md). */
  readonly preview?: { readonly rows: number };
}

const NO_SENSITIVITY = { sensitivity: "none", touchesMasked: false } as const;

/** Address used for callers that have no IP (a Unix socket): it is in no range a policy would name. */
export const NO_IP_ADDRESS = "0.0.0.0";

export function timeContextOf(now: Date): TimeContext {
  const iso = now.toISOString();
  return {
    hour: now.getUTCHours(),
    minute: now.getUTCMinutes(),
    // getUTCDay counts Sunday as 0; policies use ISO 8601 weekdays, Monday 1 .. Sunday 7.
    weekday: now.getUTCDay() === 0 ? 7 : now.getUTCDay(),
    date: iso.slice(0, 10),
  };
}

export function statementContextOf(
  step: OperationStep,
  statementCount: number,
  sensitivity: { readonly sensitivity: string; readonly touchesMasked: boolean } = NO_SENSITIVITY,
): StatementContext {
  return {
    verb: step.action,
    has_where: step.facts.hasWhere,
    read_only: step.facts.readOnly,
    statement_count: statementCount,
    table_count: step.facts.tableCount,
    sensitivity: sensitivity.sensitivity,
    touches_masked: sensitivity.touchesMasked,
    command: step.facts.command,
    http: step.facts.http,
  };
}

const HTTP_FIELD_ENTITIES = { query: "query", headers: "headers", body: "body" } as const;
const httpFieldsRef = (id: string) => ({ __entity: { type: "HttpFields", id } });

/** The HttpFields entities context.query, context.headers and context.body.values refer to. */
export function httpEntities(statement: StatementContext): EntityJson[] {
  const http = statement.http;
  const entity = (id: string, tags: Readonly<Record<string, string>>): EntityJson => ({
    uid: { type: "HttpFields", id },
    attrs: {},
    parents: [],
    tags: { ...tags },
  });
  return [
    entity(HTTP_FIELD_ENTITIES.query, http?.query ?? {}),
    entity(HTTP_FIELD_ENTITIES.headers, http?.headers ?? {}),
    entity(HTTP_FIELD_ENTITIES.body, http?.bodyValues ?? {}),
  ];
}

/**
 * The caller's IP as Cedar's `ip()` accepts it, from the client address a front recorded: `host:port`, the
 * host as Node reports it (IPv6 unbracketed, "::1:5432"), so the last `:digits` is the port; "[host]:port" and a
 * bare host (MCP sessions before stop 26) are read too. IPv4-mapped IPv6 ("::ffff:10.0.0.1", how Node reports
 * IPv4 peers on a dual-stack socket) becomes plain IPv4 so `isInRange(ip("10.0.0.0/8"))` works; an IPv6 zone
 * ("%eth0") is dropped. Anything else is NO_IP_ADDRESS, which no range but 0.0.0.0/n holds.
 */
export function clientIpOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(address);
  if (bracketed !== null) return ipOrNone(bracketed[1]!);
  const withPort = /^(.*):\d{1,5}$/.exec(address);
  if (withPort !== null) {
    const host = ipOrNone(withPort[1]!);
    if (host !== NO_IP_ADDRESS) return host;
  }
  return ipOrNone(address);
}

function ipOrNone(host: string): string {
  const withoutZone = host.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(withoutZone);
  const candidate = mapped?.[1] ?? withoutZone;
  return isIP(candidate) === 0 ? NO_IP_ADDRESS : candidate;
}

/** Labels as sorted "key=value" strings: one Set<String> in Cedar, one stable string in cache keys. */
export function labelStrings(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .sort();
}

/** @param localTime `context.local_time`: in `policy.time_zone`, or UTC (the same as `time`) when none is set. */
export function buildContext(
  time: TimeContext,
  statement: StatementContext,
  clientIp: string,
  labels: readonly string[],
  localTime: TimeContext = time,
  /** Subjects of the token's delegation chain (`act`), current actor first; empty without delegation. */
  actors: readonly string[] = [],
  /** False when no policy can read the HTTP fields: they are left out, and evaluation costs what it did before. */
  withHttp = true,
): Context {
  const { command, http, preview, ...facts } = statement;
  const base: Context = {
    ...(preview === undefined ? {} : { preview: { rows: preview.rows } }),
    time: { ...time },
    local_time: { ...localTime },
    statement: facts,
    command,
    client_ip: { __extn: { fn: "ip", arg: clientIp } },
    connection_labels: labels as CedarValueJson[],
    actors: actors as CedarValueJson[],
  };
  if (!withHttp) return base;
  return {
    ...base,
    path: http?.path ?? "",
    query: httpFieldsRef(HTTP_FIELD_ENTITIES.query),
    headers: httpFieldsRef(HTTP_FIELD_ENTITIES.headers),
    body: {
      kind: http?.bodyKind ?? "none",
      keys: [...(http?.bodyKeys ?? [])],
      values: httpFieldsRef(HTTP_FIELD_ENTITIES.body),
    },
  };
}
