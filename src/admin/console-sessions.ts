import { createHash, randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Identity } from "../identity/identity.js";
import type { ConsoleSessionStore, ConsoleSignIn } from "../store/console-session-store.js";
import type { CookieCaller } from "./caller-auth.js";
import { FLOW_COOKIE, readCookie } from "./pending-sign-ins.js";

/**
 * Console sign-ins: a random id in an HttpOnly, SameSite=Strict cookie names one, kept in the store (only the
 * id's SHA-256 hash), so every replica accepts it and a restart keeps it. It carries the identity the identity
 * provider vouched for; its CSRF token is derived from the id, so only the holder of the cookie can know it.
 * Nothing about the identity is in the cookie itself, so a sign-out or expiry ends it at once, on every replica.
 * Sign-ins still in progress are pending-sign-ins.ts, in the store too.
 */
export const SESSION_COOKIE = "latch_console";
const MAX_SESSIONS = 10_000;

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

export function createConsoleSessions(options: ConsoleSessionsOptions) {
  const now = options.now ?? Date.now;
  const store = options.store ?? createMemoryConsoleSessionStore();
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
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;

/** Only a path inside the console: a sign-in never sends the browser to another site. */
export function safeReturn(value: string | undefined): string {
  return value !== undefined && /^\/console\/[A-Za-z0-9/_.~%-]*$/.test(value) && !value.includes("//")
    ? value
    : "/console/";
}
