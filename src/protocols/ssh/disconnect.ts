import { randomBytes } from "node:crypto";

/** The software version Latch announces in its identification string (`SSH-2.0-Latch`). */
export const SSH_SOFTWARE_VERSION = "Latch";

/** SSH_MSG_DISCONNECT reason codes (RFC 4253 section 11.1) that Latch sends. */
export const SSH_DISCONNECT_REASON = {
  PROTOCOL_ERROR: 2,
  BY_APPLICATION: 11,
  TOO_MANY_CONNECTIONS: 1,
} as const;
export type SshDisconnectReason = (typeof SSH_DISCONNECT_REASON)[keyof typeof SSH_DISCONNECT_REASON];

const SSH_MSG_DISCONNECT = 1;
/** Before the first key exchange packets are unencrypted, in blocks of 8, with at least 4 bytes of padding. */
const CLEAR_BLOCK_BYTES = 8;
const MIN_PADDING_BYTES = 4;
/** Descriptions are cut to this many bytes (OpenSSH prints at most 400 characters of it). */
const MAX_DESCRIPTION_BYTES = 400;

/** The identification line Latch sends first (RFC 4253 section 4.2), as ssh2 sends it. */
export function encodeSshIdentification(): Buffer {
  return Buffer.from(`SSH-2.0-${SSH_SOFTWARE_VERSION}\r\n`, "latin1");
}

/**
 * An SSH_MSG_DISCONNECT as the first binary packet, before any key exchange (no encryption, no MAC): what a
 * server can say to a client it will not serve, right after its identification line. `ssh` prints
 * "Received disconnect from HOST port PORT:REASON: DESCRIPTION".
 */
export function encodeSshDisconnectBeforeKex(reason: SshDisconnectReason, description: string): Buffer {
  const text = cutUtf8(Buffer.from(description, "utf8"), MAX_DESCRIPTION_BYTES);
  // byte type, uint32 reason, string description, string language tag ("")
  const payloadBytes = 1 + 4 + 4 + text.length + 4;
  // uint32 packet_length, byte padding_length, payload, padding: a whole number of blocks.
  let padding = CLEAR_BLOCK_BYTES - ((4 + 1 + payloadBytes) % CLEAR_BLOCK_BYTES);
  if (padding < MIN_PADDING_BYTES) padding += CLEAR_BLOCK_BYTES;
  const packet = Buffer.alloc(4 + 1 + payloadBytes + padding);
  let at = packet.writeUInt32BE(1 + payloadBytes + padding, 0);
  at = packet.writeUInt8(padding, at);
  at = packet.writeUInt8(SSH_MSG_DISCONNECT, at);
  at = packet.writeUInt32BE(reason, at);
  at = packet.writeUInt32BE(text.length, at);
  at += text.copy(packet, at);
  at = packet.writeUInt32BE(0, at);
  randomBytes(padding).copy(packet, at);
  return packet;
}

/** At most `max` bytes, never ending inside a character. */
function cutUtf8(text: Buffer, max: number): Buffer {
  if (text.length <= max) return text;
  let end = max;
  while (end > 0 && ((text[end] ?? 0) & 0xc0) === 0x80) end -= 1; // a continuation byte: back to its start
  return text.subarray(0, end);
}
