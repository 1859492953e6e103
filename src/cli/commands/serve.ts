import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { type RunningGateway, startGateway } from "../../server/start-gateway.js";

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
      // Signals are handled from the first moment: a SIGTERM while the gateway is still starting stops it
      // cleanly (with its gateway_stop event) once it is up, and an early SIGHUP does not kill the process.
      let gateway: RunningGateway | undefined;
      let stopSignal: string | undefined;
      const stop = (signal: string) => {
        if (stopSignal !== undefined && gateway === undefined) return;
        stopSignal = signal;
        if (gateway === undefined) return; // stopped right after start-up finishes
        const running = gateway;
        running.log.info({ signal }, "shutting down");
        running.stop().finally(() => process.exit(0));
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGHUP", () => {
        gateway
          ?.reloadPolicies()
          .catch((error: Error) =>
            gateway?.log.error({ err: error }, "policy reload failed; keeping the previous policies"),
          );
      });
      const loaded = loadConfig(options.config);
      gateway = await startGateway(loaded);
      if (stopSignal !== undefined) stop(stopSignal);
    });
}
