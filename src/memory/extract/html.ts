import { type DomNode, type FormatCallback, type HtmlToTextOptions, compile } from "html-to-text";
import type { ExtractedDocument } from "../types.ts";
import { SectionBuilder } from "./sections.ts";
import { decodeText } from "./text.ts";

/*
 * HTML → sections with html-to-text 9. Custom formatters write a marker line for every heading
 * (and, for Word documents, for paragraphs that only look like headings), then the plain text is
 * cut into sections at those markers. Tables become one line per row, `cell | cell`.
 */

/** Marker starting a structural line in html-to-text output: \u0001<kind><level>\u0001<text>. */
const MARK = "\u0001";
const MARK_RE = /^\u0001([HPT])(\d)\u0001(.*)$/;

/** How an HTML document is read: a web page (site chrome dropped) or HTML made from a .docx. */
export type HtmlFlavor = "web" | "docx";

const BLOCK_TAGS = new Set([
  "p",
  "div",
  "li",
  "tr",
  "td",
  "th",
  "table",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "br",
]);
const SKIP_TAGS = new Set(["script", "style", "noscript", "template"]);

/** Visible text of a DOM subtree with whitespace collapsed. */
function textOf(node: DomNode): string {
  const parts: string[] = [];
  const visit = (n: DomNode): void => {
    if (n.type === "text") {
      parts.push(n.data ?? "");
      return;
    }
    if (n.type !== "tag" || SKIP_TAGS.has(n.name ?? "")) return;
    for (const c of n.children ?? []) visit(c);
    if (BLOCK_TAGS.has(n.name ?? "")) parts.push(" ");
  };
  visit(node);
  return parts.join("").replace(/\s+/g, " ").trim();
}

function tagChildren(n: DomNode, names: string[]): DomNode[] {
  return (n.children ?? []).filter((c) => c.type === "tag" && names.includes(c.name ?? ""));
}

function tableRows(table: DomNode): string[] {
  const rows: string[] = [];
  const caption = tagChildren(table, ["caption"])[0];
  if (caption) {
    const c = textOf(caption);
    if (c) rows.push(c);
  }
  const trs = [
    ...tagChildren(table, ["tr"]),
    ...tagChildren(table, ["thead", "tbody", "tfoot"]).flatMap((g) => tagChildren(g, ["tr"])),
  ];
  for (const tr of trs) {
    const cells = tagChildren(tr, ["td", "th"]).map(textOf);
    if (cells.some((c) => c !== "")) rows.push(cells.join(" | "));
  }
  return rows;
}

function insideAny(n: DomNode, names: string[]): boolean {
  for (let p = n.parent; p; p = p.parent) if (p.type === "tag" && names.includes(p.name ?? "")) return true;
  return false;
}

function hasDescendant(n: DomNode, name: string): boolean {
  for (const c of n.children ?? []) {
    if (c.type === "tag" && (c.name === name || hasDescendant(c, name))) return true;
  }
  return false;
}

/** True when every piece of text in the paragraph sits inside <strong>/<b>. */
function allBold(n: DomNode): boolean {
  let sawText = false;
  const visit = (x: DomNode, bold: boolean): boolean => {
    if (x.type === "text") {
      if ((x.data ?? "").trim() === "") return true;
      sawText = true;
      return bold;
    }
    if (x.type !== "tag") return true;
    const b = bold || x.name === "strong" || x.name === "b";
    return (x.children ?? []).every((c) => visit(c, b));
  };
  return visit(n, false) && sawText;
}

/**
 * Level of a Word paragraph that looks like a heading although it has no heading style:
 * 1 = short and entirely bold, 2 = short and in capitals; 0 = ordinary paragraph.
 */
function pseudoHeadingLevel(p: DomNode): number {
  if (insideAny(p, ["td", "th", "li", "table"])) return 0;
  const text = textOf(p);
  if (text.length < 2 || text.length > 100 || !/\p{L}/u.test(text) || /[.,;:!?]$/.test(text)) return 0;
  if (allBold(p)) return 1;
  if (text === text.toUpperCase() && (text.match(/\p{Lu}/gu)?.length ?? 0) >= 3) return 2;
  return 0;
}

function block(builder: Parameters<FormatCallback>[2], write: () => void): void {
  builder.openBlock({ leadingLineBreaks: 2 });
  write();
  builder.closeBlock({ trailingLineBreaks: 2 });
}

