import type { Identity } from "../identity/identity.js";
import type { Access } from "../operation/operation.js";
import {
  clientIpOf,
  labelStrings,
  type StatementContext,
  type TimeContext,
  timeContextOf,
} from "./build-context.js";
import type { TimeField } from "./cedar-schema.js";
import type { AuthorizationRequest } from "./policy-engine.js";

/**
 * Decision-cache keys. A key holds everything that can change a decision: caller (subject, issuer,
 * groups), connection and labels, client IP, the time fields policies mention, the statement facts, the
 * action and the resource. Every free-form part (subject, groups, table names come from tokens and SQL) is
 * length-prefixed, so no crafted value can make two different requests share a key.
 *
 * Building a key must cost far less than a Cedar call, so the request-wide part is remembered per
 * identity object (a session reuses its Identity) and the time part per minute. The scope of one caller
 * in one minute is one object: step-memo.ts relies on that identity (same object: same caller, connection,
 * labels, client address and minute) to answer a repeated step without building any key.
 */

export interface RequestScope {
  /** Request-wide key prefix. */
  readonly key: string;
  readonly labels: readonly string[];
  readonly clientIp: string;
  readonly time: TimeContext;
  /** `context.local_time` (policy.time_zone; UTC when none is set). */
  readonly localTime: TimeContext;
  /** The delegation chain's subjects (context.actors). */
  readonly actors: readonly string[];
}

interface CallerMemo {
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  readonly clientAddress: string;
  readonly key: string;
  readonly labels: readonly string[];
  readonly clientIp: string;
  readonly actors: readonly string[];
  /** The scope last built for this caller, and the minute it is for (one slot: a session lives in the now). */
  scope?: RequestScope;
  scopeTime?: TimeMemo;
}

interface TimeMemo {
  readonly minute: number;
  readonly key: string;
  readonly time: TimeContext;
  readonly localTime: TimeContext;
}

export interface LocalTimeKeying {
  /** Computes `context.local_time`; absent: UTC. */
  readonly localTimeOf?: (now: Date) => TimeContext;
  /** The local time fields policies mention (empty when no policy reads `context.local_time`). */
  readonly fields: readonly TimeField[];
}

export type RequestScopeOf = (request: AuthorizationRequest) => RequestScope;

/** Client addresses remembered per identity object (a miss only rebuilds the memo: never a wrong answer). */
const CALLER_ADDRESSES = 256;

/**
 * @param timeFields the time fields any policy mentions; the others cannot change a decision.
 * @param local how `context.local_time` is computed and which of its fields the key holds.
 */
export function createRequestScopes(
  timeFields: readonly TimeField[],
  local: LocalTimeKeying = { fields: [] },
): RequestScopeOf {
  // Per identity, one memo per client address: sessions that share an Identity object (one token, the token
  // verifier's cache) come from different client ports, and a single slot rebuilt the memo (and so a new
  // scope, which the step memo keys on) at every switch between them: every statement under `-c 8`.
  const callers = new WeakMap<Identity, Map<string, CallerMemo>>();
  let lastTime: TimeMemo | undefined;

  function callerOf(request: AuthorizationRequest): CallerMemo {
    let byAddress = callers.get(request.identity);
    const memo = byAddress?.get(request.clientAddress);
    if (
      memo !== undefined &&
      memo.connection === request.connection &&
      memo.connectionLabels === request.connectionLabels
    ) {
      return memo;
    }
    const fresh = callerMemo(request);
    if (byAddress === undefined) {
      byAddress = new Map();
      callers.set(request.identity, byAddress);
    }
    byAddress.delete(request.clientAddress);
    byAddress.set(request.clientAddress, fresh);
    // Bounded: a long-lived identity on many short connections must not grow it for ever (oldest goes first).
    if (byAddress.size > CALLER_ADDRESSES) byAddress.delete(byAddress.keys().next().value!);
    return fresh;
  }

  function timeOf(now: Date): TimeMemo {
    // Every time field has at most minute precision, so one computation serves a whole minute.
    const minute = Math.floor(now.getTime() / 60_000);
    if (lastTime !== undefined && lastTime.minute === minute) return lastTime;
    const time = timeContextOf(now);
    // Zone offsets are whole minutes, so the local fields too hold for the whole UTC minute.
    const localTime = local.localTimeOf?.(now) ?? time;
    let key = "";
    for (const field of timeFields) key += `|${field}=${time[field]}`;
    for (const field of local.fields) key += `|l${field}=${localTime[field]}`;
    lastTime = { minute, key, time, localTime };
    return lastTime;
  }

  return (request) => {
    const caller = callerOf(request);
    const time = timeOf(request.now);
    if (caller.scope !== undefined && caller.scopeTime === time) return caller.scope;
    const scope: RequestScope = {
      key: caller.key + time.key,
      labels: caller.labels,
      clientIp: caller.clientIp,
      actors: caller.actors,
      time: time.time,
      localTime: time.localTime,
    };
    caller.scope = scope;
    caller.scopeTime = time;
    return scope;
  };
}

