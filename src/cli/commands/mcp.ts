import type { Command } from "commander";
import { registerMcpPinsCommands } from "./mcp-pins.js";

const EXAMPLES = `
Examples:
  $ LATCH_TOKEN=$(latch token --sub agent-1 --group agents) latch mcp --server https://127.0.0.1:8443/mcp
  $ latch mcp --server https://latch.internal:8443/mcp --token-command "gcloud auth print-identity-token"

For agents that speak MCP over stdio only: give the agent "latch mcp --server URL" as its MCP server command.
The bridge relays every message to the gateway's Streamable HTTP endpoint with the token as bearer; the
gateway authorizes, records and masks as for any MCP client. A self-signed gateway certificate is trusted
with NODE_EXTRA_CA_CERTS=<the gateway's cert file>.`;

/** `latch mcp`: a stdio <-> Streamable HTTP bridge to the gateway's MCP endpoint. */
export function registerMcpCommand(program: Command): void {
  const mcp = program
    .command("mcp")
    .description("bridge a stdio MCP client to the gateway's MCP endpoint (/mcp); `mcp pins` for tool pins")
    // Not requiredOption: commander would demand it of the `pins` subcommands too.
    .option("--server <url>", "the gateway's MCP endpoint, e.g. https://127.0.0.1:8443/mcp (required)")
    .option("--token <token>", "bearer token (default: LATCH_TOKEN)")
    .option("--token-command <command>", "shell command that prints a token (run once at start)")
    .addHelpText("after", EXAMPLES)
    .action(async (options: { server?: string; token?: string; tokenCommand?: string }) => {
      if (options.server === undefined)
        throw new Error(
          "--server <url> is required: the gateway's MCP endpoint, e.g. https://127.0.0.1:8443/mcp",
        );
      let server: URL;
      try {
        server = new URL(options.server);
      } catch {
        throw new Error(`--server ${options.server} is not a URL: e.g. https://127.0.0.1:8443/mcp`);
      }
      // The MCP SDK is loaded by this command only: every other `latch` command starts ~0.1 s of CPU sooner.
      const { bridgeToken, runMcpBridge } = await import("../mcp-bridge.js");
      const token = await bridgeToken({
        ...((options.token ?? process.env.LATCH_TOKEN) === undefined
          ? {}
          : { token: options.token ?? process.env.LATCH_TOKEN }),
        ...(options.tokenCommand === undefined ? {} : { tokenCommand: options.tokenCommand }),
      });
      await runMcpBridge(server, token);
    });
  registerMcpPinsCommands(mcp);
}
