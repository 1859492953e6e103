import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonByWalk } from "../../src/audit/canonical-json.js";
import type { Operation } from "../../src/operation/operation.js";
import { resultRecord } from "../../src/pipeline/operation-record.js";

const operation = { id: "op-1" } as Operation;

/** The body as it was built before its keys were merged in order: ours, then the details spread over them. */
function spreadRecord(result: Parameters<typeof resultRecord>[1]): Record<string, unknown> {
  const own: Record<string, unknown> = {
    commandTags: result.commandTags,
    durationMs: Math.round(result.durationMs * 1000) / 1000,
  };
  if (result.error !== undefined) own.error = result.error;
  own.operationId = operation.id;
  own.rows = result.rows;
  return result.details === undefined ? own : { ...own, ...result.details };
}

describe("operation_result record", () => {
  const cases: Parameters<typeof resultRecord>[1][] = [
    { durationMs: 1.23456, rows: 3, commandTags: ["SELECT 3"] },
    // MCP proxy details, in the order the proxy writes them.
    {
      durationMs: 2,
      rows: 0,
      commandTags: [],
      details: {
        tool: "search",
        argumentsHash: "abc",
        isError: false,
        resultBytes: 10,
        resultBlocks: 1,
        withheldBlocks: 0,
        resultPreview: "hi",
      },
    },
    // A refused held operation (approval-stage.ts).
    {
      durationMs: 0,
      rows: 0,
      commandTags: [],
      error: { code: "approval_denied", message: "denied" },
      details: { requestId: "r-1", approval: "denied" },
    },
    // Details that sort before, between and after ours, one named like ours (it wins), one undefined.
    {
      durationMs: 5,
      rows: 1,
      commandTags: ["200"],
      error: { code: "internal", message: "x" },
      details: { zeta: 1, rows: 9, alpha: "a", error: undefined, durationX: true, "": "empty" },
    },
    { durationMs: 5, rows: 1, commandTags: [], details: {} },
    // Details already in sorted order (the HTTP front's status, request and response facts): no sort needed.
    { durationMs: 1, rows: 0, commandTags: ["200"], details: { alpha: 1, rows: 2, status: 200, zeta: 3 } },
  ];

  it("inserts its keys in sorted order, details merged where they sort", () => {
    for (const result of cases) {
      const record = resultRecord(operation, result);
      expect(Object.keys(record)).toEqual([...Object.keys(record)].sort());
      expect(JSON.stringify(record)).toBe(canonicalJsonByWalk(record));
    }
  });

  it("records the same bytes as the body built by spreading the details over ours", () => {
    for (const result of cases)
      expect(canonicalJson(resultRecord(operation, result))).toBe(canonicalJsonByWalk(spreadRecord(result)));
  });
});
