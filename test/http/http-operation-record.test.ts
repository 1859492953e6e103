import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonByWalk } from "../../src/audit/canonical-json.js";
import { expandFolded, foldResult } from "../../src/audit/folded-result.js";
import { LatchError } from "../../src/errors.js";
import { operationRecord, resultRecord } from "../../src/pipeline/operation-record.js";
import { ExchangeRecorder } from "../../src/protocols/http/exchange-record.js";
import type { HttpConnectionRuntime } from "../../src/protocols/http/exchange-types.js";
import { httpOperation } from "../../src/protocols/http/http-operation.js";
import { parseRequestTarget } from "../../src/protocols/http/request-target.js";
import { FakeAdmitter } from "../support/fake-admitter.js";

// An HTTP request's operation body is built with its keys in sorted order at every level (query, headers and
// body values arrive in the caller's order), so canonical JSON takes its native path: JSON.stringify writes the
// canonical bytes as they are. Were an object out of order, the two below would differ.
describe("HTTP operation record", () => {
  it("is in canonical key order, whatever order the caller sent query, headers and body in", () => {
    const parsed = parseRequestTarget("/v1/x?zeta=1&alpha=2&Mid=3&10=x", { pathCase: "sensitive" });
    if (!parsed.ok) throw new Error(parsed.reason);
    const operation = httpOperation(
      {
        id: "session-1",
        connection: "api",
        identity: { subject: "agent", issuer: "https://issuer.test", groups: ["agents"], expiresAt: 0 },
      },
      {
        method: "POST",
        websocket: false,
        target: parsed.target,
        headers: new Map([
          ["user-agent", "curl"],
          ["x-tenant", "acme"],
          ["content-type", "application/json"],
          ["accept", "*/*"],
        ]),
        policyHeaders: ["x-tenant", "accept"],
        body: { kind: "json", keys: ["b", "a"], values: { "/z": "1", "/a": "2" }, bytes: 17 },
      },
    );
    const record = operationRecord(
      operation,
      { decision: "allow", rules: ["p"], reason: "allowed" },
      { clientAddress: "10.0.0.1:5000", connectionLabels: {} },
    );
    // "10" is an integer-like key, which V8 always lists first: that one object takes the walk, so leave it out.
    const withoutIntegerKey = parseRequestTarget("/v1/x?zeta=1&alpha=2&Mid=3", { pathCase: "sensitive" });
    if (!withoutIntegerKey.ok) throw new Error(withoutIntegerKey.reason);
    const plain = operationRecord(
      httpOperation(
        { id: "s", connection: "api", identity: operation.identity },
        {
          method: "GET",
          websocket: false,
          target: withoutIntegerKey.target,
          headers: new Map([
            ["user-agent", "curl"],
            ["accept", "*/*"],
          ]),
          policyHeaders: [],
          body: { kind: "none", keys: [], values: {}, bytes: undefined },
        },
      ),
      { decision: "allow", rules: ["p"], reason: "allowed" },
      { clientAddress: "10.0.0.1:5000", connectionLabels: {} },
    );
    expect(JSON.stringify(plain)).toBe(canonicalJsonByWalk(plain));
    // With the integer-like name the bytes are still canonical (the encoder falls back to the walk).
    expect(canonicalJson(record)).toBe(canonicalJsonByWalk(record));
    const statement = (record.statements as Record<string, unknown>[])[0]!;
    expect(Object.keys(statement.headers as object)).toEqual([
      "accept",
      "content-type",
      "user-agent",
      "x-tenant",
    ]);
  });
});

// The `operation_result` body of an HTTP request, with the details the exchange really records (status, sizes,
// previews, and on failure upstreamStatus or aborted), is in canonical order too: the native path, standalone
// and folded into the session's next operation as `priorResult`.
describe("HTTP operation_result record", () => {
  const operation = httpOperation(
    {
      id: "session-1",
      connection: "api",
      identity: { subject: "agent", issuer: "https://issuer.test", groups: ["agents"], expiresAt: 0 },
    },
    {
      method: "POST",
      websocket: false,
      target: (() => {
        const parsed = parseRequestTarget("/v1/x", { pathCase: "sensitive" });
        if (!parsed.ok) throw new Error(parsed.reason);
        return parsed.target;
      })(),
      headers: new Map([["content-type", "application/json"]]),
      policyHeaders: [],
      body: { kind: "json", keys: ["a"], values: {}, bytes: 9 },
    },
  );
  const runtime = { masking: { maskPreview: (text: string) => text } } as unknown as HttpConnectionRuntime;
  const credential = { headers: [], query: undefined, secrets: [] };

  /** The result bodies the exchange's recorder gives the pipeline, one per way a request ends. */
  function recordedResults(): Record<string, unknown>[] {
    const admitter = new FakeAdmitter();
    const record = new ExchangeRecorder(
      admitter,
      operation,
      0,
      runtime,
      credential,
      Buffer.from('{"a":"b"}'),
    );
    record.answered(200, 42, '{"ok":true}');
    record.answered(200, 1000);
    record.failed(502, new LatchError("response_withheld", { reason: "no" }), { upstreamStatus: 200 });
    record.failed(200, new LatchError("upstream_unavailable", { reason: "x" }), {
      responseBytes: 7,
      aborted: true,
    });
    record.failed(502, new LatchError("upstream_unavailable", { reason: "down" }), {});
    return admitter.completed.map(({ result }) => resultRecord(operation, result));
  }

  it("is in canonical key order for every way a request ends, and records the same bytes", () => {
    const results = recordedResults();
    expect(results).toHaveLength(5);
    for (const result of results) {
      expect(JSON.stringify(result)).toBe(canonicalJsonByWalk(result));
      expect(Object.keys(result)).toEqual([...Object.keys(result)].sort());
    }
    expect(Object.keys(results[0]!)).toEqual([
      "commandTags",
      "durationMs",
      "operationId",
      "requestPreview",
      "responseBytes",
      "responsePreview",
      "rows",
      "status",
    ]);
    expect(Object.keys(results[3]!)).toEqual([
      "aborted",
      "commandTags",
      "durationMs",
      "error",
      "operationId",
      "requestPreview",
      "responseBytes",
      "rows",
      "status",
    ]);
  });

  it("stays in canonical order when folded into the next operation as priorResult", () => {
    const next = operationRecord(
      operation,
      { decision: "allow", rules: ["p"], reason: "allowed" },
      { clientAddress: "10.0.0.1:5000", connectionLabels: {} },
    );
    for (const result of recordedResults()) {
      const folded = foldResult(next, result);
      expect(JSON.stringify(folded)).toBe(canonicalJsonByWalk(folded));
      expect(expandFolded({ kind: "operation", data: folded })[0]!.data).toEqual(result);
    }
  });
});
