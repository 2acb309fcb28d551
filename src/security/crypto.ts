import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../observability/logger.ts";

/** Name of the key file generated in the data dir when `ATOM_ENCRYPTION_KEY` is not set. */
export const KEY_FILE_NAME = "encryption.key";

/** Prefix of sealed values without a key id (still opened: tried with every known key). */
const FORMAT_V1 = "v1";
/** Prefix of sealed values that name the master key that wrapped them (`v2.<key id>.…`). */
const FORMAT = "v2";

/**
 * The id of a master key: 8 hex characters of a SHA-256 over it (not secret-revealing: a hash of
 * 256 random bits). Stored in every sealed value so a rotated key can be found again.
 */
export function masterKeyId(masterKey: Buffer): string {
  return crypto
    .createHash("sha256")
    .update("atom-master-key-id:")
    .update(masterKey)
    .digest("hex")
    .slice(0, 8);
}

/**
 * Parses `ATOM_ENCRYPTION_KEY_PREVIOUS`: earlier master keys (comma-separated, each as
 * {@link parseMasterKey} reads them) that still open values sealed before a rotation.
 * @throws Error naming the variable (never the value).
 */
export function parsePreviousKeys(text: string | undefined): Buffer[] {
  if (!text?.trim()) return [];
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      try {
        return parseMasterKey(t);
      } catch {
        throw new Error("ATOM_ENCRYPTION_KEY_PREVIOUS: every key must be 32 bytes as hex or base64");
      }
    });
}

/** Raised when a sealed value cannot be opened (wrong key, tampered data, other record's context). */
export class DecryptionError extends Error {
  constructor(message = "encrypted value could not be decrypted (wrong key or tampered data)") {
    super(message);
    this.name = "DecryptionError";
  }
}

/**
 * Parses a 256-bit master key given as 64 hex characters or base64/base64url of 32 bytes.
 * @throws Error naming the expected formats (never echoing the value).
 */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (b.length === 32) return b;
  }
  throw new Error(
    "ATOM_ENCRYPTION_KEY: must be 32 bytes as 64 hex characters or base64 (openssl rand -base64 32)",
  );
}

/**
 * Returns the master key: `envKey` (ATOM_ENCRYPTION_KEY) when given, else the key stored in
 * `<dataDir>/encryption.key`, else a new random key written there with mode 0600 (and a warning
 * that losing the file makes stored tokens unreadable). Replicas must share the key: set
 * ATOM_ENCRYPTION_KEY when running more than one.
 * @throws when `envKey` is malformed or the key file is unreadable/corrupt.
 */
