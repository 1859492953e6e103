import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { openStores, sqliteStorePath } from "../../src/store/open-stores.js";
import { freePort } from "../support/free-port.js";
import { sessionStart, tempDir } from "./store-fixtures.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe("openStores", () => {
  it("opens <data_dir>/latch.db and its journal, creating data_dir owner-only", async () => {
    const dataDir = path.join(dir, "nested", "data");
    const config = configSchema.parse({ data_dir: dataDir });
    const stores = await openStores(config);
    try {
      await stores.audit.append([sessionStart("s1")]);
      await stores.audit.flush();
      expect((await stores.auditReader.events()).map((event) => event.seq)).toEqual([1]);
      expect(sqliteStorePath(config)).toBe(path.join(dataDir, "latch.db"));
      expect(existsSync(path.join(dataDir, "latch.db"))).toBe(true);
      expect(existsSync(path.join(dataDir, "audit.journal"))).toBe(true);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      await stores.check();
    } finally {
      await stores.close();
    }
    // close() is idempotent.
    await stores.close();
  });

  it("refuses a second gateway on the same data_dir while the first is open", async () => {
    const config = configSchema.parse({ data_dir: dir });
    const first = await openStores(config);
    try {
      await expect(openStores(config)).rejects.toThrow(/already open for writing/);
    } finally {
      await first.close();
    }
    const second = await openStores(config);
    await second.close();
  });

  it("a PostgreSQL store that cannot be reached stops the start with a config error naming it, never the password", async () => {
    process.env.LATCH_TEST_STORE_PASSWORD = "hunter2-store";
    const port = await freePort();
    const config = configSchema.parse({
      data_dir: dir,
      store: {
        url: `postgres://latch@127.0.0.1:${port}/latch`,
        password: { env: "LATCH_TEST_STORE_PASSWORD" },
      },
    });
    const failure = (await openStores(config).then(
      () => new Error("opened"),
      (error: unknown) => error,
    )) as Error & { code?: string };
    expect(failure).toMatchObject({ code: "config_invalid" });
    expect(failure.message).toContain(`cannot open the PostgreSQL store at 127.0.0.1:${port}/latch`);
    expect(failure.message).not.toContain("hunter2-store");
  });
});
