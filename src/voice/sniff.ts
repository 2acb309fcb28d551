/**
 * Audio sniffing: decides from the bytes themselves (never from a file name or a platform MIME
 * type) whether a buffer is audio Atom can send for transcription, which content type to send
 * with it, and — where the container says so cheaply — how long it is.
 *
 * Recognised containers and their signatures:
 * - WAV: `RIFF` … `WAVE` (duration from the `fmt ` byte rate and the `data` chunk size)
 * - ISO-BMFF (MP4/M4A/3GP/MOV): `ftyp` box at offset 4 (duration from `moov/mvhd`; files whose
 *   `moov` lists tracks but no sound track, and HEIF/AVIF images, are rejected)
 * - WebM/Matroska: EBML header `1A 45 DF A3` (duration from `Segment/Info/Duration`)
 * - Ogg (Opus, Vorbis, FLAC-in-Ogg): `OggS` (duration from the last page's granule position)
 * - MP3: `ID3` tag or an MPEG audio frame sync (two consecutive valid frames when untagged)
 * - FLAC: `fLaC` (duration from STREAMINFO)
 * - AAC ADTS: `FFF1`/`FFF9` sync (two consecutive valid frames)
 * Anything else (an HTML login page, JSON, an image, random bytes) returns null.
 */

/** What {@link sniffAudio} found. */
export interface SniffedAudio {
  format: "wav" | "mp4" | "webm" | "matroska" | "ogg" | "mp3" | "flac" | "aac";
  /** The content type to send to the transcriber, e.g. `audio/wav`. */
  contentType: string;
  /** Duration in seconds when the container states it; undefined when unknown. */
  durationSeconds?: number;
}

/** Human-readable list of the formats {@link sniffAudio} accepts (for error messages). */
export const SUPPORTED_AUDIO_FORMATS = "WAV, MP3, M4A/MP4, WebM, Ogg/Opus, FLAC, AAC";

/**
 * Identifies an audio container from its first bytes.
 * @param buf the whole file (durations of MP4 and Ogg need the end of the file too).
 * @returns the format, content type and (when known) duration, or null when it is not audio.
 */
export function sniffAudio(buf: Buffer): SniffedAudio | null {
  if (buf.length < 12) return null;
  const ascii = (start: number, end: number) => buf.toString("latin1", start, end);

  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") {
    return { format: "wav", contentType: "audio/wav", durationSeconds: wavDuration(buf) };
  }
  if (ascii(4, 8) === "ftyp") return sniffIsoBmff(buf);
  if (buf.readUInt32BE(0) === 0x1a45dfa3) return sniffEbml(buf);
  if (ascii(0, 4) === "OggS")
    return { format: "ogg", contentType: "audio/ogg", durationSeconds: oggDuration(buf) };
  if (ascii(0, 4) === "fLaC")
    return { format: "flac", contentType: "audio/flac", durationSeconds: flacDuration(buf) };
  if (ascii(0, 3) === "ID3" && buf[3]! >= 2 && buf[3]! <= 4 && buf[3]! !== 0xff) {
    return { format: "mp3", contentType: "audio/mpeg" };
  }
  if (isMpegAudioStream(buf)) return { format: "mp3", contentType: "audio/mpeg" };
  if (isAdtsStream(buf)) return { format: "aac", contentType: "audio/aac" };
  return null;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const finitePositive = (n: number) => (Number.isFinite(n) && n > 0 ? round2(n) : undefined);

function wavDuration(buf: Buffer): number | undefined {
  let off = 12;
  let byteRate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString("latin1", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const data = off + 8;
    if (id === "fmt " && data + 12 <= buf.length) byteRate = buf.readUInt32LE(data + 8);
    if (id === "data") {
      if (!byteRate) return undefined;
      // A streaming writer may leave the size at 0 or 0xFFFFFFFF: use what is really there.
      const real = size === 0 || size === 0xffffffff ? buf.length - data : Math.min(size, buf.length - data);
      return finitePositive(real / byteRate);
    }
    off = data + size + (size % 2);
  }
  return undefined;
}

/** Brands of ISO-BMFF files that are still images, not audio. */
const IMAGE_BRANDS = new Set([
  "heic",
  "heix",
  "heim",
  "heis",
  "hevc",
  "hevx",
  "mif1",
  "msf1",
  "avif",
  "avis",
]);

interface Box {
  type: string;
  start: number;
  end: number;
}

function* boxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let off = start;
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    let header = 8;
    if (size === 1) {
      if (off + 16 > end) return;
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) {
      size = end - off;
    }
    if (size < header) return;
    yield { type, start: off + header, end: Math.min(off + size, end) };
    off += size;
  }
}

const child = (buf: Buffer, parent: Box, type: string) => {
  for (const b of boxes(buf, parent.start, parent.end)) if (b.type === type) return b;
  return undefined;
};

function sniffIsoBmff(buf: Buffer): SniffedAudio | null {
  const major = buf.toString("latin1", 8, 12);
  if (IMAGE_BRANDS.has(major)) return null;
  let moov: Box | undefined;
  for (const b of boxes(buf, 0, buf.length)) {
    if (b.type === "moov") {
      moov = b;
      break;
    }
  }
  if (!moov) return { format: "mp4", contentType: "audio/mp4" };
  let durationSeconds: number | undefined;
  const mvhd = child(buf, moov, "mvhd");
  if (mvhd && mvhd.end - mvhd.start >= 32) {
    const version = buf[mvhd.start]!;
    if (version === 1 && mvhd.end - mvhd.start >= 32) {
      const timescale = buf.readUInt32BE(mvhd.start + 20);
      const duration = Number(buf.readBigUInt64BE(mvhd.start + 24));
      durationSeconds = timescale ? finitePositive(duration / timescale) : undefined;
    } else if (version === 0) {
      const timescale = buf.readUInt32BE(mvhd.start + 12);
      const duration = buf.readUInt32BE(mvhd.start + 16);
      durationSeconds = timescale ? finitePositive(duration / timescale) : undefined;
    }
  }
  let tracks = 0;
  let sound = false;
  for (const trak of boxes(buf, moov.start, moov.end)) {
    if (trak.type !== "trak") continue;
    tracks++;
    const mdia = child(buf, trak, "mdia");
    const hdlr = mdia && child(buf, mdia, "hdlr");
    if (
      hdlr &&
      hdlr.end - hdlr.start >= 12 &&
      buf.toString("latin1", hdlr.start + 8, hdlr.start + 12) === "soun"
    ) {
      sound = true;
    }
  }
  if (tracks > 0 && !sound) return null;
  return { format: "mp4", contentType: "audio/mp4", durationSeconds };
}

/** Reads an EBML variable-length integer. `id` keeps the length marker (element ids). */
function readVint(
  buf: Buffer,
  off: number,
  id: boolean,
): { value: number; length: number; unknown: boolean } | null {
  const first = buf[off];
  if (first === undefined || first === 0) return null;
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > 8 || off + length > buf.length) return null;
  let value = id ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + buf[off + i]!;
    if (buf[off + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !id && allOnes };
}

function* ebmlElements(buf: Buffer, start: number, end: number) {
  let off = start;
  while (off < end) {
    const id = readVint(buf, off, true);
    if (!id) return;
    const size = readVint(buf, off + id.length, false);
    if (!size) return;
    const dataStart = off + id.length + size.length;
    const dataEnd = size.unknown ? end : Math.min(dataStart + size.value, end);
    yield { id: id.value, start: dataStart, end: dataEnd, unknown: size.unknown };
    if (size.unknown) return;
    off = dataEnd;
  }
}

const readUintBE = (buf: Buffer, start: number, end: number) => {
  let v = 0;
  for (let i = start; i < end; i++) v = v * 256 + buf[i]!;
  return v;
};

function sniffEbml(buf: Buffer): SniffedAudio | null {
  const header = ebmlElements(buf, 0, buf.length).next();
  if (header.done || header.value.id !== 0x1a45dfa3) return null;
  let docType = "";
  for (const el of ebmlElements(buf, header.value.start, header.value.end)) {
    if (el.id === 0x4282) docType = buf.toString("latin1", el.start, el.end).replace(/\0+$/, "");
  }
  const format = docType === "webm" ? "webm" : docType === "matroska" ? "matroska" : null;
  if (!format) return null;
  let durationSeconds: number | undefined;
  for (const seg of ebmlElements(buf, header.value.end, buf.length)) {
    if (seg.id !== 0x18538067) continue;
    for (const el of ebmlElements(buf, seg.start, seg.end)) {
      if (el.id !== 0x1549a966) continue;
      let scale = 1_000_000;
      let duration: number | undefined;
      for (const info of ebmlElements(buf, el.start, el.end)) {
        if (info.id === 0x2ad7b1) scale = readUintBE(buf, info.start, info.end);
        if (info.id === 0x4489) {
          const len = info.end - info.start;
          if (len === 4) duration = buf.readFloatBE(info.start);
          if (len === 8) duration = buf.readDoubleBE(info.start);
        }
      }
      if (duration !== undefined) durationSeconds = finitePositive((duration * scale) / 1e9);
      break;
    }
    break;
  }
  return { format, contentType: format === "webm" ? "audio/webm" : "audio/x-matroska", durationSeconds };
}

