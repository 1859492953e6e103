import { describe, expect, it } from "vitest";
import type { UpstreamTarget } from "../../../src/protocols/postgres/upstream.js";
import {
  credentialFingerprint,
  type PooledUpstream,
  UpstreamPool,
  type UpstreamPoolSettings,
  upstreamPoolKey,
} from "../../../src/protocols/postgres/upstream-pool.js";
import { FakeClock } from "../../support/fake-clock.js";
import { MemorySocket, turns } from "../../support/memory-socket.js";

/** The pool's bookkeeping with a clock the test moves and in-memory sockets: nothing sleeps. */

const settings: UpstreamPoolSettings = { maxIdle: 2, idleTimeoutMs: 60_000, maxLifetimeMs: 3_600_000 };
const KEY = "k";
const CREDENTIAL = credentialFingerprint("secret");

function setup() {
  const clock = new FakeClock();
  const idle: [string, number][] = [];
  const pool = new UpstreamPool(clock, {
    idleChanged: (connection, count) => idle.push([connection, count]),
  });
  const backend = (bornAgoMs = 0): PooledUpstream & { socket: MemorySocket } => ({
    socket: new MemorySocket(),
    parameters: new Map([["server_version", "15"]]),
    backendKey: { processId: 1, secretKey: Buffer.alloc(4) },
    bornAt: clock.now() - bornAgoMs,
  });
  return { clock, pool, backend, idle };
}

/** Ended with Terminate ('X'), as closeUpstream ends a backend. */
function terminated(socket: MemorySocket): boolean {
  return socket.ended && socket.output().at(-5) === 0x58;
}

describe("UpstreamPool", () => {
  it("hands back the most recently released backend of the same key and credential", () => {
    const { pool, backend, idle } = setup();
    const older = backend();
    const newer = backend();
    expect(pool.release(KEY, "app", CREDENTIAL, older, settings)).toBe(true);
    expect(pool.release(KEY, "app", CREDENTIAL, newer, settings)).toBe(true);
    expect(pool.hasIdle(KEY)).toBe(true);
    expect(pool.hasIdle("other")).toBe(false);
    expect(pool.checkout("other", CREDENTIAL, settings)).toBeUndefined();
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBe(newer);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBe(older);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBeUndefined();
    expect(pool.size).toBe(0);
    expect(idle).toEqual([
      ["app", 1],
      ["app", 2],
      ["app", 1],
      ["app", 0],
    ]);
  });

  it("keeps at most max_idle per key and closes the rest", () => {
    const { pool, backend } = setup();
    const kept = [backend(), backend()];
    const extra = backend();
    for (const upstream of kept) expect(pool.release(KEY, "app", CREDENTIAL, upstream, settings)).toBe(true);
    expect(pool.release(KEY, "app", CREDENTIAL, extra, settings)).toBe(false);
    expect(terminated(extra.socket)).toBe(true);
    // Another key has its own allowance.
    expect(pool.release("k2", "app", CREDENTIAL, backend(), settings)).toBe(true);
    expect(pool.size).toBe(3);
  });

  it("closes a backend idle for idle_timeout", () => {
    const { clock, pool, backend } = setup();
    const upstream = backend();
    pool.release(KEY, "app", CREDENTIAL, upstream, settings);
    clock.advance(59_999);
    expect(pool.size).toBe(1);
    clock.advance(1);
    expect(pool.size).toBe(0);
    expect(terminated(upstream.socket)).toBe(true);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBeUndefined();
  });

  it("closes a backend at max_lifetime, counted from its login, whether idle or released late", () => {
    const { clock, pool, backend } = setup();
    const old = backend(3_600_000 - 1000);
    pool.release(KEY, "app", CREDENTIAL, old, settings);
    clock.advance(1000);
    expect(pool.size).toBe(0);
    expect(terminated(old.socket)).toBe(true);
    const expired = backend(3_600_000);
    expect(pool.release(KEY, "app", CREDENTIAL, expired, settings)).toBe(false);
    expect(terminated(expired.socket)).toBe(true);
  });

  it("a checkout past the lifetime closes the backend instead of handing it out", () => {
    const { clock, pool, backend } = setup();
    const upstream = backend();
    pool.release(KEY, "app", CREDENTIAL, upstream, settings);
    // Settings of a reloaded config with a shorter lifetime apply at checkout.
    clock.advance(10);
    expect(pool.checkout(KEY, CREDENTIAL, { ...settings, maxLifetimeMs: 10 })).toBeUndefined();
    expect(terminated(upstream.socket)).toBe(true);
  });

  it("never hands a backend opened with another credential to a session", () => {
    const { pool, backend } = setup();
    const stale = backend();
    pool.release(KEY, "app", credentialFingerprint("old secret"), stale, settings);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBeUndefined();
    expect(terminated(stale.socket)).toBe(true);
    expect(pool.size).toBe(0);
  });

  it.each([
    ["a byte from the server", (socket: MemorySocket) => socket.send(Buffer.from("N"))],
    ["the server ending the connection", (socket: MemorySocket) => socket.push(null)],
    ["a socket error", (socket: MemorySocket) => socket.destroy(new Error("reset"))],
  ])("discards an idle backend on %s", async (_, happen) => {
    const { pool, backend, idle } = setup();
    const upstream = backend();
    pool.release(KEY, "app", CREDENTIAL, upstream, settings);
    happen(upstream.socket);
    await turns();
    expect(pool.size).toBe(0);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBeUndefined();
    expect(idle.at(-1)).toEqual(["app", 0]);
  });

  it("stops watching a backend once it is checked out (its session owns it)", async () => {
    const { clock, pool, backend, idle } = setup();
    const upstream = backend();
    pool.release(KEY, "app", CREDENTIAL, upstream, settings);
    expect(pool.checkout(KEY, CREDENTIAL, settings)).toBe(upstream);
    upstream.socket.send(Buffer.from("Z"));
    clock.advance(settings.idleTimeoutMs * 2);
    await turns();
    expect(upstream.socket.ended).toBe(false);
    expect(upstream.socket.listenerCount("data")).toBe(0);
    expect(idle.at(-1)).toEqual(["app", 0]);
  });

  it("closes every idle backend on close() and refuses later releases", () => {
    const { pool, backend } = setup();
    const a = backend();
    const b = backend();
    pool.release(KEY, "app", CREDENTIAL, a, settings);
    pool.release("k2", "app", CREDENTIAL, b, settings);
    pool.close();
    expect(terminated(a.socket) && terminated(b.socket)).toBe(true);
    expect(pool.size).toBe(0);
    const late = backend();
    expect(pool.release(KEY, "app", CREDENTIAL, late, settings)).toBe(false);
    expect(terminated(late.socket)).toBe(true);
  });
});