export function loadMasterKey(opts: { envKey?: string; dataDir: string; logger?: Logger }): Buffer {
  if (opts.envKey) return parseMasterKey(opts.envKey);
  const file = path.join(opts.dataDir, KEY_FILE_NAME);
  if (fs.existsSync(file)) {
    try {
      return parseMasterKey(fs.readFileSync(file, "utf8"));
    } catch {
      throw new Error(`${file}: not a valid encryption key (expected 32 bytes as hex or base64)`);
    }
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const key = crypto.randomBytes(32);
  try {
    // `wx`: never overwrite a key another process wrote a moment ago.
    fs.writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      return parseMasterKey(fs.readFileSync(file, "utf8"));
    throw err;
  }
  fs.chmodSync(file, 0o600);
  opts.logger?.warn(
    { file },
    "ATOM_ENCRYPTION_KEY is not set: generated an encryption key in the data dir. Back it up (stored tokens cannot be read without it) and set ATOM_ENCRYPTION_KEY when running several replicas.",
  );
  return key;
}

/** Encrypts and decrypts small secrets (OAuth tokens, API keys) for storage. */
export interface Sealer {
  /** Id of the master key new values are sealed with ({@link masterKeyId}). */
  readonly keyId: string;
  /**
   * Whether `sealed` was sealed with another master key than the current one (a previous key, or
   * the v1 format without key id) and should be re-sealed (`atom keys rotate`).
   */
  needsReseal(sealed: string): boolean;
  /**
   * AES-256-GCM envelope encryption: a fresh random data key encrypts `plaintext`; the master key
   * wraps the data key. `context` (e.g. the tenant id) is bound as additional authenticated data,
   * so a value copied to another record does not decrypt.
   * @returns `v2.<key id>.<wrapped key>.<iv>.<tag>.<ciphertext>` (base64url parts).
   */
  seal(plaintext: string, context?: string): string;
  /**
   * Reverses {@link Sealer.seal}.
   * @throws DecryptionError when the key, the context or the data do not match.
   */
  open(sealed: string, context?: string): string;
}

/**
 * Builds a {@link Sealer} over a 32-byte master key. `previous` master keys (after a rotation:
 * ATOM_ENCRYPTION_KEY_PREVIOUS) still open the values they sealed; new values use `masterKey`.
 */
export function createSealer(masterKey: Buffer, previous: Buffer[] = []): Sealer {
  if (masterKey.length !== 32) throw new Error("master key must be 32 bytes");
  const keyId = masterKeyId(masterKey);
  const keys = new Map<string, Buffer>([[keyId, masterKey]]);
  for (const k of previous) if (k.length === 32 && !keys.has(masterKeyId(k))) keys.set(masterKeyId(k), k);
  const b64 = (b: Buffer) => b.toString("base64url");
  const gcmEncrypt = (key: Buffer, data: Buffer, aad: Buffer) => {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv("aes-256-gcm", key, iv);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(data), c.final()]);
    return { iv, tag: c.getAuthTag(), ct };
  };
  const gcmDecrypt = (key: Buffer, iv: Buffer, tag: Buffer, ct: Buffer, aad: Buffer) => {
    const d = crypto.createDecipheriv("aes-256-gcm", key, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  };
  const openWith = (key: Buffer, parts: Buffer[], aad: Buffer): string => {
    const [w, iv, tag, ct] = parts as [Buffer, Buffer, Buffer, Buffer];
    const dataKey = gcmDecrypt(key, w.subarray(0, 12), w.subarray(12, 28), w.subarray(28), aad);
    return gcmDecrypt(dataKey, iv, tag, ct, aad).toString("utf8");
  };
  return {
    keyId,
    needsReseal(sealed) {
      const parts = sealed.split(".");
      return !(parts[0] === FORMAT && parts[1] === keyId);
    },
    seal(plaintext, context = "") {
      const aad = Buffer.from(`atom:${context}`, "utf8");
      const dataKey = crypto.randomBytes(32);
      const wrapped = gcmEncrypt(masterKey, dataKey, aad);
      const body = gcmEncrypt(dataKey, Buffer.from(plaintext, "utf8"), aad);
      const wrappedKey = Buffer.concat([wrapped.iv, wrapped.tag, wrapped.ct]);
      return [FORMAT, keyId, b64(wrappedKey), b64(body.iv), b64(body.tag), b64(body.ct)].join(".");
    },
    open(sealed, context = "") {
      const parts = sealed.split(".");
      const aad = Buffer.from(`atom:${context}`, "utf8");
      let candidates: Buffer[];
      let body: string[];
      if (parts.length === 6 && parts[0] === FORMAT) {
        const key = keys.get(parts[1]!);
        if (!key)
          throw new DecryptionError(
            "encrypted with an unknown master key (set ATOM_ENCRYPTION_KEY_PREVIOUS)",
          );
        candidates = [key];
        body = parts.slice(2);
      } else if (parts.length === 5 && parts[0] === FORMAT_V1) {
        candidates = [...keys.values()];
        body = parts.slice(1);
      } else {
        throw new DecryptionError("not an encrypted value");
      }
      const bufs = body.map((p) => Buffer.from(p, "base64url"));
      for (const key of candidates) {
        try {
          return openWith(key, bufs, aad);
        } catch {
          // next key
        }
      }
      throw new DecryptionError();
    },
  };
}

/** SHA-256 HMAC of `value` under `secret`, hex. */
export function hmacHex(secret: string | Buffer, value: string): string {
  return crypto.createHmac("sha256", secret).update(value).digest("hex");
}

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** A random URL-safe token of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString("base64url");
}
