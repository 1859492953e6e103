import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { configSchema } from "../../src/config/schema.js";
import { openStores } from "../../src/store/open-stores.js";
import type { Stores } from "../../src/store/stores.js";
import { describeStoreConformance } from "./conformance/store-conformance.js";

/** The embedded store, opened the way the gateway opens it: `openStores` on a config naming a data_dir. */
describeStoreConformance("SQLite (journal + index under data_dir)", {
  async create() {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), "latch-conformance-")), "data");
    const config = configSchema.parse({ data_dir: dataDir });
    let stores: Stores = await openStores(config);
    return {
      stores,
      async reopen() {
        await stores.close();
        stores = await openStores(config);
        return stores;
      },
      async destroy() {
        await stores.close();
        rmSync(path.dirname(dataDir), { recursive: true, force: true });
      },
    };
  },
});