describe("upstreamPoolKey", () => {
  const target: UpstreamTarget = {
    connectionName: "app",
    host: "127.0.0.1",
    port: 5432,
    user: "app_user",
    database: "app",
    tls: "disable",
    caFile: undefined,
    connectTimeoutMs: 1000,
  };
  const params = (entries: [string, string][]) => new Map(entries);
  const base = upstreamPoolKey(target, params([["client_encoding", "UTF8"]]));

  it("is the same for the same backend identity and startup, whatever the parameter order or timeout", () => {
    expect(
      upstreamPoolKey(
        { ...target, connectTimeoutMs: 5 },
        params([
          ["TimeZone", "UTC"],
          ["client_encoding", "UTF8"],
        ]),
      ),
    ).toBe(
      upstreamPoolKey(
        target,
        params([
          ["client_encoding", "UTF8"],
          ["timezone", "UTC"],
        ]),
      ),
    );
  });

  it.each([
    ["connection", { connectionName: "other" }],
    ["host", { host: "10.0.0.1" }],
    ["port", { port: 5433 }],
    ["user", { user: "someone_else" }],
    ["database", { database: "postgres" }],
    ["TLS mode", { tls: "require" as const }],
    ["CA file", { caFile: "/etc/ca.pem" }],
  ])("differs by %s", (_, change) => {
    expect(upstreamPoolKey({ ...target, ...change }, params([["client_encoding", "UTF8"]]))).not.toBe(base);
  });

  it("follows the server's reading of a name sent twice: the last value wins", () => {
    const twice = (first: string, second: string) =>
      upstreamPoolKey(
        target,
        params([
          ["TimeZone", first],
          ["timezone", second],
        ]),
      );
    expect(twice("UTC", "Asia/Tokyo")).not.toBe(twice("Asia/Tokyo", "UTC"));
    expect(twice("UTC", "Asia/Tokyo")).toBe(upstreamPoolKey(target, params([["timezone", "Asia/Tokyo"]])));
  });

  it("differs by a startup parameter the client sent", () => {
    expect(
      upstreamPoolKey(
        target,
        params([
          ["client_encoding", "UTF8"],
          ["application_name", "x"],
        ]),
      ),
    ).not.toBe(base);
  });
});
