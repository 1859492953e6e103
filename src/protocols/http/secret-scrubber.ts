import { Transform, type TransformCallback } from "node:stream";

export const SCRUBBED = "[redacted by latch]";

/**
 * The injected credential must never reach the caller, even when the upstream reflects it (an echo endpoint,
 * an error page quoting the request). Every occurrence of any of `secrets` is replaced, also when it is split
 * across two chunks: the last (longest secret - 1) bytes are held back until the next chunk or the end.
 */
export function createSecretScrubber(secrets: readonly string[]): Transform | undefined {
  const needles = secrets.filter((s) => s.length >= 4).map((s) => Buffer.from(s, "utf8"));
  if (needles.length === 0) return undefined;
  needles.sort((a, b) => b.length - a.length);
  const keep = needles[0]!.length - 1;
  let pending: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      const joined = scrubBytes(Buffer.concat([pending, chunk]), needles);
      // Held back: the tail that could be the start of a secret the next chunk completes.
      const cut = Math.max(0, joined.length - keep);
      pending = joined.subarray(cut);
      done(null, joined.subarray(0, cut));
    },
    flush(done: TransformCallback) {
      done(null, pending);
    },
  });
}

export function scrubBytes(bytes: Buffer, needles: readonly Buffer[]): Buffer {
  let out = bytes;
  for (const needle of needles) {
    let at = out.indexOf(needle);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(out.subarray(from, at), Buffer.from(SCRUBBED));
      from = at + needle.length;
      at = out.indexOf(needle, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  // includes() first: a replaceAll that finds nothing still costs several times a search (it runs for every
  // response header value of every request, and almost never finds the secret).
  for (let i = 0; i < secrets.length; i++) {
    const secret = secrets[i]!;
    if (secret.length >= 4 && out.includes(secret)) out = out.replaceAll(secret, SCRUBBED);
  }
  return out;
}
