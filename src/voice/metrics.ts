import client from "prom-client";
import { registry } from "../observability/metrics.ts";

/** Voice notes handled, by outcome (transcribed, no_speech, or a failure reason). */
export const voiceNotesTotal = new client.Counter({
  name: "atom_voice_notes_total",
  help: "Voice notes handled, by outcome",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

/** Seconds of audio transcribed (what the transcription bill is based on). */
export const voiceSeconds = new client.Counter({
  name: "atom_voice_audio_seconds_total",
  help: "Seconds of audio transcribed",
  registers: [registry],
});
