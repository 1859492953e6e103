import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteStores } from "../../src/store/open-stores.js";
import { ownerOnlyDataDir } from "../../src/store/owner-only.js";
import { unwritableStoreFile } from "../../src/store/store-file-health.js";

// Issue 10: an unwritable store file at start was a bare "EPERM: operation not permitted, chmod ..." from the
// owner-only step, before the store's own check could say what is wrong and how to fix it. Root ignores file
// modes, so these use chattr +i.
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
});
const dataDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-owner-only-"));
  dirs.push(dir);
  return dir;
};
const FILES = ["latch.db", "latch.db.writer-lock", "audit.journal"];

describe("owner-only data_dir at start", () => {
  it("a file whose mode must change and cannot: names the file, its owner and the fix", () => {
    const dir = dataDir();
    const file = path.join(dir, "audit.journal");
    writeFileSync(file, "");
    chmodSync(file, 0o644);
    execFileSync("chattr", ["+i", file]);
    let error: Error | undefined;
    try {
      ownerOnlyDataDir(dir, FILES);
    } catch (caught) {
      error = caught as Error;
    }
    expect(error).toMatchObject({ code: "config_invalid" });
    expect(error?.message).toContain(`store file ${file} is not writable (EPERM)`);
    expect(error?.message).toContain(`owned by the gateway's user (uid ${process.getuid!()})`);
    expect(error?.message).toContain(`chattr -i ${file}`);
    expect(error?.message).not.toMatch(/operation not permitted, chmod/);
  });

  it("an immutable file already owner-only gets past chmod, and the store's own check refuses it clearly", async () => {
    const dir = dataDir();
    await (await openSqliteStores(dir)).close();
    const shm = path.join(dir, "latch.db-shm");
    writeFileSync(shm, "");
    chmodSync(shm, 0o600);
    execFileSync("chattr", ["+i", shm]);
    expect(() => ownerOnlyDataDir(dir, FILES)).not.toThrow();
    await expect(openSqliteStores(dir)).rejects.toThrow(
      new RegExp(`store file ${shm} is not writable \\(EPERM\\).*chattr -i ${shm}`),
    );
  });

  it("a file that cannot be created names its directory", () => {
    const dir = dataDir();
    const inner = path.join(dir, "data");
    mkdirSync(inner, { mode: 0o700 });
    execFileSync("chattr", ["+i", inner]);
    expect(() => ownerOnlyDataDir(inner, FILES)).toThrow(
      `store file ${path.join(inner, "latch.db")} is not writable (EPERM); it does not exist and cannot be created in ${inner}`,
    );
  });

  it("another owner: says whose the file is and which user the gateway runs as", () => {
    const dir = dataDir();
    const file = path.join(dir, "latch.db");
    writeFileSync(file, "");
    chownSync(file, 4321, 4321);
    const error = unwritableStoreFile(file, Object.assign(new Error("denied"), { code: "EACCES" }));
    expect(error.message).toContain(
      `store file ${file} is not writable (EACCES); it is owned by uid 4321, the gateway runs as uid ${process.getuid!()}`,
    );
    expect(error.message).toContain(`chown ${process.getuid!()} ${file}`);
  });
});
