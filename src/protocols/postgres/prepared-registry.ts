import type { ClassifiedStatement } from "../../sql/classification.js";

export interface PreparedStatement {
  readonly sql: string;
  readonly statements: readonly ClassifiedStatement[];
}

export interface BoundPortal {
  readonly statement: PreparedStatement;
  readonly parameters: readonly (string | null)[];
}

/**
 * Named statements and portals of one session (protocol-level Parse/Bind and SQL-level PREPARE), so that an
 * Execute is authorized as the statement it really runs. Changes made while a batch is being examined are
 * journaled and rolled back if the batch is denied, because the server never sees a denied batch.
 *
 * The registry must never believe a name means something harmless while the server holds something else
 * under it. So, as on the server, protocol-level statements and SQL PREPAREs share one namespace and a taken
 * name cannot be redefined (PostgreSQL answers 42P05 and keeps the first statement); and a removed name (Close,
 * DEALLOCATE) stays reserved until the server has confirmed the batch that removed it: if that batch failed,
 * the removal may have been skipped, and the name is never usable again in this session.
 */
export class PreparedRegistry {
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, BoundPortal>();
  private readonly sqlPrepared = new Map<string, ClassifiedStatement>();
  /** Named statements removed by a batch the server has not answered yet, or whose batch failed. */
  private readonly reserved = new Map<string, "closing" | "poisoned">();
  private journal: (() => void)[] = [];
  private removedInBatch: string[] = [];

  /** A statement name the server would refuse to (re)define, or that Latch cannot vouch for. */
  nameTaken(name: string): boolean {
    return (
      name !== "" && (this.statements.has(name) || this.sqlPrepared.has(name) || this.reserved.has(name))
    );
  }

  defineStatement(name: string, statement: PreparedStatement): void {
    this.record(this.statements, name);
    this.statements.set(name, statement);
  }

  statement(name: string): PreparedStatement | undefined {
    return this.statements.get(name);
  }

  bindPortal(name: string, portal: BoundPortal): void {
    this.record(this.portals, name);
    this.portals.set(name, portal);
  }

  portal(name: string): BoundPortal | undefined {
    return this.portals.get(name);
  }

  close(target: "S" | "P", name: string): void {
    if (target === "P") {
      this.record(this.portals, name);
      this.portals.delete(name);
      return;
    }
    this.remove(name);
  }

  /** SQL-level PREPARE name AS ... */
  definePrepared(name: string, inner: ClassifiedStatement): void {
    this.record(this.sqlPrepared, name);
    this.sqlPrepared.set(name, inner);
  }

  prepared(name: string): ClassifiedStatement | undefined {
    return this.sqlPrepared.get(name);
  }

  /** DEALLOCATE name, or "*" for DEALLOCATE ALL (which drops protocol-level statements too). */
  deallocate(name: string): void {
    if (name !== "*") {
      this.remove(name);
      return;
    }
    for (const named of new Set([...this.sqlPrepared.keys(), ...this.statements.keys()]))
      if (named !== "") this.remove(named);
  }

  /** The batch goes to the server; returns the statement names it removes (settle them with its outcome). */
  commit(): readonly string[] {
    this.journal = [];
    const removed = this.removedInBatch;
    this.removedInBatch = [];
    return removed;
  }

  rollback(): void {
    for (let i = this.journal.length - 1; i >= 0; i--) this.journal[i]!();
    this.journal = [];
    this.removedInBatch = [];
  }

  /** The server answered the batch that removed `names`: freed if it succeeded, never usable if it failed. */
  settleRemovals(names: readonly string[], succeeded: boolean): void {
    for (const name of names) {
      if (this.reserved.get(name) !== "closing") continue;
      if (succeeded) this.reserved.delete(name);
      else this.reserved.set(name, "poisoned");
    }
  }

  /** One namespace upstream: Close 'S' drops a SQL PREPARE too, DEALLOCATE a protocol-level statement. */
  private remove(name: string): void {
    if (name === "") {
      this.record(this.statements, name);
      this.statements.delete(name);
      return;
    }
    this.record(this.statements, name);
    this.record(this.sqlPrepared, name);
    this.record(this.reserved, name);
    const wasStatement = this.statements.delete(name);
    const wasPrepared = this.sqlPrepared.delete(name);
    const existed = wasStatement || wasPrepared;
    if (existed || this.reserved.has(name)) {
      if (this.reserved.get(name) !== "poisoned") this.reserved.set(name, "closing");
      this.removedInBatch.push(name);
    }
  }

  private record<V>(map: Map<string, V>, key: string): void {
    const had = map.has(key);
    const previous = map.get(key);
    this.journal.push(() => {
      if (had) map.set(key, previous as V);
      else map.delete(key);
    });
  }
}
