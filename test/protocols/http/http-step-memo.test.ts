import { describe, expect, it } from "vitest";
import { type HttpBodyFacts, httpOperation } from "../../../src/protocols/http/http-operation.js";
import { parseRequestTarget } from "../../../src/protocols/http/request-target.js";

const session = {
  id: "session-1",
  connection: "api",
  identity: { subject: "agent", issuer: "https://issuer.test", groups: ["agents"], expiresAt: 0 },
};
const NO_BODY: HttpBodyFacts = Object.freeze({ kind: "none", keys: [], values: {}, bytes: undefined });
const target = (raw: string) => {
  const parsed = parseRequestTarget(raw, { pathCase: "sensitive" });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.target;
};
const headers = () =>
  new Map([
    ["accept", "application/json"],
    ["x-tenant", "acme"],
  ]);
const POLICY_HEADERS = ["x-tenant"];

describe("httpOperation's remembered steps", () => {
  it("gives a repeated request (same objects) the same frozen step, equal to one built afresh", () => {
    const t = target("/v1/items?b=2&a=1");
    const h = headers();
    const input = {
      method: "GET",
      websocket: false,
      target: t,
      headers: h,
      policyHeaders: POLICY_HEADERS,
      body: NO_BODY,
    };
    const first = httpOperation(session, input);
    const second = httpOperation(session, { ...input });
    expect(second.steps).toBe(first.steps);
    expect(second.id).not.toBe(first.id);
    const fresh = httpOperation(session, {
      ...input,
      target: target("/v1/items?b=2&a=1"),
      headers: headers(),
    });
    expect(fresh.steps).not.toBe(first.steps);
    expect(fresh.steps).toEqual(first.steps);
    expect(Object.isFrozen(first.steps[0]!.facts.http)).toBe(true);
    expect(() => {
      (first.steps[0]!.facts.http!.query as Record<string, string>).a = "2";
    }).toThrow();
  });

  it("builds a new step when the method, headers, policy_headers or body differ", () => {
    const t = target("/v1/items");
    const h = headers();
    const base = {
      method: "GET",
      websocket: false,
      target: t,
      headers: h,
      policyHeaders: POLICY_HEADERS,
      body: NO_BODY,
    };
    const get = httpOperation(session, base).steps;
    const head = httpOperation(session, { ...base, method: "HEAD" }).steps;
    expect(head[0]!.action).toBe("http:HEAD");
    expect(httpOperation(session, base).steps[0]!.action).toBe("http:GET");
    const other = new Map([...h, ["x-tenant", "other"]]);
    expect(httpOperation(session, { ...base, headers: other }).steps[0]!.facts.http!.headers).toEqual({
      "x-tenant": "other",
    });
    expect(httpOperation(session, { ...base, policyHeaders: [] }).steps[0]!.facts.http!.headers).toEqual({});
    const json: HttpBodyFacts = { kind: "json", keys: ["a"], values: {}, bytes: 7 };
    const withBody = httpOperation(session, { ...base, method: "POST", body: json }).steps;
    expect(withBody[0]!.facts.http!.bodyKind).toBe("json");
    expect(httpOperation(session, { ...base, method: "POST", body: json }).steps).not.toBe(withBody);
    expect(get[0]!.facts.http!.headers).toEqual({ "x-tenant": "acme" });
  });
});
