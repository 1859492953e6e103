import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AUDIT_EVENT_KINDS } from "../../src/store/store.js";

describe("docs/openapi.yaml", () => {
  it("lists every audit event kind the API filters on, and no other", () => {
    const spec = parse(readFileSync(new URL("../../docs/openapi.yaml", import.meta.url), "utf8")) as {
      components: { schemas: { AuditEventKind: { enum: string[] } } };
    };
    expect(spec.components.schemas.AuditEventKind.enum).toEqual([...AUDIT_EVENT_KINDS]);
  });
});
