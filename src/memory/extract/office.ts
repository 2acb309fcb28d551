import type JSZip from "jszip";

/** Reads `dc:title` from docProps/core.xml of an Office Open XML package, if present. */
export async function readCoreTitle(zip: JSZip): Promise<string | undefined> {
  const core = await zip.file("docProps/core.xml")?.async("string");
  const m = core ? /<dc:title>([^<]*)<\/dc:title>/.exec(core) : null;
  return m?.[1] ? decodeXmlText(m[1]) : undefined;
}

/** Decodes the five XML entities and numeric character references. */
export function decodeXmlText(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (m, e: string) => {
    if (e === "amp") return "&";
    if (e === "lt") return "<";
    if (e === "gt") return ">";
    if (e === "quot") return '"';
    if (e === "apos") return "'";
    const code = e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

const GENERIC_TITLE =
  /^(untitled.*|document\d*|presentation\d*|powerpoint presentation|book\d*|binder\d*|slide \d+|title|microsoft (word|powerpoint|excel)\b.*)$/i;

/**
 * Returns `title` trimmed when it says something about the document, or undefined when it is empty,
 * generic ("Untitled", "Binder1", "PowerPoint Presentation"), a file name ("x.pdf") or just the
 * document's own file name without extension.
 */
export function meaningfulTitle(title: string | undefined, fileName: string): string | undefined {
  const t = (title ?? "").replace(/\s+/g, " ").trim();
  if (t.length < 3 || GENERIC_TITLE.test(t)) return undefined;
  if (/\.[a-z0-9]{2,5}$/i.test(t) && !/\s/.test(t)) return undefined;
  if (/\.(pdf|docx?|pptx?|xlsx?|rtf|odt|txt|indd|tex|dvi|ps)$/i.test(t)) return undefined;
  const base = fileName.replace(/^.*[\\/]/, "").replace(/\.[^.]+$/, "");
  const norm = (s: string) => s.toLowerCase().replace(/[\s_\-.]+/g, "");
  if (norm(t) === norm(base)) return undefined;
  return t;
}
