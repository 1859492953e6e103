#!/usr/bin/env node
import { Command } from "commander";
import { isLatchError } from "../errors.js";
import { registerAuditCommands } from "./commands/audit.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerGrantsCommands } from "./commands/grants.js";
import { registerMcpCommand } from "./commands/mcp.js";
import { registerPolicyCommands } from "./commands/policy.js";
import { registerPrincipalsCommands } from "./commands/principals.js";
import { registerRequestsCommands } from "./commands/requests.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerSessionsCommands } from "./commands/sessions.js";
import { registerTokenCommand } from "./commands/token.js";

// `latch ... | head` closes the pipe early: that is the reader's choice, not an error to crash on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = new Command()
  .name("latch")
  .description("Latch: just-in-time access gateway for agents and automation")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)");

registerServeCommand(program);
registerDemoCommand(program);
registerTokenCommand(program);
registerConfigCommands(program);
registerPolicyCommands(program);
registerAuditCommands(program);
registerSessionsCommands(program);
registerRequestsCommands(program);
registerGrantsCommands(program);
registerPrincipalsCommands(program);
registerMcpCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = isLatchError(error)
    ? error.message
    : error instanceof Error
      ? error.message
      : String(error);
  process.stderr.write(`latch: ${message}\n`);
  process.exitCode = 1;
  // A failed command is over even if a socket it opened is still waiting (a store login that failed mid-SCRAM
  // kept `latch serve` alive for the server's authentication_timeout): exit once stderr is written.
  setTimeout(() => process.exit(1), 500).unref();
});
