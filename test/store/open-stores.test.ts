import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { openStore, sqliteStorePath } from "../../src/store/open-store.js";
import { sessionStart, tempDir } from "./store-fixtures.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe("openStore", () => {
  it("opens <data_dir>/latch.db, creating data_dir owner-only", () => {
    const dataDir = path.join(dir, "nested", "data");
    const config = configSchema.parse({ data_dir: dataDir });
    const store = openStore(config);
    try {
      expect(store.append(sessionStart("s1")).seq).toBe(1);
      expect(sqliteStorePath(config)).toBe(path.join(dataDir, "latch.db"));
      expect(existsSync(path.join(dataDir, "latch.db"))).toBe(true);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      store.check();
    } finally {
      store.close();
    }
  });

  it("refuses a postgres store for now, with a config error", () => {
    const config = configSchema.parse({ data_dir: dir, store: "postgres://latch@db/latch" });
    expect(() => openStore(config)).toThrow(expect.objectContaining({ code: "config_invalid" }));
    expect(() => openStore(config)).toThrow("store: postgres is not available yet; use sqlite");
  });
});
