import type { HttpStepFacts, Operation, OperationStep } from "../../operation/operation.js";
import type { SessionHandle } from "../../session/session-handle.js";
import { operationId } from "./operation-id.js";
import type { RequestTarget } from "./request-target.js";

/** Methods Latch judges; each is the Cedar action `http:<METHOD>`. Others (TRACE, CONNECT, WebDAV) are refused. */
export const HTTP_METHODS = new Set(["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]);
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** No query, headers or body values: one object for every request without them (nothing changes it). */
const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({});
/** The resource of every HTTP access (nothing changes it). */
const CONNECTION = Object.freeze({ type: "Connection" as const });

/** Headers recorded besides the connection's policy_headers (never Authorization or the injected one). */
const RECORDED_HEADERS = ["content-type", "content-length", "accept", "user-agent"];

export interface HttpBodyFacts {
  readonly kind: "none" | "json" | "other";
  readonly keys: readonly string[];
  readonly values: Readonly<Record<string, string>>;
  readonly bytes: number | undefined;
}

/** Top-level keys and the listed pointers' values of a parsed JSON body (the body facts policy reads). */
export function jsonBodyFacts(value: unknown, pointers: readonly string[], bytes: number): HttpBodyFacts {
  const keys = value !== null && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
  const values: Record<string, string> = {};
  for (const pointer of pointers) {
    const found = resolvePointer(value, pointer);
    if (found === undefined) continue;
    values[pointer] = typeof found === "string" ? found : JSON.stringify(found);
  }
  return { kind: "json", keys, values, bytes };
}

/** RFC 6901; "*" is not a wildcard here (a fact is one value). */
export function resolvePointer(value: unknown, pointer: string): unknown {
  let current: unknown = value;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return undefined;
      current = current[Number(key)];
    } else {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    }
  }
  return current;
}

/** A record whose keys are inserted in UTF-16 order (a later duplicate name wins, as Object.fromEntries). */
function sortedRecord(pairs: readonly (readonly [string, string])[]): Readonly<Record<string, string>> {
  if (pairs.length === 0) return NO_FIELDS;
  const record: Record<string, string> = {};
  const sorted = pairs.length === 1 ? pairs : [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of sorted) record[name] = value;
  return record;
}

function recordHeaders(
  into: [string, string][],
  names: readonly string[],
  headers: ReadonlyMap<string, string>,
): void {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== undefined) into.push([name, value.length > 256 ? value.slice(0, 256) : value]);
  }
}

export function httpActionOf(method: string, websocket: boolean): string {
  return websocket ? "http:websocket" : `http:${method}`;
}

/** What an HTTP step is made of: its whole input, each part compared by identity. */
interface HttpStepInput {
  readonly method: string;
  readonly websocket: boolean;
  readonly target: RequestTarget;
  readonly headers: ReadonlyMap<string, string>;
  readonly policyHeaders: readonly string[];
  readonly body: HttpBodyFacts;
}

interface RememberedStep {
  readonly method: string;
  readonly websocket: boolean;
  readonly headers: ReadonlyMap<string, string>;
  readonly policyHeaders: readonly string[];
  readonly body: HttpBodyFacts;
  readonly steps: readonly OperationStep[];
}

/**
 * The last step built for each target object, reused (frozen) when the next request on that target has the same
 * method, header map, policy_headers and body facts objects. The front hands the same objects for a repeated
 * request (target-memo.ts, the header guard's memo, one NO_BODY), so a keep-alive client sending the same GET
 * gets the same step, and with it the policy's admission memo (policy/step-memo.ts: keyed by the accesses array,
 * action and facts objects) and the session's recheck list (a repeated step is already its newest) answer at
 * once. A new object anywhere is a miss and builds the step afresh, which is always correct: the step is a pure
 * function of those inputs, and none of them changes after it is made.
 */
const rememberedSteps = new WeakMap<RequestTarget, RememberedStep>();

