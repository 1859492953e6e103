import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { isLatchError, type LatchError } from "../../src/errors.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import {
  DEV_ISSUER,
  devIssuerPath,
  loadOrCreateDevIssuer,
  MAX_DEV_TOKEN_TTL_SECONDS,
  mintDevToken,
} from "../../src/identity/dev-issuer.js";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "latch-dev-issuer-"));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function devVerifier(devIssuer: boolean, directory = dataDir) {
  const { identity } = configSchema.parse({ identity: { dev_issuer: devIssuer } });
  return createTokenVerifier(identity, { dataDir: directory });
}

async function rejectionOf(promise: Promise<unknown>): Promise<LatchError> {
  const error = await promise.then(
    () => new Error("accepted"),
    (caught: unknown) => caught,
  );
  if (!isLatchError(error)) throw error;
  return error;
}

describe("dev issuer key", () => {
  it("is created on first use with mode 0600 and stays the same across restarts", async () => {
    const file = devIssuerPath(path.join(dataDir, "nested"));
    const first = await mintDevToken(path.join(dataDir, "nested"), {
      subject: "a",
      groups: [],
      ttlSeconds: 60,
    });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const contentAfterFirst = await readFile(file, "utf8");
    const second = await mintDevToken(path.join(dataDir, "nested"), {
      subject: "b",
      groups: [],
      ttlSeconds: 60,
    });
    expect(await readFile(file, "utf8")).toBe(contentAfterFirst);
    expect(decodeProtectedHeader(first).kid).toBe(decodeProtectedHeader(second).kid);
    // A verifier built later (a restarted gateway) reads the same key and accepts both.
    const restarted = devVerifier(true, path.join(dataDir, "nested"));
    await expect(restarted.verify(first)).resolves.toMatchObject({ subject: "a" });
    await expect(restarted.verify(second)).resolves.toMatchObject({ subject: "b" });
  });

  it("ends up with one key when several processes create it at once", async () => {
    const created = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDevIssuer(dataDir)));
    expect(new Set(created.map((stored) => stored.kid)).size).toBe(1);
    const onDisk = JSON.parse(await readFile(devIssuerPath(dataDir), "utf8")) as { kid: string };
    expect(onDisk.kid).toBe(created[0]?.kid);
  });

  it("refuses a key file other users can read", async () => {
    await loadOrCreateDevIssuer(dataDir);
    await chmod(devIssuerPath(dataDir), 0o644);
    await expect(mintDevToken(dataDir, { subject: "a", groups: [], ttlSeconds: 60 })).rejects.toThrow(
      /readable by other users: run chmod 600/,
    );
  });

  it("refuses a key file that is not a dev issuer key", async () => {
    await loadOrCreateDevIssuer(dataDir);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(devIssuerPath(dataDir), JSON.stringify({ version: 1, kid: "x" }), { mode: 0o600 });
    await expect(loadOrCreateDevIssuer(dataDir)).rejects.toThrow(/not a Latch dev issuer key/);
  });
});

describe("dev tokens", () => {
  it("verify into an identity when dev_issuer is true", async () => {
    const before = Date.now();
    const token = await mintDevToken(dataDir, {
      subject: "alice",
      groups: ["agents", "dba"],
      ttlSeconds: 900,
    });
    expect(decodeProtectedHeader(token).alg).toBe("ES256");
    const identity = await devVerifier(true).verify(token);
    expect(identity).toMatchObject({ subject: "alice", issuer: DEV_ISSUER, groups: ["agents", "dba"] });
    expect(identity.tokenId).toBe(decodeJwt(token).jti);
    expect(identity.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 900_000);
    expect(identity.expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);
  });

  it("are not trusted when dev_issuer is false, and the error says how to enable it", async () => {
    const token = await mintDevToken(dataDir, { subject: "alice", groups: [], ttlSeconds: 60 });
    const error = await rejectionOf(devVerifier(false).verify(token));
    expect(error.code).toBe("issuer_unknown");
    expect(error.message).toContain("identity.dev_issuer");
  });

  it("are rejected by a gateway whose data dir holds another dev key", async () => {
    const token = await mintDevToken(dataDir, { subject: "alice", groups: [], ttlSeconds: 60 });
    const otherDir = await mkdtemp(path.join(tmpdir(), "latch-dev-issuer-other-"));
    try {
      const error = await rejectionOf(devVerifier(true, otherDir).verify(token));
      expect(error.code).toBe("token_invalid");
      expect(error.message).toContain("different --data-dir");
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it("expire: a token past its lifetime plus skew is token_expired", async () => {
    // exp is whole seconds from the mint: a lifetime of 5 s leaves room for a slow machine before the check.
    const token = await mintDevToken(dataDir, { subject: "alice", groups: [], ttlSeconds: 5 });
    const { identity } = configSchema.parse({ identity: { dev_issuer: true, clock_skew: "0s" } });
    const strict = createTokenVerifier(identity, { dataDir });
    await expect(strict.verify(token)).resolves.toBeDefined();
    // The wall clock moves instead of the test waiting for it.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 6_100 });
    try {
      expect((await rejectionOf(strict.verify(token))).code).toBe("token_expired");
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuse an empty subject and lifetimes outside 1s..24h", async () => {
    await expect(mintDevToken(dataDir, { subject: " ", groups: [], ttlSeconds: 60 })).rejects.toThrow(
      /subject/,
    );
    for (const ttlSeconds of [0, -5, 1.5, MAX_DEV_TOKEN_TTL_SECONDS + 1]) {
      await expect(mintDevToken(dataDir, { subject: "a", groups: [], ttlSeconds })).rejects.toThrow(
        /lifetime/,
      );
    }
  });
});
