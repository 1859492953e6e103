import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { type CacheProvider, SAML, ValidateInResponseTo } from "@node-saml/node-saml";
import type { LatchConfig } from "../config/schema.js";
import type { Identity } from "./identity.js";
import { parseDuration } from "./parse-duration.js";

/**
 * The one SAML 2.0 assertion check Latch has, shared by console sign-in (an IdP's Response posted to the ACS)
 * and token exchange (a bare assertion posted to /oauth/token). node-saml checks the signature (a signed
 * assertion from the IdP's certificate is required), the Issuer, the audience, the validity window within the
 * bounded skew and, for sign-in, InResponseTo; this file adds what node-saml leaves to the caller: the
 * SubjectConfirmation Recipient, a replay check of assertion ids kept in the shared store, and the groups attribute.
 */
export type SamlProvider = LatchConfig["console"]["saml"][number];

export const SAML_REQUEST_TTL_MS = 10 * 60_000;
export const MAX_SAML_SKEW_MS = 5 * 60_000;
const SAML_ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion";

// @xmldom/xmldom (node-saml's own XML parser) is loaded untyped: its declarations pull the browser's DOM types
// into the whole Node build. These few members are all this file reads.
interface XmlElement {
  readonly localName: string;
  getAttribute(name: string): string | null;
}
interface XmlElements {
  readonly length: number;
  item(i: number): XmlElement | null;
}
interface XmlDocument {
  readonly documentElement: XmlElement | null;
  getElementsByTagNameNS(ns: string, name: string): XmlElements;
}
const { DOMParser } = createRequire(import.meta.url)("@xmldom/xmldom") as {
  DOMParser: new () => { parseFromString(xml: string, type: string): XmlDocument };
};

export interface SamlServiceProviderOptions {
  /** Where the assertion must be addressed (SubjectConfirmationData Recipient): the ACS or token endpoint. */
  readonly recipient: string;
  /** Our entity id: the assertion's Audience must name it. */
  readonly entityId: string;
  /** Sign-in: an AuthnRequest this SP issued must be answered. Exchange: no request exists (never). */
  readonly inResponseTo: "always" | "never";
  readonly idpCert: string;
  /**
   * Sign-in: the AuthnRequest IDs node-saml saves and checks InResponseTo against. Console sign-in passes one per
   * request (the pending sign-in from the store), so no ID lives only in one process's memory.
   */
  readonly requestIds?: CacheProvider;
}

/** Refuses a provider whose skew is beyond what any check here will bound. */
export function checkSamlProviderSettings(provider: SamlProvider, where: string): void {
  if (parseDuration(provider.clock_skew) > MAX_SAML_SKEW_MS)
    throw new Error(`${where} ${provider.id}: clock_skew is at most 5m`);
}

export function createSamlServiceProvider(provider: SamlProvider, options: SamlServiceProviderOptions): SAML {
  return new SAML({
    callbackUrl: options.recipient,
    entryPoint: provider.entry_point,
    issuer: options.entityId,
    audience: options.entityId,
    idpCert: options.idpCert,
    idpIssuer: provider.idp_issuer,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: parseDuration(provider.clock_skew),
    maxAssertionAgeMs: SAML_REQUEST_TTL_MS,
    validateInResponseTo:
      options.inResponseTo === "always" ? ValidateInResponseTo.always : ValidateInResponseTo.never,
    requestIdExpirationPeriodMs: SAML_REQUEST_TTL_MS,
    disableRequestedAuthnContext: true,
    ...(options.requestIds === undefined ? {} : { cacheProvider: options.requestIds }),
  });
}

/**
 * The InResponseTo of a base64 SAML Response, read before any check only to find the pending sign-in it answers;
 * node-saml then checks it and the signed SubjectConfirmationData's against that one request. Undefined: none.
 */
