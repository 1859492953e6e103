import cluster from "node:cluster";
import type { Command } from "commander";
import { type LoadedConfig, loadConfig } from "../../config/load-config.js";
import { startupWarnings } from "../../config/startup-warnings.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { RunningGateway } from "../../server/start-gateway.js";
import { parseWorkersFlag, resolveWorkerCount } from "../../server/workers/worker-count.js";
import {
  isWorkerMessage,
  WORKER_GATEWAY_ID_ENV,
  WORKER_SLOT_ENV,
} from "../../server/workers/worker-messages.js";
import { superviseWorkers } from "../../server/workers/worker-supervisor.js";

/**
 * The gateway's whole code is loaded only when a command runs it: every other `latch` command (and `--help`)
 * starts without it, ~1.4 s of CPU sooner.
 */
export function loadGateway(): Promise<typeof import("../../server/start-gateway.js")> {
  return import("../../server/start-gateway.js");
}

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
      "\nExamples:\n  latch serve --config latch.yaml\n  latch serve --config latch.yaml --strict   # refuse a config that lets no one through\n  latch serve --config latch.yaml --workers auto   # one process per CPU (needs store: postgres)\n  kill -HUP <pid>   # reload policies without dropping sessions",
    )
    .option(
      "-w, --workers <n>",
      "gateway processes sharing every listener, each a replica of the PostgreSQL store (a number, or auto: one per CPU); default server.workers, else 1",
    )
    .action(async (options: { config?: string; strict?: boolean; workers?: string }) => {
      const workersFlag = options.workers === undefined ? undefined : parseWorkersFlag(options.workers);
      if (cluster.isWorker && process.env[WORKER_SLOT_ENV] !== undefined) return serveAsWorker(options);
      const loaded = loadConfig(options.config);
      if (options.strict === true) await refuseUnusableConfig(loaded.config);
      const workers = resolveWorkerCount(loaded.config, workersFlag);
      if (workers === 1) return serveOne(loaded);
      const { createLogger } = await import("../../server/logger.js");
      const log = createLogger(loaded.config.log_level, { role: "primary" });
      // Loaded here, not at the top: they bring ssh2 and the certificate generator, which `--help` does not need.
      const { prepareSharedFiles } = await import("../../server/workers/shared-files.js");
      await prepareSharedFiles(loaded.config);
      (await import("../../server/workers/cluster-metrics.js")).serveClusterMetrics();
      const code = await superviseWorkers({
        workers,
        log,
        drainTimeoutMs: parseDuration(loaded.config.limits.drain_timeout),
      });
      // The last lines (why it stopped) are written before the exit, not lost in pino's async buffer.
      process.exitCode = code;
      log.flush(() => process.exit(code));
      setTimeout(() => process.exit(code), 1000).unref();
    });
}

/**
 * One gateway in this process: the default, and each worker of `--workers N`. Signals are handled from the
 * first moment: a SIGTERM while the gateway is still starting stops it cleanly (with its gateway_stop event)
 * once it is up, and an early SIGHUP does not kill the process.
 */
async function serveOne(loaded: LoadedConfig, worker?: { slot: number; gatewayId: string }): Promise<void> {
  let gateway: RunningGateway | undefined;
  let stopSignal: string | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopSignal !== undefined && gateway === undefined) return;
    stopSignal = signal;
    if (gateway === undefined || stopping) return; // stopped right after start-up finishes
    stopping = true;
    const running = gateway;
    running.log.info({ signal }, "shutting down");
    running.stop().finally(() => process.exit(0));
  };
  // A worker may get a signal twice (from its primary, and from a terminal's or a service manager's signal to
  // the whole process group): the second one must not kill it mid-drain.
  const on = worker === undefined ? process.once.bind(process) : process.on.bind(process);
  on("SIGINT", () => stop("SIGINT"));
  on("SIGTERM", () => stop("SIGTERM"));
  const reload = () => {
    gateway
      ?.reloadPolicies()
      .catch((error: Error) =>
        gateway?.log.error({ err: error }, "policy reload failed; keeping the previous policies"),
      );
  };
  process.on("SIGHUP", reload);
  const { createLogger } = await import("../../server/logger.js");
  const log =
    worker === undefined
      ? undefined
      : createLogger(loaded.config.log_level, { worker: worker.slot, pid: process.pid });
  gateway = await (await loadGateway()).startGateway(loaded, {
    ...(log === undefined ? {} : { log }),
    ...(worker === undefined ? {} : { gatewayId: worker.gatewayId, worker: worker.slot }),
  });
  if (worker !== undefined) {
    process.on("message", (message: unknown) => {
      if (isWorkerMessage(message) && message.latch === "reload") reload();
    });
    process.send?.({ latch: "ready", gatewayId: worker.gatewayId });
  }
  if (stopSignal !== undefined) stop(stopSignal);
}

/** A worker forked by the primary: the same config, its own gateway id (a replica of its own on the store). */
function serveAsWorker(options: { config?: string }): Promise<void> {
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  const gatewayId = process.env[WORKER_GATEWAY_ID_ENV] ?? "";
  if (!/^[0-9a-f]{16}$/.test(gatewayId)) throw new Error("worker started without a gateway id");
  return serveOne(loadConfig(options.config), { slot, gatewayId });
}

/** `--strict`: the startup warnings (the gateway logs them at start) become a refusal to start. */
async function refuseUnusableConfig(config: ReturnType<typeof loadConfig>["config"]): Promise<void> {
  const { loadPolicies } = await import("../../policy/load-policies.js");
  const policyCount = (await loadPolicies(config.policies)).policies.length;
  const warnings = startupWarnings(config, policyCount);
  if (warnings.length === 0) return;
  throw new LatchError("config_invalid", {
    detail: `--strict: ${warnings.map((warning) => warning.message).join("; ")}`,
  });
}
