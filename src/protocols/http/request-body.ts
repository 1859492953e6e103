import type { Readable } from "node:stream";
import type { HttpConnectionConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { readCapped } from "./body-read.js";
import type { GuardedHeaders } from "./header-guard.js";
import { type HttpBodyFacts, jsonBodyFacts } from "./http-operation.js";

/** A request body as policy sees it and as it is forwarded: a JSON body read whole, any other as a stream. */
export interface InspectedBody {
  readonly facts: HttpBodyFacts;
  readonly forward: Readable | Buffer;
}

/** A body that cannot be judged: refused, and when unread, the connection is closed after the answer. */
export interface RefusedBody {
  readonly refusal: LatchError;
  readonly close: boolean;
}

/**
 * The facts of a request body. A JSON body is read (up to inspect_limit) and parsed, since policy may read its
 * keys and pointers; any other body is passed on unread. Called only for a request that has a body.
 */
export async function inspectRequestBody(
  body: Readable,
  headers: GuardedHeaders,
  config: HttpConnectionConfig,
): Promise<InspectedBody | RefusedBody> {
  const type = (headers.byName.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const json = type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
  if (!json)
    return { facts: { kind: "other", keys: [], values: {}, bytes: headers.contentLength }, forward: body };
  if (headers.byName.has("content-encoding"))
    return {
      refusal: new LatchError("http_request_refused", {
        reason: "a compressed JSON body cannot be inspected",
      }),
      close: true,
    };
  const read = await readCapped(body, config.inspect_limit, headers.contentLength);
  if (read === undefined)
    return {
      refusal: new LatchError("message_too_large", {
        size: headers.contentLength ?? "more than the limit of",
        limit: config.inspect_limit,
      }),
      close: true,
    };
  let value: unknown;
  try {
    value = JSON.parse(read.toString("utf8"));
  } catch {
    return {
      refusal: new LatchError("http_request_refused", {
        reason: "the body says it is JSON but does not parse",
      }),
      close: false,
    };
  }
  return { facts: jsonBodyFacts(value, config.body_pointers, read.length), forward: read };
}
