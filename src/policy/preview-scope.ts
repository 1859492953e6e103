import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { LatchError } from "../errors.js";
import type { Access, OperationStep } from "../operation/operation.js";
import { labelStrings } from "./build-context.js";
import {
  actionEntity,
  actionUid,
  connectionEntity,
  resourceEntity,
  resourceUid,
  userEntity,
  userUid,
} from "./build-entities.js";
import type { LoadedPolicy } from "./load-policies.js";
import { isKnownAction } from "./policy-actions.js";
import type { AuthorizationRequest } from "./policy-engine.js";
import { type SensitivityMap, tableSensitivity } from "./sensitivity.js";

/**
 * Whether an operation should be previewed before the final decision. A `@preview("true")` permit usually
 * depends on the preview itself (`when { context has preview && context.preview.rows > 100 }`), so it cannot
 * be asked "do you match?" before the preview exists. Its scope can: each such permit is copied without its
 * conditions and annotations into a policy set of its own, and an operation wants a preview when that set
 * permits an access of a step that can change data. The real decision is then taken with the preview.
 */

let scopesPrepared = 0;

export function createPreviewScope(
  policies: readonly LoadedPolicy[],
  sensitivity: SensitivityMap,
): ((request: AuthorizationRequest) => boolean) | undefined {
  const previewing = policies.filter((policy) => policy.preview === true && policy.effect === "permit");
  if (previewing.length === 0) return undefined;
  const scopes: Record<string, string> = {};
  for (const policy of previewing) scopes[policy.id] = scopeOnly(policy);
  scopesPrepared += 1;
  const setId = `latch-preview-scopes-${scopesPrepared}`;
  const prepared = cedar.preparsePolicySet(setId, { staticPolicies: scopes });
  if (prepared.type === "failure") {
    throw new LatchError("config_invalid", {
      detail: `Cedar could not prepare the @preview scopes: ${prepared.errors.map((e) => e.message).join("; ")}`,
    });
  }
  const inScope = (request: AuthorizationRequest, access: Access): boolean => {
    if (!isKnownAction(access.action)) return false;
    const level =
      access.resource.type === "Table"
        ? tableSensitivity(sensitivity, request.connection, access.resource.name).level
        : undefined;
    const resource = resourceEntity(request.connection, access.resource, level);
    const entities = [
      userEntity(request.identity),
      connectionEntity(request.connection, labelStrings(request.connectionLabels)),
      actionEntity(access.action),
    ];
    if (resource !== undefined) entities.push(resource);
    const answer = cedar.statefulIsAuthorized({
      principal: userUid(request.identity.subject),
      action: actionUid(access.action),
      resource: resourceUid(request.connection, access.resource),
      context: {},
      preparsedPolicySetId: setId,
      entities,
    });
    return answer.type === "success" && answer.response.decision === "allow";
  };
  return (request) =>
    request.steps.some(
      (step) => !step.facts.readOnly && accessesOf(step).some((access) => inScope(request, access)),
    );
}

/** The policy's scope alone: same effect, principal, action and resource, no when/unless, no annotations. */
function scopeOnly(policy: LoadedPolicy): string {
  const json = cedar.policyToJson(policy.text);
  if (json.type === "failure")
    throw new LatchError("config_invalid", { detail: `policy ${policy.id}: cannot read its scope` });
  const text = cedar.policyToText({ ...json.json, annotations: {}, conditions: [] });
  if (text.type === "failure")
    throw new LatchError("config_invalid", { detail: `policy ${policy.id}: cannot copy its scope` });
  return text.text;
}

function accessesOf(step: OperationStep): readonly Access[] {
  if (step.accesses.length > 0) return step.accesses;
  return [{ action: step.action, resource: { type: "Connection" } }];
}
