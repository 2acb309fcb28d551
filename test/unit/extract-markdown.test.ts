import { describe, expect, it } from "vitest";
import { extractMarkdown, inlineToText } from "../../src/memory/extract/markdown.ts";

describe("extractMarkdown: headings", () => {
  it("keeps the heading path outermost-first and pops deeper levels", () => {
    const doc = extractMarkdown(
      [
        "# Guide",
        "intro",
        "## Setup",
        "setup text",
        "### Linux",
        "linux text",
        "## Usage",
        "usage text",
      ].join("\n"),
    );
    expect(doc.title).toBe("Guide");
    expect(doc.sections).toEqual([
      { headings: ["Guide"], text: "intro" },
      { headings: ["Guide", "Setup"], text: "setup text" },
      { headings: ["Guide", "Setup", "Linux"], text: "linux text" },
      { headings: ["Guide", "Usage"], text: "usage text" },
    ]);
  });

  it("skips a level cleanly (H1 → H3 → H2) and drops empty sections", () => {
    const doc = extractMarkdown("# A\n### C\nc text\n## B\nb text\n");
    expect(doc.sections).toEqual([
      { headings: ["A", "C"], text: "c text" },
      { headings: ["A", "B"], text: "b text" },
    ]);
  });

  it("strips closing hashes and does not treat #hashtag as a heading", () => {
    const doc = extractMarkdown("## Title ##\n#hashtag is text\n");
    expect(doc.sections).toEqual([{ headings: ["Title"], text: "#hashtag is text" }]);
    expect(doc.title).toBeUndefined();
  });

  it("reads setext headings; --- after a blank line or a list is a rule, not a heading", () => {
    const doc = extractMarkdown(
      ["Top", "===", "", "para", "", "---", "", "Sub", "---", "- item", "---", "after"].join("\n"),
    );
    expect(doc.title).toBe("Top");
    expect(doc.sections).toEqual([
      { headings: ["Top"], text: "para" },
      { headings: ["Top", "Sub"], text: "- item\n\nafter" },
    ]);
  });

  it("ignores # lines inside fenced code blocks (``` and ~~~) and keeps the code", () => {
    const doc = extractMarkdown(
      ["# Real", "```bash", "# not a heading", "echo hi", "```", "~~~", "## also not", "~~~", "tail"].join(
        "\n",
      ),
    );
    expect(doc.sections).toHaveLength(1);
    expect(doc.sections[0]!.headings).toEqual(["Real"]);
    expect(doc.sections[0]!.text).toBe("# not a heading\necho hi\n\n## also not\n\ntail");
  });

  it("uses the first H1 as title even when it is not the first heading", () => {
    expect(extractMarkdown("## intro\ntext\n# Main\nbody").title).toBe("Main");
  });
});

describe("extractMarkdown: front matter, comments, CRLF", () => {
  it("strips YAML front matter and takes its title when there is no H1", () => {
    const doc = extractMarkdown('---\ntitle: "Leave policy"\ntags: [hr]\n---\nBody text here.\n');
    expect(doc.title).toBe("Leave policy");
    expect(doc.sections).toEqual([{ headings: [], text: "Body text here." }]);
  });

  it("prefers the first H1 over the front matter title", () => {
    expect(extractMarkdown("---\ntitle: x\n---\n# Real title\ntext").title).toBe("Real title");
  });

  it("removes HTML comments, also across lines and with headings inside", () => {
    const doc = extractMarkdown("# A\nkeep <!-- hidden --> this\n<!--\n## Ghost\nsecret\n-->\nvisible\n");
    expect(doc.sections).toEqual([{ headings: ["A"], text: "keep this visible" }]);
    expect(JSON.stringify(doc)).not.toContain("Ghost");
    expect(JSON.stringify(doc)).not.toContain("secret");
    expect(extractMarkdown("Add a `<!-- LABEL: x -->` comment.").sections[0]!.text).toBe(
      "Add a <!-- LABEL: x --> comment.",
    );
  });

  it("converts a link that wraps onto the next line", () => {
    const doc = extractMarkdown("guided by the [company's strategic\nobjectives](https://x.y/a#b), and more");
    expect(doc.sections[0]!.text).toBe("guided by the company's strategic objectives, and more");
  });

  it("gives the same result for CRLF, CR and LF input (and ignores a BOM)", () => {
    const lf = "# T\n\npara one\nwrapped\n\n## S\n- a\n- b\n";
    const crlf = `\ufeff${lf.replace(/\n/g, "\r\n")}`;
    const cr = lf.replace(/\n/g, "\r");
    expect(extractMarkdown(crlf)).toEqual(extractMarkdown(lf));
    expect(extractMarkdown(cr)).toEqual(extractMarkdown(lf));
    expect(extractMarkdown(lf).sections[0]!.text).toBe("para one wrapped");
  });
});

