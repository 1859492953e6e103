import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { startGateway } from "../../server/start-gateway.js";

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the gateway (PostgreSQL listener, admin API, web console)")
    .option("-c, --config <file>", "config file (default: ./latch.yaml if present, else embedded defaults)")
    .addHelpText(
      "after",
      "\nExamples:\n  latch serve --config latch.yaml\n  kill -HUP <pid>   # reload policies without dropping sessions",
    )
    .action(async (options: { config?: string }) => {
      const loaded = loadConfig(options.config);
      const gateway = await startGateway(loaded);
      process.on("SIGHUP", () => {
        gateway
          .reloadPolicies()
          .catch((error: Error) =>
            gateway.log.error({ err: error }, "policy reload failed; keeping the previous policies"),
          );
      });
      const stop = (signal: string) => {
        gateway.log.info({ signal }, "shutting down");
        gateway.stop().finally(() => process.exit(0));
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
}
