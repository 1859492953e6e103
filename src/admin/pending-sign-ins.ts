import { createHash, randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { PendingSignIn, PendingSignInStore } from "../store/pending-sign-in-store.js";

/**
 * Console single sign-ons in progress, kept in the store (store/pending-sign-in-store.ts) so the provider's
 * callback may land on any replica or worker. OIDC: a random id (256 bits) in a short-lived SameSite=Lax cookie
 * names the sign-in, which ties it to the browser that clicked. SAML: the AuthnRequest ID the IdP answers with
 * InResponseTo names it (the IdP's POST back is cross-site, so no Lax cookie rides on it). Either is taken once:
 * a replayed or raced callback finds nothing.
 */
export const FLOW_COOKIE = "latch_signin";
export const PENDING_SIGN_IN_TTL_MS = 10 * 60_000;
/** Unexpired sign-ins in progress the store holds at most (a flood of clicks cannot grow it without bound). */
const MAX_PENDING = 10_000;

export const SIGN_IN_NOT_FOUND = "this sign-in was already used or started in another browser; sign in again";
export const SIGN_IN_EXPIRED = `this sign-in expired (it must finish within ${PENDING_SIGN_IN_TTL_MS / 60_000} minutes of the sign-in button); sign in again`;

export const STORE_DOWN = "the gateway's store could not be reached to keep this sign-in; try again";

/** An error as logged on a refused sign-in: name, message and code only, never a cause that may carry a nonce. */
export function loggable(error: unknown): Record<string, string> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(typeof code === "string" ? { code } : {}) };
}

export type FinishedSignIn =
  | { readonly pending: PendingSignIn; readonly refused?: undefined }
  | { readonly refused: string };

/** Too many sign-ins in progress; the button is refused rather than an older sign-in dropped. */
export class TooManyPendingSignIns extends Error {
  constructor() {
    super("too many console sign-ins are in progress; try again in a few minutes");
  }
}

const hashOf = (id: string) => createHash("sha256").update(id).digest("hex");

/** One process's pending sign-ins, for tests and an admin server without a store (a gateway passes its store's). */
export function createMemoryPendingSignInStore(): PendingSignInStore {
  const held = new Map<string, PendingSignIn>();
  const sweep = (now: number) => {
    let removed = 0;
    for (const [key, pending] of held)
      if (pending.expiresAt <= now) {
        held.delete(key);
        removed += 1;
      }
    return removed;
  };
  return {
    async save(idHash, pending, max) {
      sweep(pending.createdAt);
      if (held.size >= max) return false;
      held.set(idHash, pending);
      return true;
    },
    async take(idHash, now) {
      const found = held.get(idHash);
      held.delete(idHash);
      if (found === undefined) return undefined;
      return found.expiresAt <= now ? "expired" : found;
    },
    async sweep(now) {
      return sweep(now);
    },
  };
}

export function createPendingSignIns(options: {
  readonly secureCookies: boolean;
  readonly store?: PendingSignInStore;
  readonly now?: () => number;
}) {
  const now = options.now ?? Date.now;
  const store = options.store ?? createMemoryPendingSignInStore();
  const save = async (
    key: string,
    kind: PendingSignIn["kind"],
    provider: string,
    data: Record<string, string>,
  ) => {
    const at = now();
    const saved = await store.save(
      hashOf(key),
      { kind, provider, data, createdAt: at, expiresAt: at + PENDING_SIGN_IN_TTL_MS },
      MAX_PENDING,
    );
    if (!saved) throw new TooManyPendingSignIns();
  };
  const take = async (
    key: string | undefined,
    kind: PendingSignIn["kind"],
    provider: string,
  ): Promise<FinishedSignIn> => {
    if (key === undefined) return { refused: SIGN_IN_NOT_FOUND };
    const taken = await store.take(hashOf(key), now());
    if (taken === "expired") return { refused: SIGN_IN_EXPIRED };
    if (taken === undefined || taken.kind !== kind || taken.provider !== provider)
      return { refused: SIGN_IN_NOT_FOUND };
    return { pending: taken };
  };

  return {
    /**
     * Starts an OIDC sign-in. Its cookie is SameSite=Lax: the provider's redirect back is a cross-site top-level
     * navigation, which a Strict cookie would not ride on. Rejects on a store failure or TooManyPendingSignIns.
     */
    async startOidc(reply: FastifyReply, provider: string, data: Record<string, string>): Promise<void> {
      const id = randomBytes(32).toString("base64url");
      await save(id, "oidc", provider, data);
      reply.header(
        "set-cookie",
        [
          `${FLOW_COOKIE}=${id}`,
          "Path=/",
          "HttpOnly",
          "SameSite=Lax",
          `Max-Age=${PENDING_SIGN_IN_TTL_MS / 1000}`,
          ...(options.secureCookies ? ["Secure"] : []),
        ].join("; "),
      );
    },
    /** The OIDC sign-in this browser started with `provider`, once; rejects on a store failure. */
    finishOidc(request: FastifyRequest, provider: string): Promise<FinishedSignIn> {
      return take(readCookie(request, FLOW_COOKIE), "oidc", provider);
    },
    /** Starts a SAML sign-in named by the AuthnRequest's ID. */
    startSaml(requestId: string, provider: string, data: Record<string, string>): Promise<void> {
      return save(requestId, "saml", provider, data);
    },
    /** The SAML sign-in an IdP's response names with InResponseTo, once; rejects on a store failure. */
    finishSaml(requestId: string | undefined, provider: string): Promise<FinishedSignIn> {
      return take(requestId, "saml", provider);
    },
  };
}

export type PendingSignIns = ReturnType<typeof createPendingSignIns>;

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      const value = part.slice(at + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}
