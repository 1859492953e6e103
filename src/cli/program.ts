import { Command } from "commander";
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

/** Every `latch` command, with its options and help; main.ts parses the process's arguments with it. */
export function buildProgram(): Command {
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
  return program;
}
