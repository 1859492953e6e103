import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { indexedBody, isDeniedOperation } from "../../src/audit/event-data.js";

// The index thread reads only an operation's verdict (the last member in canonical order); it must count a
// denial exactly when parsing the whole body would, whatever the statements and other members hold.
const verdict = (decision: string) => ({ decision, reason: "r", rules: ["p"] });
const bodies: Record<string, unknown>[] = [
  { mode: "simple", operationId: "o", statements: [{ text: "SELECT 1" }], verdict: verdict("deny") },
  { mode: "simple", operationId: "o", statements: [{ text: "SELECT 1" }], verdict: verdict("allow") },
  // A statement text that spells a denied verdict at the very end of a string.
  { statements: [{ text: ',"verdict":{"decision":"deny"}}' }], verdict: verdict("allow") },
  { statements: [{ text: ',"verdict":{"decision":"allow"}}' }], verdict: verdict("deny") },
  // A member sorting after "verdict" whose value nests a verdict of its own.
  { verdict: verdict("allow"), zeta: { verdict: verdict("deny") } },
  { verdict: verdict("deny"), zeta: { verdict: verdict("allow") } },
  { verdict: verdict("allow"), zeta: ',"verdict":{"decision":"deny"}' },
  // A folded result whose protocol details carry a verdict-like member.
  { priorResult: { verdict: verdict("deny") }, verdict: verdict("allow") },
  { verdict: { approval: { group: "dba", quorum: 1 }, ...verdict("deny") } },
  { verdict: null },
  { verdict: "deny" },
  { mode: "simple" },
];

describe("indexedBody", () => {
  it.each(bodies.map((body) => [canonicalJson(body)]))(
    "counts a denial as the whole body does: %s",
    (json) => {
      const whole = JSON.parse(json) as Record<string, unknown>;
      expect(isDeniedOperation(indexedBody("operation", json)!)).toBe(isDeniedOperation(whole));
    },
  );

  it("parses session starts and ends whole, and leaves other kinds unread", () => {
    expect(indexedBody("session_end", '{"reason":"closed"}')).toEqual({ reason: "closed" });
    expect(indexedBody("operation_result", "not even JSON")).toBeUndefined();
  });
});
