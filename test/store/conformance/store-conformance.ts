import { describe } from "vitest";
import { describeApprovalsConformance } from "./approvals-conformance.js";
import { describeAuditConformance } from "./audit-conformance.js";
import { describeBlocksConformance } from "./blocks-conformance.js";
import type { StoreImplementation } from "./conformance-harness.js";
import { describeConsoleSessionsConformance } from "./console-sessions-conformance.js";
import { describeLiveSessionsConformance } from "./live-sessions-conformance.js";
import { describeMcpPinsConformance } from "./mcp-pins-conformance.js";
import { describePendingSignInsConformance } from "./pending-sign-ins-conformance.js";
import { describeSamlClaimsConformance } from "./saml-claims-conformance.js";

export type { OpenedStores, StoreImplementation } from "./conformance-harness.js";

/**
 * The behaviour every implementation of `Stores` (src/store/stores.ts) must have: the audit log (order, hash
 * chain, search, sessions index, verification, restart), approvals (requests, votes and their effects, one-time
 * approvals, grants, races), principal blocks, live sessions, console sign-ins, console sign-ins in progress and used SAML assertion ids. An implementation runs it from its own test
 * file, e.g. test/store/sqlite-conformance.test.ts; a case it cannot pass is skipped by title with its reason.
 */
export function describeStoreConformance(name: string, implementation: StoreImplementation): void {
  describe(`store conformance: ${name}`, () => {
    describeAuditConformance(implementation);
    describeApprovalsConformance(implementation);
    describeBlocksConformance(implementation);
    describeLiveSessionsConformance(implementation);
    describeConsoleSessionsConformance(implementation);
    describePendingSignInsConformance(implementation);
    describeMcpPinsConformance(implementation);
    describeSamlClaimsConformance(implementation);
  });
}
