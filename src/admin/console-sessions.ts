import { randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Identity } from "../identity/identity.js";
import type { CookieCaller } from "./caller-auth.js";

/**
 * Console sign-ins, held in this gateway's memory: a random id in an HttpOnly, SameSite=Strict cookie names
 * one, which carries the identity the identity provider vouched for and a CSRF token. Nothing about the
 * identity is in the cookie itself, so a sign-out or expiry here ends it at once. A restart signs everyone out.
 */
export const SESSION_COOKIE = "latch_console";
/** The sign-in flow in progress (state, nonce, PKCE verifier stay server-side; the cookie only names it). */
export const FLOW_COOKIE = "latch_signin";
const MAX_SESSIONS = 10_000;
const MAX_FLOWS = 1_000;
const FLOW_TTL_MS = 10 * 60_000;

export interface ConsoleSessionsOptions {
  readonly ttlMs: number;
  readonly secureCookies: boolean;
  readonly now?: () => number;
}

interface Held<T> {
  readonly value: T;
  readonly expiresAt: number;
}

export function createConsoleSessions(options: ConsoleSessionsOptions) {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Held<CookieCaller>>();
  const flows = new Map<string, Held<Record<string, string>>>();

  const sweep = <T>(map: Map<string, Held<T>>, max: number) => {
    const at = now();
    for (const [id, held] of map) if (held.expiresAt <= at) map.delete(id);
    // Oldest first out when full (Map keeps insertion order): a flood of sign-ins cannot grow memory.
    while (map.size >= max) map.delete(map.keys().next().value as string);
  };
  const take = <T>(map: Map<string, Held<T>>, id: string | undefined): T | undefined => {
    if (id === undefined) return undefined;
    const held = map.get(id);
    if (held === undefined) return undefined;
    if (held.expiresAt <= now()) {
      map.delete(id);
      return undefined;
    }
    return held.value;
  };
  const cookie = (name: string, value: string, maxAgeSeconds: number, sameSite: "Strict" | "Lax") =>
    [
      `${name}=${value}`,
      "Path=/",
      "HttpOnly",
      `SameSite=${sameSite}`,
      `Max-Age=${maxAgeSeconds}`,
      ...(options.secureCookies ? ["Secure"] : []),
    ].join("; ");

  return {
    /** The signed-in caller behind the request's cookie (for createCallerAuth). */
    caller(request: FastifyRequest): CookieCaller | undefined {
      return take(sessions, readCookie(request, SESSION_COOKIE));
    },
    /**
     * Signs `identity` in for the session TTL. The ID token's own expiry (often minutes) does not bound it:
     * the provider vouched for the person at sign-in, and the TTL says how long that stands.
     */
    signIn(reply: FastifyReply, identity: Identity): void {
      sweep(sessions, MAX_SESSIONS);
      const id = randomBytes(32).toString("base64url");
      const expiresAt = now() + options.ttlMs;
      const caller: CookieCaller = {
        identity: { ...identity, expiresAt },
        csrf: randomBytes(24).toString("base64url"),
      };
      sessions.set(id, { value: caller, expiresAt });
      reply.header("set-cookie", [
        cookie(SESSION_COOKIE, id, Math.floor(options.ttlMs / 1000), "Strict"),
        cookie(FLOW_COOKIE, "", 0, "Lax"),
      ]);
    },
    signOut(request: FastifyRequest, reply: FastifyReply): void {
      const id = readCookie(request, SESSION_COOKIE);
      if (id !== undefined) sessions.delete(id);
      reply.header("set-cookie", cookie(SESSION_COOKIE, "", 0, "Strict"));
    },
    /**
     * Starts a sign-in flow. Its cookie is SameSite=Lax: the identity provider's redirect back is a
     * cross-site top-level navigation, which a Strict cookie would not ride on.
     */
    startFlow(reply: FastifyReply, flow: Record<string, string>): void {
      sweep(flows, MAX_FLOWS);
      const id = randomBytes(32).toString("base64url");
      flows.set(id, { value: flow, expiresAt: now() + FLOW_TTL_MS });
      reply.header("set-cookie", cookie(FLOW_COOKIE, id, FLOW_TTL_MS / 1000, "Lax"));
    },
    /** The flow this browser started, once (a replayed callback finds nothing). */
    finishFlow(request: FastifyRequest): Record<string, string> | undefined {
      const id = readCookie(request, FLOW_COOKIE);
      const flow = take(flows, id);
      if (id !== undefined) flows.delete(id);
      return flow;
    },
    get size(): number {
      return sessions.size;
    },
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;

function readCookie(request: FastifyRequest, name: string): string | undefined {
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

/** Only a path inside the console: a sign-in never sends the browser to another site. */
export function safeReturn(value: string | undefined): string {
  return value !== undefined && /^\/console\/[A-Za-z0-9/_.~%-]*$/.test(value) && !value.includes("//")
    ? value
    : "/console/";
}
