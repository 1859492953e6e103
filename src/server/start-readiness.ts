import type { Logger } from "pino";
import type { LoadedConfig } from "../config/load-config.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { createMetrics } from "../observability/metrics.js";
import { startUpstreamReadiness, type UpstreamReadiness } from "../observability/upstream-readiness.js";
import { PROTOCOL_MODULES } from "./protocol-modules.js";

/** Background checks of every configured connection's upstream, by its protocol module's probe (/readyz). */
export function startReadiness(
  config: LoadedConfig["config"],
  metrics: ReturnType<typeof createMetrics>,
  log: Logger,
): UpstreamReadiness {
  const timeoutMs = parseDuration(config.health.upstream_check_timeout);
  const targets = Object.entries(config.connections).flatMap(([name, connection]) => {
    const module = PROTOCOL_MODULES.find((m) => m.connectionType === connection.type);
    const probe = module?.probe;
    if (module === undefined || probe === undefined) return [];
    return [{ connection: name, protocol: module.name, probe: () => probe(connection, timeoutMs) }];
  });
  return startUpstreamReadiness({
    targets,
    intervalMs: parseDuration(config.health.upstream_check_interval),
    gauge: metrics.upstreamReady,
    onChange: (connection, check) =>
      check.ready
        ? log.info({ connection, latencyMs: check.latencyMs }, "upstream ready")
        : log.warn({ connection, error: check.error }, "upstream not ready"),
  });
}
