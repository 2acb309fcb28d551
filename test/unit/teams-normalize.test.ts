import { describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import {
  checkActivityShape,
  checkServiceUrl,
  isLoopbackAddress,
  loopbackServiceUrl,
  MAX_ACTIVITY_DEPTH,
  nestedDeeperThan,
} from "../../src/adapters/teams/activity.ts";
import { aiEntity, parseCardAction, replyActivity, replyCard } from "../../src/adapters/teams/cards.ts";
import {
  addressesBot,
  baseConversationId,
  cleanText,
  conversationType,
  filesOf,
  mentionsBot,
  TEAMS_FILE_DOWNLOAD_INFO,
  teamsTenantId,
  threadConversationId,
  userTimeZone,
} from "../../src/adapters/teams/normalize.ts";
import { isVoiceNote } from "../../src/voice/index.ts";
import {
  audioAttachment,
  botAddedUpdate,
  cardActionInvoke,
  fileAttachment,
  installationUpdate,
  mention,
  TEST_BOT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";

const dana = { id: TEST_USER.id, name: "Dana Fox" };

describe("cleanText", () => {
  it("removes only the bot's mention, keeps other mentions as names, normalises &nbsp; and CR/LF", () => {
    const text = "<at>Ask Bot</at>&nbsp;summarize <at>Dana Fox</at> notes\r\n";
    expect(cleanText(text, [mention(TEST_BOT), mention(dana)], TEST_BOT.id)).toBe("summarize Dana Fox notes");
  });

  it("matches the bot by recipient id, not by name", () => {
    const impostor = { id: "29:someone-else", name: "Ask Bot" };
    // A person whose display name equals the bot's name stays in the text.
    expect(cleanText("<at>Ask Bot</at> hello", [mention(impostor)], TEST_BOT.id)).toBe("Ask Bot hello");
  });

  it("treats the mention text literally (regex characters in names)", () => {
    const odd = { id: TEST_BOT.id, name: "Atom (beta) *" };
    expect(cleanText("<at>Atom (beta) *</at> what is (x)?", [mention(odd)], TEST_BOT.id)).toBe(
      "what is (x)?",
    );
  });

  it("decodes entities, strips markup and collapses whitespace", () => {
    expect(cleanText("<p>a&amp;b&nbsp;&nbsp;c</p><br>d\r\n\r\n  e&#39;s", [], TEST_BOT.id)).toBe(
      "a&b c d e's",
    );
    expect(cleanText(undefined, undefined, undefined)).toBe("");
  });

  it("removes the bot's mention when the entity has no text (some clients), by its <at> markup", () => {
    const bare = { type: "mention", mentioned: { id: TEST_BOT.id, name: "Chat SDK Demo" } };
    expect(cleanText("<at>Chat SDK Demo</at> help", [bare], TEST_BOT.id)).toBe("help");
    expect(cleanText("<at>chat sdk demo</at>&nbsp;status", [bare], TEST_BOT.id)).toBe("status");
    // HTML-escaped names in the markup.
    const amp = { type: "mention", mentioned: { id: TEST_BOT.id, name: "Q&A Bot" } };
    expect(cleanText("<at>Q&amp;A Bot</at> help", [amp], TEST_BOT.id)).toBe("help");
    // No markup at all: the bot's name at the very start goes, the same words later stay.
    expect(cleanText("Chat SDK Demo help", [bare], TEST_BOT.id)).toBe("help");
    expect(cleanText("help me with Chat SDK Demo", [bare], TEST_BOT.id)).toBe("help me with Chat SDK Demo");
    // A person's mention without text becomes their name; only the bot's own mention goes.
    const person = { type: "mention", mentioned: { id: dana.id, name: "Dana Fox" } };
    expect(cleanText("<at>Chat SDK Demo</at> ask <at>Dana Fox</at>", [bare, person], TEST_BOT.id)).toBe(
      "ask Dana Fox",
    );
  });

  it("detects bot mentions by recipient id", () => {
    const activity = { recipient: { id: TEST_BOT.id, name: "Ask Bot" }, entities: [mention(dana)] };
    expect(mentionsBot(activity)).toBe(false);
    expect(mentionsBot({ ...activity, entities: [mention(dana), mention(TEST_BOT)] })).toBe(true);
  });
});

describe("threads and conversation types", () => {
  it("keeps ;messageid= for channel threads and never returns a bare channel id", () => {
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000123";
    const channel = {
      conversation: { id: thread, conversationType: "channel", isGroup: true, name: "" },
      id: "1717000000555",
    };
    expect(threadConversationId(channel as never)).toBe(thread);
    const bare = { ...channel, conversation: { ...channel.conversation, id: "19:abc123def@thread.tacv2" } };
    expect(threadConversationId(bare as never)).toBe("19:abc123def@thread.tacv2;messageid=1717000000555");
    expect(baseConversationId(thread)).toBe("19:abc123def@thread.tacv2");
  });

  it("answers personal and group chats in the chat", () => {
    const personal = { conversation: { id: "a:1-x", conversationType: "personal" }, id: "1" };
    const group = {
      conversation: { id: "19:g@thread.v2", conversationType: "groupChat", isGroup: true },
      id: "2",
    };
    expect(threadConversationId(personal as never)).toBe("a:1-x");
    expect(threadConversationId(group as never)).toBe("19:g@thread.v2");
    expect(conversationType(group as never)).toBe("groupChat");
    expect(
      conversationType({
        conversation: { isGroup: true },
        channelData: { channel: { id: "19:c" } },
      } as never),
    ).toBe("channel");
  });

  it("reads the Entra tenant id, and none when the activity names two different ones", () => {
    const t = "72f988bf-0000-4000-8000-000000000001";
    expect(teamsTenantId({ conversation: { tenantId: t } } as never)).toBe(t);
    expect(teamsTenantId({ channelData: { tenant: { id: t } } } as never)).toBe(t);
    expect(
      teamsTenantId({
        conversation: { tenantId: t.toUpperCase() },
        channelData: { tenant: { id: t } },
      } as never),
    ).toBe(t);
    expect(
      teamsTenantId({
        conversation: { tenantId: "00000000-0000-4000-8000-00000000000f" },
        channelData: { tenant: { id: t } },
      } as never),
    ).toBeUndefined();
    expect(teamsTenantId({ conversation: { tenantId: " " } } as never)).toBeUndefined();
  });

  it("tells which activities are addressed to the bot", () => {
    const serviceUrl = "https://smba.trafficmanager.net/amer/";
    expect(addressesBot(teamsMessage({ serviceUrl, kind: "personal", text: "hi" }) as never)).toBe(true);
    expect(addressesBot(teamsMessage({ serviceUrl, kind: "channel", text: "hi" }) as never)).toBe(false);
    expect(
      addressesBot(
        teamsMessage({
          serviceUrl,
          kind: "channel",
          text: "<at>Ask Bot</at> hi",
          entities: [mention(TEST_BOT)],
        }) as never,
      ),
    ).toBe(true);
    expect(addressesBot(botAddedUpdate({ serviceUrl, kind: "channel" }) as never)).toBe(true);
    expect(addressesBot(installationUpdate({ serviceUrl, kind: "channel", action: "add" }) as never)).toBe(
      true,
    );
    expect(addressesBot(installationUpdate({ serviceUrl, kind: "channel", action: "remove" }) as never)).toBe(
      false,
    );
  });

  it("reads the asker's time zone when it is a real IANA zone", () => {
    expect(userTimeZone({ localTimezone: "Europe/Berlin" } as never)).toBe("Europe/Berlin");
    expect(userTimeZone({ localTimezone: "Mars/Olympus" } as never)).toBeUndefined();
    expect(userTimeZone({} as never)).toBeUndefined();
  });
});

describe("filesOf", () => {
  it("builds ChatFiles from file download info and audio attachments, ignoring others", async () => {
    const seen: Array<{ url: string; auth: string | null }> = [];
    const fakeFetch = (async (url: string, init?: RequestInit) => {
      seen.push({ url, auth: new Headers(init?.headers).get("authorization") });
      return new Response(new Uint8Array([1, 2, 3]), { status: 200 });
    }) as unknown as typeof fetch;
    const files = filesOf(
      [
        {
          contentType: "application/vnd.microsoft.teams.file.download.info",
          name: "Voice note.M4A",
          content: { downloadUrl: "https://files.example/dl?token=abc", fileType: "M4A", uniqueId: "u1" },
        },
        { contentType: "audio/ogg", name: "clip.ogg", contentUrl: "https://files.example/clip.ogg" },
        { contentType: "text/html", content: "<p>card</p>" },
        { contentType: "application/vnd.microsoft.card.adaptive", content: {} },
      ],
      { maxBytes: 1024, fetch: fakeFetch },
    );
    expect(files.map((f) => [f.name, f.filetype, f.mimetype])).toEqual([
      ["Voice note.M4A", "m4a", "application/vnd.microsoft.teams.file.download.info"],
      ["clip.ogg", "ogg", "audio/ogg"],
    ]);
    expect(files[0]?.id).toBe("u1");
    expect([...((await files[0]?.download?.()) ?? [])]).toEqual([1, 2, 3]);
    expect(seen).toEqual([{ url: "https://files.example/dl?token=abc", auth: null }]);
  });

  it("produces files the voice-note detection recognises (and ignores documents)", () => {
    const info = (name: string, fileType: string) => ({
      contentType: "application/vnd.microsoft.teams.file.download.info",
      name,
      content: { downloadUrl: `https://files.example/${name}`, fileType },
    });
    const files = filesOf(
      [
        info("clip.m4a", "m4a"),
        info("Recording.mp4", "mp4"),
        info("notes.docx", "docx"),
        { contentType: "audio/ogg", name: "a.ogg", contentUrl: "https://files.example/a.ogg" },
      ],
      { maxBytes: 1024 },
    );
    expect(files.map((f) => [f.name, isVoiceNote(f)])).toEqual([
      ["clip.m4a", true],
      ["Recording.mp4", true],
      ["notes.docx", false],
      ["a.ogg", true],
    ]);
    // The adapter's own verdict, which the core reads.
    expect(files.map((f) => f.isVoiceNote)).toEqual([true, true, false, true]);
  });

  it("marks every Teams audio file type and audio/* as a voice note, and lists images without fetching them", () => {
    const info = (fileType: string) => ({
      contentType: TEAMS_FILE_DOWNLOAD_INFO,
      name: `f.${fileType}`,
      content: { downloadUrl: `https://files.example/f.${fileType}`, fileType },
    });
    const types = ["m4a", "mp3", "wav", "ogg", "webm", "mp4", "aac", "pdf", "png", "mov"];
    const files = filesOf(
      [
        ...types.map(info),
        { contentType: "audio/webm", name: "rec", contentUrl: "https://files.example/rec" },
        { contentType: "image/png", name: "shot.png", contentUrl: "https://smba.example/v3/attachments/1" },
        { contentType: "application/vnd.microsoft.card.hero", content: {} },
        { contentType: "text/html", content: "<p>hello</p>" },
      ],
      { maxBytes: 1024 },
    );
    expect(files.map((f) => [f.name, f.isVoiceNote])).toEqual([
      ...types.map((t) => [`f.${t}`, ["m4a", "mp3", "wav", "ogg", "webm", "mp4", "aac"].includes(t)]),
      ["rec", true],
      ["shot.png", false],
    ]);
    // Teams-hosted images need the bot's token: Atom never downloads them.
    expect(files.at(-1)?.download).toBeUndefined();
  });

  it("rejects failed and oversized downloads", async () => {
    const big = (async () => new Response(new Uint8Array(2048), { status: 200 })) as unknown as typeof fetch;
    const [f] = filesOf([{ contentType: "audio/mp4", name: "a.m4a", contentUrl: "https://x/a" }], {
      maxBytes: 1024,
      fetch: big,
    });
    await expect(f?.download?.()).rejects.toThrow(/larger than 1024 bytes/);
    const gone = (async () => new Response("nope", { status: 404 })) as unknown as typeof fetch;
    const [g] = filesOf([{ contentType: "audio/mp4", name: "a.m4a", contentUrl: "https://x/a" }], {
      maxBytes: 1024,
      fetch: gone,
    });
    await expect(g?.download?.()).rejects.toThrow(/HTTP 404/);
  });
});

describe("cards", () => {
  const reply = makeReply({
    intent: "ask",
    text: "Up to $500 [1].",
    blocks: [
      { type: "text", text: "Up to $500 [1]." },
      { type: "quote", text: "You can spend up to $500", citation: 1 },
      { type: "list", items: ["one", "two"] },
    ],
    citations: [
      {
        n: 1,
        title: "Spending company money",
        uri: "benefits/spending-company-money.md",
        heading: "Home office",
        snippet: "You can spend up to $500 ...",
      },
      {
        n: 2,
        title: "Drive doc [draft]",
        uri: "https://docs.example/d/1",
        heading: null,
        snippet: "x".repeat(400),
      },
      { n: 3, title: "Travel", uri: "travel.md", heading: "Travel > Meals > Tips", snippet: "Meals" },
      { n: 4, title: "Perks", uri: "perks.md", heading: "Perks", snippet: "Perks" },
    ],
    actions: [
      { id: "feedback_up", label: "👍", value: "ans-1" },
      { id: "feedback_down", label: "👎", value: "ans-1" },
    ],
    answerId: "ans-1",
  });

  it("renders text, quotes, lists, numbered sources with links and feedback buttons", () => {
    const card = replyCard(reply) as {
      version: string;
      body: Array<{ text?: string; items?: Array<{ text: string }> }>;
      actions: unknown[];
    };
    expect(card.version).toBe("1.5");
    const texts = JSON.stringify(card.body);
    expect(texts).toContain("Up to $500 [1].");
    expect(texts).toContain("“You can spend up to $500” [1]");
    expect(texts).toContain("- one\\r- two");
    expect(texts).toContain("1. Spending company money › Home office — benefits/spending-company-money.md");
    expect(texts).toContain("2. [Drive doc \\\\[draft\\\\]](https://docs.example/d/1)");
    expect(texts).toContain("3. Travel › Meals › Tips — travel.md");
    expect(texts).toContain("4. Perks — perks.md");
    expect(card.actions).toEqual([
      {
        type: "Action.Execute",
        title: "👍",
        verb: "atom",
        data: { atomAction: "feedback_up", value: "ans-1", answerId: "ans-1" },
      },
      {
        type: "Action.Execute",
        title: "👎",
        verb: "atom",
        data: { atomAction: "feedback_down", value: "ans-1", answerId: "ans-1" },
      },
    ]);
  });

  it("adds the AI label and citation claims", () => {
    const e = aiEntity(reply) as unknown as {
      additionalType: string[];
      citation: Array<{ position: number; appearance: Record<string, unknown> }>;
    };
    expect(e.additionalType).toEqual(["AIGeneratedContent"]);
    expect(e.citation.map((c) => c.position)).toEqual([1, 2, 3, 4]);
    expect(e.citation[0]?.appearance.url).toBeUndefined();
    expect(e.citation[1]?.appearance.url).toBe("https://docs.example/d/1");
    expect(String(e.citation[1]?.appearance.abstract).length).toBeLessThanOrEqual(160);
    const a = replyActivity(reply);
    expect(a.attachments?.[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(a.summary).toBe("Up to $500 [1].");
  });

  it("parses button data from Action.Execute invokes and Action.Submit values", () => {
    const data = { atomAction: "feedback_up", value: "ans-1", answerId: "ans-1" };
    expect(parseCardAction({ action: { type: "Action.Execute", verb: "atom", data } })).toEqual(data);
    expect(parseCardAction(data)).toEqual(data);
    expect(parseCardAction({ action: { data: { other: 1 } } })).toBeNull();
    expect(parseCardAction("feedback")).toBeNull();
  });
});

describe("checkActivityShape", () => {
  const serviceUrl = "https://smba.trafficmanager.net/amer/";

  it("accepts every activity shape Teams sends to Atom", () => {
    const shapes = [
      teamsMessage({ serviceUrl, kind: "personal", text: "hello" }),
      teamsMessage({
        serviceUrl,
        kind: "channel",
        text: "<at>Ask Bot</at> hi <at>Dana Fox</at>",
        entities: [mention(TEST_BOT), mention(dana)],
        attachments: [
          fileAttachment("note.m4a", "https://files.example/note.m4a"),
          audioAttachment("clip.mp4", "https://files.example/clip.mp4"),
        ],
      }),
      teamsMessage({ serviceUrl, kind: "groupChat", text: "" }),
      cardActionInvoke({ serviceUrl, verb: "atom", data: { atomAction: "feedback_up", value: "a1" } }),
      botAddedUpdate({ serviceUrl, kind: "channel" }),
      installationUpdate({ serviceUrl, kind: "channel", action: "remove" }),
      { ...teamsMessage({ serviceUrl, text: "x" }), type: "conversationUpdate", membersRemoved: [TEST_BOT] },
      { ...teamsMessage({ serviceUrl, text: "x" }), text: null, attachments: null, replyToId: null },
    ];
    for (const a of shapes) expect(checkActivityShape(JSON.parse(JSON.stringify(a)))).toEqual({ ok: true });
  });

  it("names the first bad field without echoing its value", () => {
    const base = teamsMessage({ serviceUrl, text: "hello" });
    expect(checkActivityShape({ ...base, text: 12345 })).toEqual({
      ok: false,
      error: "invalid activity: text: expected string",
    });
    const both = checkActivityShape({ ...base, entities: "nope", attachments: { a: 1 } });
    expect(both.ok).toBe(false);
    expect(!both.ok && both.error).toMatch(/^invalid activity: (entities|attachments): expected array$/);
    expect(checkActivityShape({ ...base, attachments: [{ contentType: 5 }] })).toEqual({
      ok: false,
      error: "invalid activity: attachments.0.contentType: expected string",
    });
    expect(checkActivityShape({ ...base, serviceUrl: "javascript:alert(1)" })).toEqual({
      ok: false,
      error: "invalid activity: serviceUrl: must be an http(s) URL",
    });
    const secret = checkActivityShape({ ...base, from: "s3cr3t-value" });
    expect(!secret.ok && secret.error).toBe("invalid activity: from: expected object");
    for (const body of [null, [], "message", 1]) expect(checkActivityShape(body).ok).toBe(false);
  });
});

describe("loopback checks for local mode", () => {
  it("recognises loopback addresses, bracketed and IPv4-mapped included", () => {
    for (const a of ["127.0.0.1", "127.255.0.9", "::1", "[::1]", "::ffff:127.0.0.1", "[::ffff:7f00:1]"])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0", "10.0.0.1", "::", "[::]", "::ffff:a00:1", "fe80::1", "localhost", "[x]", ""])
      expect(isLoopbackAddress(a), a).toBe(false);
  });

  it("accepts only http(s) serviceUrls on loopback and returns a form the connector client can reach", () => {
    expect(loopbackServiceUrl("http://127.0.0.1:3978")).toBe("http://127.0.0.1:3978/");
    expect(loopbackServiceUrl("http://localhost:3978/")).toBe("http://localhost:3978/");
    expect(loopbackServiceUrl("https://127.8.9.10/svc/")).toBe("https://127.8.9.10/svc/");
    expect(loopbackServiceUrl("http://127.1:4555/")).toBe("http://127.0.0.1:4555/");
    expect(loopbackServiceUrl("http://[::ffff:7f00:1]:4555/")).toBe("http://127.0.0.1:4555/");
    expect(loopbackServiceUrl("http://[::ffff:127.0.0.2]:4555/")).toBe("http://127.0.0.2:4555/");
    // The connector client would look "[::1]" up as a host name: refused (see checkServiceUrl).
    expect(loopbackServiceUrl("http://[::1]:4555/")).toBeUndefined();
    // The host the WHATWG parser sees is the host that is checked and then used.
    expect(loopbackServiceUrl("http://127.0.0.1\\@example.invalid/")).toBe(
      "http://127.0.0.1/@example.invalid/",
    );
    for (const u of [
      "http://0.0.0.0:4555/",
      "http://10.0.0.1:9/",
      "http://example.invalid/",
      "http://[::]:4555/",
      "http://[::ffff:a00:1]:9/",
      "http://127.0.0.1.example.invalid/",
      "http://localhost.example.invalid/",
      "http://127.0.0.1:9@example.invalid/",
      "http://user:pw@127.0.0.1/",
      "ftp://127.0.0.1/",
      "file:///etc/passwd",
      "not a url",
    ])
      expect(loopbackServiceUrl(u), u).toBeUndefined();
  });
});

describe("filesOf with odd attachment content", () => {
  it("ignores a non-string uniqueId", () => {
    const [f] = filesOf(
      [
        {
          contentType: TEAMS_FILE_DOWNLOAD_INFO,
          name: "a.pdf",
          content: { downloadUrl: "https://x/a", uniqueId: 7 },
        },
      ],
      { maxBytes: 10 },
    );
    expect(f?.id).toBe("0:a.pdf");
  });
});

describe("checkServiceUrl", () => {
  it("answers at the exact host or refuses: IPv6 literals are refused in both modes", () => {
    expect(checkServiceUrl("https://smba.trafficmanager.net/amer/", "authenticated")).toEqual({
      ok: true,
      url: "https://smba.trafficmanager.net/amer/",
    });
    for (const mode of ["authenticated", "local"] as const) {
      const v6 = checkServiceUrl("http://[::1]:3978/", mode);
      expect(v6.ok).toBe(false);
      expect(!v6.ok && v6.error).toMatch(/IPv6 address literal is not supported/);
    }
    expect(checkServiceUrl("http://[2001:db8::1]/", "authenticated").ok).toBe(false);
    expect(checkServiceUrl("http://[::ffff:7f00:1]:3978/", "local")).toEqual({
      ok: true,
      url: "http://127.0.0.1:3978/",
    });
    const far = checkServiceUrl("http://10.0.0.1/", "local");
    expect(!far.ok && far.error).toMatch(/must be an http\(s\) URL on loopback/);
    expect(checkServiceUrl("ftp://x/", "authenticated").ok).toBe(false);
  });
});

describe("nestedDeeperThan", () => {
  it("measures nesting without recursion, however deep", () => {
    expect(nestedDeeperThan({ a: { b: [1, { c: 2 }] } }, 4)).toBe(false);
    expect(nestedDeeperThan({ a: { b: [1, { c: {} }] } }, 4)).toBe(true);
    expect(nestedDeeperThan("text", 1)).toBe(false);
    const deep = JSON.parse(`${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`);
    expect(nestedDeeperThan(deep, MAX_ACTIVITY_DEPTH)).toBe(true);
    const real = teamsMessage({
      serviceUrl: "https://smba.trafficmanager.net/amer/",
      kind: "channel",
      text: "x",
    });
    expect(nestedDeeperThan(real, MAX_ACTIVITY_DEPTH)).toBe(false);
  });
});
