import type { Command } from "commander";
import type { McpToolPin } from "../../store/mcp-tool-pin-store.js";
import { type AdminClientOptions, adminGet, printTable, withAdminOptions } from "../admin-client.js";
import { adminSend } from "./requests.js";

type Options = AdminClientOptions & { json?: boolean };

const EXAMPLES = `
Examples:
  $ latch mcp pins list
  $ latch mcp pins list github --json      # with the pinned and the pending definitions
  $ latch mcp pins accept github create_issue
  $ latch mcp pins accept github           # every tool of github waiting for acceptance

An upstream tool whose definition (name, description, schemas, annotations) changed since it was pinned is
neither listed nor callable until accepted here; review the pending definition (--json) first.`;

/**
 * `latch mcp pins list|accept` under `latch mcp`. The parent's --server/--token (the bridge's) share names with
 * the admin options, so values are read with optsWithGlobals: wherever the user wrote them, they count.
 */
export function registerMcpPinsCommands(mcp: Command): void {
  const pins = mcp
    .command("pins")
    .description("pinned tool definitions of MCP proxy connections (via the admin API)")
    .addHelpText("after", EXAMPLES);
  withAdminOptions(
    pins
      .command("list")
      .description("pinned tools, and changed ones waiting for acceptance")
      .argument("[connection]", "only this connection"),
  ).action(async (connection: string | undefined, _options: Options, command: Command) => {
    const options = command.optsWithGlobals<Options>();
    const query = connection === undefined ? "" : `?connection=${encodeURIComponent(connection)}`;
    const { pins: list } = await adminGet<{ pins: McpToolPin[] }>(options, `/api/mcp/pins${query}`);
    if (options.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    printTable(
      ["CONNECTION", "TOOL", "STATE", "PINNED", "BY", "PENDING SINCE"],
      list.map((pin) => [
        pin.connection,
        pin.tool,
        pin.pendingHash === null ? "pinned" : pin.pinnedHash === null ? "new" : "changed",
        pin.pinnedHash === null ? "-" : pin.pinnedHash.slice(0, 12),
        pin.pinnedBy ?? "-",
        pin.pendingSince ?? "-",
      ]),
    );
  });
  withAdminOptions(
    pins
      .command("accept")
      .description("pin the pending definition of a tool (or of every tool of the connection)")
      .argument("<connection>")
      .argument("[tool]", "the upstream's tool name (as in pins list)"),
  ).action(async (connection: string, tool: string | undefined, _options: Options, command: Command) => {
    const options = command.optsWithGlobals<Options>();
    const { accepted } = await adminSend<{ accepted: McpToolPin[] }>(
      options,
      "POST",
      `/api/mcp/pins/${encodeURIComponent(connection)}/accept`,
      tool === undefined ? {} : { tool },
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(accepted)}\n`);
    for (const pin of accepted)
      process.stdout.write(`${pin.connection} ${pin.tool}: pinned ${pin.pinnedHash?.slice(0, 12)}\n`);
  });
}
