import type { ExtractedSection } from "../types.ts";

/**
 * Collects paragraphs under a heading path and emits sections in reading order.
 * A new heading of level L closes the current section and replaces every heading of level ≥ L in
 * the path. Sections without any text are not emitted (their headings still appear in the path of
 * the sections below them).
 */
export class SectionBuilder {
  private readonly path: { level: number; text: string }[] = [];
  private paragraphs: string[] = [];
  private readonly sections: ExtractedSection[] = [];

  /** Starts a heading of `level` (1 = outermost). An empty `text` only closes deeper levels. */
  heading(level: number, text: string): void {
    this.flush();
    while (this.path.length > 0 && this.path[this.path.length - 1]!.level >= level) this.path.pop();
    const clean = text.replace(/\s+/g, " ").trim();
    if (clean) this.path.push({ level, text: clean });
  }

  /** Adds one paragraph (kept verbatim apart from trimming; empty ones are ignored). */
  paragraph(text: string): void {
    const clean = text.trim();
    if (clean) this.paragraphs.push(clean);
  }

  /** Emits the open section, if it has text. */
  flush(): void {
    if (this.paragraphs.length === 0) return;
    this.sections.push({ headings: this.path.map((h) => h.text), text: this.paragraphs.join("\n\n") });
    this.paragraphs = [];
  }

  /** Closes the open section and returns all sections. */
  finish(): ExtractedSection[] {
    this.flush();
    return this.sections;
  }
}
