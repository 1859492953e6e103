import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const run = promisify(execFile);

/** Where the bridge's bearer comes from: LATCH_TOKEN, or a command that prints one (run at start). */
export async function bridgeToken(options: { token?: string; tokenCommand?: string }): Promise<string> {
  if (options.tokenCommand !== undefined) {
    const { stdout } = await run("/bin/sh", ["-c", options.tokenCommand], {
      timeout: 30_000,
      maxBuffer: 64 * 1024,
    });
    const token = stdout.trim();
    if (token === "") throw new Error(`--token-command printed nothing: ${options.tokenCommand}`);
    return token;
  }
  const token = options.token?.trim();
  if (token === undefined || token === "")
    throw new Error(
      "no token: set LATCH_TOKEN, pass --token, or name a command that prints one with --token-command",
    );
  return token;
}

/**
 * Relays MCP messages between a local agent on stdio and the gateway's Streamable HTTP endpoint, unchanged:
 * the session id, streams and reconnection are the SDK client's; the bearer is added to every request.
 * Resolves when either side closes.
 */
export async function runMcpBridge(server: URL, token: string): Promise<void> {
  const local = new StdioServerTransport();
  const remote = new StreamableHTTPClientTransport(server, {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  let done: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });
  const closeBoth = () => {
    void local.close().catch(() => undefined);
    void remote.close().catch(() => undefined);
    done();
  };
  local.onmessage = (message) => {
    remote.send(message).catch((error: Error) => {
      process.stderr.write(`latch mcp: ${error.message}\n`);
      // A request the gateway refused still gets an answer, so the agent does not wait forever.
      if ("id" in message && "method" in message)
        void local.send({ jsonrpc: "2.0", id: message.id, error: { code: -32001, message: error.message } });
    });
  };
  remote.onmessage = (message) => void local.send(message).catch(closeBoth);
  local.onclose = closeBoth;
  remote.onclose = closeBoth;
  remote.onerror = (error) => process.stderr.write(`latch mcp: ${error.message}\n`);
  await remote.start();
  await local.start();
  process.stdin.once("end", closeBoth);
  await closed;
}
