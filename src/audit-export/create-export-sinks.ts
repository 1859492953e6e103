import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { LatchError } from "../errors.js";
import type { ExportSink } from "./export-sink.js";
import { createNdjsonSink } from "./ndjson-sink.js";
import { createOtlpLogsSink } from "./otlp-logs-sink.js";
import { createSyslogSink } from "./syslog-sink.js";

/** The sinks `audit.export` names, secrets resolved now (a missing one fails the start, naming the ref). */
export function createExportSinks(config: Pick<LatchConfig, "audit">): ExportSink[] {
  const seen = new Set<string>();
  return config.audit.export.map((sink) => {
    if (seen.has(sink.name))
      throw new LatchError("config_invalid", {
        detail: `audit.export: two sinks are named "${sink.name}"; each needs its own name (it names its cursor)`,
      });
    seen.add(sink.name);
    if (sink.type === "otlp") {
      const headers = Object.fromEntries(
        Object.entries(sink.headers).map(([name, ref]) => [
          name,
          resolveSecret(ref, `audit.export ${sink.name} header ${name}`),
        ]),
      );
      return createOtlpLogsSink({ name: sink.name, url: sink.url, headers });
    }
    if (sink.type === "ndjson")
      return createNdjsonSink({
        name: sink.name,
        url: sink.url,
        secret: resolveSecret(sink.secret, `audit.export ${sink.name} secret`),
        ...(sink.ca_file === undefined ? {} : { caFile: sink.ca_file }),
      });
    const at = sink.address.lastIndexOf(":");
    return createSyslogSink({
      name: sink.name,
      host: sink.address.slice(0, at).replace(/^\[|\]$/g, ""),
      port: Number(sink.address.slice(at + 1)),
      ...(sink.tls === false
        ? {}
        : {
            tls: {
              ...(sink.tls.ca_file === undefined ? {} : { caFile: sink.tls.ca_file }),
              ...(sink.tls.server_name === undefined ? {} : { serverName: sink.tls.server_name }),
            },
          }),
      facility: sink.facility,
      appName: sink.app_name,
    });
  });
}
