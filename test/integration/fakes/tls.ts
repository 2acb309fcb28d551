/**
 * A self-signed TLS certificate for loopback fakes that must speak HTTPS (clients such as MSAL
 * refuse plain http). Made once per test process with the `openssl` command (Debian's openssl
 * package) for `127.0.0.1` and `localhost`; the caller trusts it explicitly (never globally).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

let cached: { key: string; cert: string } | undefined;

/**
 * A key and certificate (PEM) valid for a day for `IP:127.0.0.1` and `DNS:localhost`.
 * @throws Error when the `openssl` command is missing or fails.
 */
export function selfSignedCertificate(): { key: string; cert: string } {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    cached = {
      key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
      cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
    };
    return cached;
  } catch (err) {
    throw new Error(`could not make a test certificate with openssl: ${(err as Error).message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
