import type { Command } from "commander";
import type { PrincipalBlock } from "../../store/principal-block-store.js";
import { type AdminClientOptions, adminGet, printTable, withAdminOptions } from "../admin-client.js";
import { adminSend } from "./requests.js";

type Options = AdminClientOptions & { json?: boolean; reason?: string };

/** `latch principals block|unblock|list`: cut a principal off this gateway, live sessions included. */
export function registerPrincipalsCommands(program: Command): void {
  const principals = program
    .command("principals")
    .description("block and unblock principals (via the admin API)");
  withAdminOptions(
    principals
      .command("block")
      .description("refuse new logins and end live sessions of a principal on this gateway")
      .argument("<sub>", "principal id, as shown in sessions list")
      .option("--reason <text>", "why; recorded in the audit log"),
  ).action(async (sub: string, options: Options) => {
    const result = await adminSend<{ principal: string; newlyBlocked: boolean; sessionsEnded: string[] }>(
      options,
      "POST",
      `/api/principals/${encodeURIComponent(sub)}/block`,
      { ...(options.reason === undefined ? {} : { reason: options.reason }) },
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(
      `${result.principal} ${result.newlyBlocked ? "blocked" : "was already blocked"}; ${result.sessionsEnded.length} live session(s) ended\n`,
    );
  });
  withAdminOptions(
    principals.command("unblock").description("allow a blocked principal to log in again").argument("<sub>"),
  ).action(async (sub: string, options: Options) => {
    const result = await adminSend<{ principal: string }>(
      options,
      "DELETE",
      `/api/principals/${encodeURIComponent(sub)}/block`,
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(`${result.principal} unblocked\n`);
  });
  withAdminOptions(principals.command("list").description("blocked principals")).action(
    async (options: Options) => {
      const { blocked } = await adminGet<{ blocked: PrincipalBlock[] }>(options, "/api/principals/blocked");
      if (options.json) return void process.stdout.write(`${JSON.stringify(blocked, null, 2)}\n`);
      printTable(
        ["PRINCIPAL", "BLOCKED AT", "BY", "REASON"],
        blocked.map((b) => [b.principal, b.blockedAt, b.blockedBy, b.reason]),
      );
    },
  );
}
