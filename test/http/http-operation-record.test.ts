import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonByWalk } from "../../src/audit/canonical-json.js";
import { operationRecord } from "../../src/pipeline/operation-record.js";
import { httpOperation } from "../../src/protocols/http/http-operation.js";
import { parseRequestTarget } from "../../src/protocols/http/request-target.js";

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