/** One HTTP request as the generic Operation: one step, its method on the connection, with the request facts. */
export function httpOperation(
  session: Pick<SessionHandle, "id" | "connection" | "identity">,
  request: HttpStepInput,
): Operation {
  const { target } = request;
  const known = rememberedSteps.get(target);
  let steps: readonly OperationStep[];
  if (
    known !== undefined &&
    known.method === request.method &&
    known.websocket === request.websocket &&
    known.headers === request.headers &&
    known.policyHeaders === request.policyHeaders &&
    known.body === request.body
  )
    steps = known.steps;
  else if (request.body.kind !== "none")
    steps = [httpStep(request)]; // a body's facts are new every request
  else {
    steps = Object.freeze([frozenStep(httpStep(request))]);
    rememberedSteps.set(target, {
      method: request.method,
      websocket: request.websocket,
      headers: request.headers,
      policyHeaders: request.policyHeaders,
      body: request.body,
      steps,
    });
  }
  return {
    id: operationId(),
    sessionId: session.id,
    protocol: "http",
    connection: session.connection,
    identity: session.identity,
    mode: request.websocket ? "websocket" : "request",
    steps,
    receivedAt: Date.now(),
  };
}

/** A step shared by the requests that repeat it: nothing may change it (a change would throw). */
function frozenStep(step: OperationStep): OperationStep {
  const http = step.facts.http;
  if (http !== undefined) {
    Object.freeze(http.query);
    Object.freeze(http.headers);
    Object.freeze(http.bodyValues);
    Object.freeze(http.bodyKeys);
    Object.freeze(http);
  }
  for (const access of step.accesses) Object.freeze(access);
  Object.freeze(step.accesses);
  Object.freeze(step.facts);
  if (step.recorded !== undefined) {
    for (const key in step.recorded) {
      const value = step.recorded[key];
      if (value !== null && typeof value === "object") Object.freeze(value);
    }
    Object.freeze(step.recorded);
  }
  return Object.freeze(step);
}

function httpStep(request: HttpStepInput): OperationStep {
  const { method, target } = request;
  const action = httpActionOf(method, request.websocket);
  // Every object here lands in the operation's audit body (policyInput and statements), so its keys are
  // inserted in sorted order: the canonical encoding then takes its native path (audit/canonical-json.ts)
  // instead of a string per member. The recorded bytes are the same either way (canonical JSON sorts).
  const selected: [string, string][] = [];
  for (const name of request.policyHeaders) {
    const value = request.headers.get(name);
    if (value !== undefined) selected.push([name, value]);
  }
  const recordedHeaders: [string, string][] = [];
  recordHeaders(recordedHeaders, RECORDED_HEADERS, request.headers);
  recordHeaders(recordedHeaders, request.policyHeaders, request.headers);
  // One object for policy and the record: neither changes it.
  const query = sortedRecord(target.query);
  const http: HttpStepFacts = {
    bodyKeys: request.body.keys,
    bodyKind: request.body.kind,
    bodyValues: request.body.kind === "json" ? sortedRecord(Object.entries(request.body.values)) : NO_FIELDS,
    headers: sortedRecord(selected),
    path: target.path,
    query,
  };
  // Sorted, and all before "text" and "verb", which operation-record.ts appends; built member by member
  // (spreads of conditional objects cost an object each).
  const recorded: Record<string, unknown> = {};
  if (request.body.kind === "json") recorded.bodyKeys = request.body.keys;
  recorded.headers = sortedRecord(recordedHeaders);
  recorded.method = method;
  recorded.path = target.path;
  recorded.query = query;
  if (request.body.bytes !== undefined) recorded.requestBytes = request.body.bytes;
  const text = `${method} ${target.path}${target.queryString === "" ? "" : `?${target.queryString}`}`;
  const step: OperationStep = {
    text,
    action,
    accesses: [{ action, resource: CONNECTION }],
    facts: {
      readOnly: READ_METHODS.has(method) && !request.websocket,
      hasWhere: true,
      tableCount: 0,
      command: "",
      http,
    },
    recorded,
  };
  return step;
}
