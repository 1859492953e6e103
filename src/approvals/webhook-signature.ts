import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Outgoing webhook signatures. `X-Latch-Signature: sha256=<hex>` is HMAC-SHA256 of the raw body with the
 * shared secret. The body itself carries `timestamp` (also sent as `X-Latch-Timestamp`) and a unique
 * `deliveryId`, so both are covered by the signature: a receiver rejects stale timestamps and repeated
 * delivery ids, which stops replays. (A timestamp only in a header would not be signed.)
 */
export const SIGNATURE_HEADER = "x-latch-signature";
export const TIMESTAMP_HEADER = "x-latch-timestamp";
export const DELIVERY_HEADER = "x-latch-delivery";

export function signWebhookBody(secret: string, rawBody: string): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}

/** Constant-time check of a received signature header against the raw body. */
export function verifyWebhookSignature(secret: string, rawBody: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signWebhookBody(secret, rawBody));
  const received = Buffer.from(header);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
