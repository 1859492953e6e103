import type { EntityJson } from "@cedar-policy/cedar-wasm/nodejs";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { LatchError } from "../errors.js";
import type { Access, OperationStep, Verdict } from "../operation/operation.js";
import { type AccessOutcome, outcomeOfAnswer } from "./access-outcome.js";
import { buildContext, httpEntities, type StatementContext, statementContextOf } from "./build-context.js";
import {
  actionEntity,
  actionUid,
  connectionEntity,
  resourceEntity,
  resourceUid,
  userEntity,
  userUid,
} from "./build-entities.js";
import { buildVerdict, denyVerdict, type EvaluatedAccess } from "./build-verdict.js";
import { TIME_FIELDS, type TimeField } from "./cedar-schema.js";
import { DecisionCache } from "./decision-cache.js";
import { accessKeyOf, createRequestScopes, type RequestScope, statementKeyOf } from "./decision-keys.js";
import type { LoadedPolicies, LoadedPolicy } from "./load-policies.js";
import { localTimeIn } from "./local-time.js";
import { ACTIONS, isKnownAction } from "./policy-actions.js";
import type { AuthorizationRequest, PolicyEngine } from "./policy-engine.js";
import { createPreviewScope } from "./preview-scope.js";
import { type SensitivityMap, stepSensitivity, tableSensitivity } from "./sensitivity.js";
import { StepMemo } from "./step-memo.js";
import { disableWasmCallInlining } from "./wasm-call-inlining.js";

// Before any caller of the engine is optimized: Node 20 can abort in a lazy deopt of an inlined Wasm call.
disableWasmCallInlining();

export interface CedarPolicyEngineOptions {
  /** Most access decisions kept (LRU). 0 disables caching. Default 10 000. */
  readonly cacheSize?: number;
  /** `policy.time_zone`: the zone of `context.local_time` (IANA name); absent, local_time is UTC. */
  readonly timeZone?: string;
  /** Sensitivity labels per connection and table (sensitivity.ts); absent, every table is "none". */
  readonly sensitivity?: SensitivityMap;
  /** The admission memo (step-memo.ts); default on. Off only to compare against it (tests, benchmarks). */
  readonly stepMemo?: boolean;
}

// Cedar keeps pre-parsed policy sets in a per-thread table keyed by name: every engine gets its own name so
// two engines (a reload, or tests) never evaluate each other's policies.
let policySetsPrepared = 0;

/**
 * A PolicyEngine backed by Cedar. Each access of each statement is one Cedar request; the operation is
 * allowed only if all are. Decisions are cached per access; the cache lives and dies with this engine,
 * so building a new engine on reload invalidates it.
 */
