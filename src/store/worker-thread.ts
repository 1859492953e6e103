import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * Starts `src/store/<entry>.js` in a worker thread. Under the test runner the sources are TypeScript and no
 * compiled file sits beside this one: the worker then registers tsx before loading `<entry>.ts`.
 */
export function startStoreWorker(entry: string, workerData: unknown): Worker {
  const compiled = new URL(`./${entry}.js`, import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { workerData });
  const source = new URL(`./${entry}.ts`, import.meta.url).href;
  return new Worker(
    `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`,
    { eval: true, workerData },
  );
}
