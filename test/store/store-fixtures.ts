import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AuditEventInput } from "../../src/store/store.js";

/** A fresh directory per test, removed afterwards. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "latch-store-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sessionStart(
  sessionId: string,
  subject = "agent-1",
  connection = "analytics",
): AuditEventInput {
  return {
    kind: "session_start",
    sessionId,
    data: {
      protocol: "postgres",
      connection,
      subject,
      groups: ["agents"],
      issuer: "https://issuer.example",
      clientAddress: "127.0.0.1:50000",
    },
  };
}

export function operation(
  sessionId: string,
  text: string,
  decision: "allow" | "deny" | "approval" = "allow",
): AuditEventInput {
  return {
    kind: "operation",
    sessionId,
    data: {
      operationId: `op-${text.length}-${decision}`,
      mode: "simple",
      statements: [{ text, verb: text.split(" ")[0]!.toLowerCase(), tables: ["public.users"] }],
      verdict: { decision, rules: decision === "allow" ? ["policy0"] : [], reason: `${decision} by test` },
    },
  };
}

export function sessionEnd(sessionId: string, reason = "client_terminated"): AuditEventInput {
  return { kind: "session_end", sessionId, data: { reason } };
}
