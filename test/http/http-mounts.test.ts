import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { pino } from "pino";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import type { HttpMount } from "../../src/protocols/http-mount.js";
import { startGateway } from "../../src/server/start-gateway.js";
import { HTTP_TEST_POLICY, type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// What other protocols mount on the HTTP listener (the MCP endpoint) is routed before connections, on the path
// Latch normalised; connection names that would collide are refused by the schema.
let h: HttpTestGateway;
const seen: string[] = [];
const mount: HttpMount = {
  paths: ["/mcp", "/.well-known/oauth-protected-resource"],
  handle(req, res) {
    seen.push(req.url ?? "");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("mounted");
  },
  close: async () => undefined,
};

beforeAll(async () => {
  h = await startHttpTestGateway({ policy: HTTP_TEST_POLICY });
});
afterAll(async () => {
  await h?.stop();
});

describe("HTTP mounts", () => {
  it("reserves mcp and dot names as connection names", () => {
    const parse = (name: string) =>
      configSchema.safeParse({ connections: { [name]: { type: "http", upstream: "http://127.0.0.1:1" } } })
        .success;
    expect(parse("mcp")).toBe(false);
    expect(parse(".well-known")).toBe(false);
    expect(parse("billing")).toBe(true);
  });

  it("a gateway with mounts and no http connection still opens the listener, routing normalised mount paths first", async () => {
    const config = configSchema.parse({
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      data_dir: `${h.gw.dataDir}/mounts`,
      identity: { dev_issuer: true },
      policies: `${h.gw.dataDir}/policies`,
      log_level: "silent",
    });
    const module = await import("../../src/server/protocol-modules.js");
    const withMount = module.PROTOCOL_MODULES.find((m) => m.name === "http")!;
    const original = withMount.httpMount;
    // A stand-in for the MCP module (built elsewhere): the first protocol that mounts something.
    (withMount as { httpMount?: unknown }).httpMount = async () => mount;
    try {
      const gateway = await startGateway(
        { config, file: undefined, baseDir: h.gw.dataDir },
        { log: pino({ level: "silent" }) },
      );
      try {
        const port = gateway.listeners.get("http")?.port;
        expect(port).toBeDefined();
        const agent = new Agent({ connect: { ca: readFileSync(`${h.gw.dataDir}/mounts/tls/gateway.crt`) } });
        for (const path of ["/mcp", "//mcp/./x", "/.well-known/oauth-protected-resource"]) {
          const answer = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: agent });
          expect(await answer.body.text()).toBe("mounted");
        }
        // Over HTTP/2 too: the mount gets Node's compatibility objects and the normalised path.
        const h2 = http2.connect(`https://127.0.0.1:${port}`, {
          ca: readFileSync(`${h.gw.dataDir}/mounts/tls/gateway.crt`),
          servername: "localhost",
        });
        const overH2 = await new Promise<string>((resolve, reject) => {
          const stream = h2.request({ ":path": "//mcp/./h2" });
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("end", () => resolve(Buffer.concat(chunks).toString()));
          stream.on("error", reject);
        });
        h2.close();
        expect(overH2).toBe("mounted");
        expect(seen).toEqual(["/mcp", "/mcp/x", "/.well-known/oauth-protected-resource", "/mcp/h2"]);
        const other = await request(`https://127.0.0.1:${port}/mcpx/y`, { dispatcher: agent });
        expect(other.statusCode).toBe(401); // not a mount: a connection name, and no token
        await other.body.text();
        await agent.close();
      } finally {
        await gateway.stop();
      }
    } finally {
      (withMount as { httpMount?: unknown }).httpMount = original;
    }
  });
});