function oggDuration(buf: Buffer): number | undefined {
  // First page: the codec identification packet follows the segment table.
  const segments = buf[26];
  if (segments === undefined) return undefined;
  const packet = 27 + segments;
  if (packet + 19 > buf.length) return undefined;
  let rate = 0;
  let preSkip = 0;
  if (buf.toString("latin1", packet, packet + 8) === "OpusHead") {
    rate = 48_000;
    preSkip = buf.readUInt16LE(packet + 10);
  } else if (buf[packet] === 1 && buf.toString("latin1", packet + 1, packet + 7) === "vorbis") {
    rate = buf.readUInt32LE(packet + 12);
  } else {
    return undefined;
  }
  const last = buf.lastIndexOf("OggS", buf.length - 4, "latin1");
  if (last < 0 || last + 14 > buf.length || !rate) return undefined;
  const granule = Number(buf.readBigInt64LE(last + 6));
  return granule > 0 ? finitePositive((granule - preSkip) / rate) : undefined;
}

function flacDuration(buf: Buffer): number | undefined {
  // fLaC, then the STREAMINFO block header (4 bytes), then STREAMINFO (34 bytes).
  if (buf.length < 8 + 18 || (buf[4]! & 0x7f) !== 0) return undefined;
  const si = 8;
  const sampleRate = (buf[si + 10]! << 12) | (buf[si + 11]! << 4) | (buf[si + 12]! >> 4);
  const totalSamples = (buf[si + 13]! & 0x0f) * 2 ** 32 + buf.readUInt32BE(si + 14);
  return sampleRate && totalSamples ? finitePositive(totalSamples / sampleRate) : undefined;
}

const MP3_BITRATES: Record<string, number[]> = {
  // kbit/s by index, MPEG-1 Layer III and MPEG-2/2.5 Layer III
  "1": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MP3_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

/** Length in bytes of the MPEG audio frame at `off`, or 0 when no valid frame header is there. */
function mpegFrameLength(buf: Buffer, off: number): number {
  if (off + 4 > buf.length) return 0;
  const b1 = buf[off + 1]!;
  const b2 = buf[off + 2]!;
  if (buf[off] !== 0xff || (b1 & 0xe0) !== 0xe0) return 0;
  const version = (b1 >> 3) & 3; // 0 = 2.5, 2 = 2, 3 = 1
  const layer = (b1 >> 1) & 3; // 1 = III, 2 = II, 3 = I
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layer === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return 0;
  const sampleRate = MP3_RATES[version]![rateIndex]!;
  const padding = (b2 >> 1) & 1;
  if (layer !== 1) return -1; // Layers I/II: valid header, length not computed here.
  const kbps = MP3_BITRATES[version === 3 ? "1" : "2"]![bitrateIndex]!;
  const coefficient = version === 3 ? 144 : 72;
  return Math.floor((coefficient * kbps * 1000) / sampleRate) + padding;
}

function isMpegAudioStream(buf: Buffer): boolean {
  const first = mpegFrameLength(buf, 0);
  if (first === 0) return false;
  if (first < 0) return false; // Layer I/II without a tag: too rare to accept on one header.
  // Random bytes pass one header check now and then; a second frame right after settles it.
  if (first + 4 > buf.length) return false;
  return mpegFrameLength(buf, first) > 0;
}

function adtsFrameLength(buf: Buffer, off: number): number {
  if (off + 7 > buf.length) return 0;
  if (buf[off] !== 0xff || (buf[off + 1]! & 0xf6) !== 0xf0) return 0;
  const rateIndex = (buf[off + 2]! >> 2) & 0x0f;
  if (rateIndex > 12) return 0;
  const len = ((buf[off + 3]! & 0x03) << 11) | (buf[off + 4]! << 3) | (buf[off + 5]! >> 5);
  return len >= 7 ? len : 0;
}

function isAdtsStream(buf: Buffer): boolean {
  const first = adtsFrameLength(buf, 0);
  return first > 0 && adtsFrameLength(buf, first) > 0;
}
