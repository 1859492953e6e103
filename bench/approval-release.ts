import pg from "pg";
import type { RunningLatch } from "./start-latch.js";

/** Reads the write and the notice; the write itself needs an approval from group bench-approvers. */
export const APPROVAL_POLICY = `permit(principal in Group::"bench", action in Action::"sql:read", resource in Connection::"bench");
@approval("bench-approvers")
permit(principal in Group::"bench", action in Action::"sql:write", resource == Table::"bench/public.pgbench_branches");
`;

export interface ApprovalRelease {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const REQUEST_ID = /request (req_[A-Za-z0-9_-]+)/;

/**
 * The delay an approver sees across replicas: a statement is held on replica `heldOn`, the approver approves
 * through replica `approvedOn`'s API, and the delay runs from that API call returning to the statement's result
 * reaching the client on the other replica (LISTEN/NOTIFY, the request re-read, the held batch forwarded).
 */
export async function measureApprovalRelease(
  heldOn: RunningLatch,
  approvedOn: RunningLatch,
  count: number,
): Promise<ApprovalRelease> {
  const agent = await heldOn.mint("bench-agent", "bench");
  const approver = await approvedOn.mint("bench-approver", "bench-approvers");
  const client = new pg.Client({
    host: "127.0.0.1",
    port: heldOn.port,
    user: "bench-agent",
    database: "bench",
    password: agent,
    ssl: false,
  });
  client.on("error", () => undefined);
  await client.connect();
  const delays: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const held = new Promise<string>((resolve) => {
        const onNotice = (notice: { message?: string }) => {
          const match = REQUEST_ID.exec(notice.message ?? "");
          if (match === null) return;
          client.off("notice", onNotice);
          resolve(match[1]!);
        };
        client.on("notice", onNotice);
      });
      const result = client.query("UPDATE pgbench_branches SET bbalance = bbalance WHERE bid = 1");
      const requestId = await held;
      const response = await fetch(
        `http://127.0.0.1:${approvedOn.adminPort}/api/requests/${requestId}/approve`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${approver}`, "content-type": "application/json" },
          body: JSON.stringify({ reason: "bench" }),
        },
      );
      const approvedAt = performance.now();
      if (!response.ok) throw new Error(`approve answered ${response.status}: ${await response.text()}`);
      await result;
      delays.push(performance.now() - approvedAt);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  delays.sort((x, y) => x - y);
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!;
  return { count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: delays[delays.length - 1]! };
}
