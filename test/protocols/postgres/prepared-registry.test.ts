import { beforeAll, describe, expect, it } from "vitest";
import {
  PreparedRegistry,
  type PreparedStatement,
} from "../../../src/protocols/postgres/prepared-registry.js";
import type { ClassifiedStatement, StatementClassifier } from "../../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../../src/sql/postgres/create-classifier.js";

let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
});

function classified(sql: string): ClassifiedStatement {
  const result = classifier.classify(sql);
  if (!result.ok) throw new Error(`fixture does not classify: ${result.reason}`);
  return result.statements[0]!;
}

function prepared(sql: string): PreparedStatement {
  return { sql, statements: [classified(sql)] };
}

describe("PreparedRegistry", () => {
  it("keeps what a committed batch defined", () => {
    const registry = new PreparedRegistry();
    const select = prepared("SELECT 1");
    registry.defineStatement("s1", select);
    registry.bindPortal("p1", { statement: select, parameters: ["7"] });
    registry.definePrepared("q", classified("SELECT 2"));
    registry.commit();
    registry.rollback(); // nothing left to undo
    expect(registry.statement("s1")).toBe(select);
    expect(registry.portal("p1")).toEqual({ statement: select, parameters: ["7"] });
    expect(registry.prepared("q")?.text).toBe("SELECT 2");
  });

  it("forgets what a rolled-back batch defined", () => {
    const registry = new PreparedRegistry();
    registry.defineStatement("s1", prepared("SELECT 1"));
    registry.bindPortal("p1", { statement: prepared("SELECT 1"), parameters: [] });
    registry.definePrepared("q", classified("SELECT 2"));
    registry.rollback();
    expect(registry.statement("s1")).toBeUndefined();
    expect(registry.portal("p1")).toBeUndefined();
    expect(registry.prepared("q")).toBeUndefined();
  });

  it("restores the previous definition of a name a rolled-back batch replaced", () => {
    const registry = new PreparedRegistry();
    const original = prepared("SELECT 1");
    registry.defineStatement("", original);
    registry.commit();
    registry.defineStatement("", prepared("DELETE FROM items"));
    registry.defineStatement("", prepared("DROP TABLE items"));
    registry.rollback();
    expect(registry.statement("")).toBe(original);
  });

  it("undoes a Close of a statement or a portal", () => {
    const registry = new PreparedRegistry();
    const select = prepared("SELECT 1");
    registry.defineStatement("s1", select);
    registry.bindPortal("p1", { statement: select, parameters: [] });
    registry.commit();
    registry.close("S", "s1");
    registry.close("P", "p1");
    expect(registry.statement("s1")).toBeUndefined();
    expect(registry.portal("p1")).toBeUndefined();
    registry.rollback();
    expect(registry.statement("s1")).toBe(select);
    expect(registry.portal("p1")?.statement).toBe(select);
  });

  it("keeps statements and portals apart: closing one kind leaves the other", () => {
    const registry = new PreparedRegistry();
    const select = prepared("SELECT 1");
    registry.defineStatement("same", select);
    registry.bindPortal("same", { statement: select, parameters: [] });
    registry.close("P", "same");
    expect(registry.statement("same")).toBe(select);
    expect(registry.portal("same")).toBeUndefined();
  });

  it("deallocates one SQL-level prepared statement, and undoes it", () => {
    const registry = new PreparedRegistry();
    registry.definePrepared("a", classified("SELECT 1"));
    registry.definePrepared("b", classified("SELECT 2"));
    registry.commit();
    registry.deallocate("a");
    expect(registry.prepared("a")).toBeUndefined();
    expect(registry.prepared("b")).toBeDefined();
    registry.rollback();
    expect(registry.prepared("a")?.text).toBe("SELECT 1");
  });

  it("DEALLOCATE ALL clears every SQL-level statement; a rollback restores exactly the committed set", () => {
    const registry = new PreparedRegistry();
    registry.definePrepared("a", classified("SELECT 1"));
    registry.commit();
    registry.definePrepared("b", classified("SELECT 2")); // same batch, before the DEALLOCATE ALL
    registry.deallocate("*");
    registry.definePrepared("c", classified("SELECT 3")); // same batch, after it
    expect(registry.prepared("a")).toBeUndefined();
    expect(registry.prepared("b")).toBeUndefined();
    expect(registry.prepared("c")).toBeDefined();
    registry.rollback();
    expect(registry.prepared("a")?.text).toBe("SELECT 1");
    expect(registry.prepared("b")).toBeUndefined();
    expect(registry.prepared("c")).toBeUndefined();
  });

  it("DEALLOCATE ALL drops protocol-level statements too (as PostgreSQL does), keeping their names reserved", () => {
    const registry = new PreparedRegistry();
    registry.defineStatement("s1", prepared("SELECT 1"));
    registry.commit();
    registry.deallocate("*");
    expect(registry.statement("s1")).toBeUndefined();
    expect(registry.nameTaken("s1")).toBe(true);
    registry.settleRemovals(registry.commit(), true);
    expect(registry.nameTaken("s1")).toBe(false);
  });

  it("rolls back only the batch since the last commit", () => {
    const registry = new PreparedRegistry();
    registry.defineStatement("first", prepared("SELECT 1"));
    registry.commit();
    registry.defineStatement("second", prepared("SELECT 2"));
    registry.close("S", "first");
    registry.rollback();
    expect(registry.statement("first")?.sql).toBe("SELECT 1");
    expect(registry.statement("second")).toBeUndefined();
  });
});
