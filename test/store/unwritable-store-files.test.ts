import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createSqliteApprovalStore } from "../../src/store/sqlite-approvals.js";
import { openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import { openSqliteAuditSink } from "../../src/store/sqlite-audit-sink.js";
import { createSqliteLiveSessionStore } from "../../src/store/sqlite-live-sessions.js";
import { createSqlitePrincipalBlockStore } from "../../src/store/sqlite-principal-blocks.js";
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

  // The gateway's own connections (approvals, blocks, live sessions, the audit reader) used to be the SIGBUS:
  // a read after the index wrote records the reader's snapshot in the -shm mapping (the approvals sweeper reads
  // every second). Each call now checks first and rejects, as the interfaces say a store failure does.
  it("the side stores and the reader reject on an immutable -shm instead of faulting, and work again after", async () => {
    const dir = tempDir();
    const file = path.join(dir, "latch.db");
    const sink = await open(dir);
    const approvals = createSqliteApprovalStore(file);
    const blocks = createSqlitePrincipalBlockStore(file);
    const live = createSqliteLiveSessionStore(file);
    const reader = openSqliteAuditReader(file);
    const calls = () => [
      blocks.isBlocked("someone"),
      approvals.listRequests({ state: "pending" }),
      live.list(),
      reader.events({}),
      reader.verifyChain(),
    ];
    await Promise.all(calls());
    sink.append([event(1)]);
    await sink.flush(); // the index wrote: every other connection's next read writes the -shm

    execFileSync("chattr", ["+i", path.join(dir, "latch.db-shm")]);
    for (const call of calls())
      await expect(call).rejects.toMatchObject({ code: "EPERM", file: "latch.db-shm" });
    await expect(blocks.block("someone", "admin", "why")).rejects.toThrow(
      "latch.db-shm is not writable (EPERM)",
    );

    execFileSync("chattr", ["-i", path.join(dir, "latch.db-shm")]);
    await Promise.all(calls());
    expect(await blocks.block("someone", "admin", "why")).toBe(true);
    for (const store of [approvals, blocks, live, reader]) store.close();
    await sink.close();
  });

  it("a truncated -shm is refused (restart to rebuild it), and close leaves the faulting mapping alone", async () => {
    const dir = tempDir();
    const file = path.join(dir, "latch.db");
    const approvals = createSqliteApprovalStore(file);
    const blocks = createSqlitePrincipalBlockStore(file);
    expect(await blocks.block("someone", "admin", "why")).toBe(true);
    truncateSync(path.join(dir, "latch.db-shm"), 0); // every access to the mapping is now a SIGBUS, reads too
    await expect(blocks.isBlocked("someone")).rejects.toMatchObject({ code: "STORE_FILE_TRUNCATED" });
    await expect(approvals.listRequests()).rejects.toThrow(
      "latch.db-shm was truncated to 0 bytes while open",
    );
    approvals.close();
    blocks.close();
  });
});
