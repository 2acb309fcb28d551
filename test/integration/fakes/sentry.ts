import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";

/**
 * A loopback Sentry ingest: accepts envelopes at `POST /api/<project>/envelope/` (gzip or plain,
 * as the SDK sends them) and keeps every item. `dsn` points the real `@sentry/node` at it.
 */
export class FakeSentry {
  /** Raw envelope bodies, decompressed. */
  readonly envelopes: string[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly dsn: string,
  ) {}

  static async start(): Promise<FakeSentry> {
    let self: FakeSentry | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let body = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
        if (req.method === "POST" && /^\/api\/\d+\/envelope\/?/.test(req.url ?? "")) {
          self?.envelopes.push(body.toString("utf8"));
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } else res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    self = new FakeSentry(server, `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/42`);
    return self;
  }

  /** Every event item (`type: event`) received, parsed. */
  events(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const env of this.envelopes) {
      const lines = env.split("\n");
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const header = JSON.parse(lines[i]!) as { type?: string };
        if (header.type === "event") out.push(JSON.parse(lines[i + 1]!) as Record<string, unknown>);
      }
    }
    return out;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
