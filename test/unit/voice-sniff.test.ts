import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sniffAudio } from "../../src/voice/sniff.ts";
import { corpusAudioAvailable, readCorpusClip } from "../integration/fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus)
  console.warn("voice-sniff: ../shared/corpus/audio is missing; corpus clip tests are skipped");

describe.runIf(haveCorpus)("sniffAudio on the real corpus clips", () => {
  it.each([
    ["jfk.wav", "wav", "audio/wav", 11.0],
    ["remind-monday-9am.wav", "wav", "audio/wav", 4.08],
    ["remind-monday-9am.m4a", "mp4", "audio/mp4", 4.08],
    ["counting-one-to-five.m4a", "mp4", "audio/mp4", 6.44],
    ["remind-monday-9am.webm", "webm", "audio/webm", 4.08],
  ])("%s → %s (%s), %d s", (name, format, contentType, seconds) => {
    const s = sniffAudio(readCorpusClip(name));
    expect(s).not.toBeNull();
    expect(s!.format).toBe(format);
    expect(s!.contentType).toBe(contentType);
    expect(s!.durationSeconds).toBeCloseTo(seconds, 1);
  });

  it("recognises a clip by its bytes only, whatever it was named", () => {
    // A Slack voice clip is an M4A that claims video/mp4; the bytes decide.
    const m4a = readCorpusClip("remind-monday-9am.m4a");
    expect(sniffAudio(Buffer.from(m4a))?.contentType).toBe("audio/mp4");
  });

  it("rejects a truncated WAV header and a WAV without data as unknown duration, not a crash", () => {
    const wav = readCorpusClip("jfk.wav");
    expect(sniffAudio(wav.subarray(0, 8))).toBeNull();
    expect(sniffAudio(wav.subarray(0, 40))?.format).toBe("wav");
    expect(sniffAudio(wav.subarray(0, 40))?.durationSeconds).toBeUndefined();
  });
});

/** Builds a minimal Ogg page with one packet. */
function oggPage(packet: Buffer, granule: bigint): Buffer {
  const header = Buffer.alloc(27);
  header.write("OggS", 0, "latin1");
  header.writeBigInt64LE(granule, 6);
  header[26] = 1;
  return Buffer.concat([header, Buffer.from([packet.length]), packet]);
}

/** A 144-byte-frame MPEG-1 Layer III header (128 kbit/s, 44.1 kHz → 417 bytes per frame). */
function mp3Frame(): Buffer {
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return frame;
}

describe("sniffAudio on synthetic containers", () => {
  it("Ogg Opus with its duration from the last granule position", () => {
    const head = Buffer.alloc(19);
    head.write("OpusHead", 0, "latin1");
    head[8] = 1;
    head[9] = 1;
    head.writeUInt16LE(312, 10);
    const s = sniffAudio(Buffer.concat([oggPage(head, 0n), oggPage(Buffer.alloc(10), 48_000n * 3n + 312n)]));
    expect(s).toEqual({ format: "ogg", contentType: "audio/ogg", durationSeconds: 3 });
  });

  it("FLAC with its duration from STREAMINFO", () => {
    const b = Buffer.alloc(42);
    b.write("fLaC", 0, "latin1");
    b[4] = 0x80; // last metadata block, type 0 (STREAMINFO)
    b[7] = 34;
    // sample rate 16000 Hz (20 bits) | channels-1 (3) | bps-1 (5) | total samples (36) = 80000
    const si = 8;
    b[si + 10] = (16000 >> 12) & 0xff;
    b[si + 11] = (16000 >> 4) & 0xff;
    b[si + 12] = ((16000 & 0x0f) << 4) | 0x0;
    b.writeUInt32BE(80_000, si + 14);
    expect(sniffAudio(b)).toEqual({ format: "flac", contentType: "audio/flac", durationSeconds: 5 });
  });

  it("MP3 with an ID3 tag, and an untagged MP3 with two consecutive frames", () => {
    const id3 = Buffer.concat([Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1"), mp3Frame()]);
    expect(sniffAudio(id3)?.contentType).toBe("audio/mpeg");
    expect(sniffAudio(Buffer.concat([mp3Frame(), mp3Frame()]))?.format).toBe("mp3");
    // One lone frame header followed by garbage is not enough.
    expect(sniffAudio(Buffer.concat([mp3Frame(), Buffer.alloc(20, 0x41)]))).toBeNull();
  });

  it("AAC ADTS with two consecutive frames", () => {
    const frame = Buffer.alloc(100);
    frame.set([0xff, 0xf1, 0x50, 0x80 | ((100 >> 11) & 3), (100 >> 3) & 0xff, ((100 & 7) << 5) | 0x1f, 0xfc]);
    expect(sniffAudio(Buffer.concat([frame, frame]))).toEqual({ format: "aac", contentType: "audio/aac" });
  });

  it("rejects an ISO-BMFF image (HEIC) and an MP4 whose tracks have no sound", () => {
    const ftyp = (brand: string) => {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(16, 0);
      b.write("ftyp", 4, "latin1");
      b.write(brand, 8, "latin1");
      return b;
    };
    expect(sniffAudio(Buffer.concat([ftyp("heic"), Buffer.alloc(16)]))).toBeNull();
    const box = (type: string, ...children: Buffer[]) => {
      const body = Buffer.concat(children);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(8 + body.length, 0);
      h.write(type, 4, "latin1");
      return Buffer.concat([h, body]);
    };
    const hdlr = (handler: string) => {
      const b = Buffer.alloc(24);
      b.write(handler, 8, "latin1");
      return box("hdlr", b);
    };
    const videoOnly = Buffer.concat([ftyp("isom"), box("moov", box("trak", box("mdia", hdlr("vide"))))]);
    expect(sniffAudio(videoOnly)).toBeNull();
    const withSound = Buffer.concat([
      ftyp("isom"),
      box("moov", box("trak", box("mdia", hdlr("vide"))), box("trak", box("mdia", hdlr("soun")))),
    ]);
    expect(sniffAudio(withSound)?.contentType).toBe("audio/mp4");
  });

  it("rejects an HTML login page, JSON, a PNG, empty and random bytes", () => {
    const html = Buffer.from(
      '<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body><form action="/signin"></form></body></html>',
    );
    expect(sniffAudio(html)).toBeNull();
    expect(sniffAudio(Buffer.from('{"ok":false,"error":"file_not_found"}'))).toBeNull();
    expect(sniffAudio(Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"))).toBeNull();
    expect(sniffAudio(Buffer.alloc(0))).toBeNull();
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(4096);
      if (junk[0] === 0xff) junk[0] = 0; // frame syncs are checked twice anyway; keep the test deterministic
      expect(sniffAudio(junk)).toBeNull();
    }
  });

  it("rejects a Matroska-like header whose DocType is not webm/matroska", () => {
    const ebml = Buffer.from([
      0x1a,
      0x45,
      0xdf,
      0xa3,
      0x87,
      0x42,
      0x82,
      0x84,
      ...Buffer.from("xxxx"),
      0,
      0,
      0,
      0,
    ]);
    expect(sniffAudio(ebml)).toBeNull();
  });
});
