import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openSqliteAuditSink } from "../../src/store/sqlite-audit-sink.js";
import type { AuditEventInput } from "../../src/store/store.js";

// Issue 10: a read-only latch.db-shm killed the process with SIGBUS and no log line (SQLite maps that file;
// chattr +i makes the next write to the mapping fault). Root ignores file modes, so the test uses chattr.
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
});
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-unwritable-"));
  dirs.push(dir);
  return dir;
};
const event = (n: number): AuditEventInput => ({ kind: "protocol_error", sessionId: null, data: { n } });
const open = (dir: string) =>
  openSqliteAuditSink(path.join(dir, "latch.db"), path.join(dir, "audit.journal"), {
    retry: { firstMs: 20, maxMs: 100 },
  });

describe("unwritable store files", () => {
  it("at run time: the index refuses instead of faulting, /healthz can say which file, and it recovers", async () => {
    const dir = tempDir();
    const sink = await open(dir);
    sink.append([event(1)]);
    await sink.flush();
    execFileSync("chattr", ["+i", path.join(dir, "latch.db-shm")]);
    sink.append([event(2)]); // the journal is fine: durable
    await expect(sink.flush()).rejects.toMatchObject({ code: "audit_unavailable" });
    expect(sink.health()).toMatchObject({
      state: "refusing",
      reason: "latch.db-shm is not writable (EPERM)",
    });
    await expect(sink.append([event(3)])).rejects.toMatchObject({ code: "audit_unavailable" });
    await expect(sink.check()).rejects.toThrow();

    execFileSync("chattr", ["-i", path.join(dir, "latch.db-shm")]);
    await vi.waitFor(() => expect(sink.health().state).toBe("ok"), { timeout: 3000, interval: 10 });
    sink.append([event(3)]);
    await sink.flush();
    await sink.check();
    await sink.close();
  });

  it("at start: refuses to open, naming the file and the fix", async () => {
    const dir = tempDir();
    await (await open(dir)).close();
    const shm = path.join(dir, "latch.db-shm");
    writeFileSync(shm, "");
    execFileSync("chattr", ["+i", shm]);
    await expect(open(dir)).rejects.toThrow(
      new RegExp(`store file ${shm} is not writable \\(EPERM\\).*chattr -i`),
    );
  });
});
