import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ConnectionConfig } from "../config/schema.js";
import type { CredentialProvider } from "../credentials/credential-provider.js";
import { asLatchError, LatchError } from "../errors.js";
import type { Identity, TokenVerifier } from "../identity/identity.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { Metrics } from "../observability/metrics.js";
import type { Admitter } from "../pipeline/pipeline-types.js";
import { type Clock, systemClock } from "./clock.js";
import { LiveSession } from "./live-session.js";
import type { LifetimeLimits } from "./session-lifetime.js";
import type { SessionRegistry } from "./session-registry.js";

/** Principals an administrator blocked, as the gate asks about them (once before and once after registering). */
export interface BlockCheck {
  isBlocked(principal: string): Promise<boolean> | boolean;
}

export interface SessionGateDeps {
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  readonly verifier: TokenVerifier;
  readonly blocks: BlockCheck;
  readonly registry: SessionRegistry;
  readonly audit: Pick<Admitter, "record" | "recordDurably">;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** What a protocol front knows when its client has presented a token. */
export interface GateRequest<Type extends ConnectionConfig["type"], Credential> {
  readonly protocol: string;
  /** The connection type this protocol serves; a connection of another type is "unknown" here. */
  readonly connectionType: Type;
  /** The name the client picked (PostgreSQL database, SSH user name, HTTP path segment). */
  readonly connectionName: string;
  readonly token: string | undefined;
  readonly clientAddress: string;
  /** What the client called itself (PostgreSQL user), for the record. */
  readonly clientUser?: string;
  readonly tls: boolean;
  /** How this protocol gets the upstream credential of one of its connections. */
  readonly credentials: (
    name: string,
    connection: Extract<ConnectionConfig, { type: Type }>,
  ) => CredentialProvider<Credential>;
}

export interface OpenedSession<Type extends ConnectionConfig["type"], Credential> {
  readonly session: LiveSession<Credential>;
  readonly connection: Extract<ConnectionConfig, { type: Type }>;
}

/** What the gate needs to establish who is calling (and to record a refusal). */
export interface IdentifyRequest {
  readonly protocol: string;
  /** The connection (or endpoint) the caller asked for, for the record. */
  readonly connectionName: string;
  readonly token: string | undefined;
  readonly clientAddress: string;
  readonly clientUser?: string;
}

/** A session of an endpoint that is not one connection (the MCP endpoint). */
export interface EndpointRequest {
  readonly protocol: string;
  /** How the record names it, e.g. "mcp". */
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly clientAddress: string;
  readonly clientUser?: string;
  readonly tls: boolean;
  /** Session limits of the endpoint (max_session, idle_timeout). */
  readonly limits?: { readonly max_session?: string; readonly idle_timeout?: string };
}

const MAX_TOKEN_BYTES = 16 * 1024;

/**
 * The one way into a session, for every protocol, in this order: token -> identity -> principal block ->
 * connection -> credential provider -> session_start (durable) -> credential -> registration (and the block
 * asked again, so a block that landed meanwhile is not missed) -> lifetime timers. The session's end records
 * session_end, unregisters it and revokes the credential. Every refusal is an `auth_failure` event and a
 * LatchError the protocol renders in its own form.
 */
export class SessionGate {
  private readonly clock: Clock;

  constructor(private readonly deps: SessionGateDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async open<Type extends ConnectionConfig["type"], Credential>(
    request: GateRequest<Type, Credential>,
  ): Promise<OpenedSession<Type, Credential>> {
    const { deps } = this;
    const refuse = this.refuser(request);
    const identity = await this.identify(request);
    const subject = identity.subject;
    const name = request.connectionName;
    const found = Object.hasOwn(deps.connections, name) ? deps.connections[name] : undefined;
    if (found === undefined || found.type !== request.connectionType)
      return refuse(new LatchError("connection_unknown", { name: name.slice(0, 63) }), subject);
    const connection = found as Extract<ConnectionConfig, { type: Type }>;
    let provider: CredentialProvider<Credential>;
    try {
      provider = request.credentials(name, connection);
    } catch (error) {
      return refuse(asLatchError(error, randomUUID()), subject);
    }
    const session = await this.startSession(request, identity, name, connection, provider);
    return { session, connection };
  }

  /**
   * A session that is not tied to one connection: the MCP endpoint, whose tool calls name their connection
   * each. Same order as open() minus the connection and its credential; `endpoint` is what the record calls it.
   */
  async openEndpoint(request: EndpointRequest): Promise<LiveSession<undefined>> {
    const identity = await this.identify({ ...request, connectionName: request.endpoint });
    const provider: CredentialProvider<undefined> = { issue: async () => undefined };
    return this.startSession(
      { ...request, connectionName: request.endpoint },
      identity,
      request.endpoint,
      { labels: {}, ...request.limits },
      provider,
    );
  }

  /**
   * Token -> identity -> principal block, recording every refusal as an `auth_failure`: for protocols that
   * authenticate each request of a session again (the MCP endpoint's bearer on every HTTP request).
   */
  async identify(request: IdentifyRequest): Promise<Identity> {
    const { deps } = this;
    const refuse = this.refuser(request);
    const token = request.token?.trim();
    if (token === undefined || token === "") return refuse(new LatchError("token_missing"));
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES)
      return refuse(new LatchError("token_invalid", { reason: "token is too large" }));
    let identity: Identity;
    try {
      identity = await deps.verifier.verify(token);
    } catch (error) {
      return refuse(asLatchError(error, randomUUID()));
    }
    const subject = identity.subject;
    const blockedNow = await this.blocked(subject).catch((error: LatchError) => refuse(error, subject));
    if (blockedNow) return refuse(new LatchError("principal_blocked"), subject);
    return identity;
  }

