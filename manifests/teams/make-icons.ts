/**
 * Draws Atom's Teams icons without image libraries: `color.png` (192×192, full colour) and
 * `outline.png` (32×32, white on transparent), as Teams requires
 * (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package#app-icons).
 * Run: `node --import tsx manifests/teams/make-icons.ts` (the PNGs are committed).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Encodes RGBA pixels (row-major, 4 bytes each) as a PNG. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}

/** Coverage (0..1) of Atom's mark — three orbits and a nucleus — at a point in [-1, 1]². */
function mark(x: number, y: number, stroke: number): number {
  if (x * x + y * y <= 0.16 * 0.16) return 1;
  for (const deg of [0, 60, 120]) {
    const t = (deg * Math.PI) / 180;
    const u = x * Math.cos(t) + y * Math.sin(t);
    const v = -x * Math.sin(t) + y * Math.cos(t);
    const a = 0.86;
    const b = 0.32;
    const r = Math.sqrt((u / a) ** 2 + (v / b) ** 2);
    // Approximate distance to the ellipse: (r - 1) scaled by the local radius.
    if (Math.abs(r - 1) * Math.min(a, b) * 1.6 < stroke) return 1;
  }
  return 0;
}

function draw(size: number, stroke: number, paint: (cover: number) => [number, number, number, number]): Buffer {
  const px = new Uint8Array(size * size * 4);
  const ss = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cover = 0;
      for (let sy = 0; sy < ss; sy++)
        for (let sx = 0; sx < ss; sx++) {
          const fx = ((x + (sx + 0.5) / ss) / size) * 2 - 1;
          const fy = ((y + (sy + 0.5) / ss) / size) * 2 - 1;
          cover += mark(fx * 1.08, fy * 1.08, stroke);
        }
      const [r, g, b, a] = paint(cover / (ss * ss));
      px.set([r, g, b, a], (y * size + x) * 4);
    }
  }
  return encodePng(size, size, px);
}

const here = path.dirname(fileURLToPath(import.meta.url));
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bg = [79, 70, 229];
  const color = draw(192, 0.055, (c) => [
    Math.round(bg[0]! + (255 - bg[0]!) * c),
    Math.round(bg[1]! + (255 - bg[1]!) * c),
    Math.round(bg[2]! + (255 - bg[2]!) * c),
    255,
  ]);
  const outline = draw(32, 0.09, (c) => [255, 255, 255, Math.round(255 * c)]);
  fs.writeFileSync(path.join(here, "color.png"), color);
  fs.writeFileSync(path.join(here, "outline.png"), outline);
  console.log("wrote color.png (192x192) and outline.png (32x32)");
}
