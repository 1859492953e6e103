import net from "node:net";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

let fx: GatewayFixture;
let token: string;
let deadPort: number;

beforeAll(async () => {
  deadPort = await freePort();
  fx = await startGatewayFixture({
    overrides: { limits: { max_message_bytes: 65536, startup_timeout: "2s" } },
  });
  token = await fx.gw.token("ci-bot", ["agents"]);
});
afterAll(async () => fx?.stop());

/** Sends bytes on a raw socket and collects whatever comes back until the gateway closes or 1.5 s pass. */
function exchange(port: number, chunks: readonly Buffer[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        await new Promise((r) => setImmediate(r));
      }
    });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(received));
    };
    const timer = setTimeout(done, 1500);
    socket.on("data", (data) => received.push(data));
    socket.on("close", done);
    socket.on("error", done);
  });
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value | 0);
  return b;
}

async function stillServes(): Promise<void> {
  const client = await fx.gw.connect(token);
  const result = await client.query("SELECT count(*)::int AS n FROM items");
  expect(result.rows[0].n).toBe(20);
  await client.end();
}

describe("hostile and broken input", () => {
  it("closes a connection announcing an oversized startup packet, and keeps serving", async () => {
    const reply = await exchange(fx.gw.port, [Buffer.concat([int32(1 << 30), int32(196608)])]);
    expect(reply.toString("latin1")).toMatch(/08P01|exceeds|length/);
    await stillServes();
  });

  it("refuses bytes sent between SSLRequest and the TLS handshake (injection)", async () => {
    const ssl = Buffer.concat([int32(8), int32(80877103)]);
    const injected = Buffer.concat([int32(9), int32(196608), Buffer.from([0])]);
    const reply = await exchange(fx.gw.port, [Buffer.concat([ssl, injected])]);
    expect(reply[0]).not.toBe(0x53); // never answered 'S': the TLS handshake does not start
    expect(reply.toString("latin1")).toMatch(/before the TLS handshake/);
    await stillServes();
  });

  it("rejects a second StartupMessage or a query sent in place of the password", async () => {
    const { startTestGateway } = await import("../support/test-gateway.js");
    const plain = await startTestGateway(fx.cluster, { overrides: { tls: { allow_plaintext: true } } });
    try {
      const params = Buffer.from("user\0agent\0database\0app\0\0");
      const startup = Buffer.concat([int32(8 + params.length), int32(196608), params]);
      const twice = await exchange(plain.port, [startup, startup]);
      expect(twice[0]).toBe(0x52); // AuthenticationCleartextPassword first
      expect(twice.toString("latin1")).toMatch(/expected a password message/);
      const query = Buffer.concat([Buffer.from("Q"), int32(13), Buffer.from("SELECT 1\0")]);
      const early = await exchange(plain.port, [startup, query]);
      expect(early.toString("latin1")).toMatch(/expected a password message/);
      expect(early.includes(Buffer.from("Z\0\0\0\x05"))).toBe(false); // never ReadyForQuery
      // A client may pipeline its first query right behind the password: that is not a violation.
      const password = Buffer.from(`${await plain.token("ci-bot", ["agents"])}\0`);
      const pipelined = await exchange(plain.port, [
        startup,
        Buffer.concat([Buffer.from("p"), int32(4 + password.length), password, query]),
      ]);
      expect(pipelined.includes(Buffer.from("SELECT 1\0"))).toBe(true); // its CommandComplete tag
    } finally {
      await plain.stop();
    }
  });

  it("refuses GSSENC with N and still accepts a normal client afterwards", async () => {
    const reply = await exchange(fx.gw.port, [Buffer.concat([int32(8), int32(80877104)])]);
    expect(reply.subarray(0, 1).toString()).toBe("N");
  });

  it("survives random garbage, truncated and mutated frames from many connections", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        async (chunks) => {
          await exchange(
            fx.gw.port,
            chunks.map((c) => Buffer.from(c)),
          );
        },
      ),
      { numRuns: 40 },
    );
    await stillServes();
  });

  it("closes an authenticated session that sends an unknown message type, others unaffected", async () => {
    const victim = await fx.gw.connect(token);
    const bystander = await fx.gw.connect(token);
    const stream = (victim as unknown as { connection: { stream: net.Socket } }).connection.stream;
    const closed = new Promise((resolve) => victim.once("error", resolve).once("end", resolve));
    stream.write(Buffer.concat([Buffer.from("Z"), int32(4)]));
    await closed;
    expect((await bystander.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    await bystander.end();
  });

  it("closes a session whose message exceeds the size limit", async () => {
    const client = await fx.gw.connect(token);
    client.on("error", () => {});
    const error = await client.query(`SELECT '${"x".repeat(70_000)}'`).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeDefined();
    await stillServes();
  });

  it("refuses FunctionCall in-protocol and keeps the session", async () => {
    const client = await fx.gw.connect(token);
    const stream = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
    const chunks: Buffer[] = [];
    stream.on("data", (d: Buffer) => chunks.push(d));
    // FunctionCall: oid 1 (whatever), 0 arg formats, 0 args, result format 0
    const body = Buffer.concat([int32(1), Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0])]);
    stream.write(Buffer.concat([Buffer.from("F"), int32(body.length + 4), body]));
    await new Promise((r) => setTimeout(r, 300));
    expect(Buffer.concat(chunks).toString("latin1")).toMatch(/FunctionCall/);
  });
});

describe("upstream failures", () => {
  it("ends the session with a clear FATAL error when the upstream backend goes away, and keeps serving", async () => {
    const client = await fx.gw.connect(token);
    const ended = new Promise<Error>((resolve) => client.once("error", resolve));
    await client.query("SELECT 1");
    // What an upstream restart looks like to a session: its backend is gone.
    await fx.direct(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
      [fx.cluster.appUser],
    );
    const error = await ended;
    expect(error.message).toMatch(/terminating connection|upstream server closed the connection/);
    await stillServes();
    await fx.gw.gateway.flushAudit();
    const ends = await fx.gw.gateway.audit.events({ kind: "session_end", limit: 1000 });
    expect(
      ends.some((e) => /upstream closed the connection/.test(String((e.data as { reason: string }).reason))),
    ).toBe(true);
  });

  it("answers 08006 with a clear message when the upstream is down", async () => {
    const { startTestGateway } = await import("../support/test-gateway.js");
    const down = await startTestGateway(fx.cluster, {
      policy: `permit(principal, action, resource);`,
      overrides: {
        connections: {
          app: {
            type: "postgres",
            upstream: `postgres://app_user@127.0.0.1:${deadPort}/app`,
            password: { env: "NOPE_UNSET_OK" },
          },
        },
      },
    });
    process.env.NOPE_UNSET_OK = "x";
    try {
      const client = new pg.Client(down.clientConfig(await down.token("ci-bot", ["agents"])));
      const error = (await client.connect().then(
        () => undefined,
        (e: pg.DatabaseError) => e,
      )) as pg.DatabaseError;
      expect(error.code).toBe("08006");
      expect(error.message).toMatch(/upstream for connection "app" is unreachable/);
    } finally {
      await down.stop();
    }
  });
});
