import pg from "pg";
import type { PgTarget } from "./pgbench.js";
import { rssBytes } from "./proc-cpu.js";

export interface IdleSessions {
  sessions: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  growthMb: number;
  perSessionKb: number;
  /**
   * Growth estimated for 1,000 sessions when fewer were opened (--quick): the measured growth plus the
   * remaining sessions at the marginal cost of the second half (the first sessions also pay one-off costs:
   * JIT, heap growth); equal to growthMb otherwise.
   */
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
    let halfway: { sessions: number; rss: number } | undefined;
    for (let i = 0; i < count; i += width) {
      if (halfway === undefined && i >= count / 2) halfway = { sessions: i, rss: rssBytes(gatewayPid) };
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
      growthPer1000Mb:
        count >= 1000 || halfway === undefined
          ? growth
          : growth +
            ((1000 - count) * Math.max(0, after - halfway.rss)) /
              Math.max(1, count - halfway.sessions) /
              2 ** 20,
      fdLimit,
    };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}
