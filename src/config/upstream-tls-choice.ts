/**
 * Upstream TLS must be a choice, not an accident: a PostgreSQL connection to another machine without `tls:`
 * would silently talk plaintext (the schema's default is `disable`, which is right for a loopback upstream).
 * Checked on the raw config, where a missing key can still be told from a default.
 */
export function missingUpstreamTlsChoices(raw: unknown): string[] {
  const connections = (raw as { connections?: unknown } | undefined)?.connections;
  if (connections === null || typeof connections !== "object") return [];
  const problems: string[] = [];
  for (const [name, connection] of Object.entries(connections as Record<string, unknown>)) {
    if (connection === null || typeof connection !== "object") continue;
    const { type, upstream, tls } = connection as { type?: unknown; upstream?: unknown; tls?: unknown };
    if (type !== "postgres" || typeof upstream !== "string" || tls !== undefined) continue;
    let host: string;
    try {
      host = new URL(upstream).hostname.replace(/^\[|\]$/g, "");
    } catch {
      continue; // the schema reports the malformed URL
    }
    if (isLoopback(host)) continue;
    problems.push(
      `  - connections.${name}.tls: the upstream ${host} is not on this machine, so choose how to reach it: tls: verify-full (recommended, with ca_file), require, or disable (plaintext, say so explicitly)`,
    );
  }
  return problems;
}

/** A loopback upstream never leaves the machine: plaintext there exposes nothing on the network. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
