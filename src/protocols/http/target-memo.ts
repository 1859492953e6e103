import { parseRequestTarget, type RequestTarget, type TargetResult, targetUnder } from "./request-target.js";

/**
 * The last request targets the front parsed, and what each is under its connection: a keep-alive client asks
 * for the same few paths again and again, and both parseRequestTarget and targetUnder are pure (the raw
 * string and the case rule in, the result out), so a target seen before is not read again. Keyed by the
 * exact raw string (never by a normalised form: two raw targets never share an entry); only accepted
 * targets are kept, short ones, at most MEMO_ENTRIES (the memo starts over when full); what it holds is
 * frozen, so a request that tried to change a shared target would throw, not leak into the next one.
 */
const MEMO_ENTRIES = 256;
const MEMO_MAX_TARGET = 512;

const CASE_SENSITIVE = { pathCase: "sensitive" } as const;
const parsedByRaw = new Map<string, TargetResult>();
/** Per remembered target: targetUnder's result by skip (0, 1) and case rule (sensitive, insensitive). */
const underByTarget = new WeakMap<RequestTarget, (TargetResult | undefined)[]>();

/** parseRequestTarget(raw, case-sensitive), remembered. */
export function parseFrontTarget(raw: string): TargetResult {
  const known = parsedByRaw.get(raw);
  if (known !== undefined) return known;
  const result = parseRequestTarget(raw, CASE_SENSITIVE);
  if (!result.ok || raw.length > MEMO_MAX_TARGET) return result;
  if (parsedByRaw.size >= MEMO_ENTRIES) parsedByRaw.clear();
  const remembered = freezeResult(result);
  parsedByRaw.set(raw, remembered);
  if (remembered.ok) underByTarget.set(remembered.target, [undefined, undefined, undefined, undefined]);
  return remembered;
}

/** targetUnder(target, skip, options), remembered when the target came from parseFrontTarget's memo. */
export function frontTargetUnder(
  target: RequestTarget,
  skip: 0 | 1,
  options: { readonly pathCase: "sensitive" | "insensitive" },
): TargetResult {
  const slots = underByTarget.get(target);
  if (slots === undefined) return targetUnder(target, skip, options);
  const slot = skip * 2 + (options.pathCase === "sensitive" ? 0 : 1);
  const known = slots[slot];
  if (known !== undefined) return known;
  const result = freezeResult(targetUnder(target, skip, options));
  slots[slot] = result;
  return result;
}

function freezeResult(result: TargetResult): TargetResult {
  if (result.ok) {
    const { target } = result;
    Object.freeze(target.segments);
    for (const pair of target.query) Object.freeze(pair);
    Object.freeze(target.query);
    Object.freeze(target);
  }
  return Object.freeze(result);
}
