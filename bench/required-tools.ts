import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { PG_BIN_DIR } from "../test/support/pg-cluster.js";

/** The binaries the benchmark drives, each with the Debian package that provides it. */
export interface BenchTools {
  initdb: string;
  pgbench: string;
  pgbouncer: string;
}

const wanted: { name: keyof BenchTools; candidates: () => string[]; debianPackage: string }[] = [
  { name: "initdb", candidates: () => [join(PG_BIN_DIR, "initdb")], debianPackage: "postgresql-15" },
  { name: "pgbench", candidates: () => [join(PG_BIN_DIR, "pgbench")], debianPackage: "postgresql-client-15" },
  {
    name: "pgbouncer",
    // /usr/sbin is often missing from a non-root PATH.
    candidates: () => [...searchPath("pgbouncer"), "/usr/sbin/pgbouncer"],
    debianPackage: "pgbouncer",
  },
];

/**
 * Finds every tool or names all the missing Debian packages at once. The benchmark installs nothing itself:
 * it runs on machines where changing packages is the operator's decision.
 */
export function findBenchTools(): { tools: BenchTools } | { missingPackages: string[] } {
  const found: Partial<BenchTools> = {};
  const missingPackages: string[] = [];
  for (const tool of wanted) {
    const path = tool.candidates().find(isExecutable);
    if (path) found[tool.name] = path;
    else missingPackages.push(tool.debianPackage);
  }
  if (missingPackages.length > 0) return { missingPackages };
  return { tools: found as BenchTools };
}

function searchPath(name: string): string[] {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
