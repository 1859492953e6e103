import { createHash } from "node:crypto";
import * as sasl from "pg/lib/crypto/sasl.js";
import type { BackendMessage } from "./messages.js";

/**
 * Answers the upstream server's authentication challenges with the injected credential. SCRAM comes from
 * node-postgres (nonce checks, iteration cap against a hostile server, server-signature verification);
 * channel binding is not offered, so the session cannot be downgraded silently: the server signature is
 * always checked.
 */
export class UpstreamAuthenticator {
  private session: sasl.SaslSession | undefined;

  constructor(
    private readonly user: string,
    private readonly password: string,
  ) {}

  /** Returns the bytes to send for this challenge, or undefined when nothing is to be sent. */
  async answer(
    message: BackendMessage,
    encode: {
      password(text: string): Buffer;
      saslInitial(mechanism: string, data: Buffer): Buffer;
      saslResponse(data: Buffer): Buffer;
    },
  ): Promise<Buffer | undefined> {
    switch (message.kind) {
      case "AuthenticationCleartextPassword":
        return encode.password(this.password);
      case "AuthenticationMD5Password": {
        const inner = createHash("md5")
          .update(this.password + this.user)
          .digest("hex");
        const outer = createHash("md5").update(inner).update(message.salt).digest("hex");
        return encode.password(`md5${outer}`);
      }
      case "AuthenticationSASL": {
        this.session = sasl.startSession([...message.mechanisms]);
        return encode.saslInitial(this.session.mechanism, Buffer.from(this.session.response, "utf8"));
      }
      case "AuthenticationSASLContinue": {
        if (this.session === undefined) throw new Error("SASL continue without a SASL start");
        await sasl.continueSession(this.session, this.password, message.data.toString("utf8"));
        return encode.saslResponse(Buffer.from(this.session.response, "utf8"));
      }
      case "AuthenticationSASLFinal": {
        if (this.session === undefined) throw new Error("SASL final without a SASL start");
        sasl.finalizeSession(this.session, message.data.toString("utf8"));
        return undefined;
      }
      case "AuthenticationOk":
        return undefined;
      default:
        throw new Error(`unsupported authentication request (${message.kind})`);
    }
  }
}
