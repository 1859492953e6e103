import { z } from "zod";
import { duration, hostPort } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/** The `audit:` section: signed checkpoints, export sinks, retention (docs/audit.md). */
const exportSinkBase = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,63}$/)
    .describe("names the sink's cursor in the store and its metrics: renaming it exports everything again"),
};

/** Where audit events are streamed (audit-export/), each sink with its own cursor in the store. */
export const auditExportSinkSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("otlp"),
    ...exportSinkBase,
    url: z.url().describe("OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs (JSON encoding)"),
    headers: z
      .record(z.string(), secretRefSchema)
      .default({})
      .describe("extra request headers (e.g. authorization), each a secret ref"),
  }),
  z.strictObject({
    type: z.literal("syslog"),
    ...exportSinkBase,
    address: hostPort.describe("syslog receiver, RFC 5424 over TCP with octet-counting framing (RFC 6587)"),
    tls: z
      .union([
        z.literal(false),
        z.strictObject({
          ca_file: z.string().optional().describe("PEM CA bundle; default: the system's"),
          server_name: z.string().optional(),
        }),
      ])
      .default(false)
      .describe("TLS (RFC 5425); false: plain TCP"),
    facility: z.number().int().min(0).max(23).default(13).describe("syslog facility (13: log audit)"),
    app_name: z
      .string()
      .regex(/^\S{1,48}$/)
      .default("latch"),
  }),
  z.strictObject({
    type: z.literal("ndjson"),
    ...exportSinkBase,
    url: z.url().describe("HTTPS endpoint receiving POSTs of newline-delimited JSON events"),
    secret: secretRefSchema.describe("HMAC-SHA256 key for the X-Latch-Signature header"),
    ca_file: z
      .string()
      .optional()
      .describe("PEM CA bundle for the endpoint's certificate; default: the system's"),
  }),
]);

export const auditSchema = z
  .strictObject({
    checkpoints: z
      .strictObject({
        enabled: z.boolean().default(true),
        every_events: z.number().int().min(1).default(1000).describe("sign the head after this many events"),
        every: duration.default("60s").describe("or after this long, when anything was written"),
        key: secretRefSchema
          .optional()
          .describe(
            "Ed25519 signer key (PRIVATE+KEY+name+hash+base64, `latch audit key --generate`); default on the embedded store: generated under data_dir; required for a shared store",
          ),
        name: z
          .string()
          .regex(/^[^\s+]+$/)
          .optional()
          .describe("key name of a generated key (default latch-audit)"),
      })
      .prefault({}),
    export: z.array(auditExportSinkSchema).default([]).describe("stream every audit event to these sinks"),
    export_poll: duration.default("1s").describe("how often the exporter looks for new events"),
    retention: duration
      .optional()
      .describe(
        "delete events older than this (e.g. 400d), anchored by a signed checkpoint; default keep all",
      ),
    prune_every: duration.default("1h").describe("how often retention runs"),
  })
  .prefault({});
