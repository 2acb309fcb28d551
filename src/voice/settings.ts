import type { Queryable } from "../db/index.ts";

/** Settings key (table `settings`) holding a workspace's voice-note language. */
export const VOICE_LANGUAGE_KEY = "voice.language";

/** The language choice for transcription: a fixed code, automatic detection, or the engine's default. */
export type VoiceLanguage = { mode: "code"; code: string } | { mode: "detect" } | { mode: "default" };

const LANGUAGE_CODE = /^(?:[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*|multi)$/;

/**
 * Reads one language value: `"detect"` (also `"auto"`) → detection; a BCP-47 code such as `en`,
 * `de`, `pt-BR` (or Deepgram's `multi`) → that code. Anything else → null.
 */
export function parseVoiceLanguage(value: unknown): VoiceLanguage | null {
  if (typeof value !== "string") return null;
  const v = value.trim();
  if (v === "detect" || v === "auto") return { mode: "detect" };
  return LANGUAGE_CODE.test(v) ? { mode: "code", code: v } : null;
}

/**
 * The language a workspace's voice notes are transcribed in: the `voice.language` setting of the
 * tenant when valid, else `fallback` (the `DEEPGRAM_LANGUAGE` setting), else the engine's default.
 * The setting's JSON value is a string (`"de"`, `"detect"`) or an object `{ "language": "de" }`.
 */
export async function getVoiceLanguage(
  db: Queryable,
  tenantId: string,
  fallback?: string,
): Promise<VoiceLanguage> {
  const r = await db.query<{ value: unknown }>(
    "SELECT value FROM settings WHERE tenant_id = $1 AND key = $2",
    [tenantId, VOICE_LANGUAGE_KEY],
  );
  let stored = r.rows[0]?.value;
  if (stored && typeof stored === "object" && "language" in stored)
    stored = (stored as { language: unknown }).language;
  return parseVoiceLanguage(stored) ?? parseVoiceLanguage(fallback) ?? { mode: "default" };
}

/**
 * Stores a workspace's voice-note language (`"detect"` or a language code).
 * @throws Error with a clear message when the value is neither.
 */
export async function setVoiceLanguage(
  db: Queryable,
  tenantId: string,
  value: string,
): Promise<VoiceLanguage> {
  const parsed = parseVoiceLanguage(value);
  if (!parsed) {
    throw new Error(`"${value.slice(0, 40)}" is not a language code (like en, de, pt-BR) or "detect"`);
  }
  const stored = parsed.mode === "detect" ? "detect" : parsed.mode === "code" ? parsed.code : "";
  await db.query(
    `INSERT INTO settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3::jsonb, now())
     ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [tenantId, VOICE_LANGUAGE_KEY, JSON.stringify(stored)],
  );
  return parsed;
}