function makeConverter(flavor: HtmlFlavor, pseudoHeadings: boolean): (html: string) => string {
  const maxLevel = flavor === "web" ? 3 : 6;
  const formatters: Record<string, FormatCallback> = {
    atomHeading: (elem, walk, builder) => {
      const level = Number((elem.name ?? "h6").slice(1)) || 6;
      block(builder, () => {
        if (level <= maxLevel) builder.addLiteral(`${MARK}H${level}${MARK}`);
        walk(elem.children, builder);
      });
    },
    atomTable: (elem, _walk, builder) => {
      const rows = tableRows(elem);
      if (rows.length === 0) return;
      block(builder, () => {
        rows.forEach((row, i) => {
          if (i > 0) builder.addLineBreak();
          builder.addLiteral(row);
        });
      });
    },
    atomHeader: (elem, walk, builder) => {
      // Page headers are site chrome, except an article header that carries the page's <h1>.
      if (hasDescendant(elem, "h1")) walk(elem.children, builder);
    },
    atomParagraph: (elem, walk, builder) => {
      const level = pseudoHeadings ? pseudoHeadingLevel(elem) : 0;
      block(builder, () => {
        if (level) builder.addLiteral(`${MARK}P${level}${MARK}`);
        walk(elem.children, builder);
      });
    },
    atomTitle: (elem, walk, builder) => {
      block(builder, () => {
        builder.addLiteral(`${MARK}T0${MARK}`);
        walk(elem.children, builder);
      });
    },
  };
  const selectors: NonNullable<HtmlToTextOptions["selectors"]> = [
    ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({ selector, format: "atomHeading" })),
    { selector: "table", format: "atomTable" },
    { selector: "p", format: "atomParagraph" },
    { selector: "p.atom-title", format: "atomTitle" },
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
    { selector: "ul", options: { itemPrefix: "- " } },
    { selector: "hr", format: "skip" },
  ];
  if (flavor === "web") {
    for (const selector of [
      "nav",
      "aside",
      "footer",
      "form",
      "button",
      "svg",
      "iframe",
      "noscript",
      "template",
    ]) {
      selectors.push({ selector, format: "skip" });
    }
    // Landmarks and widgets that are site chrome rather than content.
    for (const selector of [
      "[role=navigation]",
      "[role=banner]",
      "[role=search]",
      "[aria-hidden=true]",
      '[class*="tableOfContents"]',
      '[class*="table-of-contents"]',
      '[class*="skipToContent"]',
      '[class*="skip-link"]',
      ".toc",
      "#toc",
    ]) {
      selectors.push({ selector, format: "skip" });
    }
    selectors.push({ selector: "header", format: "atomHeader" });
  }
  return compile({ wordwrap: false, decodeEntities: true, formatters, selectors });
}

const converters = new Map<string, (html: string) => string>();
function converter(flavor: HtmlFlavor, pseudoHeadings: boolean): (html: string) => string {
  const key = `${flavor}:${pseudoHeadings}`;
  let fn = converters.get(key);
  if (!fn) {
    fn = makeConverter(flavor, pseudoHeadings);
    converters.set(key, fn);
  }
  return fn;
}

/**
 * Converts an HTML string into sections. `web`: drops nav/aside/footer/forms/scripts and page
 * headers without an <h1>; h1–h3 start sections. `docx`: h1–h6 start sections; when the document
 * has no heading at all, short all-bold paragraphs (level 1) and short all-capital paragraphs
 * (level 2) act as headings, and consecutive level-1 ones merge ("CHAPTER 1" + "INTRODUCTION").
 * The title is the `<p class="atom-title">` paragraph (Word "Title" style), else the first h1.
 */
export function htmlToDocument(html: string, flavor: HtmlFlavor): ExtractedDocument {
  const pseudo = flavor === "docx" && !/<h[1-6][\s>]/i.test(html);
  const text = converter(flavor, pseudo)(html);
  const out = new SectionBuilder();
  let title: string | undefined;
  let firstH1: string | undefined;
  let para: string[] = [];
  let lastPseudo: { level: number; text: string } | null = null;

  const flushPara = (): void => {
    if (para.length === 0) return;
    out.paragraph(para.join("\n"));
    para = [];
    lastPseudo = null;
  };

  for (const raw of text.split("\n")) {
    const m = MARK_RE.exec(raw);
    if (m) {
      flushPara();
      const kind = m[1]!;
      const level = Number(m[2]);
      const content = m[3]!.replace(/\s+/g, " ").trim();
      if (kind === "T") {
        if (content && title === undefined) title = content;
        continue;
      }
      if (kind === "P" && level === 1 && lastPseudo?.level === 1) {
        const wasTitle = firstH1 === lastPseudo.text;
        lastPseudo.text = `${lastPseudo.text} ${content}`;
        out.heading(1, lastPseudo.text);
        if (wasTitle) firstH1 = lastPseudo.text;
      } else {
        out.heading(level, content);
        lastPseudo = kind === "P" ? { level, text: content } : null;
        if (level === 1 && firstH1 === undefined && content) firstH1 = content;
      }
      continue;
    }
    if (raw.trim() === "") flushPara();
    else para.push(raw.trimEnd());
  }
  flushPara();
  const sections = out.finish();
  const docTitle = title ?? firstH1;
  return docTitle ? { title: docTitle, sections } : { sections };
}

function decodeHtmlBytes(bytes: Uint8Array): string {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 2048));
  const cs = /<meta[^>]+charset=["']?([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (cs && cs !== "utf-8" && cs !== "utf8") {
    try {
      return new TextDecoder(cs).decode(bytes).replace(/\r\n?/g, "\n");
    } catch {
      // Unknown label: fall through to UTF-8 detection.
    }
  }
  return decodeText(bytes);
}

const plainTitle = compile({ wordwrap: false, decodeEntities: true });

/**
 * Extracts a web page: title = the first h1 when <title> contains it (drops a "| Site" suffix),
 * else <title>, else the first h1; text in sections at h1–h3 without site chrome.
 */
export function extractHtml(bytes: Uint8Array): ExtractedDocument {
  const html = decodeHtmlBytes(bytes);
  const doc = htmlToDocument(html, "web");
  const rawTitle = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html.slice(0, 100_000))?.[1];
  const title = rawTitle ? plainTitle(rawTitle).replace(/\s+/g, " ").trim() : "";
  // Prefer the page's own h1 when <title> is that h1 plus a site suffix ("Post | Site").
  if (doc.title && title.includes(doc.title)) return doc;
  if (title) return { ...doc, title };
  return doc;
}
