import { XMLParser } from "fast-xml-parser";
import JSZip from "jszip";
import type { ExtractedDocument, ExtractedSection } from "../types.ts";
import { ExtractError } from "./errors.ts";
import { meaningfulTitle, readCoreTitle } from "./office.ts";

/*
 * PowerPoint (.pptx) with jszip + fast-xml-parser. Slides in presentation order
 * (ppt/presentation.xml `p:sldIdLst` → ppt/_rels/presentation.xml.rels), falling back to the
 * numeric order of ppt/slides/slideN.xml. Per slide: the title placeholder is the heading; every
 * other shape (also inside group shapes) is one paragraph block whose lines are its `a:p`
 * paragraphs; tables become `cell | cell` rows; speaker notes follow as "Notes: …".
 */

/** A node of fast-xml-parser's order-preserving output: `{ tag: children[], ":@": attributes }`. */
type XNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
});

function tagOf(n: XNode): string | undefined {
  for (const k of Object.keys(n)) if (k !== ":@") return k;
  return undefined;
}

function childrenOf(n: XNode): XNode[] {
  const t = tagOf(n);
  const c = t ? n[t] : undefined;
  return Array.isArray(c) ? (c as XNode[]) : [];
}

function attrOf(n: XNode, name: string): string | undefined {
  const a = n[":@"] as Record<string, unknown> | undefined;
  const v = a?.[name];
  return typeof v === "string" ? v : undefined;
}

function find(nodes: XNode[], tag: string): XNode | undefined {
  return nodes.find((n) => tagOf(n) === tag);
}

/** First descendant (depth-first) with this tag. */
function findDeep(nodes: XNode[], tag: string): XNode | undefined {
  for (const n of nodes) {
    if (tagOf(n) === tag) return n;
    const hit = findDeep(childrenOf(n), tag);
    if (hit) return hit;
  }
  return undefined;
}

/** Text of an `a:p`: its runs, fields and line breaks. */
function paragraphText(p: XNode): string {
  let s = "";
  const visit = (nodes: XNode[]): void => {
    for (const n of nodes) {
      const t = tagOf(n);
      if (t === "#text") continue;
      if (t === "a:t") {
        for (const c of childrenOf(n)) if (typeof c["#text"] === "string") s += c["#text"];
      } else if (t === "a:br") {
        s += "\n";
      } else {
        visit(childrenOf(n));
      }
    }
  };
  visit(childrenOf(p));
  return s.replace(/[ \t\u00a0]+/g, " ").trim();
}

/** Lines of every `a:p` under a text body. */
function textBodyLines(nodes: XNode[]): string[] {
  const lines: string[] = [];
  const visit = (ns: XNode[]): void => {
    for (const n of ns) {
      const t = tagOf(n);
      if (t === "a:p") {
        const text = paragraphText(n);
        if (text) lines.push(text);
      } else if (t && t !== "#text") {
        visit(childrenOf(n));
      }
    }
  };
  visit(nodes);
  return lines;
}

function tableRows(tbl: XNode): string[] {
  const rows: string[] = [];
  for (const tr of childrenOf(tbl).filter((n) => tagOf(n) === "a:tr")) {
    const cells = childrenOf(tr)
      .filter((n) => tagOf(n) === "a:tc")
      .map((tc) => textBodyLines(childrenOf(tc)).join(" "));
    if (cells.some((c) => c !== "")) rows.push(cells.join(" | "));
  }
  return rows;
}

interface SlideText {
  title?: string;
  blocks: string[];
}

function placeholderType(sp: XNode): string | undefined {
  const nv = find(childrenOf(sp), "p:nvSpPr");
  const ph = nv ? findDeep(childrenOf(nv), "p:ph") : undefined;
  return ph ? (attrOf(ph, "type") ?? "body") : undefined;
}

/** Walks a shape tree (slide or group) in document order. */
function walkShapes(nodes: XNode[], out: SlideText, skipPlaceholders: Set<string>): void {
  for (const n of nodes) {
    const t = tagOf(n);
    if (t === "p:sp") {
      const ph = placeholderType(n);
      if (ph && skipPlaceholders.has(ph)) continue;
      const body = find(childrenOf(n), "p:txBody");
      const lines = body ? textBodyLines(childrenOf(body)) : [];
      if (lines.length === 0) continue;
      if ((ph === "title" || ph === "ctrTitle") && out.title === undefined) out.title = lines.join(" ");
      else out.blocks.push(lines.join("\n"));
    } else if (t === "p:grpSp") {
      walkShapes(childrenOf(n), out, skipPlaceholders);
    } else if (t === "p:graphicFrame") {
      const tbl = findDeep(childrenOf(n), "a:tbl");
      if (tbl) {
        const rows = tableRows(tbl);
        if (rows.length) out.blocks.push(rows.join("\n"));
      }
    } else if (t === "mc:AlternateContent") {
      const kids = childrenOf(n);
      const pick = find(kids, "mc:Fallback") ?? find(kids, "mc:Choice");
      if (pick) walkShapes(childrenOf(pick), out, skipPlaceholders);
    }
  }
}

