import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";

/** s3rver keeps each object's body in a file named `<key>._S3rver_object`. */
const OBJECT_SUFFIX = "._S3rver_object";

/** A local S3-compatible server (s3rver) on 127.0.0.1 with one bucket, for memory-on-S3 tests. */
export interface LocalS3 {
  /** `http://127.0.0.1:port`. */
  endpoint: string;
  bucket: string;
  /** The directory where s3rver keeps the bucket's objects (`<dir>/<bucket>/<key>…`). */
  dir: string;
  /** The environment that points Atom's memory at `s3://<bucket>/<prefix>`. */
  env(prefix: string): Record<string, string>;
  /** Keys of every object under `prefix`. */
  keys(prefix: string): string[];
  close(): Promise<void>;
}

/**
 * Starts s3rver 3.7.1 on a free loopback port. s3rver speaks the S3 REST API (path-style, SigV4)
 * but ignores conditional writes (`If-None-Match: *`), so it cannot arbitrate concurrent LanceDB
 * commits by itself: writers must be serialised (they are, through the write lock).
 */
export async function startLocalS3(bucket = "atom-memory"): Promise<LocalS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-s3-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const info = (await server.run()) as unknown as { port: number };
  const endpoint = `http://127.0.0.1:${info.port}`;
  return {
    endpoint,
    bucket,
    dir,
    env: (prefix) => ({
      LANCEDB_URI: `s3://${bucket}/${prefix}`,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      LANCEDB_S3_ENDPOINT: endpoint,
    }),
    keys: (prefix) => {
      const root = path.join(dir, bucket);
      const out: string[] = [];
      const walk = (d: string) => {
        if (!fs.existsSync(d)) return;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name.endsWith(OBJECT_SUFFIX))
            out.push(path.relative(root, p).slice(0, -OBJECT_SUFFIX.length));
        }
      };
      walk(path.join(root, prefix));
      return out;
    },
    close: async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
