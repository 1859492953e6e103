/** One step of the PostgreSQL store's schema, applied once, in order, in its own transaction. Never edited once released. */
export interface PgMigration {
  readonly name: string;
  readonly sql: string;
}
