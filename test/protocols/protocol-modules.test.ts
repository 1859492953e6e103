import { describe, expect, it } from "vitest";
import { connectionSchema } from "../../src/config/schema.js";
import { ERRORS, type ErrorCode, LatchError } from "../../src/errors.js";
import { decodeBackend } from "../../src/protocols/postgres/decode-backend.js";
import { PROTOCOL_MODULES } from "../../src/server/protocol-modules.js";

const SAMPLE_PARAMS = {
  reason: "a reason",
  name: "app",
  size: 10,
  limit: 5,
  feature: "a feature",
  why: "why",
  what: "a thing",
  request: "req_1",
  ref: "ref-1",
  detail: "a detail",
  issuer: "https://issuer",
  expiredAt: "2026-01-01T00:00:00Z",
};

function sample(code: ErrorCode): LatchError {
  return new LatchError(code, SAMPLE_PARAMS);
}

describe("protocol modules", () => {
  it("every connection type has exactly one protocol module, and names are unique", () => {
    const types = connectionSchema.options.map((option) => option.shape.type.value);
    expect([...PROTOCOL_MODULES.map((m) => m.connectionType)].sort()).toEqual([...types].sort());
    expect(new Set(PROTOCOL_MODULES.map((m) => m.name)).size).toBe(PROTOCOL_MODULES.length);
  });

  it("the PostgreSQL module renders every error as an ErrorResponse with its SQLSTATE and message", () => {
    const postgres = PROTOCOL_MODULES.find((m) => m.name === "postgres")!;
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const error = sample(code);
      const bytes = postgres.renderError(error);
      const decoded = decodeBackend({ type: bytes[0]!, raw: bytes, body: bytes.subarray(5) });
      expect(decoded.kind).toBe("ErrorResponse");
      if (decoded.kind !== "ErrorResponse") continue;
      expect(decoded.fields.code).toBe(error.sqlstate);
      expect(decoded.fields.message).toBe(error.message);
    }
  });

  it("the SSH module renders every error as one `latch:` stderr line", () => {
    const ssh = PROTOCOL_MODULES.find((m) => m.name === "ssh")!;
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const error = sample(code);
      expect(ssh.renderError(error).toString()).toBe(`latch: ${error.message}\r\n`);
    }
  });
});

describe("the HTTP module", () => {
  it("renders every error as a problem document naming the code, with a fix", () => {
    const httpModule = PROTOCOL_MODULES.find((m) => m.name === "http")!;
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const error = sample(code);
      const problem = JSON.parse(httpModule.renderError(error).toString());
      expect(problem).toMatchObject({ code, detail: error.message, type: `urn:latch:error:${code}` });
      expect(problem.status).toBeGreaterThanOrEqual(200);
      expect(typeof problem.fix).toBe("string");
    }
  });
});
