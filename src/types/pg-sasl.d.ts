// pg ships its SCRAM client as plain JS; these are the parts Latch uses.
declare module "pg/lib/crypto/sasl.js" {
  export interface SaslSession {
    mechanism: string;
    clientNonce: string;
    response: string;
    message: string;
  }
  export function startSession(mechanisms: string[], stream?: unknown): SaslSession;
  export function continueSession(
    session: SaslSession,
    password: string,
    serverData: string,
    stream?: unknown,
  ): Promise<void>;
  export function finalizeSession(session: SaslSession, serverData: string): void;
}
