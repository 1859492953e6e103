import type { FastifyReply, FastifyRequest } from "fastify";
import type { Identity, TokenVerifier } from "../identity/identity.js";
import { rejectionMessage } from "./token-rejection.js";

/**
 * Who is calling the admin API and what they may do. Three levels, checked by the API itself (the console only
 * hides what would be refused): `signed-in` (any valid identity: approvers, and agents asking for access; the
 * approval routes then filter by approval group), `read` (sessions, audit, live sessions, the block list:
 * auditors and admins), `admin` (kill, block, unblock, reload: admins only).
 */
export type AccessLevel = "signed-in" | "read" | "admin";

export interface CallerRoles {
  readonly admin: boolean;
  readonly auditor: boolean;
}

/** A browser session's caller (the console's cookie), resolved by the sign-in module. */
export interface CookieCaller {
  readonly identity: Identity;
  /** The CSRF token this session's state-changing calls must echo in X-CSRF-Token. */
  readonly csrf: string;
}

export interface CallerAuthOptions {
  readonly verifier: TokenVerifier;
  readonly adminGroups: readonly string[];
  readonly auditorGroups: readonly string[];
  /** The console session behind the request's cookie, if any (absent: bearer tokens only). */
  readonly cookieCaller?: (request: FastifyRequest) => Promise<CookieCaller | undefined>;
}

export type Authenticate = (
  request: FastifyRequest,
  reply: FastifyReply,
  level?: AccessLevel,
) => Promise<Identity | undefined>;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function createCallerAuth(options: CallerAuthOptions) {
  const roles = (who: Identity): CallerRoles => ({
    admin: who.groups.some((group) => options.adminGroups.includes(group)),
    auditor: who.groups.some((group) => options.auditorGroups.includes(group)),
  });

  const identify = async (request: FastifyRequest, reply: FastifyReply): Promise<Identity | undefined> => {
    const header = request.headers.authorization;
    if (header?.startsWith("Bearer ")) {
      try {
        return await options.verifier.verify(header.slice(7).trim());
      } catch (error) {
        await reply.code(401).send({ error: "unauthorized", message: rejectionMessage(error) });
        return undefined;
      }
    }
    const caller = await options.cookieCaller?.(request);
    if (caller !== undefined) {
      // A cookie rides along on any request the browser makes, a forged cross-site one included: every
      // state-changing call must also prove it was made by the console page, which alone can read the token.
      if (!SAFE_METHODS.has(request.method) && request.headers["x-csrf-token"] !== caller.csrf) {
        await reply.code(403).send({
          error: "csrf",
          message: "missing or wrong X-CSRF-Token; reload the console and try again",
        });
        return undefined;
      }
      return caller.identity;
    }
    await reply.code(401).send({
      error: "unauthorized",
      message:
        "sign in to the console, or send Authorization: Bearer <token> (latch token or your OIDC token)",
    });
    return undefined;
  };

  const authenticate: Authenticate = async (request, reply, level = "admin") => {
    const who = await identify(request, reply);
    if (who === undefined || level === "signed-in") return who;
    const has = roles(who);
    if (has.admin || (level === "read" && has.auditor)) return who;
    const groups =
      level === "admin" ? options.adminGroups : [...options.adminGroups, ...options.auditorGroups];
    await reply.code(403).send({
      error: "forbidden",
      message: `this needs one of the groups ${groups.join(", ")} (identity.${level === "admin" ? "admin_groups" : "admin_groups or identity.auditor_groups"})`,
    });
    return undefined;
  };

  return { authenticate, roles };
}
