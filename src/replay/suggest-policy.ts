import type { Access } from "../operation/operation.js";
import type { AuditReader } from "../store/store.js";
import { type HistoryWindow, inWindow, recordedHistory } from "./recorded-operations.js";

/**
 * A least-privilege Cedar policy set for one principal from what the record shows it did: one permit per
 * (action, connection, resource type), naming exactly the tables, functions or SSH commands it used, with
 * comments giving counts and first/last seen. It is a draft for a reviewer: it permits what ran (operations
 * recorded as allowed), nothing wider, and never what was denied or only held for approval. Memory is
 * bounded by the principal's footprint, capped per group (past the cap a group widens to its connection, and
 * the comment says so).
 */

export interface SuggestOptions extends HistoryWindow {
  readonly reader: AuditReader;
  readonly principal: string;
  readonly connection?: string;
  /** Distinct resources (or commands) one permit names before it widens. Default 500. */
  readonly maxNames?: number;
}

interface Seen {
  count: number;
  first: number;
  last: number;
}

interface Group {
  readonly action: string;
  readonly connection: string;
  readonly type: Access["resource"]["type"];
  readonly seen: Seen;
  readonly names: Map<string, Seen>;
  /** SSH command lines (context.command), when the action has them. */
  readonly commands: Map<string, Seen>;
  widened: boolean;
  commandsWidened: boolean;
}

export interface Suggestion {
  readonly text: string;
  readonly operations: number;
  /** Operations of the principal in the window that did not run (denied, or held) and are not covered. */
  readonly notRun: number;
  /** Operations without a recorded policy input (older events), so not in the suggestion. */
  readonly notReadable: number;
}

export async function suggestPolicy(options: SuggestOptions): Promise<Suggestion> {
  const max = options.maxNames ?? 500;
  const groups = new Map<string, Group>();
  let operations = 0;
  let notRun = 0;
  let notReadable = 0;
  for await (const item of recordedHistory(options.reader, options)) {
    if (item.kind !== "operation" || !inWindow(options, item.operation.at)) continue;
    const { input, recorded, at } = item.operation;
    if (typeof input === "string") {
      notReadable += 1;
      continue;
    }
    if (input.subject !== options.principal) continue;
    if (options.connection !== undefined && input.connection !== options.connection) continue;
    if (recorded !== "allow") {
      notRun += 1;
      continue;
    }
    operations += 1;
    for (const step of input.steps) {
      const accesses: readonly Access[] =
        step.accesses.length > 0
          ? step.accesses
          : [{ action: step.action, resource: { type: "Connection" } }];
      for (const access of accesses) {
        const { type } = access.resource;
        const key = `${access.action}\u0000${input.connection}\u0000${type}`;
        let group = groups.get(key);
        if (group === undefined) {
          group = {
            action: access.action,
            connection: input.connection,
            type,
            seen: { count: 0, first: at, last: at },
            names: new Map(),
            commands: new Map(),
            widened: false,
            commandsWidened: false,
          };
          groups.set(key, group);
        }
        see(group.seen, at);
        if (access.resource.type !== "Connection" && !group.widened) {
          group.widened = !seeName(group.names, access.resource.name, at, max);
        }
        if (access.action.startsWith("ssh:") && step.facts.command !== "" && !group.commandsWidened) {
          group.commandsWidened = !seeName(group.commands, step.facts.command, at, max);
        }
      }
    }
  }
  const sorted = [...groups.values()].sort(
    (a, b) =>
      a.connection.localeCompare(b.connection) ||
      a.action.localeCompare(b.action) ||
      a.type.localeCompare(b.type),
  );
  const header = [
    `// Suggested by \`latch policy suggest\` for ${options.principal}: what it did ${windowText(options)}.`,
    `// ${operations} operations that ran; ${notRun} denied or held for approval are not permitted here.`,
    "// A draft for review: widen or narrow it before it ships, then check it with `latch policy replay`.",
  ];
  const permits = sorted.map((group, index) => permitText(options.principal, group, index + 1));
  return { text: `${[header.join("\n"), ...permits].join("\n\n")}\n`, operations, notRun, notReadable };
}

function see(seen: Seen, at: number): void {
  seen.count += 1;
  if (at < seen.first) seen.first = at;
  if (at > seen.last) seen.last = at;
}

/** False when the map is full and `name` is new: the group must widen. */
function seeName(names: Map<string, Seen>, name: string, at: number, max: number): boolean {
  const seen = names.get(name);
  if (seen !== undefined) {
    see(seen, at);
    return true;
  }
  if (names.size >= max) return false;
  names.set(name, { count: 1, first: at, last: at });
  return true;
}

function permitText(principal: string, group: Group, number: number): string {
  const lines = [
    `// ${group.action} on ${group.type === "Connection" ? "connection" : `${group.type.toLowerCase()}s of connection`} ${group.connection}: ${seenText(group.seen)}`,
  ];
  const conditions: string[] = [];
  let resource: string;
  const connection = entity("Connection", group.connection);
  if (group.type === "Connection") {
    resource = `resource == ${connection}`;
  } else if (group.widened) {
    lines.push(
      `//   more than ${group.names.size} distinct ${group.type.toLowerCase()}s: widened to the connection`,
    );
    resource = `resource is ${group.type} in ${connection}`;
  } else {
    const names = [...group.names.entries()].sort(([a], [b]) => a.localeCompare(b));
    for (const [name, seen] of names) lines.push(`//   ${name}: ${seenText(seen)}`);
    const uids = names.map(([name]) => entity(group.type, `${group.connection}/${name}`));
    if (uids.length === 1) resource = `resource == ${uids[0]}`;
    else {
      resource = `resource is ${group.type} in ${connection}`;
      conditions.push(`resource in [${uids.join(", ")}]`);
    }
  }
  if (group.commands.size > 0 && !group.commandsWidened) {
    const commands = [...group.commands.entries()].sort(([a], [b]) => a.localeCompare(b));
    for (const [command, seen] of commands)
      lines.push(`//   command ${cedarString(command)}: ${seenText(seen)}`);
    conditions.push(
      `[${commands.map(([command]) => cedarString(command)).join(", ")}].contains(context.command)`,
    );
  } else if (group.commandsWidened) {
    lines.push(`//   more than ${group.commands.size} distinct commands: any command allowed`);
  }
  lines.push(
    `@id(${cedarString(`suggested-${principal}-${number}`)})`,
    "permit (",
    `  principal == ${entity("User", principal)},`,
    `  action == Action::${cedarString(group.action)},`,
    `  ${resource}`,
    conditions.length === 0 ? ");" : `)\nwhen { ${conditions.join(" && ")} };`,
  );
  return lines.join("\n");
}

function seenText(seen: Seen): string {
  const day = (at: number) => new Date(at).toISOString().slice(0, 16).replace("T", " ");
  return `${seen.count} ${seen.count === 1 ? "time" : "times"}, first ${day(seen.first)}, last ${day(seen.last)} UTC`;
}

function windowText(window: HistoryWindow): string {
  const since =
    window.since === undefined ? "the beginning of the record" : new Date(window.since).toISOString();
  const until = window.until === undefined ? "now" : new Date(window.until).toISOString();
  return `from ${since} to ${until}`;
}

function entity(type: string, id: string): string {
  return `${type}::${cedarString(id)}`;
}

/** A Cedar string literal: quotes and backslashes escaped, control characters as \u{..}. Names come from tokens and SQL. */
export function cedarString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return `${out}"`;
}
