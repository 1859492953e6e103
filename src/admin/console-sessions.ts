import { createHash, randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Identity } from "../identity/identity.js";
import type { ConsoleSessionStore, ConsoleSignIn } from "../store/console-session-store.js";
import type { CookieCaller } from "./caller-auth.js";

/**
 * Console sign-ins: a random id in an HttpOnly, SameSite=Strict cookie names one, kept in the store (only the
 * id's SHA-256 hash), so every replica accepts it and a restart keeps it. It carries the identity the identity
 * provider vouched for; its CSRF token is derived from the id, so only the holder of the cookie can know it.
 * Nothing about the identity is in the cookie itself, so a sign-out or expiry ends it at once, on every replica.
 * Sign-in flows in progress (state, nonce, PKCE verifier) stay in this gateway's memory for their ten minutes.
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
  /** Where sign-ins are kept; default: this process's memory (tests, a gateway without a store). */
  readonly store?: ConsoleSessionStore;
}

const hashOf = (id: string) => createHash("sha256").update(id).digest("hex");
const csrfOf = (id: string) => createHash("sha256").update(`latch-console-csrf\0${id}`).digest("base64url");

/** Sign-ins in memory, bounded (oldest out first). */
export function createMemoryConsoleSessionStore(): ConsoleSessionStore {
  const held = new Map<string, ConsoleSignIn>();
  return {
    async save(idHash, signIn) {
      while (held.size >= MAX_SESSIONS) held.delete(held.keys().next().value as string);
      held.set(idHash, signIn);
    },
    async find(idHash, now) {
      const found = held.get(idHash);
      return found !== undefined && found.expiresAt > now ? found : undefined;
    },
    async remove(idHash) {
      held.delete(idHash);
    },
    async sweep(now) {
      let removed = 0;
      for (const [key, signIn] of held)
        if (signIn.expiresAt <= now) {
          held.delete(key);
          removed += 1;
        }
      return removed;
    },
  };
}

interface Held<T> {
  readonly value: T;
  readonly expiresAt: number;
}

export function createConsoleSessions(options: ConsoleSessionsOptions) {
  const now = options.now ?? Date.now;
  const store = options.store ?? createMemoryConsoleSessionStore();
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
    /** The signed-in caller behind the request's cookie (for createCallerAuth); rejects if the store fails. */
    async caller(request: FastifyRequest): Promise<CookieCaller | undefined> {
      const id = readCookie(request, SESSION_COOKIE);
      if (id === undefined) return undefined;
      const found = await store.find(hashOf(id), now());
      return found === undefined
        ? undefined
        : { identity: { ...found.identity, expiresAt: found.expiresAt }, csrf: csrfOf(id) };
    },
    /**
     * Signs `identity` in for the session TTL. The ID token's own expiry (often minutes) does not bound it:
     * the provider vouched for the person at sign-in, and the TTL says how long that stands.
     */
    async signIn(reply: FastifyReply, identity: Identity): Promise<void> {
      const at = now();
      await store.sweep(at);
      const id = randomBytes(32).toString("base64url");
      const expiresAt = at + options.ttlMs;
      await store.save(hashOf(id), { identity: { ...identity, expiresAt }, expiresAt });
      reply.header("set-cookie", [
        cookie(SESSION_COOKIE, id, Math.floor(options.ttlMs / 1000), "Strict"),
        cookie(FLOW_COOKIE, "", 0, "Lax"),
      ]);
    },
    async signOut(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      const id = readCookie(request, SESSION_COOKIE);
      reply.header("set-cookie", cookie(SESSION_COOKIE, "", 0, "Strict"));
      if (id !== undefined) await store.remove(hashOf(id));
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