export function readResponseInResponseTo(samlResponse: string): string | undefined {
  try {
    const xml = Buffer.from(samlResponse, "base64").toString("utf8");
    const root = new DOMParser().parseFromString(xml, "text/xml").documentElement;
    const value = root?.localName === "Response" ? root.getAttribute("InResponseTo") : null;
    return value === null || value === "" || value.length > 256 ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * Assertion ids already used, kept in the store every replica shares (a per-process cache would let one
 * assertion be used once per replica). `claim` inserts if absent and resolves true only for the first claim of
 * (issuer, id); it sweeps entries past their `keepUntil` and rejects on a store failure (the assertion is then
 * refused). Implementations: store/sqlite-saml-assertion-claims.ts, store/postgres/pg-saml-assertion-claims.ts.
 */
export interface SamlAssertionClaims {
  /** `idHash`: SHA-256 hex of the assertion ID; `keepUntil`: epoch ms after which it could not be accepted. */
  claim(idHash: string, issuer: string, keepUntil: number, now: number): Promise<boolean>;
}

/** One process's claims, for tests and callers without a store (a gateway always passes its store's). */
export function createMemoryAssertionClaims(): SamlAssertionClaims {
  const seen = new Map<string, number>();
  return {
    async claim(idHash, issuer, keepUntil, now) {
      for (const [key, until] of seen) if (until <= now) seen.delete(key);
      const key = `${issuer}\n${idHash}`;
      if (seen.has(key)) return false;
      seen.set(key, keepUntil);
      return true;
    },
  };
}

/** The store could not say whether the assertion was used before: it is refused (fail closed). */
export class ReplayCheckUnavailable extends Error {
  constructor(cause: unknown) {
    super("the store of used assertions could not be reached, so it cannot be checked for replay", { cause });
  }
}

export const hashAssertionId = (id: string) => createHash("sha256").update(id, "utf8").digest("hex");

export interface CheckedAssertion {
  readonly id: string;
  /** The earliest NotOnOrAfter of the assertion (Conditions, SubjectConfirmationData), epoch ms; undefined: none. */
  readonly notOnOrAfter: number | undefined;
}

/**
 * What node-saml leaves to the caller: the Recipient, and that this assertion was never used before through any
 * replica of the store. A store failure refuses the assertion (fail closed).
 */
export async function checkAssertion(
  xml: string,
  recipient: string,
  claims: { store: SamlAssertionClaims; issuer: string },
  at: number,
): Promise<CheckedAssertion> {
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const confirmations = doc.getElementsByTagNameNS(SAML_ASSERTION_NS, "SubjectConfirmationData");
  const recipients = Array.from({ length: confirmations.length }, (_, i) =>
    confirmations.item(i)?.getAttribute("Recipient"),
  );
  if (recipients.length === 0 || recipients.some((found) => found !== recipient))
    throw new Error(`the assertion's Recipient is not ${recipient}`);
  const root = doc.documentElement;
  const id = root?.localName === "Assertion" ? root.getAttribute("ID") : null;
  if (!id) throw new Error("the assertion has no ID");
  const ends = [
    ...attributeValues(confirmations, "NotOnOrAfter"),
    ...attributeValues(doc.getElementsByTagNameNS(SAML_ASSERTION_NS, "Conditions"), "NotOnOrAfter"),
  ]
    .map((text) => Date.parse(text))
    .filter((ms) => Number.isFinite(ms));
  // Kept as long as node-saml could accept it again: past the latest NotOnOrAfter (any one confirmation may
  // satisfy it) plus the largest skew, and never shorter than the request window.
  const keepUntil = Math.max(at + SAML_REQUEST_TTL_MS, ...ends) + MAX_SAML_SKEW_MS;
  let first: boolean;
  try {
    first = await claims.store.claim(hashAssertionId(id), claims.issuer, keepUntil, at);
  } catch (cause) {
    throw new ReplayCheckUnavailable(cause);
  }
  if (!first) throw new Error("this assertion was already used");
  return { id, notOnOrAfter: ends.length === 0 ? undefined : Math.min(...ends) };
}

function attributeValues(elements: XmlElements, name: string): string[] {
  return Array.from({ length: elements.length }, (_, i) => elements.item(i)?.getAttribute(name) ?? "").filter(
    (value) => value !== "",
  );
}

/** The identity a validated assertion vouches for: NameID (prefixed) and the groups attribute (prefixed). */
export function samlIdentity(
  profile: Record<string, unknown>,
  provider: SamlProvider,
  expiresAt: number,
): Identity {
  const nameId = String(profile.nameID);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the subject lands in policy and audit records
  if (nameId.trim() === "" || /[\u0000-\u001f\u007f]/.test(nameId)) throw new Error("the NameID is unusable");
  const raw =
    profile[provider.groups_attribute] ??
    (profile.attributes as Record<string, unknown> | undefined)?.[provider.groups_attribute];
  const groups = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .filter((group): group is string => typeof group === "string" && group.trim() !== "")
    .map((group) => provider.group_prefix + group.trim());
  return {
    subject: provider.subject_prefix + nameId,
    issuer: provider.idp_issuer,
    groups: [...new Set(groups)],
    expiresAt,
  };
}
