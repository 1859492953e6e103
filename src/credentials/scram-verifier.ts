import { createHash, createHmac, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);
const ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 / 7677), computed here so that
 * CREATE ROLE ... PASSWORD carries no plaintext: a server with log_statement = 'ddl' logs only the verifier.
 * The password must be ASCII (SASLprep is then the identity); ours are base64url.
 */
export async function scramSha256Verifier(password: string): Promise<string> {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error("verifier input must be printable ASCII");
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
