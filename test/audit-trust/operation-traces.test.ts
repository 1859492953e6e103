import { createServer } from "node:http";
import mysql from "mysql2/promise";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { startUpstreamMcpServer } from "../protocols/mcp/proxy/upstream-mcp-server.js";
import { startEchoUpstream } from "../support/echo-upstream.js";
import { serveMcpEndpoint } from "../support/mcp-endpoint.js";
import { startTestGateway } from "../support/test-gateway.js";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
}

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  status?: { code?: number; message?: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
}

const UPSTREAM = "postgres://postgres@127.0.0.1:5432/postgres";

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

/**
 * Runs `work` against a gateway with one connection "app" (PostgreSQL, or the machine's MariaDB) with the
 * `masking` profiles on it, that sends its traces to a real OTLP/HTTP receiver on a local port, and returns
 * every span the receiver got.
 */
async function traced(
  masking: readonly string[],
  work: (gw: Gateway) => Promise<void>,
  protocol: "postgres" | "mysql" = "postgres",
  /** More connections (HTTP, MCP), with the HTTP listener on and a policy letting agents do anything. */
  more?: Record<string, unknown>,
): Promise<OtlpSpan[]> {
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
  const app =
    protocol === "postgres"
      ? { type: "postgres", upstream: UPSTREAM, masking: [...masking] }
      : { type: "mysql", upstream: "mysql://root@127.0.0.1:3306/mysql", masking: [...masking] };
  const gw = await startTestGateway(undefined, {
    ...(protocol === "mysql"
      ? { policy: 'permit(principal in Group::"agents", action, resource == Connection::"app");\n' }
      : more !== undefined
        ? { policy: 'permit(principal in Group::"agents", action, resource);\n' }
        : {}),
    overrides: {
      ...(protocol === "mysql"
        ? { listen: { mysql: "127.0.0.1:0", admin: "127.0.0.1:0" }, tls: { allow_plaintext: true } }
        : more !== undefined
          ? { listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0", http: "127.0.0.1:0" } }
          : {}),
      masking: { pii: { detectors: ["us_ssn", "email", "credit_card"] } },
      connections: { app, ...more },
      observability: { otlp_traces: `http://127.0.0.1:${port}/v1/traces` },
    },
  });
  try {
    await work(gw);
  } finally {
    await gw.stop(); // flushes the spans still queued
    receiver.close();
  }
  return bodies.flatMap((body) =>
    (JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap(
      (resource) => resource.scopeSpans.flatMap((scope) => scope.spans),
    ),
  );
}

const attr = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;
const text = (span: OtlpSpan, key: string) => attr(span, key)?.stringValue;
const count = (span: OtlpSpan, key: string) => Number(attr(span, key)?.intValue);

describe("OpenTelemetry traces", () => {
  it("sends a span per stage of each operation, with session and operation ids, to an OTLP/HTTP receiver", async () => {
    const spans = await traced([], async (gw) => {
      const client = await gw.connect(await gw.token("agent-1", ["agents"]));
      await client.query("SELECT '123-45-6789' AS ssn");
      await client.end();
    });
    const identify = spans.find((span) => span.name === "identify");
    expect(identify).toBeDefined();
    const sessionId = text(identify!, "latch.session.id");
    expect(sessionId).toBeTruthy();
    const root = spans.find(
      (span) => span.name === "latch.operation" && text(span, "latch.session.id") === sessionId,
    );
    expect(root).toBeDefined();
    const operationId = text(root!, "latch.operation.id");
    expect(operationId).toBeTruthy();
    const stages = spans
      .filter((span) => span.traceId === root!.traceId && span.name !== "latch.operation")
      .map((span) => span.name)
      .sort();
    // The connection masks nothing: no `mask` span, even for a value a detector would have found.
    expect(stages).toEqual(["approve", "authorize", "forward"]);
    expect(spans.some((span) => span.name === "mask")).toBe(false);
    expect(
      spans
        .filter((span) => span.traceId === root!.traceId)
        .every((span) => text(span, "latch.operation.id") === operationId),
    ).toBe(true);
  }, 60_000);

  it("sends one `mask` span per masked result, under its operation, with counts and never a value", async () => {
    const masked: unknown[] = [];
    const spans = await traced(["pii"], async (gw) => {
      const client = await gw.connect(await gw.token("agent-1", ["agents"]));
      const result = await client.query(
        "SELECT v, 'none' AS w FROM (VALUES ('123-45-6789'), ('plain'), ('mail ann@example.com'), ('x')) AS t(v)",
      );
      masked.push(...result.rows.map((row: { v: string }) => row.v));
      await client.query("SELECT 'nothing to mask' AS v"); // masked connection, clear result: no mask span
      // A card number in a binary bigint cannot be rewritten: the result is withheld.
      await expect(
        client.query({
          text: "SELECT 4111111111111111::bigint AS n",
          binary: true,
          queryMode: "extended",
        } as never),
      ).rejects.toThrow(/withheld/);
      await client.end();
    });
    expect(masked).toHaveLength(4);
    expect(masked.join(" ")).not.toContain("123-45-6789");
    expect(masked.join(" ")).not.toContain("ann@example.com");

    const maskSpans = spans.filter((span) => span.name === "mask");
    expect(maskSpans).toHaveLength(2);
    const mask = maskSpans.find((span) => attr(span, "latch.mask.withheld")?.boolValue === false)!;
    expect(mask).toBeDefined();
    const root = spans.find((span) => span.name === "latch.operation" && span.traceId === mask.traceId);
    expect(root).toBeDefined();
    expect(mask.parentSpanId).toBe(root!.spanId);
    expect(text(mask, "latch.operation.id")).toBe(text(root!, "latch.operation.id"));
    expect(text(mask, "latch.session.id")).toBe(text(root!, "latch.session.id"));
    expect(text(mask, "latch.session.id")).toBeTruthy();
    expect(text(mask, "latch.protocol")).toBe("postgres");
    expect(count(mask, "latch.mask.rows")).toBe(2);
    expect(count(mask, "latch.mask.values")).toBe(2);
    expect(count(mask, "latch.mask.detector_hits")).toBe(2);
    expect(attr(mask, "latch.mask.withheld")?.boolValue).toBe(false);
    expect(BigInt(mask.endTimeUnixNano) >= BigInt(mask.startTimeUnixNano)).toBe(true);
    expect(BigInt(mask.startTimeUnixNano) >= BigInt(root!.startTimeUnixNano)).toBe(true);
    const sent = JSON.stringify(spans);
    expect(sent).not.toContain("123-45-6789");
    expect(sent).not.toContain("ann@example.com");
    expect(sent).not.toContain("4111111111111111");

    // The withheld result: its own operation, a detector hit, nothing masked, an error status.
    const withheld = maskSpans.find((span) => attr(span, "latch.mask.withheld")?.boolValue === true)!;
    expect(withheld).toBeDefined();
    expect(withheld.traceId).not.toBe(mask.traceId);
    const withheldRoot = spans.find(
      (span) => span.name === "latch.operation" && span.traceId === withheld.traceId,
    );
    expect(withheld.parentSpanId).toBe(withheldRoot!.spanId);
    expect(count(withheld, "latch.mask.values")).toBe(0);
    expect(count(withheld, "latch.mask.detector_hits")).toBe(1);
    expect(withheld.status?.code).toBe(2); // ERROR
    expect(withheld.status?.message).toBe("masking_failed");

    // The clear SELECT on the same connection has its own operation and no mask span.
    const roots = spans.filter(
      (span) =>
        span.name === "latch.operation" && text(span, "latch.session.id") === text(mask, "latch.session.id"),
    );
    expect(roots).toHaveLength(3);
  }, 60_000);

  it("sends a `mask` span for a masked MySQL result too", async () => {
    const spans = await traced(
      ["pii"],
      async (gw) => {
        const client = await mysql.createConnection({
          host: "127.0.0.1",
          port: gw.gateway.listeners.get("mysql")?.port ?? 0,
          user: "agent-1",
          password: await gw.token("agent-1", ["agents"]),
          database: "app",
          enableCleartextPlugin: true,
        });
        try {
          const [rows] = await client.query("SELECT '123-45-6789' AS v UNION ALL SELECT 'plain'");
          expect(JSON.stringify(rows)).not.toContain("123-45-6789");
          await client.query("SELECT 'nothing to mask' AS v");
        } finally {
          await client.end();
        }
      },
      "mysql",
    );
    const maskSpans = spans.filter((span) => span.name === "mask");
    expect(maskSpans).toHaveLength(1);
    const mask = maskSpans[0]!;
    const root = spans.find((span) => span.name === "latch.operation" && span.traceId === mask.traceId);
    expect(mask.parentSpanId).toBe(root!.spanId);
    expect(text(mask, "latch.operation.id")).toBe(text(root!, "latch.operation.id"));
    expect(text(mask, "latch.protocol")).toBe("mysql");
    expect(count(mask, "latch.mask.rows")).toBe(1);
    expect(count(mask, "latch.mask.values")).toBe(1);
    expect(count(mask, "latch.mask.detector_hits")).toBe(1);
    expect(attr(mask, "latch.mask.withheld")?.boolValue).toBe(false);
    expect(JSON.stringify(spans)).not.toContain("123-45-6789");
  }, 60_000);

  it("sends `mask` spans for HTTP responses: a masked JSON body, a withheld body, none for a clear one", async () => {
    const upstream = await startEchoUpstream();
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    const answers: { status: number; text: string }[] = [];
    let spans: OtlpSpan[];
    try {
      spans = await traced(
        [],
        async (gw) => {
          const port = gw.gateway.listeners.get("http")?.port;
          const token = await gw.token("agent-1", ["agents"]);
          for (const path of ["/customers", "/big?bytes=1024", "/small"]) {
            const answer = await request(`https://127.0.0.1:${port}/web${path}`, {
              dispatcher: agent,
              headers: { authorization: `Bearer ${token}` },
            });
            answers.push({ status: answer.statusCode, text: await answer.body.text() });
          }
        },
        "postgres",
        {
          web: {
            type: "http",
            upstream: upstream.url,
            masking: ["pii"],
            mask_fields: ["/customers/*/name"],
          },
        },
      );
    } finally {
      await agent.close();
      await upstream.close();
    }
    expect(answers.map((answer) => answer.status)).toEqual([200, 502, 200]);
    expect(answers[0]!.text).not.toContain("123-45-6789");
    const roots = spans.filter(
      (span) => span.name === "latch.operation" && text(span, "latch.protocol") === "http",
    );
    expect(roots).toHaveLength(3);
    const maskSpans = spans.filter((span) => span.name === "mask");
    expect(maskSpans).toHaveLength(2);
    for (const mask of maskSpans) {
      const root = roots.find((span) => span.traceId === mask.traceId);
      expect(mask.parentSpanId).toBe(root!.spanId);
      expect(text(mask, "latch.operation.id")).toBe(text(root!, "latch.operation.id"));
      expect(text(mask, "latch.protocol")).toBe("http");
      expect(BigInt(mask.endTimeUnixNano) >= BigInt(mask.startTimeUnixNano)).toBe(true);
    }
    // The customers body is one row: two names by the field rule, two each of e-mail, SSN and card by detectors.
    const masked = maskSpans.find((span) => attr(span, "latch.mask.withheld")?.boolValue === false)!;
    expect(count(masked, "latch.mask.rows")).toBe(1);
    expect(count(masked, "latch.mask.values")).toBe(8);
    expect(count(masked, "latch.mask.detector_hits")).toBe(6);
    expect(masked.status?.code ?? 0).toBe(0);
    // An octet-stream cannot be masked: withheld, an ERROR span with nothing masked.
    const withheld = maskSpans.find((span) => attr(span, "latch.mask.withheld")?.boolValue === true)!;
    expect(withheld.traceId).not.toBe(masked.traceId);
    expect(count(withheld, "latch.mask.values")).toBe(0);
    expect(withheld.status?.code).toBe(2);
    expect(withheld.status?.message).toBe("masking_failed");
    const sent = JSON.stringify(spans);
    for (const clear of ["123-45-6789", "ada@example.com", "4111 1111 1111 1111"])
      expect(sent).not.toContain(clear);
  }, 60_000);

  it("sends `mask` spans for MCP: a masked proxied tool result and sql_query rows, none for a clear result", async () => {
    const upstream = await startUpstreamMcpServer();
    const results: { content: unknown[]; structuredContent?: unknown }[] = [];
    let spans: OtlpSpan[];
    try {
      spans = await traced(
        ["pii"],
        async (gw) => {
          const mcp = await serveMcpEndpoint(gw.gateway);
          try {
            const client = await mcp.connect(await gw.token("agent-1", ["agents"]));
            for (const [name, args] of [
              ["tools__lookup", { id: "7" }],
              ["tools__delete_everything", {}],
              ["sql_query", { connection: "app", sql: "SELECT '123-45-6789' AS v UNION ALL SELECT 'plain'" }],
              ["sql_query", { connection: "app", sql: "SELECT 'nothing to mask' AS v" }],
            ] as const)
              results.push((await client.callTool({ name, arguments: args })) as (typeof results)[number]);
          } finally {
            await mcp.close();
          }
        },
        "postgres",
        { tools: { type: "mcp", upstream: upstream.url, masking: ["pii"] } },
      );
    } finally {
      await upstream.close();
    }
    expect(JSON.stringify(results[0])).not.toContain("ada@example.com");
    expect(JSON.stringify(results[0])).toContain("plan");
    expect(JSON.stringify(results[2])).not.toContain("123-45-6789");
    const roots = spans.filter(
      (span) => span.name === "latch.operation" && text(span, "latch.protocol") === "mcp",
    );
    expect(roots).toHaveLength(4);
    const maskSpans = spans.filter((span) => span.name === "mask");
    expect(maskSpans).toHaveLength(2);
    for (const mask of maskSpans) {
      const root = roots.find((span) => span.traceId === mask.traceId);
      expect(mask.parentSpanId).toBe(root!.spanId);
      expect(text(mask, "latch.protocol")).toBe("mcp");
      expect(attr(mask, "latch.mask.withheld")?.boolValue).toBe(false);
    }
    // The tool result: its text block and its structured content, one e-mail address each.
    const tool = maskSpans.find((span) => count(span, "latch.mask.rows") === 2)!;
    expect(tool).toBeDefined();
    expect(count(tool, "latch.mask.values")).toBe(2);
    expect(count(tool, "latch.mask.detector_hits")).toBe(2);
    // sql_query: one of its two rows held an SSN.
    const sql = maskSpans.find((span) => span !== tool)!;
    expect(count(sql, "latch.mask.rows")).toBe(1);
    expect(count(sql, "latch.mask.values")).toBe(1);
    expect(count(sql, "latch.mask.detector_hits")).toBe(1);
    const sent = JSON.stringify(spans);
    expect(sent).not.toContain("ada@example.com");
    expect(sent).not.toContain("123-45-6789");
  }, 60_000);
});
