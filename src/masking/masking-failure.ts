/**
 * Masking could not be done safely, so the result must not reach the client. The relay drops the result and
 * answers with an error instead; the reason never contains a value from the result.
 */
export class MaskingFailure extends Error {
  constructor(readonly reason: string) {
    super(`result withheld by Latch masking: ${reason}`);
    this.name = "MaskingFailure";
  }
}