function callerMemo(request: AuthorizationRequest): CallerMemo {
  const { identity } = request;
  const labels = labelStrings(request.connectionLabels);
  const clientIp = clientIpOf(request.clientAddress);
  const actors = identity.actors?.map((actor) => actor.subject) ?? [];
  const parts = [
    identity.subject,
    identity.issuer,
    ...identity.groups,
    request.connection,
    ...labels,
    clientIp,
    ...actors,
  ];
  let key = `${identity.groups.length}/${labels.length}/${actors.length}`;
  for (const part of parts) key += `|${part.length}:${part}`;
  return {
    connection: request.connection,
    connectionLabels: request.connectionLabels,
    clientAddress: request.clientAddress,
    key,
    labels,
    clientIp,
    actors,
  };
}

export function statementKeyOf(facts: StatementContext): string {
  // Sensitivity follows from the step's tables, which the access key alone does not name: it is keyed here.
  const flags = `${facts.has_where ? 1 : 0}${facts.read_only ? 1 : 0}${facts.touches_masked ? 1 : 0}${facts.sensitivity[0]}`;
  // The SSH command line decides ssh:exec, so it is part of the key (length-prefixed like every free part).
  const base = `${facts.verb.length}:${facts.verb}|${flags}|${facts.statement_count}|${facts.table_count}|${facts.command.length}:${facts.command}`;
  return facts.http === undefined ? base : `${base}|${httpKeyOf(facts.http)}`;
}

/**
 * Every HTTP fact a policy can read, each part length-prefixed (names and values come from the caller). Built
 * in one pass for every request: the protocol inserts record keys already sorted (http-operation.ts), so names
 * are sorted only when they are not (a copy then), and no array, closure or sort is made otherwise.
 */
function httpKeyOf(http: NonNullable<StatementContext["http"]>): string {
  let key = `h|${http.path.length}:${http.path}|`;
  key = appendFields(key, http.query);
  key += "|";
  key = appendFields(key, http.headers);
  const keys = inOrder(http.bodyKeys);
  key += `|${http.bodyKind}|${keys.length}`;
  for (let i = 0; i < keys.length; i++) key += `|${keys[i]!.length}:${keys[i]}`;
  key += "|";
  return appendFields(key, http.bodyValues);
}

/** `count|n:name|n:value...`, names in UTF-16 order. */
function appendFields(key: string, record: Readonly<Record<string, string>>): string {
  let count = 0;
  let sorted = true;
  let previous: string | undefined;
  for (const name in record) {
    if (previous !== undefined && previous > name) sorted = false;
    previous = name;
    count += 1;
  }
  key += `${count}`;
  if (count === 0) return key;
  if (sorted) {
    for (const name in record) key += `|${name.length}:${name}|${record[name]!.length}:${record[name]}`;
    return key;
  }
  for (const name of Object.keys(record).sort())
    key += `|${name.length}:${name}|${record[name]!.length}:${record[name]}`;
  return key;
}

function inOrder(names: readonly string[]): readonly string[] {
  for (let i = 1; i < names.length; i++) if (names[i - 1]! > names[i]!) return [...names].sort();
  return names;
}

export function accessKeyOf(access: Access): string {
  const { action, resource } = access;
  const target =
    resource.type === "Connection" ? "C" : `${resource.type[0]}${resource.name.length}:${resource.name}`;
  return `${action.length}:${action}|${target}`;
}
