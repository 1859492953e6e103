import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { startupWarnings } from "../../config/startup-warnings.js";
import { LatchError } from "../../errors.js";
import { loadPolicies } from "../../policy/load-policies.js";
import { type RunningGateway, startGateway } from "../../server/start-gateway.js";

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the gateway (PostgreSQL listener, admin API, web console)")
    .option("-c, --config <file>", "config file (default: ./latch.yaml if present, else embedded defaults)")
    .option(
      "--strict",
      "refuse to start without connections, without policies, or without a trusted token issuer",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  latch serve --config latch.yaml\n  latch serve --config latch.yaml --strict   # refuse a config that lets no one through\n  kill -HUP <pid>   # reload policies without dropping sessions",
    )
    .action(async (options: { config?: string; strict?: boolean }) => {
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
      if (options.strict === true) await refuseUnusableConfig(loaded.config);
      gateway = await startGateway(loaded);
      if (stopSignal !== undefined) stop(stopSignal);
    });
}

/** `--strict`: the startup warnings (the gateway logs them at start) become a refusal to start. */
async function refuseUnusableConfig(config: ReturnType<typeof loadConfig>["config"]): Promise<void> {
  const policyCount = (await loadPolicies(config.policies)).policies.length;
  const warnings = startupWarnings(config, policyCount);
  if (warnings.length === 0) return;
  throw new LatchError("config_invalid", {
    detail: `--strict: ${warnings.map((warning) => warning.message).join("; ")}`,
  });
}
