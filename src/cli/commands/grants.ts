import type { Command } from "commander";
import type { Grant } from "../../approvals/approval-types.js";
import { type AdminClientOptions, adminGet, printTable, withAdminOptions } from "../admin-client.js";
import { adminSend } from "./requests.js";

export function registerGrantsCommands(program: Command): void {
  const grants = program.command("grants").description("time-bound grants created by approvals");

  withAdminOptions(
    grants
      .command("list")
      .description("grants you hold or may revoke, newest first")
      .option("--all", "include expired, used up and revoked grants")
      .option("--limit <n>", "how many", "50"),
  ).action(async (options: AdminClientOptions & { json?: boolean; all?: boolean; limit?: string }) => {
    const query = new URLSearchParams({ limit: options.limit ?? "50" });
    if (!options.all) query.set("active", "true");
    const { grants: list } = await adminGet<{ grants: Grant[] }>(options, `/api/grants?${query}`);
    if (options.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    printTable(
      ["ID", "PRINCIPAL", "CONNECTION", "ACCESSES", "USES LEFT", "EXPIRES", "STATUS"],
      list.map((g) => [
        g.id,
        g.principal,
        g.connection,
        g.accesses.join(", "),
        g.usesLeft === null ? "unlimited" : String(g.usesLeft),
        new Date(g.expiresAt).toISOString(),
        g.revokedAt !== null ? `revoked by ${g.revokedBy}` : g.expiresAt <= Date.now() ? "expired" : "live",
      ]),
    );
  });

  withAdminOptions(
    grants
      .command("revoke")
      .description("end a grant now")
      .argument("<id>", "grant id")
      .option("--reason <text>", "why"),
  ).action(async (id: string, options: AdminClientOptions & { json?: boolean; reason?: string }) => {
    const { grant } = await adminSend<{ grant: Grant }>(
      options,
      "DELETE",
      `/api/grants/${encodeURIComponent(id)}`,
      options.reason ? { reason: options.reason } : undefined,
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(grant, null, 2)}\n`);
    process.stdout.write(`grant ${grant.id} revoked\n`);
  });
}
