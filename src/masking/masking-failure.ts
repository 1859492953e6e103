/**
 * Masking could not be done safely, so the payload must not reach the client. A payload adapter throws it; the
 * protocol drops the result (or body) and answers with an error instead. The reason never contains a value.
 */
export class MaskingFailure extends Error {
  constructor(readonly reason: string) {
    super(`result withheld by Latch masking: ${reason}`);
    this.name = "MaskingFailure";
  }
}