export function createCedarPolicyEngine(
  policies: LoadedPolicies,
  options: CedarPolicyEngineOptions = {},
): PolicyEngine {
  policySetsPrepared += 1;
  const policySetId = `latch-policies-${policySetsPrepared}`;
  const prepared = cedar.preparsePolicySet(policySetId, {
    staticPolicies: Object.fromEntries(policies.policies.map((policy) => [policy.id, policy.text])),
  });
  if (prepared.type === "failure") {
    const detail = prepared.errors.map((error) => error.message).join("; ");
    throw new LatchError("config_invalid", { detail: `Cedar could not prepare the policies: ${detail}` });
  }
  const policiesById = new Map<string, LoadedPolicy>(policies.policies.map((policy) => [policy.id, policy]));
  const policyOrder = new Map<string, number>(policies.policies.map((policy, index) => [policy.id, index]));
  const timeFields = timeFieldsMentioned(policies.policies);
  // Tags can only be read with getTag/hasTag: without them the HttpFields entities cannot matter, and leaving
  // them out keeps every other evaluation as cheap as before.
  const readsHttpFields = policies.policies.some((policy) => /\b(getTag|hasTag)\b/.test(policy.text));
  // Likewise the HTTP context attributes: a policy set that never names them (any mention, even in a comment,
  // keeps them) evaluates SQL and SSH requests on the smaller context.
  const readsHttpContext =
    readsHttpFields || policies.policies.some((policy) => /\b(path|query|headers|body)\b/.test(policy.text));
  const cache = new DecisionCache<AccessOutcome>(options.cacheSize);
  // No decision cache means no memo either (cacheSize 0 is the uncached oracle tests compare against).
  const stepMemo = options.cacheSize === 0 || options.stepMemo === false ? undefined : new StepMemo();
  const actionEntities = new Map<string, EntityJson>(
    Object.keys(ACTIONS)
      .filter(isKnownAction)
      .map((action) => [action, actionEntity(action)]),
  );

  const sensitivity: SensitivityMap = options.sensitivity ?? new Map();
  const scopeOf = createRequestScopes(timeFields, {
    ...(options.timeZone === undefined ? {} : { localTimeOf: localTimeIn(options.timeZone) }),
    fields: policies.policies.some((policy) => /\blocal_time\b/.test(policy.text)) ? timeFields : [],
  });

  function evaluate(
    request: AuthorizationRequest,
    scope: RequestScope,
    access: Access,
    statement: StatementContext,
  ): AccessOutcome {
    const action = actionEntities.get(access.action);
    if (action === undefined) {
      return {
        kind: "error",
        message: `action "${access.action}" is not in the policy vocabulary (see docs/policy.md)`,
        policies: [],
      };
    }
    const resource = resourceEntity(
      request.connection,
      access.resource,
      access.resource.type === "Table"
        ? tableSensitivity(sensitivity, request.connection, access.resource.name).level
        : undefined,
    );
    const entities = [
      userEntity(request.identity),
      connectionEntity(request.connection, scope.labels),
      action,
    ];
    if (resource !== undefined) entities.push(resource);
    if (readsHttpFields) entities.push(...httpEntities(statement));
    const answer = cedar.statefulIsAuthorized({
      principal: userUid(request.identity.subject),
      action: actionUid(access.action),
      resource: resourceUid(request.connection, access.resource),
      context: buildContext(
        scope.time,
        statement,
        scope.clientIp,
        scope.labels,
        scope.localTime,
        scope.actors,
        readsHttpContext,
      ),
      preparsedPolicySetId: policySetId,
      entities,
    });
    return outcomeOfAnswer(answer, policiesById, policyOrder);
  }

  function decide(request: AuthorizationRequest): Verdict {
    const stepCount = request.steps.length;
    if (stepCount === 0) return denyVerdict("there is no statement to authorize");
    const scope = scopeOf(request);
    // A decision on a preview's row count is neither cached nor memoised: counts vary, previews are rare.
    const memo = request.preview === undefined ? stepMemo : undefined;
    if (memo !== undefined && stepCount === 1) {
      const verdict = memo.get(request.steps[0]!, scope, 1, 1)?.verdict;
      if (verdict !== undefined) return verdict;
    }
    const evaluated: EvaluatedAccess[] = [];
    for (let index = 0; index < stepCount; index++) {
      const step = request.steps[index]!;
      const remembered = memo?.get(step, scope, stepCount, index + 1);
      const decided = remembered?.evaluated ?? decideStep(request, scope, step, index + 1);
      for (const item of decided) evaluated.push(item);
      // One refused access refuses the whole operation: no need to evaluate the rest.
      const refused = isRefusal(decided[decided.length - 1]!);
      const verdict = refused || index === stepCount - 1 ? buildVerdict(request, evaluated) : undefined;
      // Errors are not remembered: the next request re-evaluates and reports afresh.
      // HTTP steps are built afresh for every request, so they would only fill the memo.
      if (
        memo !== undefined &&
        remembered === undefined &&
        step.facts.http === undefined &&
        !decided.some(isError)
      ) {
        memo.set(step, scope, stepCount, index + 1, decided, stepCount === 1 ? verdict : undefined);
      }
      if (verdict !== undefined) return verdict;
    }
    return buildVerdict(request, evaluated);
  }

  /** The outcomes of one step's accesses, in order, up to and including the first refusal. */
  function decideStep(
    request: AuthorizationRequest,
    scope: RequestScope,
    step: OperationStep,
    statementNumber: number,
  ): EvaluatedAccess[] {
    const facts =
      sensitivity.size === 0
        ? statementContextOf(step, request.steps.length)
        : statementContextOf(
            step,
            request.steps.length,
            stepSensitivity(sensitivity, request.connection, accessesOf(step)),
          );
    const statementKey = `${scope.key}|${statementKeyOf(facts)}`;
    const previewed = request.preview === undefined ? facts : { ...facts, preview: request.preview };
    const decided: EvaluatedAccess[] = [];
    for (const access of accessesOf(step)) {
      const key = `${statementKey}|${accessKeyOf(access)}`;
      let outcome = previewed === facts ? cache.get(key) : undefined;
      if (outcome === undefined) {
        outcome = evaluate(request, scope, access, previewed);
        if (outcome.kind !== "error" && previewed === facts) cache.set(key, outcome);
      }
      const item = { access, statementNumber, outcome };
      decided.push(item);
      if (isRefusal(item)) break;
    }
    return decided;
  }

  const previewScope = createPreviewScope(policies.policies, sensitivity);
  return {
    policyCount: policies.policies.length,
    ...(previewScope === undefined ? {} : { wantsPreview: previewScope }),
    authorize(request: AuthorizationRequest): Verdict {
      try {
        return decide(request);
      } catch (error) {
        return denyVerdict(
          `policy evaluation failed (${(error as Error).message ?? String(error)}); denied to be safe`,
        );
      }
    },
  };
}

function isRefusal(item: EvaluatedAccess): boolean {
  return item.outcome.kind === "deny" || item.outcome.kind === "error";
}

function isError(item: EvaluatedAccess): boolean {
  return item.outcome.kind === "error";
}

/** A statement with no listed access is still authorized: its verb on the connection. */
function accessesOf(step: OperationStep): readonly Access[] {
  if (step.accesses.length > 0) return step.accesses;
  return [{ action: step.action, resource: { type: "Connection" } }];
}

/**
 * Time fields any policy names. Cedar can read a record field only by writing its name (there is no
 * computed attribute access), so a field no policy text mentions cannot change a decision and is left out
 * of the cache key: a policy set that only looks at `hour` keeps its cache warm for the whole hour.
 */
function timeFieldsMentioned(policies: readonly LoadedPolicy[]): TimeField[] {
  return TIME_FIELDS.filter((field) => {
    const word = new RegExp(`\\b${field}\\b`);
    return policies.some((policy) => word.test(policy.text));
  });
}
