import { z } from "zod";
import { duration, passwordInUrl, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/** An SSH target (type: ssh). */
export const sshConnectionSchema = z.strictObject({
  type: z.literal("ssh"),
  upstream: z
    .string()
    .regex(/^ssh:\/\/[^@/\s]+@[^/\s]+$/, "expected ssh://user@host[:port]")
    .refine(withoutPassword, passwordInUrl("private_key"))
    .describe("ssh://user@host:port of the target sshd (the user Latch logs in as)"),
  private_key: secretRefSchema.describe(
    "OpenSSH/PEM private key Latch logs in with; the caller never sees it",
  ),
  host_key: z
    .string()
    .min(1)
    .describe(
      'the target\'s host key: a known_hosts-style "ssh-ed25519 AAAA..." line or a "SHA256:..." fingerprint; a mismatch refuses the connection',
    ),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  masking: z
    .array(z.string())
    .default([])
    .describe(
      "masking profiles whose content detectors apply to recorded output (column rules do not apply)",
    ),
  connect_timeout: duration.default("10s"),
  ...sessionLimits,
});
