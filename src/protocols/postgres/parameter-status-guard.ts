import { decodeBackend } from "./decode-backend.js";
import { encodeParameterStatus } from "./encode-backend.js";
import type { Frame } from "./messages.js";

/** Parameters whose change would alter how the server lexes SQL text the classifier has already judged. */
const PINNED_PARAMETERS: Readonly<Record<string, string>> = {
  client_encoding: "UTF8",
  standard_conforming_strings: "on",
};

/**
 * Checks a ParameterStatus from the server: a change of a pinned parameter throws (the session ends, fail
 * closed); the upstream user in session_authorization is replaced by the client's own principal.
 */
export function guardParameterStatus(frame: Frame, visibleUser: string): Buffer {
  const decoded = decodeBackend(frame);
  if (decoded.kind !== "ParameterStatus") return frame.raw;
  const pinned = PINNED_PARAMETERS[decoded.name];
  if (pinned !== undefined && decoded.value !== pinned) {
    throw new Error(`server reported ${decoded.name}=${decoded.value}; Latch requires ${pinned}`);
  }
  if (decoded.name === "session_authorization") return encodeParameterStatus(decoded.name, visibleUser);
  return frame.raw;
}
