import { describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../../src/approvals/approval-types.js";
import { jsonPayload, slackPayload } from "../../src/approvals/notification-payloads.js";
import { previewLines } from "../../src/approvals/preview-text.js";
import type { StatementPreview } from "../../src/operation/statement-preview.js";

/** The preview as approvers read it: `latch requests show`, the webhook JSON and the Slack message. */

const ran: StatementPreview = {
  status: "ran",
  rows: 12,
  tagRows: 12,
  commandTag: "UPDATE 12",
  tables: [
    { table: "public.orders", inserted: 0, updated: 12, deleted: 0 },
    { table: "public.order_lines", inserted: 0, updated: 0, deleted: 30 },
  ],
  plan: "Update on orders\n  ->  Seq Scan on orders\n        Filter: (id < 13)",
  sample: {
    columns: ["id", "card"],
    rows: [
      ["1", "************4242"],
      ["2", null],
    ],
    truncated: true,
  },
  durationMs: 7,
  at: 0,
};

function request(preview: StatementPreview): ApprovalRequest {
  return {
    id: "req_1",
    mode: "hold",
    state: "pending",
    binding: "b",
    sessionId: "s",
    operationId: "o",
    connection: "prod",
    requester: "ci-bot",
    requesterIssuer: "i",
    requesterGroups: ["agents"],
    statements: ["UPDATE orders SET status = 'x' WHERE id < 13"],
    parameters: null,
    accesses: ["sql:update Table:public.orders"],
    group: "dba",
    quorum: 1,
    rules: ["r"],
    reason: "needs a dba",
    requestedForMs: null,
    createdAt: 0,
    expiresAt: 60_000,
    decidedAt: null,
    decisionReason: null,
    consumedAt: null,
    grantId: null,
    votes: [],
    preview,
  };
}

describe("preview text and notifications", () => {
  it("says rows per table, the plan and the masked sample", () => {
    expect(previewLines(ran, { planLines: 2 })).toEqual([
      "preview: 12 rows changed (UPDATE 12), rolled back, 7 ms",
      "  public.orders: 12 updated",
      "  public.order_lines: 30 deleted",
      "plan:",
      "  Update on orders",
      "    ->  Seq Scan on orders",
      "  … 1 more plan lines",
      "sample (masked, first rows only):",
      "  id | card",
      "  1 | ************4242",
      "  2 | NULL",
    ]);
  });

  it("says why there is no preview, and that the approval works without it", () => {
    expect(previewLines({ status: "refused", reason: "it calls nextval()", at: 0 })).toEqual([
      "not previewed: it calls nextval() (the approval works without it)",
    ]);
  });

  it("carries the preview in the webhook JSON and the Slack message", () => {
    const update = { type: "request" as const, request: request(ran) };
    expect(JSON.parse(jsonPayload(update, "d", 1)).request.preview).toEqual(ran);
    const slack = JSON.stringify(JSON.parse(slackPayload(update, "https://console.test")));
    expect(slack).toContain("preview: 12 rows changed (UPDATE 12)");
    expect(slack).toContain("public.order_lines: 30 deleted");
  });
});

describe("the delegation chain in notifications", () => {
  const delegated: ApprovalRequest = {
    ...request(ran),
    requester: "alice",
    actors: [{ subject: "agent-<7>" }, { subject: "orchestrator", issuer: "https://idp.test" }],
  };

  it("carries actors (current actor first) in the webhook JSON, and leaves the key out without a chain", () => {
    const json = JSON.parse(jsonPayload({ type: "request", request: delegated }, "d", 1));
    expect(json.request.actors).toEqual([
      { subject: "agent-<7>" },
      { subject: "orchestrator", issuer: "https://idp.test" },
    ]);
    const plain = JSON.parse(jsonPayload({ type: "request", request: request(ran) }, "d", 1));
    expect(plain.request).not.toHaveProperty("actors");
  });

  it("says in the Slack message who acts for the requester, through whom (escaped)", () => {
    const slack = JSON.stringify(JSON.parse(slackPayload({ type: "request", request: delegated })));
    expect(slack).toContain(
      "*agent-&lt;7&gt;* acting for *alice*, delegated through *orchestrator* (https://idp.test)",
    );
    const plain = JSON.stringify(JSON.parse(slackPayload({ type: "request", request: request(ran) })));
    expect(plain).not.toContain("acting for");
  });
});