  /**
   * The same token again on a session that verified it (the MCP endpoint's bearer on each request): its
   * signature, issuer and audience cannot have changed, so only what can is checked again, with the same
   * refusals on record as identify(): expiry, and the principal block list (a store that cannot answer
   * refuses). Callers must compare the token itself before trusting `verified`.
   */
  async reidentify(request: IdentifyRequest, verified: Identity): Promise<Identity> {
    const refuse = this.refuser(request);
    if (this.clock.now() >= verified.expiresAt)
      return refuse(
        new LatchError("token_expired", { expiredAt: new Date(verified.expiresAt).toISOString() }),
        verified.subject,
      );
    const blockedNow = await this.blocked(verified.subject).catch((error: LatchError) =>
      refuse(error, verified.subject),
    );
    if (blockedNow) return refuse(new LatchError("principal_blocked"), verified.subject);
    return verified;
  }

  private refuser(request: IdentifyRequest): (error: LatchError, subject?: string) => never {
    const { deps } = this;
    return (error, subject) => {
      deps.metrics.authFailures.inc({ protocol: request.protocol, code: error.code });
      deps.audit.record({
        kind: "auth_failure",
        sessionId: null,
        data: {
          protocol: request.protocol,
          clientAddress: request.clientAddress,
          connection: request.connectionName.slice(0, 63),
          ...(request.clientUser === undefined ? {} : { clientUser: request.clientUser }),
          ...(subject === undefined ? {} : { subject }),
          code: error.code,
          reason: error.message,
        },
      });
      throw error;
    };
  }

  private async startSession<Credential>(
    request: IdentifyRequest & { readonly tls: boolean },
    identity: Identity,
    name: string,
    connection: {
      readonly labels: Readonly<Record<string, string>>;
      readonly max_session?: string;
      readonly idle_timeout?: string;
    },
    provider: CredentialProvider<Credential>,
  ): Promise<LiveSession<Credential>> {
    const { deps } = this;
    const subject = identity.subject;
    const sessionId = randomUUID();
    try {
      await deps.audit.recordDurably({
        kind: "session_start",
        sessionId,
        data: {
          protocol: request.protocol,
          connection: name,
          subject,
          groups: identity.groups,
          issuer: identity.issuer,
          ...(identity.actors === undefined ? {} : { actors: identity.actors }),
          clientAddress: request.clientAddress,
          clientUser: request.clientUser ?? name,
          tls: request.tls,
        },
      });
    } catch (cause) {
      deps.metrics.auditWriteFailures.inc();
      throw new LatchError("audit_unavailable", {}, { cause });
    }
    const credentialSubject = { sessionId, identity, connection: name };
    let credential: Credential;
    try {
      credential = await provider.issue(credentialSubject);
    } catch (error) {
      const latchError = asLatchError(error, sessionId);
      deps.audit.record({
        kind: "session_end",
        sessionId,
        data: { reason: `credential failed: ${latchError.message}` },
      });
      throw latchError;
    }
    const session = new LiveSession<Credential>({
      id: sessionId,
      protocol: request.protocol,
      connection: name,
      connectionLabels: connection.labels,
      identity,
      clientAddress: request.clientAddress,
      credential,
      limits: limitsOf(identity.expiresAt, connection),
      clock: this.clock,
      onEnd: (reason) => {
        deps.registry.remove(sessionId);
        deps.metrics.sessionsActive.dec({ protocol: request.protocol });
        try {
          provider.revoke?.(credential, credentialSubject, reason);
        } catch (error) {
          deps.log.warn({ err: error, session: sessionId }, "credential revocation failed");
        }
        deps.audit.record({ kind: "session_end", sessionId, data: { reason } });
      },
    });
    deps.registry.add(session);
    deps.metrics.sessionsOpened.inc({ protocol: request.protocol, connection: name });
    deps.metrics.sessionsActive.inc({ protocol: request.protocol });
    // A block that landed between the first check and the registration found nothing to end: honoured here.
    let refusedMeanwhile: LatchError | undefined;
    try {
      if (await this.blocked(subject)) refusedMeanwhile = new LatchError("principal_blocked");
    } catch (error) {
      refusedMeanwhile = error as LatchError;
    }
    if (refusedMeanwhile !== undefined)
      session.terminate(refusedMeanwhile, `${refusedMeanwhile.code} during login`);
    return session;
  }

  /** A store that cannot answer refuses the login: fail closed. */
  private async blocked(subject: string): Promise<boolean> {
    try {
      return await this.deps.blocks.isBlocked(subject);
    } catch (cause) {
      this.deps.log.error({ err: cause }, "principal block list unavailable; login refused");
      throw new LatchError("store_unavailable", {}, { cause });
    }
  }
}

function limitsOf(
  tokenExpiresAt: number,
  connection: { readonly max_session?: string; readonly idle_timeout?: string },
): LifetimeLimits {
  const maxSession = connection.max_session;
  const idleTimeout = connection.idle_timeout;
  return {
    tokenExpiresAt,
    ...(maxSession === undefined ? {} : { maxSession: { label: maxSession, ms: parseDuration(maxSession) } }),
    ...(idleTimeout === undefined
      ? {}
      : { idleTimeout: { label: idleTimeout, ms: parseDuration(idleTimeout) } }),
  };
}
