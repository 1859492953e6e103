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
 */
export class PreparedRegistry {
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, BoundPortal>();
  private readonly sqlPrepared = new Map<string, ClassifiedStatement>();
  private journal: (() => void)[] = [];

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
    const map: Map<string, unknown> = target === "S" ? this.statements : this.portals;
    this.record(map, name);
    map.delete(name);
  }

  /** SQL-level PREPARE name AS ... */
  definePrepared(name: string, inner: ClassifiedStatement): void {
    this.record(this.sqlPrepared, name);
    this.sqlPrepared.set(name, inner);
  }

  prepared(name: string): ClassifiedStatement | undefined {
    return this.sqlPrepared.get(name);
  }

  deallocate(name: string): void {
    if (name === "*") {
      const saved = new Map(this.sqlPrepared);
      this.journal.push(() => {
        for (const [key, value] of saved) this.sqlPrepared.set(key, value);
      });
      this.sqlPrepared.clear();
      return;
    }
    this.record(this.sqlPrepared, name);
    this.sqlPrepared.delete(name);
  }

  /** The unnamed portal and all portals end with the transaction; PostgreSQL drops them at Sync. */
  commit(): void {
    this.journal = [];
  }

  rollback(): void {
    for (let i = this.journal.length - 1; i >= 0; i--) this.journal[i]!();
    this.journal = [];
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
