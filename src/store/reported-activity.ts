/**
 * The last activity (epoch ms) a store already wrote for each session, per gateway, so a heartbeat writes only
 * the sessions that had traffic since: the gateway reports every live session on every beat, and most are idle.
 * Skipping a report at or before the written value changes nothing, because last activity never moves back.
 * Only a store that is the sole writer of its rows may keep this (SQLite: one process per file).
 */
export class ReportedActivity {
  private readonly byGateway = new Map<string, Map<string, number>>();

  /** The reports of `activity` that are newer than what was written for `gatewayId`, as [id, at] pairs. */
  newer(gatewayId: string, activity: ReadonlyMap<string, number>): [string, number][] {
    const written = this.byGateway.get(gatewayId);
    const changed: [string, number][] = [];
    for (const [id, at] of activity) {
      const before = written?.get(id);
      if (before === undefined || at > before) changed.push([id, at]);
    }
    return changed;
  }

  /** Call once the write of `changed` committed (a rolled-back beat is retried in full on the next one). */
  written(gatewayId: string, changed: readonly [string, number][]): void {
    if (changed.length === 0) return;
    const written = this.byGateway.get(gatewayId) ?? new Map<string, number>();
    this.byGateway.set(gatewayId, written);
    for (const [id, at] of changed) written.set(id, at);
  }

  /** The session ended: forget it (an id is never reused, but the map must not grow with every session ever). */
  forget(id: string): void {
    for (const written of this.byGateway.values()) written.delete(id);
  }
}
