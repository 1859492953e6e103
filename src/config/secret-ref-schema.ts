import { z } from "zod";

/** A secret is never a literal in config: it names where to read it from. */
export const secretRefSchema = z.union([
  z.strictObject({ env: z.string().min(1).describe("environment variable holding the secret") }),
  z.strictObject({ file: z.string().min(1).describe("file holding the secret (trailing newline trimmed)") }),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;
