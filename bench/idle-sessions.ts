import pg from "pg";
import type { PgTarget } from "./pgbench.js";
import { rssBytes } from "./proc-cpu.js";

export interface IdleSessions {
  sessions: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  growthMb: number;
  perSessionKb: number;
  /** Growth scaled to 1,000 sessions when fewer were opened (--quick); equal to growthMb otherwise. */
  growthPer1000Mb: number;
  /** The bench process's open-file limit (each session is one socket here, two in the gateway). */
  fdLimit: string;
}

/**
 * Opens `count` authenticated sessions through the gateway (token check and upstream login done, one
 * `SELECT 1` each so the session is fully set up), holds them idle, and reads the gateway's RSS before and
 * after. node-postgres clients in this process are cheap enough to hold a thousand; they are opened a few at a
 * time because Latch limits concurrent handshakes per client address.
 */
export async function measureIdleSessions(
  target: PgTarget,
  gatewayPid: number,
  count: number,
  fdLimit: string,
): Promise<IdleSessions> {
  const before = rssBytes(gatewayPid);
  const clients: pg.Client[] = [];
  const open = async () => {
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      ssl: false,
      connectionTimeoutMillis: 30_000,
    });
    client.on("error", () => undefined);
    clients.push(client);
    await client.connect();
    await client.query("SELECT 1");
  };
  try {
    const width = 8;
    for (let i = 0; i < count; i += width) {
      await Promise.all(Array.from({ length: Math.min(width, count - i) }, open));
    }
    // Let the gateway settle (buffers released after the handshakes) before reading RSS.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = rssBytes(gatewayPid);
    const growth = (after - before) / 2 ** 20;
    return {
      sessions: count,
      rssBeforeMb: before / 2 ** 20,
      rssAfterMb: after / 2 ** 20,
      growthMb: growth,
      perSessionKb: (after - before) / count / 1024,
      growthPer1000Mb: (growth * 1000) / count,
      fdLimit,
    };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}
