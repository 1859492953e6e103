import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * Starts `src/store/<entry>.js` in a worker thread. Under the test runner the sources are TypeScript and no
 * compiled file sits beside this one: the worker then loads the bundle of `<entry>.ts` the runner made for this
 * run (test/support/store-worker-bundles.ts names its directory in LATCH_STORE_WORKER_BUNDLES), or else registers
 * tsx before loading `<entry>.ts`, which costs the thread about half a second of CPU.
 */
export function startStoreWorker(entry: string, workerData: unknown): Worker {
  const compiled = new URL(`./${entry}.js`, import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { workerData });
  const bundles = process.env.LATCH_STORE_WORKER_BUNDLES;
  const bundle = bundles === undefined ? undefined : path.join(bundles, `${entry}.mjs`);
  if (bundle !== undefined && existsSync(bundle)) return new Worker(bundle, { workerData });
  const source = new URL(`./${entry}.ts`, import.meta.url).href;
  return new Worker(
    `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`,
    { eval: true, workerData },
  );
}
