import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { canCarryResult, expandEvents, expandFolded, foldResult } from "../../src/audit/folded-result.js";

const result = { commandTags: ["SELECT 1"], durationMs: 0.5, operationId: "op-1", rows: 1 };
const operationBody = {
  mode: "simple",
  operationId: "op-2",
  policyInput: { v: 1 },
  statements: [{ text: "SELECT 1", verb: "sql:select" }],
  verdict: { decision: "allow", reason: "ok", rules: [] },
};
const carrier = {
  seq: 7,
  ts: "2026-12-01T00:00:00.000Z",
  kind: "operation",
  sessionId: "s1",
  data: operationBody,
};

describe("folded results", () => {
  it("folds the result where its key sorts, so a sorted body stays sorted and encodes the same as any order", () => {
    const folded = foldResult(operationBody, result);
    expect(Object.keys(folded)).toEqual([
      "mode",
      "operationId",
      "policyInput",
      "priorResult",
      "statements",
      "verdict",
    ]);
    expect(JSON.stringify(folded)).toBe(canonicalJson(folded));
    expect(Object.keys(foldResult({ approval: {}, mode: "x" }, result))).toEqual([
      "approval",
      "mode",
      "priorResult",
    ]);
  });

  it("folds every layout the same way, the record builder's own two included (built as literals)", () => {
    const { policyInput, statements, verdict } = operationBody;
    const layouts: Record<string, unknown>[] = [
      operationBody,
      { mode: "extended", operationId: "op-3", parameters: [["1"]], policyInput, statements, verdict },
      { mode: "extended", operationId: "op-4", parameters: undefined, policyInput, statements, verdict },
      { mode: "simple", operationId: "op-5", statements, verdict },
      { mode: "simple", operationId: "op-6", parameters: [], statements, verdict },
      { mode: "simple", operationId: "op-7", policyInput, statements, verdict, zeta: 1 },
      { operationId: "op-8", mode: "simple", policyInput, statements, verdict },
      { mode: "simple", operationId: "op-9", policyInput, verdict, statements },
    ];
    for (const body of layouts) {
      const folded = foldResult(body, result);
      const keys = Object.keys(body);
      const at = keys.findIndex((key) => key > "priorResult");
      const expected =
        at === -1 ? [...keys, "priorResult"] : [...keys.slice(0, at), "priorResult", ...keys.slice(at)];
      expect(Object.keys(folded)).toEqual(expected);
      for (const key of keys) expect(folded[key]).toBe(body[key]);
      expect(folded.priorResult).toBe(result);
    }
  });

  it("expands a carrier into the result, then the operation without it, both with the carrier's seq and time", () => {
    const [first, second, ...rest] = expandFolded({ ...carrier, data: foldResult(operationBody, result) });
    expect(rest).toEqual([]);
    expect(first).toEqual({ ...carrier, kind: "operation_result", data: result });
    expect(second).toEqual(carrier);
  });

  it("leaves every other event alone, and expanding twice changes nothing", () => {
    const plain = [
      { kind: "session_start", data: { priorResult: { rows: 1 } } },
      carrier,
      { kind: "operation", data: { ...operationBody, priorResult: "not an object" } },
      { kind: "operation_result", data: result },
    ];
    expect(expandEvents(plain)).toEqual(plain);
    const once = expandEvents([{ ...carrier, data: foldResult(operationBody, result) }, carrier]);
    expect(once.map((event) => event.kind)).toEqual(["operation_result", "operation", "operation"]);
    expect(expandEvents(once)).toEqual(once);
  });

  it("carries one result at most, and only in an operation", () => {
    expect(canCarryResult(carrier)).toBe(true);
    expect(canCarryResult({ kind: "session_end", data: {} })).toBe(false);
    expect(canCarryResult({ kind: "operation", data: foldResult(operationBody, result) })).toBe(false);
  });
});
