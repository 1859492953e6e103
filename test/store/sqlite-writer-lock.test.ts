import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isLatchError } from "../../src/errors.js";
import { acquireWriterLock } from "../../src/store/sqlite-writer-lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("a second writer on one SQLite store (issue 18)", () => {
  it("is told what to do: stop the other gateway or use its own data_dir; replicas share a PostgreSQL store", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "latch-writer-lock-"));
    dirs.push(dir);
    const file = path.join(dir, "latch.db");
    const first = acquireWriterLock(file);
    try {
      let thrown: unknown;
      try {
        acquireWriterLock(file);
      } catch (error) {
        thrown = error;
      }
      expect(isLatchError(thrown) && thrown.code).toBe("config_invalid");
      const message = (thrown as Error).message;
      expect(message).toContain(`store ${file} is already open for writing by another Latch process`);
      expect(message).toContain(`another gateway already runs on data_dir ${dir}, stop it`);
      expect(message).toContain("give this one its own data_dir");
      expect(message).toContain("store: { url: postgres://");
      expect(message).toContain("password: { env: LATCH_STORE_PASSWORD } }");
      expect(message).toContain("docs/deployment.md");
      expect(message).not.toContain("store: postgres://...");
    } finally {
      first.release();
    }
    // Released: the next writer gets it.
    acquireWriterLock(file).release();
  });
});
