import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createWebhookNotifier } from "../../src/approvals/webhook-notifier.js";
import { verifyWebhookSignature } from "../../src/approvals/webhook-signature.js";
import { ApprovalHarness, alice, approvalVerdict, nextRequest, operation } from "./approval-fixtures.js";

const SECRET = "s3cret-for-tests";

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  signatureOk: boolean;
  at: number;
}

/** A real receiver on 127.0.0.1 that checks the HMAC and fails the first `failures` deliveries with 503. */
async function receiver(failures: number): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  let refused = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signature = request.headers["x-latch-signature"];
      const signatureOk = verifyWebhookSignature(
        SECRET,
        body,
        typeof signature === "string" ? signature : undefined,
      );
      received.push({ headers: request.headers, body, signatureOk, at: Date.now() });
      if (refused < failures) {
        refused += 1;
        response.writeHead(503).end();
        return;
      }
      response.writeHead(signatureOk ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook/token-in-path`, received, server };
}

let harness: ApprovalHarness;
let servers: Server[] = [];
beforeEach(() => {
  harness = new ApprovalHarness();
});
afterEach(async () => {
  await harness.close();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  servers = [];
});

describe("webhook notifications", () => {
  it("signs each delivery, retries with backoff after failures, and never blocks the caller", async () => {
    const target = await receiver(2);
    servers.push(target.server);
    const notifier = createWebhookNotifier({
      targets: [{ url: target.url, secret: SECRET, format: "json" }],
      consoleUrl: "https://latch.example/",
      baseDelayMs: 40,
    });
    const service = await harness.service();
    service.subscribe((update) => notifier.notify(update));
    const created = nextRequest(service);

    void service.requestApproval({
      operation: operation(),
      verdict: approvalVerdict(),
      mode: "hold",
      timeoutMs: 5_000,
      signal: new AbortController().signal,
    });
    // Deliveries are asynchronous: the caller got control back before the receiver saw anything.
    expect(target.received).toHaveLength(0);
    const id = await created;
    await notifier.idle();

    expect(target.received).toHaveLength(3);
    expect(target.received.every((delivery) => delivery.signatureOk)).toBe(true);
    const gaps = [
      target.received[1]!.at - target.received[0]!.at,
      target.received[2]!.at - target.received[1]!.at,
    ];
    expect(gaps[0]).toBeGreaterThanOrEqual(30);
    expect(gaps[1]).toBeGreaterThanOrEqual(60); // doubled
    const body = JSON.parse(target.received[2]!.body);
    expect(body).toMatchObject({
      event: "request.pending",
      request: {
        id,
        requester: "agent-1",
        group: "dba",
        statements: ["UPDATE orders SET total = 10 WHERE id = 1"],
      },
    });
    expect(body.links.approve).toBe(`https://latch.example/console/requests/${id}/approve`);
    // The replay guard is inside the signed body and matches the header.
    expect(String(body.timestamp)).toBe(target.received[2]!.headers["x-latch-timestamp"]);
    expect(body.deliveryId).toBe(target.received[2]!.headers["x-latch-delivery"]);
    expect(new Set(target.received.map((delivery) => delivery.headers["x-latch-delivery"])).size).toBe(1);

    await service.approve(id, alice, {});
    await notifier.idle();
    expect(JSON.parse(target.received.at(-1)!.body).event).toBe("request.approved");
    notifier.close();
  });

  it("a tampered body fails verification", () => {
    expect(verifyWebhookSignature(SECRET, '{"a":1}', "sha256=00")).toBe(false);
    expect(verifyWebhookSignature(SECRET, '{"a":1}', undefined)).toBe(false);
  });

  it("gives up after maxAttempts and sends Slack's incoming-webhook format with approve/deny buttons", async () => {
    const failing = await receiver(100);
    const slack = await receiver(0);
    servers.push(failing.server, slack.server);
    const notifier = createWebhookNotifier({
      targets: [
        { url: failing.url, secret: SECRET, format: "json" },
        { url: slack.url, secret: SECRET, format: "slack" },
      ],
      consoleUrl: "https://latch.example",
      baseDelayMs: 5,
      maxAttempts: 3,
    });
    const service = await harness.service();
    service.subscribe((update) => notifier.notify(update));
    const created = nextRequest(service);
    void service.requestApproval({
      operation: operation(),
      verdict: approvalVerdict("dba", 2),
      mode: "hold",
      timeoutMs: 5_000,
      signal: new AbortController().signal,
    });
    const id = await created;
    await notifier.idle();
    expect(failing.received).toHaveLength(3);
    const message = JSON.parse(slack.received[0]!.body);
    expect(message.text).toContain(id);
    const actions = message.blocks.find((block: { type: string }) => block.type === "actions");
    expect(actions.elements.map((button: { url: string }) => button.url)).toEqual([
      `https://latch.example/console/requests/${id}/approve`,
      `https://latch.example/console/requests/${id}/deny`,
    ]);
    expect(JSON.stringify(message.blocks)).toContain("2 members");
    notifier.close();
  });
});