function shapeTree(xml: string): XNode[] {
  const root = parser.parse(xml) as XNode[];
  const tree = findDeep(root, "p:spTree");
  return tree ? childrenOf(tree) : [];
}

function resolvePart(baseDir: string, target: string): string {
  if (target.startsWith("/")) return target.slice(1);
  const parts = baseDir.split("/").filter(Boolean);
  for (const seg of target.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  return parts.join("/");
}

function relationships(xml: string | undefined): { id: string; type: string; target: string }[] {
  if (!xml) return [];
  const root = parser.parse(xml) as XNode[];
  const rels = find(root, "Relationships");
  return (rels ? childrenOf(rels) : [])
    .filter((n) => tagOf(n) === "Relationship")
    .map((n) => ({
      id: attrOf(n, "Id") ?? "",
      type: attrOf(n, "Type") ?? "",
      target: attrOf(n, "Target") ?? "",
    }));
}

async function slidePaths(zip: JSZip): Promise<string[]> {
  const pres = await zip.file("ppt/presentation.xml")?.async("string");
  const rels = relationships(await zip.file("ppt/_rels/presentation.xml.rels")?.async("string"));
  const ordered: string[] = [];
  if (pres) {
    const list = findDeep(parser.parse(pres) as XNode[], "p:sldIdLst");
    for (const sld of list ? childrenOf(list) : []) {
      const rid = attrOf(sld, "r:id");
      const rel = rels.find((r) => r.id === rid);
      if (rel) {
        const path = resolvePart("ppt", rel.target);
        if (zip.file(path)) ordered.push(path);
      }
    }
  }
  if (ordered.length) return ordered;
  const num = (p: string) => Number(/(\d+)\.xml$/.exec(p)?.[1] ?? 0);
  return Object.keys(zip.files)
    .filter((p) => /^ppt\/slides\/slide\d+\.xml$/.test(p))
    .sort((a, b) => num(a) - num(b));
}

/**
 * Extracts a .pptx: one section per slide, headings [slide title or `Slide N`]; title of the
 * document = docProps/core.xml `dc:title` when meaningful, else the first slide's title.
 * Throws ExtractError when the archive has no slides; jszip errors propagate (the caller wraps them).
 */
export async function extractPptx(bytes: Buffer, fileName: string): Promise<ExtractedDocument> {
  const zip = await JSZip.loadAsync(bytes);
  const paths = await slidePaths(zip);
  if (paths.length === 0) throw new ExtractError("PowerPoint file has no slides");
  const sections: ExtractedSection[] = [];
  let firstTitle: string | undefined;
  for (const [i, path] of paths.entries()) {
    const xml = await zip.file(path)!.async("string");
    const slide: SlideText = { blocks: [] };
    walkShapes(shapeTree(xml), slide, new Set(["sldNum", "dt", "ftr"]));
    if (i === 0) firstTitle = slide.title;

    const dir = path.slice(0, path.lastIndexOf("/"));
    const relPath = `${dir}/_rels/${path.slice(dir.length + 1)}.rels`;
    const notesRel = relationships(await zip.file(relPath)?.async("string")).find((r) =>
      r.type.endsWith("/notesSlide"),
    );
    const notesFile = notesRel ? zip.file(resolvePart(dir, notesRel.target)) : null;
    if (notesFile) {
      const notes: SlideText = { blocks: [] };
      walkShapes(
        shapeTree(await notesFile.async("string")),
        notes,
        new Set(["sldImg", "sldNum", "hdr", "ftr", "dt"]),
      );
      const text = notes.blocks.join("\n").trim();
      if (text) slide.blocks.push(`Notes: ${text}`);
    }

    const heading = slide.title ?? `Slide ${i + 1}`;
    const text = slide.blocks.join("\n\n");
    if (text || slide.title) sections.push({ headings: [heading], text: text || heading });
  }
  const title = meaningfulTitle(await readCoreTitle(zip), fileName) ?? firstTitle;
  return title ? { title, sections } : { sections };
}
