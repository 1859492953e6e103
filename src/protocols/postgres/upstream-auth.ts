import { createHash } from "node:crypto";
import type { BackendMessage } from "./messages.js";
import { ScramClient, type ScramKeyStore } from "./scram-client.js";

/**
 * Answers the upstream server's authentication challenges with the injected credential. SCRAM is
 * scram-client.ts (nonce checks, iteration cap against a hostile server, server-signature verification, keys
 * reused from `keys` when given); channel binding is not offered, so the session cannot be downgraded
 * silently: the server signature is always checked, and AuthenticationOk before it is refused.
 */
export class UpstreamAuthenticator {
  private session: ScramClient | undefined;

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly keys?: ScramKeyStore,
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
        if (this.session !== undefined) throw new Error("a second SASL start");
        ScramClient.choose(message.mechanisms);
        this.session = new ScramClient(this.password, this.keys);
        return encode.saslInitial(this.session.mechanism, Buffer.from(this.session.initialResponse, "utf8"));
      }
      case "AuthenticationSASLContinue": {
        if (this.session === undefined) throw new Error("SASL continue without a SASL start");
        const reply = await this.session.respond(message.data.toString("utf8"));
        return encode.saslResponse(Buffer.from(reply, "utf8"));
      }
      case "AuthenticationSASLFinal": {
        if (this.session === undefined) throw new Error("SASL final without a SASL start");
        this.session.verify(message.data.toString("utf8"));
        return undefined;
      }
      case "AuthenticationOk":
        // A server that skips SASLFinal would be believed without proving it knows the password.
        if (this.session !== undefined && !this.session.verified)
          throw new Error("AuthenticationOk before the server signature was verified");
        return undefined;
      default:
        throw new Error(`unsupported authentication request (${message.kind})`);
    }
  }
}
