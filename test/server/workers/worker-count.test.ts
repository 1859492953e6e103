import { describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { parseWorkersFlag, resolveWorkerCount } from "../../../src/server/workers/worker-count.js";

const postgres = configSchema.parse({ store: "postgres://latch@127.0.0.1/latch" });
const sqlite = configSchema.parse({});

describe("how many workers serve", () => {
  it("is 1 by default, on either store", () => {
    expect(sqlite.server.workers).toBe(1);
    expect(resolveWorkerCount(sqlite, undefined)).toBe(1);
    expect(resolveWorkerCount(postgres, undefined)).toBe(1);
  });

  it("takes the flag over server.workers, and auto as one per CPU", () => {
    const three = configSchema.parse({ store: "postgres://latch@127.0.0.1/latch", server: { workers: 3 } });
    expect(resolveWorkerCount(three, undefined)).toBe(3);
    expect(resolveWorkerCount(three, 2)).toBe(2);
    expect(resolveWorkerCount(three, "auto", () => 8)).toBe(8);
    expect(resolveWorkerCount(sqlite, "auto", () => 1)).toBe(1);
  });

  it("refuses more than one on SQLite, naming the fix", () => {
    expect(() => resolveWorkerCount(sqlite, 2)).toThrow(/set store: postgres:\/\/.*one writer/);
    expect(() => resolveWorkerCount(sqlite, "auto", () => 4)).toThrow(/4 workers need a shared store/);
  });

  it("accepts only a whole number from 1 to 256, or auto", () => {
    expect(parseWorkersFlag("auto")).toBe("auto");
    expect(parseWorkersFlag("4")).toBe(4);
    for (const bad of ["0", "-1", "1.5", "two", "", "257", " 2"])
      expect(() => parseWorkersFlag(bad), bad).toThrow(/whole number from 1 to 256, or auto/);
    expect(() => configSchema.parse({ server: { workers: 0 } })).toThrow();
    expect(() => configSchema.parse({ server: { workers: "all" } })).toThrow();
  });
});
