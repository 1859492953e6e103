import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { embeddedPostgresBinaries, grantPostgresTraversal } from "../../src/demo/postgres-user-access.js";

describe("demo: access for the postgres OS user", () => {
  it("adds traverse-only permission to private ancestors and leaves others alone", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "latch-traverse-")); // mode 0700, like /root or mktemp -d
    const inner = path.join(root, "a", "b");
    mkdirSync(inner, { recursive: true, mode: 0o755 });
    chmodSync(path.join(root, "a"), 0o700);
    const changed = grantPostgresTraversal([inner]);
    expect(changed).toEqual(expect.arrayContaining([root, path.join(root, "a")]));
    expect(changed).not.toContain(inner); // already 0755
    expect(statSync(root).mode & 0o777).toBe(0o701);
    expect(statSync(path.join(root, "a")).mode & 0o777).toBe(0o701);
    expect(grantPostgresTraversal([inner])).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it("finds the embedded PostgreSQL binaries", async () => {
    expect(existsSync(path.join(await embeddedPostgresBinaries(), "initdb"))).toBe(true);
  });
});
