/**
 * The generic walk over a libpg-query parse tree. It visits EVERY object and array, so nothing nested can
 * hide: tables (RangeVar), function calls (FuncCall), operators (A_Expr) and nested statements are found
 * wherever they sit. Statement nodes are dispatched to a handler (special cases) or to STATEMENT_RULES; a
 * statement node type known to neither makes the statement unsupported.
 *
 * libpg-query's JSON wraps most nodes as { TypeName: {...fields} }, but some fields hold a struct inline
 * (DeleteStmt.relation is a bare RangeVar, CallStmt.funccall a bare FuncCall); those are recognised by shape.
 */
import { BUILTIN_OPERATORS, type FunctionPolicy } from "./function-lists.js";
import { setConfigCall, settingChangeAction } from "./setting-changes.js";
import { SqlAction, STATEMENT_RULES } from "./statement-verbs.js";
import {
  CteScope,
  fieldsOf,
  listOf,
  type NodeFields,
  nameParts,
  ROOT_CONTEXT,
  StatementFacts,
  type StatementHandler,
  stringOf,
  tableName,
  type WalkContext,
  type Walker,
} from "./walk-facts.js";

/** A_Expr kinds whose `name` is an operator that resolves to a function. */
const OPERATOR_KINDS = new Set(["AEXPR_OP", "AEXPR_OP_ANY", "AEXPR_OP_ALL"]);

/** Parse trees are shallow in practice; a pathological depth fails closed instead of overflowing the stack. */
const MAX_DEPTH = 1000;

export interface TreeWalker {
  /** Classifies one top-level statement node ({ SelectStmt: {...} }) into facts. */
  walkStatement(statement: unknown): StatementFacts;
}

