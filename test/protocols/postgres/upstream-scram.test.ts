import { createHash } from "node:crypto";
import net from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LatchError } from "../../../src/errors.js";
import { MAX_SCRAM_ITERATIONS, saslPrep } from "../../../src/protocols/postgres/scram-client.js";
import { ScramKeyCache, scramSlot } from "../../../src/protocols/postgres/scram-key-cache.js";
import { connectUpstream, dialAhead, type UpstreamTarget } from "../../../src/protocols/postgres/upstream.js";
import { type PgCluster, startPgCluster } from "../../support/pg-cluster.js";

/** The server's verifier of a role: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. */
async function verifierOf(cluster: PgCluster, role: string) {
  const { rows } = await cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(rows[0].rolpassword as string);
  if (match === null) throw new Error("not a SCRAM verifier");
  return {
    iterations: Number(match[1]),
    salt: match[2]!,
    storedKey: Buffer.from(match[3]!, "base64"),
    serverKey: Buffer.from(match[4]!, "base64"),
  };
}

describe("upstream SCRAM-SHA-256 against a real PostgreSQL, with the key cache", () => {
  let cluster: PgCluster;
  let target: UpstreamTarget;
  beforeAll(async () => {
    cluster = await startPgCluster({ auth: "scram-sha-256" });
    target = {
      connectionName: "scram",
      host: "127.0.0.1",
      port: cluster.port,
      user: cluster.appUser,
      database: cluster.appDatabase,
      tls: "disable",
      caFile: undefined,
      connectTimeoutMs: 10_000,
    };
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const login = async (password: string, cache?: ScramKeyCache, t: UpstreamTarget = target) => {
    const slot = scramSlot(t.connectionName, t.host, t.port, t.user);
    const session = await connectUpstream(t, password, new Map(), 1 << 20, {
      ...(cache === undefined ? {} : { scramKeys: { cache, slot } }),
    });
    session.socket.destroy();
    return { session, slot };
  };

  it("logs in, keeps exactly the server's keys, and logs in again from them", async () => {
    const cache = new ScramKeyCache();
    const { session, slot } = await login(cluster.appPassword, cache);
    expect(session.status).toBe("I");
    const verifier = await verifierOf(cluster, cluster.appUser);
    const keys = cache.lookup(slot, cluster.appPassword, verifier.salt, verifier.iterations);
    expect(keys?.storedKey.equals(verifier.storedKey)).toBe(true);
    expect(keys?.serverKey.equals(verifier.serverKey)).toBe(true);
    expect(createHash("sha256").update(keys!.clientKey).digest().equals(verifier.storedKey)).toBe(true);
    // Nothing else fits the entry: another password, salt or iteration count.
    expect(cache.lookup(slot, `${cluster.appPassword}x`, verifier.salt, verifier.iterations)).toBeUndefined();
    expect(cache.lookup(slot, cluster.appPassword, "AAAA", verifier.iterations)).toBeUndefined();
    expect(cache.lookup(slot, cluster.appPassword, verifier.salt, verifier.iterations + 1)).toBeUndefined();
    await login(cluster.appPassword, cache);
    expect(cache.size).toBe(1);
  });

  it("a rotated password replaces the entry, and the old one no longer logs in or stays cached", async () => {
    const cache = new ScramKeyCache();
    const role = "rotating";
    await cluster.query(`CREATE ROLE ${role} LOGIN PASSWORD 'first-secret'`);
    await cluster.query(`GRANT CONNECT ON DATABASE ${cluster.appDatabase} TO ${role}`);
    const t = { ...target, user: role };
    const { slot } = await login("first-secret", cache, t);
    const first = await verifierOf(cluster, role);
    expect(cache.lookup(slot, "first-secret", first.salt, first.iterations)).toBeDefined();

    await cluster.query(`ALTER ROLE ${role} PASSWORD 'second-secret'`);
    const second = await verifierOf(cluster, role);
    expect(second.salt).not.toBe(first.salt);
    // The gateway still holds the old secret: refused, and its keys are forgotten.
    await expect(login("first-secret", cache, t)).rejects.toMatchObject({ code: "upstream_auth_failed" });
    expect(cache.size).toBe(0);
    // The secret rotated at the gateway too: derived afresh, stored in place of the old.
    await login("second-secret", cache, t);
    expect(cache.lookup(slot, "second-secret", second.salt, second.iterations)?.storedKey).toEqual(
      second.storedKey,
    );
    expect(cache.lookup(slot, "first-secret", first.salt, first.iterations)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it("stale keys under the right password are refused by the server and forgotten, then derived afresh", async () => {
    const cache = new ScramKeyCache();
    const verifier = await verifierOf(cluster, cluster.appUser);
    const slot = scramSlot(target.connectionName, target.host, target.port, target.user);
    const wrong = Buffer.alloc(32, 7);
    cache.store(slot, cluster.appPassword, verifier.salt, verifier.iterations, {
      clientKey: wrong,
      storedKey: createHash("sha256").update(wrong).digest(),
      serverKey: wrong,
    });
    await expect(login(cluster.appPassword, cache)).rejects.toBeInstanceOf(LatchError);
    expect(cache.size).toBe(0);
    await login(cluster.appPassword, cache);
    expect(cache.lookup(slot, cluster.appPassword, verifier.salt, verifier.iterations)?.serverKey).toEqual(
      verifier.serverKey,
    );
  });

  it("never shows a key or the password when inspected or serialized", async () => {
    const cache = new ScramKeyCache();
    const { slot } = await login(cluster.appPassword, cache);
    const verifier = await verifierOf(cluster, cluster.appUser);
    const keys = cache.lookup(slot, cluster.appPassword, verifier.salt, verifier.iterations)!;
    const shown = `${inspect(cache, { showHidden: true, depth: 10 })} ${JSON.stringify({ cache })}`;
    for (const secret of [cluster.appPassword, ...Object.values(keys).map((k) => k.toString("base64"))])
      expect(shown).not.toContain(secret);
    expect(shown).toContain("1 entries");
  });

  it("uses a connection dialed ahead; an abandoned one is closed without a byte sent", async () => {
    const ahead = dialAhead(target);
    const session = await connectUpstream(target, cluster.appPassword, new Map(), 1 << 20, { dialed: ahead });
    ahead.abandon(); // after use: harmless
    expect(session.socket.destroyed).toBe(false);
    session.socket.destroy();

    const seen: Array<{ bytes: number; closed: Promise<void> }> = [];
    const listener = net.createServer((socket) => {
      const entry = { bytes: 0, closed: new Promise<void>((resolve) => socket.on("close", () => resolve())) };
      socket.on("data", (chunk) => {
        entry.bytes += chunk.length;
      });
      socket.on("error", () => {});
      seen.push(entry);
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    try {
      const refused = dialAhead({ ...target, port: (listener.address() as net.AddressInfo).port });
      // The listener has accepted it (the dial is complete) before the login is refused.
      while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      refused.abandon();
      await seen[0]?.closed;
      expect(seen.map((entry) => entry.bytes)).toEqual([0]);
    } finally {
      listener.close();
    }
  });

  it("an early dial to a closed port fails the login as upstream_unavailable, with no unhandled rejection", async () => {
    const closed = { ...target, port: 1 };
    const ahead = dialAhead(closed);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(connectUpstream(closed, "x", new Map(), 1 << 20, { dialed: ahead })).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
  });
});

/** Authentication request 'R' with its code and body, as a backend sends it. */
function auth(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const frame = Buffer.alloc(9 + body.length);
  frame[0] = 0x52;
  frame.writeInt32BE(8 + body.length, 1);
  frame.writeInt32BE(code, 5);
  body.copy(frame, 9);
  return frame;
}
const encodeBackend = {
  authSasl: (mechanisms: string[]) => auth(10, Buffer.from(`${mechanisms.join("\0")}\0\0`, "utf8")),
  authSaslContinue: (text: string) => auth(11, Buffer.from(text, "utf8")),
  authSaslFinal: (text: string) => auth(12, Buffer.from(text, "utf8")),
  authOk: () => auth(0),
};

/** A scripted server for what no real PostgreSQL does: cheat in the SCRAM exchange. */
async function hostileServer(script: (socket: net.Socket, clientNonce: string) => void) {
  const server = net.createServer((socket) => {
    let stage = 0;
    socket.on("data", (chunk) => {
      stage++;
      if (stage === 1) socket.write(encodeBackend.authSasl(["SCRAM-SHA-256"]));
      if (stage === 2) {
        const text = chunk.toString("latin1");
        const nonce = /r=([^,\0]+)/.exec(text)?.[1] ?? "";
        script(socket, nonce);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe("upstream SCRAM refuses a server that cheats", () => {
  const attempt = async (script: (socket: net.Socket, nonce: string) => void) => {
    const { server, port } = await hostileServer(script);
    try {
      const target: UpstreamTarget = {
        connectionName: "hostile",
        host: "127.0.0.1",
        port,
        user: "u",
        database: "d",
        tls: "disable",
        caFile: undefined,
        connectTimeoutMs: 3000,
      };
      const cache = new ScramKeyCache();
      const outcome = await connectUpstream(target, "secret", new Map(), 1 << 20, {
        scramKeys: { cache, slot: "hostile" },
      }).then(
        () => "logged in",
        (error: LatchError) => error.code,
      );
      return { outcome, cached: cache.size };
    } finally {
      server.close();
    }
  };
  const salt = Buffer.from("0123456789abcdef").toString("base64");

  it("AuthenticationOk without the server signature", async () => {
    const result = await attempt((socket, nonce) => {
      socket.write(encodeBackend.authSaslContinue(`r=${nonce}server,s=${salt},i=4096`));
      socket.once("data", () => socket.write(encodeBackend.authOk()));
    });
    expect(result).toEqual({ outcome: "upstream_auth_failed", cached: 0 });
  });

  it("a wrong server signature", async () => {
    const result = await attempt((socket, nonce) => {
      socket.write(encodeBackend.authSaslContinue(`r=${nonce}server,s=${salt},i=4096`));
      socket.once("data", () => {
        socket.write(encodeBackend.authSaslFinal(`v=${Buffer.alloc(32).toString("base64")}`));
        socket.write(encodeBackend.authOk());
      });
    });
    expect(result).toEqual({ outcome: "upstream_auth_failed", cached: 0 });
  });

  it("a nonce that does not extend ours, and an iteration count above the cap", async () => {
    const foreign = await attempt((socket) => {
      socket.write(encodeBackend.authSaslContinue(`r=someoneelse,s=${salt},i=4096`));
    });
    expect(foreign.outcome).toBe("upstream_auth_failed");
    const costly = await attempt((socket, nonce) => {
      socket.write(encodeBackend.authSaslContinue(`r=${nonce}x,s=${salt},i=${MAX_SCRAM_ITERATIONS + 1}`));
    });
    expect(costly.outcome).toBe("upstream_auth_failed");
  });
});

describe("saslPrep", () => {
  it("maps non-ASCII spaces, drops table B.1 and applies NFKC, as node-postgres and libpq do", () => {
    expect(saslPrep("a\u00A0b")).toBe("a b");
    expect(saslPrep("a\u00ADb\u200Dc")).toBe("abc");
    expect(saslPrep("\u2168")).toBe("IX");
    expect(saslPrep("plain")).toBe("plain");
  });
});
