import type { Command } from "commander";

export interface AdminClientOptions {
  readonly server?: string;
  readonly token?: string;
}

/** Adds --server/--token with their environment fallbacks to a command that talks to a running gateway. */
export function withAdminOptions(command: Command): Command {
  return command
    .option(
      "--server <url>",
      "admin API of the gateway (env LATCH_SERVER)",
      process.env.LATCH_SERVER ?? "http://127.0.0.1:8080",
    )
    .option("--token <jwt>", "your own OIDC token (env LATCH_TOKEN)")
    .option("--json", "print JSON instead of a table");
}

export async function adminGet<T>(options: AdminClientOptions, path: string): Promise<T> {
  const token = options.token ?? process.env.LATCH_TOKEN;
  if (token === undefined || token === "") {
    throw new Error(
      "no token: pass --token or set LATCH_TOKEN (e.g. LATCH_TOKEN=$(latch token --sub you --group latch-admins))",
    );
  }
  const base = options.server ?? "http://127.0.0.1:8080";
  let response: Response;
  try {
    response = await fetch(new URL(path, base), { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new Error(
      `cannot reach the gateway at ${base}: ${(error as Error).cause ?? (error as Error).message}; is \`latch serve\` running?`,
    );
  }
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok)
    throw new Error(`${response.status} from ${base}: ${body.message ?? response.statusText}`);
  return body as T;
}

/** A plain aligned table; long cells are cut so one row stays one line. */
export function printTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  maxCell = 60,
): void {
  const cut = (text: string) => (text.length > maxCell ? `${text.slice(0, maxCell - 1)}…` : text);
  const cells = rows.map((row) => row.map((cell) => cut(cell.replace(/\s+/g, " "))));
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
  if (rows.length === 0) process.stdout.write("(none)\n");
}
