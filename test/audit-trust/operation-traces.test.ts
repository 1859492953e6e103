import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { startTestGateway } from "../support/test-gateway.js";

interface OtlpSpan {
  name: string;
  traceId: string;
  attributes: { key: string; value: { stringValue?: string } }[];
}

describe("OpenTelemetry traces", () => {
  it("sends a span per stage of each operation, with session and operation ids, to an OTLP/HTTP receiver", async () => {
    const bodies: string[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        if (request.url === "/v1/traces") bodies.push(body);
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as { port: number }).port;
    const gw = await startTestGateway(undefined, {
      overrides: {
        connections: { app: { type: "postgres", upstream: "postgres://postgres@127.0.0.1:5432/postgres" } },
        observability: { otlp_traces: `http://127.0.0.1:${port}/v1/traces` },
      },
    });
    try {
      const client = await gw.connect(await gw.token("agent-1", ["agents"]));
      await client.query("SELECT 1");
      await client.end();
    } finally {
      await gw.stop(); // flushes the spans still queued
      receiver.close();
    }
    const spans = bodies.flatMap((body) =>
      (
        JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }
      ).resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)),
    );
    const attr = (span: OtlpSpan, key: string) =>
      span.attributes.find((a) => a.key === key)?.value.stringValue;
    const identify = spans.find((span) => span.name === "identify");
    expect(identify).toBeDefined();
    const sessionId = attr(identify!, "latch.session.id");
    expect(sessionId).toBeTruthy();
    const root = spans.find(
      (span) => span.name === "latch.operation" && attr(span, "latch.session.id") === sessionId,
    );
    expect(root).toBeDefined();
    const operationId = attr(root!, "latch.operation.id");
    expect(operationId).toBeTruthy();
    const stages = spans
      .filter((span) => span.traceId === root!.traceId && span.name !== "latch.operation")
      .map((span) => span.name)
      .sort();
    expect(stages).toEqual(["approve", "authorize", "forward"]);
    expect(
      spans
        .filter((span) => span.traceId === root!.traceId)
        .every((span) => attr(span, "latch.operation.id") === operationId),
    ).toBe(true);
  }, 60_000);
});
