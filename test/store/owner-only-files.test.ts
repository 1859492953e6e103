import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestGateway } from "../support/test-gateway.js";

/** Issue 10: latch.db and its WAL were 0644 when data_dir already existed. Every file 0600, directories 0700. */

const root = mkdtempSync(path.join(tmpdir(), "latch-modes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? [full, ...walk(full)] : [full];
  });
}

describe("data_dir permissions", () => {
  it("are owner-only for every file and directory, with a permissive umask and a pre-existing 0755 data_dir", async () => {
    const dataDir = path.join(root, "data");
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const previous = process.umask(0o022);
    try {
      const gw = await startTestGateway(undefined, {
        dataDir,
        overrides: { listen: { admin: "127.0.0.1:0" } },
      });
      await gw.token("someone", ["agents"]); // the dev issuer key
      await gw.gateway.flushAudit(); // the index has written (WAL and shared memory exist)
      const entries = walk(dataDir).filter((entry) => !entry.startsWith(path.join(dataDir, "policies")));
      expect(entries.map((entry) => path.basename(entry))).toEqual(
        expect.arrayContaining(["latch.db", "audit.journal"]),
      );
      const modes = [dataDir, ...entries].map((entry) => {
        const stat = statSync(entry);
        return `${path.relative(dataDir, entry) || "."} ${(stat.mode & 0o777).toString(8)}${stat.isDirectory() ? "/" : ""}`;
      });
      expect(modes.filter((line) => !/ (600|700\/)$/.test(line))).toEqual([]);
      await gw.gateway.stop();
    } finally {
      process.umask(previous);
    }
  });
});