export function createTreeWalker(
  handlers: Readonly<Record<string, StatementHandler>>,
  functionPolicy: FunctionPolicy,
): TreeWalker {
  let depth = 0;

  function isStatementType(type: string): boolean {
    return type.endsWith("Stmt") || type in handlers;
  }

  function visitStatement(type: string, fields: NodeFields, ctx: WalkContext, facts: StatementFacts): void {
    const handler = handlers[type];
    const outermost = facts.verb === undefined && facts.nodeType === undefined;
    if (outermost) facts.nodeType = type;
    let verb: string;
    if (handler !== undefined) {
      verb = handler(fields, ctx, facts, walker);
    } else {
      const rule = STATEMENT_RULES[type];
      if (rule === undefined) {
        facts.unsupported ??= `statement type ${type} is not supported`;
        return;
      }
      // Nested statements choose their own roles; this statement's own tables are its targets.
      const target = rule.targets === "whole" ? { action: rule.verb, written: rule.writes } : undefined;
      const before = facts.accesses.length;
      walker.walk(fields, { ...ctx, target }, facts);
      const namedTable = facts.accesses
        .slice(before)
        .some((access) => access.action === rule.verb && access.resource.type === "Table");
      if (!namedTable) facts.addConnection(ctx, rule.verb);
      verb = rule.verb;
    }
    if (outermost) facts.verb = verb;
  }

  function visitRangeVar(fields: NodeFields, ctx: WalkContext, facts: StatementFacts): void {
    const relname = stringOf(fields.relname);
    if (relname === undefined) return;
    if (ctx.target !== undefined) {
      // Targets of writes and DDL are always real tables: PostgreSQL does not resolve them to CTEs.
      facts.addTable(ctx, ctx.target.action, tableName(fields, ctx), ctx.target.written);
      return;
    }
    if (fields.schemaname === undefined && ctx.scope?.has(relname)) return;
    const name = tableName(fields, ctx);
    facts.addTable(ctx, SqlAction.select, name, false);
    if (ctx.lockReads) facts.addTable(ctx, SqlAction.lock, name, false);
  }

  function visitFuncCall(fields: NodeFields, ctx: WalkContext, facts: StatementFacts): void {
    const setConfig = setConfigCall(fields);
    if (setConfig !== undefined) {
      // The same change as SET <name> = <value>, and judged the same way (its arguments are constants).
      facts.functions.add("pg_catalog.set_config");
      facts.readsConstants = true;
      facts.addConnection(ctx, settingChangeAction("VAR_SET_VALUE", setConfig.name, [setConfig.value]));
      return;
    }
    walker.recordFunction(fields.funcname, facts);
    walker.walkFieldsExcept(fields, ["funcname"], ctx, facts);
  }

  function visitOperator(fields: NodeFields, ctx: WalkContext, facts: StatementFacts): void {
    if (OPERATOR_KINDS.has(stringOf(fields.kind) ?? "")) {
      const parts = nameParts(fields.name);
      const symbol = parts[parts.length - 1] ?? "";
      const qualified = parts.length > 1 && parts[0] !== "pg_catalog";
      if (qualified || !BUILTIN_OPERATORS.has(symbol)) {
        const written = `operator(${parts.join(".")})`;
        facts.functions.add(written);
        facts.addFunction(SqlAction.function, written);
      }
    }
    walker.walkFieldsExcept(fields, ["name"], ctx, facts);
  }

  function visitNode(type: string, fields: NodeFields, ctx: WalkContext, facts: StatementFacts): void {
    if (type === "RangeVar") visitRangeVar(fields, ctx, facts);
    else if (type === "FuncCall") visitFuncCall(fields, ctx, facts);
    else if (type === "A_Expr") visitOperator(fields, ctx, facts);
    else if (isStatementType(type)) visitStatement(type, fields, { ...ctx, target: undefined }, facts);
    else walker.walk(fields, ctx, facts);
  }

  const walker: Walker = {
    walk(value, ctx, facts) {
      if (typeof value !== "object" || value === null) return;
      if (++depth > MAX_DEPTH) {
        depth--;
        facts.unsupported ??= "statement is nested too deeply";
        return;
      }
      try {
        if (Array.isArray(value)) {
          for (const item of value) walker.walk(item, ctx, facts);
          return;
        }
        const fields = value as NodeFields;
        const keys = Object.keys(fields);
        const onlyKey = keys.length === 1 ? keys[0] : undefined;
        const first = onlyKey?.charCodeAt(0) ?? 0;
        const inner = onlyKey === undefined ? undefined : fieldsOf(fields[onlyKey]);
        if (onlyKey !== undefined && inner !== undefined && first >= 65 && first <= 90) {
          visitNode(onlyKey, inner, ctx, facts);
        } else if ("relname" in fields) {
          visitRangeVar(fields, ctx, facts);
        } else if ("funcname" in fields && "funcformat" in fields) {
          visitFuncCall(fields, ctx, facts);
        } else {
          for (const key of keys) walker.walk(fields[key], ctx, facts);
        }
      } finally {
        depth--;
      }
    },

    walkFieldsExcept(fields, skip, ctx, facts) {
      for (const key of Object.keys(fields)) {
        if (!skip.includes(key)) walker.walk(fields[key], ctx, facts);
      }
    },

    walkWith(withClause, ctx, facts) {
      const clause = fieldsOf(withClause);
      if (clause === undefined) return ctx.scope;
      const ctes = listOf(clause.ctes).map((cte) => fieldsOf(fieldsOf(cte)?.CommonTableExpr) ?? {});
      const names = ctes.map((cte) => stringOf(cte.ctename) ?? "");
      if (clause.recursive === true) {
        // WITH RECURSIVE: every CTE of the list is visible in every CTE body.
        const scope = new CteScope(new Set(names), ctx.scope);
        for (const cte of ctes) walker.walk(cte, { ...ctx, scope }, facts);
        return scope;
      }
      // Plain WITH: a CTE body sees only the CTEs before it, so `WITH users AS (SELECT * FROM users)` reads
      // the real users table.
      let scope = ctx.scope;
      for (const [index, cte] of ctes.entries()) {
        walker.walk(cte, { ...ctx, scope }, facts);
        scope = new CteScope(new Set([names[index] ?? ""]), scope);
      }
      return scope;
    },

    recordFunction(funcname, facts, asAction) {
      const parts = nameParts(funcname);
      if (parts.length === 0) return;
      facts.functions.add(parts.join("."));
      const verdict = functionPolicy.judge(parts);
      if (asAction !== undefined) facts.addFunction(asAction, verdict.resourceName);
      else if (verdict.kind === "admin") facts.addFunction(SqlAction.adminFunction, verdict.resourceName);
      else if (verdict.kind === "function") facts.addFunction(SqlAction.function, verdict.resourceName);
    },

    walkDetached(statement, ctx) {
      const facts = new StatementFacts();
      walker.walk(statement, ctx, facts);
      return facts;
    },
  };

  return {
    walkStatement(statement) {
      depth = 0;
      const facts = new StatementFacts();
      walker.walk(statement, ROOT_CONTEXT, facts);
      return facts;
    },
  };
}