describe("extractMarkdown: inline markup and blocks", () => {
  it("converts links to their text and images to their alt text", () => {
    expect(inlineToText("See [the guide](../guide.md) and ![a diagram](img/d.png).")).toBe(
      "See the guide and a diagram.",
    );
    expect(inlineToText("[![badge](b.svg)](https://x.y) [ref link][r] <https://a.b/c>")).toBe(
      "badge ref link https://a.b/c",
    );
    expect(inlineToText("[text with (parens)](https://en.wikipedia.org/wiki/A_(b))")).toBe(
      "text with (parens)",
    );
  });

  it("strips emphasis, code markers and simple HTML tags but keeps snake_case and 2*3", () => {
    expect(inlineToText("**bold** and __strong__ and *em* and _it_ and `code`")).toBe(
      "bold and strong and em and it and code",
    );
    expect(inlineToText("a <b>tag</b> <br/> here")).toBe("a tag here");
    expect(inlineToText("my_var_name = 2*3*4")).toBe("my_var_name = 2*3*4");
    expect(inlineToText("~~old~~ new &amp; &lt;ok&gt;")).toBe("old new & <ok>");
    expect(inlineToText("**Unbalanced bold. ** rest")).toBe("Unbalanced bold. rest");
  });

  it("keeps the content of code spans verbatim", () => {
    expect(inlineToText("call `f(**kwargs)` or ``a*b*c [x](y)``")).toBe("call f(**kwargs) or a*b*c [x](y)");
  });

  it("unescapes backslash escapes without applying their markup", () => {
    expect(inlineToText("\\*not emphasis\\* and \\[not a link\\](x) \\# \\_")).toBe(
      "*not emphasis* and [not a link](x) # _",
    );
  });

  it("keeps list items one per line with a '- ' marker and nesting", () => {
    const doc = extractMarkdown("Intro line\n\n* one\n+ two\n  - nested [link](x)\n1. first\n2) second\n");
    expect(doc.sections[0]!.text).toBe("Intro line\n\n- one\n- two\n  - nested link\n1. first\n2) second");
  });

  it("keeps table rows as text and drops the separator row", () => {
    const doc = extractMarkdown("| Plan | Price |\n| --- | ---: |\n| **Pro** | $10 |\n| Team | $20 |\n");
    expect(doc.sections[0]!.text).toBe("Plan | Price\nPro | $10\nTeam | $20");
    const bare = extractMarkdown("Key | Value\n--- | ---\na \\| b | [c](d)\n\nafter");
    expect(bare.sections[0]!.text).toBe("Key | Value\na | b | c\n\nafter");
  });

  it("separates paragraphs with a blank line and joins soft-wrapped lines", () => {
    const doc = extractMarkdown("first line\nsecond line\n\n\n> quoted\n> more\n\nlast");
    expect(doc.sections[0]!.text).toBe("first line second line\n\nquoted more\n\nlast");
  });

  it("drops link reference definitions", () => {
    const doc = extractMarkdown("Read [the doc][d].\n\n[d]: https://example.com/doc\n");
    expect(doc.sections[0]!.text).toBe("Read the doc.");
  });

  it("returns no sections for empty input and a title-only section for a heading-only file", () => {
    expect(extractMarkdown("")).toEqual({ sections: [] });
    expect(extractMarkdown("# Just a title\n")).toEqual({
      title: "Just a title",
      sections: [{ headings: [], text: "Just a title" }],
    });
  });
});

describe("extractMarkdown: hostile input", () => {
  it("stays linear on a 1 MB line full of unmatched markup", () => {
    const line = "*a [b (c `d _e **f ~~g <h &i \\* ".repeat(32_000);
    expect(line.length).toBeGreaterThan(1_000_000);
    const started = performance.now();
    const doc = extractMarkdown(`# Big\n${line}`);
    // A quadratic pass takes minutes here; a linear one well under a second.
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(doc.sections[0]!.text.length).toBeGreaterThan(500_000);
    const code = extractMarkdown("`<!-- x` ".repeat(120_000));
    expect(code.sections[0]!.text.startsWith("<!-- x <!-- x")).toBe(true);
  });
});
