import fs from "node:fs/promises";
import path from "node:path";
import type { ChatFile } from "../core/ports.ts";

const AUDIO_PATH = /\.(m4a|mp3|wav|ogg|oga|opus|aac|flac|weba|webm|mp4)$/i;

/**
 * Finds a local audio file path typed into `atom chat` (the whole line is the path, optionally
 * quoted, `~/` expanded) and turns it into a ChatFile whose `download()` reads the file into memory.
 * @returns null when the text is not the path of an existing audio-typed file.
 */
export async function localAudioFile(text: string, home = process.env.HOME ?? ""): Promise<ChatFile | null> {
  let p = text.trim().replace(/^(["'])(.*)\1$/, "$2");
  if (!p || p.includes("\n") || !AUDIO_PATH.test(p)) return null;
  if (p.startsWith("~/") && home) p = path.join(home, p.slice(2));
  const full = path.resolve(p);
  const stat = await fs.stat(full).catch(() => null);
  if (!stat?.isFile()) return null;
  const ext = path.extname(full).slice(1).toLowerCase();
  return {
    id: `local:${full}:${stat.mtimeMs}:${stat.size}`,
    name: path.basename(full),
    filetype: ext,
    // Containers that may hold video are marked audio here: the user pointed at the file to transcribe it.
    mimetype: `audio/${ext === "mp3" ? "mpeg" : ext === "m4a" || ext === "mp4" ? "mp4" : ext}`,
    size: stat.size,
    downloadUrl: `file://${full}`,
    download: () => fs.readFile(full),
  };
}
