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
 * identity object (a session reuses its Identity) and the time part per minute.
 */

export interface RequestScope {
  /** Request-wide key prefix. */
  readonly key: string;
  readonly labels: readonly string[];
  readonly clientIp: string;
  readonly time: TimeContext;
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
}

interface TimeMemo {
  readonly minute: number;
  readonly key: string;
  readonly time: TimeContext;
}

export type RequestScopeOf = (request: AuthorizationRequest) => RequestScope;

/** @param timeFields the time fields any policy mentions; the others cannot change a decision. */
export function createRequestScopes(timeFields: readonly TimeField[]): RequestScopeOf {
  const callers = new WeakMap<Identity, CallerMemo>();
  let lastTime: TimeMemo | undefined;

  function callerOf(request: AuthorizationRequest): CallerMemo {
    const memo = callers.get(request.identity);
    if (
      memo !== undefined &&
      memo.connection === request.connection &&
      memo.connectionLabels === request.connectionLabels &&
      memo.clientAddress === request.clientAddress
    ) {
      return memo;
    }
    const fresh = callerMemo(request);
    callers.set(request.identity, fresh);
    return fresh;
  }

  function timeOf(now: Date): TimeMemo {
    // Every time field has at most minute precision, so one computation serves a whole minute.
    const minute = Math.floor(now.getTime() / 60_000);
    if (lastTime !== undefined && lastTime.minute === minute) return lastTime;
    const time = timeContextOf(now);
    let key = "";
    for (const field of timeFields) key += `|${field}=${time[field]}`;
    lastTime = { minute, key, time };
    return lastTime;
  }

  return (request) => {
    const caller = callerOf(request);
    const time = timeOf(request.now);
    return {
      key: caller.key + time.key,
      labels: caller.labels,
      clientIp: caller.clientIp,
      actors: caller.actors,
      time: time.time,
    };
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
  const flags = `${facts.has_where ? 1 : 0}${facts.read_only ? 1 : 0}`;
  // The SSH command line decides ssh:exec, so it is part of the key (length-prefixed like every free part).
  return `${facts.verb.length}:${facts.verb}|${flags}|${facts.statement_count}|${facts.table_count}|${facts.command.length}:${facts.command}`;
}

export function accessKeyOf(access: Access): string {
  const { action, resource } = access;
  const target =
    resource.type === "Connection" ? "C" : `${resource.type[0]}${resource.name.length}:${resource.name}`;
  return `${action.length}:${action}|${target}`;
}
