import type { ExtractedDocument } from "../types.ts";
import { SectionBuilder } from "./sections.ts";

/*
 * Markdown → plain text sections, written for speed (one pass over the lines, cheap pre-checks
 * before any regular expression). Follows CommonMark where it matters for search:
 * ATX headings (`#`..`######`, optional closing `#`s), setext headings (`===` / `---` under a
 * paragraph), fenced code (``` and ~~~, headings inside are text), YAML front matter, HTML comments
 * (also across lines), links, images, emphasis, backslash escapes and tables.
 */

const FENCE_RE = /^ {0,3}(`{3,}|~{3,})/;
const ATX_RE = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const SETEXT_RE = /^ {0,3}(=+|-+)[ \t]*$/;
const THEMATIC_RE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_RE = /^([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const QUOTE_RE = /^ {0,3}> ?/;
const TABLE_SEP_RE = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const LINK_DEF_RE = /^ {0,3}\[[^\]]+\]:[ \t]*\S/;
const INLINE_HINT_RE = /[\\<[*_`~&!]/;
const ESCAPE_RE = /\\([!-/:-@[-`{-~])/g;
const AUTOLINK_RE = /<((?:https?|ftp|mailto):[^<>\s]+|[^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)>/g;
const TAG_RE = /<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g;
/** A link destination in parentheses, allowing two levels of nested parentheses inside. */
const DEST = String.raw`\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)`;
const LABEL = String.raw`\[((?:[^[\]]|\[[^[\]]*\])*)\]`;
const IMAGE_RE = new RegExp(String.raw`!${LABEL}(?:${DEST}|\[[^[\]]*\])`, "g");
const LINK_RE = new RegExp(String.raw`${LABEL}(?:${DEST}|\[[^[\]]*\])`, "g");
// Emphasis markers are removed by position, not by pairing, so that the work stays linear even
// on a megabyte-long line: `**`, `~~` and word-edge `__` always go; a single `*` or `_` goes when
// it opens (start/punctuation before, text after) or closes (text before, end/punctuation after)
// a span, so `2*3*4` and `snake_case` stay intact.
const STRONG_UNDER_RE = /(?<![\p{L}\p{N}_])__(?=\S)|(?<=\S)__(?![\p{L}\p{N}_])/gu;
const EM_STAR_RE = /(?<![\p{L}\p{N}*])\*(?=[^\s*])|(?<=[^\s*])\*(?![\p{L}\p{N}*])/gu;
const EM_UNDER_RE = /(?<![\p{L}\p{N}_])_(?=[^\s_])|(?<=[^\s_])_(?![\p{L}\p{N}_])/gu;
const ENTITY_RE = /&(amp|lt|gt|quot|apos|nbsp|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});/g;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Escaped punctuation is parked in the private-use area while markup is removed, then restored. */
const PARK_BASE = 0xe000;
const PARKED_RE = /[\ue000-\ue07f]/g;
/** Code spans are parked as one private-use character each (up to 4096 per line). */
const SPAN_BASE = 0xe100;
const SPAN_RE = /[\ue100-\uf0ff]/g;
/** A code span of at most 2000 characters (bounded so unmatched backticks cost linear time). */
const CODE_SPAN_RE = /(`+)(?!`)([\s\S]{0,2000}?[^`])\1(?!`)/g;

function decodeEntity(_m: string, name: string): string {
  if (name[0] !== "#") return ENTITIES[name] ?? _m;
  const code =
    name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : _m;
}

/**
 * Converts inline markdown of one line to plain text: links and images become their text/alt,
 * HTML tags disappear, emphasis and code markers are dropped, escapes and common entities decoded.
 */
export function inlineToText(line: string): string {
  if (!INLINE_HINT_RE.test(line)) return line;
  let s = line;
  const parked = s.includes("\\");
  if (parked) s = s.replace(ESCAPE_RE, (_m, c: string) => String.fromCharCode(PARK_BASE + c.charCodeAt(0)));
  // Code spans keep their content verbatim: park them while markup is removed.
  const spans: string[] = [];
  if (s.includes("`")) {
    s = s
      .replace(CODE_SPAN_RE, (_m, _ticks: string, code: string) => {
        if (spans.length >= 0xf00) return code;
        spans.push(code.trim());
        return String.fromCharCode(SPAN_BASE + spans.length - 1);
      })
      .replace(/`+/g, "");
  }
  if (s.includes("<")) s = s.replace(AUTOLINK_RE, "$1").replace(TAG_RE, "");
  if (s.includes("[")) s = s.replace(IMAGE_RE, "$1").replace(LINK_RE, "$1");
  if (s.includes("*")) s = s.replace(/\*\*/g, "").replace(EM_STAR_RE, "");
  if (s.includes("_")) s = s.replace(STRONG_UNDER_RE, "").replace(EM_UNDER_RE, "");
  if (s.includes("~~")) s = s.replace(/~~/g, "");
  if (s.includes("&")) s = s.replace(ENTITY_RE, decodeEntity);
  if (s !== line) s = s.replace(/(\S) {2,}/g, "$1 ");
  if (spans.length > 0) {
    s = s.replace(SPAN_RE, (c) => {
      const i = c.charCodeAt(0) - SPAN_BASE;
      return i < spans.length ? spans[i]! : c;
    });
  }
  if (parked) s = s.replace(PARKED_RE, (c) => String.fromCharCode(c.charCodeAt(0) - PARK_BASE));
  return s;
}

function tableRow(line: string): string {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  return s
    .split(/(?<!\\)\|/)
    .map((cell) => inlineToText(cell.trim()))
    .join(" | ");
}

/** Splits YAML front matter off the text; returns the body and the front matter's `title`, if any. */
function stripFrontMatter(text: string): { body: string; title?: string } {
  if (!text.startsWith("---\n")) return { body: text };
  const end = text.search(/\n(?:---|\.\.\.)[ \t]*(?:\n|$)/);
  if (end < 0) return { body: text };
  const yaml = text.slice(4, end);
  const afterEnd = text.indexOf("\n", end + 1);
  const body = afterEnd < 0 ? "" : text.slice(afterEnd + 1);
  const m = /^title:[ \t]*(.+?)[ \t]*$/m.exec(yaml);
  const title = m?.[1]?.replace(/^(["'])(.*)\1$/, "$2").trim();
  return title ? { body, title } : { body };
}

type LineKind = "text" | "list" | "table" | "code";

/**
 * Extracts a markdown document: title = first H1 (else the front matter `title`), sections split
 * at every heading with the heading path outermost-first. List items stay one per line with a
 * `- ` (or `1.`) marker, table rows become `a | b | c`, soft-wrapped paragraph lines are joined
 * with a space, and paragraphs are separated by a blank line. Accepts LF, CRLF and CR line ends.
 */
export function extractMarkdown(source: string): ExtractedDocument {
  let text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
  const fm = stripFrontMatter(text);
  const lines = fm.body.split("\n");

  const out = new SectionBuilder();
  let title: string | undefined;
  let block: { kind: LineKind; text: string }[] = [];
  let fence: { char: string; len: number } | null = null;
  let inComment = false;
  let inTable = false;

  // Text and list lines are stored raw and converted per run of lines, so that a link or an
  // emphasis that wraps onto the next line is still recognised.
  const flushBlock = (): void => {
    if (block.length === 0) return;
    const parts: string[] = [];
    let run = "";
    let prev: LineKind | null = null;
    const endRun = (): void => {
      if (run) parts.push(inlineToText(run));
      run = "";
    };
    for (const line of block) {
      if (line.kind === "text" || line.kind === "list") {
        if (prev === "text" || prev === "list") {
          const joinWithSpace = line.kind === "text";
          run += joinWithSpace ? ` ${line.text.trimStart()}` : `\n${line.text}`;
        } else {
          endRun();
          run = line.text;
        }
      } else {
        endRun();
        parts.push(line.text);
      }
      prev = line.kind;
    }
    endRun();
    out.paragraph(parts.join("\n"));
    block = [];
    inTable = false;
  };

  const heading = (level: number, raw: string): void => {
    flushBlock();
    const h = inlineToText(raw).replace(/\s+/g, " ").trim();
    if (level === 1 && title === undefined && h) title = h;
    out.heading(level, h);
  };

  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;

    if (fence) {
      const m = FENCE_RE.exec(line);
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.len && line.trim() === m[1]) {
        fence = null;
        flushBlock();
      } else {
        block.push({ kind: "code", text: line });
      }
      continue;
    }

    // HTML comments, possibly spanning lines.
    if (inComment || line.includes("<!--")) {
      let kept = "";
      let pos = 0;
      let ticks = 0;
      let ticksTo = 0;
      while (pos < line.length) {
        if (inComment) {
          const end = line.indexOf("-->", pos);
          if (end < 0) {
            pos = line.length;
            break;
          }
          inComment = false;
          pos = end + 3;
        } else {
          let start = line.indexOf("<!--", pos);
          // `<!-- … -->` inside a code span is text, not a comment (backticks counted once).
          while (start >= 0) {
            for (; ticksTo < start; ticksTo++) if (line.charCodeAt(ticksTo) === 96) ticks++;
            if (ticks % 2 === 0) break;
            start = line.indexOf("<!--", start + 4);
          }
          if (start < 0) {
            kept += line.slice(pos);
            break;
          }
          kept += line.slice(pos, start);
          inComment = true;
          pos = start + 4;
        }
      }
      if (kept.trim() === "") continue;
      line = kept.replace(/(\S) {2,}/g, "$1 ");
    }

    const first = line.trimStart()[0];
    if (first === undefined) {
      flushBlock();
      continue;
    }

    if (first === "`" || first === "~") {
      const m = FENCE_RE.exec(line);
      if (m && !(m[1]![0] === "`" && line.slice(line.indexOf("`") + m[1]!.length).includes("`"))) {
        flushBlock();
        fence = { char: m[1]![0]!, len: m[1]!.length };
        continue;
      }
    }

    if (first === "#") {
      const m = ATX_RE.exec(line);
      if (m) {
        const content = (m[2] ?? "").replace(/(?:^|[ \t]+)#+[ \t]*$/, "").trim();
        heading(m[1]!.length, content);
        continue;
      }
    }

    if (first === "=" || first === "-") {
      if (SETEXT_RE.test(line) && block.length > 0 && block.every((l) => l.kind === "text")) {
        const content = block.map((l) => l.text.trim()).join(" ");
        block = [];
        heading(first === "=" ? 1 : 2, content);
        continue;
      }
    }

    if ((first === "-" || first === "*" || first === "_") && THEMATIC_RE.test(line)) {
      flushBlock();
      continue;
    }

    if (first === ">") {
      line = line.replace(QUOTE_RE, "");
      while (QUOTE_RE.test(line)) line = line.replace(QUOTE_RE, "");
      if (line.trim() === "") {
        flushBlock();
        continue;
      }
    }

    if (first === "[" && LINK_DEF_RE.test(line)) continue;

    if (line.includes("|")) {
      if (TABLE_SEP_RE.test(line) && line.includes("-")) {
        const prev = block[block.length - 1];
        if (prev && prev.kind !== "code") {
          prev.kind = "table";
          prev.text = tableRow(lines[i - 1] ?? prev.text);
          inTable = true;
          continue;
        }
      }
      if (inTable || line.trimStart().startsWith("|")) {
        block.push({ kind: "table", text: tableRow(line) });
        continue;
      }
    }

    const list = LIST_RE.exec(line);
    if (list && (list[3] !== undefined || list[2]!.length === 1)) {
      const indent = list[1]!.replace(/\t/g, "  ");
      const marker = /^[-*+]$/.test(list[2]!) ? "-" : list[2]!;
      const body = (list[3] ?? "").trim();
      block.push({ kind: "list", text: `${indent}${marker} ${body}`.trimEnd() });
      continue;
    }

    if (line.includes("<") && inlineToText(line).trim() === "") {
      // A line that is only markup (an HTML tag) separates paragraphs like a blank line.
      flushBlock();
      continue;
    }
    block.push({ kind: "text", text: line.trim() });
  }
  flushBlock();

  const sections = out.finish();
  const docTitle = title ?? fm.title;
  if (sections.length === 0 && docTitle) sections.push({ headings: [], text: docTitle });
  return docTitle ? { title: docTitle, sections } : { sections };
}
