import { existsSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterOwner, initdb, PG_BIN_DIR, PG_TEMPLATE_ENV } from "./pg-cluster.js";

/**
 * Vitest global setup: runs initdb once for the whole run and names the data directory in LATCH_TEST_PG_TEMPLATE;
 * startPgCluster then copies it instead of running initdb per cluster. Without PostgreSQL's binaries there is
 * nothing to make, and startPgCluster says what is missing as before.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (!existsSync(join(PG_BIN_DIR, "initdb"))) return undefined;
  const owner = await clusterOwner();
  const baseDir = await mkdtemp(join(tmpdir(), "latch-pg-template-"));
  if (owner) await chown(baseDir, owner.uid, owner.gid); // the owner copies it
  const dataDir = join(baseDir, "data");
  await initdb(owner, dataDir);
  process.env[PG_TEMPLATE_ENV] = dataDir;
  return async () => {
    delete process.env[PG_TEMPLATE_ENV];
    await rm(baseDir, { recursive: true, force: true });
  };
}
