import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import type { TestProject } from "vitest/node";

/**
 * Vitest global setup: bundles each store worker entry (src/store/*-worker.ts) once per run, and names the
 * directory in LATCH_STORE_WORKER_BUNDLES for src/store/worker-thread.ts. Without it every worker a test starts
 * registers tsx in the thread (a loader-hooks thread of its own) and transpiles its imports again: ~0.6 s of CPU
 * per worker, and every store open starts two (verification, then the writer), so the suite spent minutes there.
 *
 * The bundle holds our sources only: packages stay imports, by absolute URL (the bundle lives in a temp dir), so
 * Node loads them exactly as it does for the compiled gateway. In watch mode the sources change under a running
 * vitest, so there is no bundle and the workers load the sources through tsx, as before.
 */
export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (project.config.watch) return undefined;
  const storeDir = fileURLToPath(new URL("../../src/store/", import.meta.url));
  const entryPoints = readdirSync(storeDir)
    .filter((name) => name.endsWith("-worker.ts"))
    .map((name) => path.join(storeDir, name));
  const outdir = mkdtempSync(path.join(tmpdir(), "latch-store-workers-"));
  await esbuild.build({
    entryPoints,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Node's own conditions for an ESM import, not esbuild's extra "module": the package files Node would load.
    conditions: [],
    logLevel: "warning",
    plugins: [packagesByAbsoluteUrl],
  });
  process.env.LATCH_STORE_WORKER_BUNDLES = outdir;
  return () => {
    delete process.env.LATCH_STORE_WORKER_BUNDLES;
    rmSync(outdir, { recursive: true, force: true });
  };
}

/** Leaves every package (and node: builtin) out of the bundle, imported by the file URL esbuild resolved it to. */
const packagesByAbsoluteUrl: esbuild.Plugin = {
  name: "packages-by-absolute-url",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === "resolving") return undefined;
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: "resolving",
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      if (resolved.external) return { path: args.path, external: true }; // a builtin named without node:
      return { path: pathToFileURL(resolved.path).href, external: true };
    });
  },
};
