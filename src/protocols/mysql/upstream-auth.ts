/** The scrambles of mysql_native_password and caching_sha2_password, computed from the injected password. */
import { constants, createHash, publicEncrypt } from "node:crypto";

const sha1 = (...parts: Buffer[]) => createHash("sha1").update(Buffer.concat(parts)).digest();
const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for an empty password. */
export function nativePasswordScramble(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, "utf8"));
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/** SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble); empty for an empty password. */
export function cachingSha2Scramble(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, "utf8"));
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/** caching_sha2 full authentication without TLS: the password, XORed with the scramble, RSA-OAEP encrypted. */
export function rsaEncryptedPassword(password: string, scramble: Buffer, publicKeyPem: string): Buffer {
  const plain = xor(
    Buffer.concat([Buffer.from(password, "utf8"), Buffer.from([0])]),
    scramble.subarray(0, 20),
  );
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}

export function authResponseFor(plugin: string, password: string, scramble: Buffer): Buffer | undefined {
  if (plugin === "mysql_native_password") return nativePasswordScramble(password, scramble);
  if (plugin === "caching_sha2_password") return cachingSha2Scramble(password, scramble);
  return undefined;
}
