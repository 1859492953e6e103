import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { ExportFailure, type ExportSink, exportRecord } from "./export-sink.js";

export interface NdjsonSinkOptions {
  readonly name: string;
  readonly url: string;
  /** HMAC-SHA256 key (resolved from its secret ref): never logged. */
  readonly secret: string;
  readonly timeoutMs?: number;
  /** PEM CA bundle the endpoint's certificate must chain to; default: the system's. */
  readonly caFile?: string;
}

/**
 * NDJSON over HTTPS: one POST per batch, one exported event per line. `X-Latch-Signature: sha256=<hex>` is the
 * HMAC-SHA256 of the raw body (as the approval webhooks sign theirs); the body's seqs make a replay visible
 * to a receiver that keeps the last seq it stored. A 2xx acknowledges the batch.
 */
export function createNdjsonSink(options: NdjsonSinkOptions): ExportSink {
  let delivered = 0;
  const dispatcher =
    options.caFile === undefined ? undefined : new Agent({ connect: { ca: readFileSync(options.caFile) } });
  return {
    name: options.name,
    async send(events) {
      if (events.length === 0) return delivered;
      const body = `${events.map(exportRecord).join("\n")}\n`;
      const response = await request(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/x-ndjson",
          "x-latch-signature": `sha256=${createHmac("sha256", options.secret).update(body).digest("hex")}`,
          "x-latch-audit-seqs": `${events[0]!.seq}-${events[events.length - 1]!.seq}`,
        },
        body,
        ...(dispatcher === undefined ? {} : { dispatcher }),
        headersTimeout: options.timeoutMs ?? 10_000,
        bodyTimeout: options.timeoutMs ?? 10_000,
      }).catch((error: NodeJS.ErrnoException) => {
        throw new ExportFailure(`NDJSON receiver unreachable (${error.code ?? error.name})`);
      });
      await response.body.dump();
      if (response.statusCode < 200 || response.statusCode > 299)
        throw new ExportFailure(`NDJSON receiver answered HTTP ${response.statusCode}`);
      delivered = events[events.length - 1]!.seq;
      return delivered;
    },
    async close() {
      await dispatcher?.close();
    },
  };
}
