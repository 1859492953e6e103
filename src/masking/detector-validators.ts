/**
 * The checks that confirm a detector's candidate (Luhn, SSN area rules, IBAN mod 97...), keeping false positives
 * low: a pattern finds the candidates, these decide.
 */

/** Luhn checksum over the digits of `text` (separators ignored). */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, "");
}

/**
 * A payment card: 13-19 digits, a major network's leading digit (2-6), Luhn-valid, not one repeated digit,
 * and separators (if any) used consistently - an order id such as 1234-5678-9012-3456 fails Luhn and stays clear.
 */
export function isPaymentCard(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length < 13 || digits.length > 19) return false;
  if (digits[0]! < "2" || digits[0]! > "6") return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  const separators = new Set(candidate.replace(/\d/g, ""));
  if (separators.size > 1) return false;
  return passesLuhn(digits);
}

/** US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
export function isSocialSecurityNumber(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length !== 9) return false;
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/** IBAN: length 15-34 and ISO 13616 mod-97 check (letters as 10..35, country and check digits moved last). */
export function isIban(candidate: string): boolean {
  const compact = candidate.replace(/ /g, "");
  if (compact.length < 15 || compact.length > 34) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (value > 9 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

export function isPhoneNumber(candidate: string): boolean {
  const digits = digitsOf(candidate).length;
  return digits >= 10 && digits <= 15;
}
