import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as k8sApps from "kubernetes-models/apps/v1";
import * as k8sPolicy from "kubernetes-models/policy/v1";
import * as k8sCore from "kubernetes-models/v1";
import { parse, parseAllDocuments } from "yaml";
import { configSchemaKeys } from "../helpers/config-keys.ts";

const root = path.resolve(import.meta.dirname, "../..");
const read = (p: string) => fs.readFileSync(path.join(root, p), "utf8");

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML manifests are walked by known paths; a wrong path fails the test
type Doc = Record<string, any>;

/** Every Kubernetes object in deploy/kubernetes (each file parsed; multi-document files allowed). */
function k8sObjects(): { file: string; doc: Doc }[] {
  const dir = path.join(root, "deploy/kubernetes");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((file) =>
      parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8")).map((d) => {
        expect(d.errors, `${file} parses`).toEqual([]);
        return { file, doc: d.toJS() as Doc };
      }),
    );
}

describe("Dockerfile", () => {
  const text = read("Dockerfile");
  const instructions = text
    .split("\n")
    .filter((l) => /^[A-Z]+\s/.test(l))
    .map((l) => l.split(/\s+/)[0]);

  it("is multi-stage on Node 20 slim, installs production dependencies only, runs as a non-root user", () => {
    const froms = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?/gm)];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f[1]).toMatch(/^node:20(\.\d+)*-\w+-slim$/);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/COPY --from=deps/);
    const user = [...text.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    // USER comes before CMD, so the server never runs as root.
    expect(instructions.lastIndexOf("USER")).toBeLessThan(instructions.lastIndexOf("CMD"));
  });

  it("has a data volume, a HEALTHCHECK on /healthz and the serve command", () => {
    expect(text).toMatch(/^VOLUME \["\/data"\]/m);
    expect(text).toMatch(/ATOM_DATA_DIR=\/data/);
    expect(text).toMatch(/^HEALTHCHECK .*\/healthz/m);
    expect(JSON.parse(/^CMD (.*)$/m.exec(text)![1]!)).toEqual(["node", "bin/atom.js", "serve"]);
  });

  it("copies every directory the server loads at runtime", () => {
    for (const dir of ["bin", "src", "manifests"])
      expect(text).toMatch(new RegExp(`^COPY .*\\b${dir} \\./${dir}$`, "m"));
    expect(read(".dockerignore")).toMatch(/^node_modules$/m);
  });
});

describe("deploy/compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml")) as Doc;

  it("runs Atom with PostgreSQL and an S3-compatible store, moved off the embedded defaults", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["atom", "postgres", "s3", "s3-bucket"]);
    const atom = compose.services.atom;
    expect(atom.build.dockerfile).toBe("Dockerfile");
    expect(atom.environment.DATABASE_URL).toMatch(/^postgres:\/\/atom:.*@postgres:5432\/atom$/);
    expect(atom.environment.LANCEDB_URI).toMatch(/^s3:\/\//);
    expect(atom.environment.AWS_ENDPOINT).toBe("http://s3:9000");
    expect(atom.depends_on.postgres.condition).toBe("service_healthy");
    expect(atom.depends_on["s3-bucket"].condition).toBe("service_completed_successfully");
    expect(atom.healthcheck.test.join(" ")).toContain("/healthz");
    expect(atom.ports).toContain("3000:3000");
    expect(compose.services.postgres.image).toMatch(/^postgres:\d+/);
    expect(compose.services.s3.image).toMatch(/^minio\/minio:RELEASE\./);
    // The bucket the URI names is the bucket the job creates.
    const bucket = /^s3:\/\/([^/]+)/.exec(atom.environment.LANCEDB_URI)![1];
    expect(compose.services["s3-bucket"].entrypoint.join(" ")).toContain(`local/${bucket}`);
    for (const v of Object.keys(compose.volumes)) expect(JSON.stringify(compose.services)).toContain(`${v}:`);
  });

  it("names only settings Atom knows (plus the AWS ones LanceDB reads)", () => {
    const known = configSchemaKeys();
    const names = [
      ...Object.keys(compose.services.atom.environment),
      ...read("deploy/atom.env.example")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.split("=")[0]!),
    ];
    for (const n of names) if (!n.startsWith("AWS_")) expect(known, n).toContain(n);
  });

  it("is accepted by `docker compose config` (offline) when the docker CLI has the compose plugin", () => {
    const run = (args: string[]) => spawnSync("docker", args, { encoding: "utf8", timeout: 30_000 });
    const version = run(["compose", "version"]);
    if (version.error || version.status !== 0) {
      console.warn(
        version.error
          ? "the docker CLI is not installed here: skipped `docker compose config` (the YAML checks above ran)"
          : "the docker CLI here has no compose plugin (Compose v2): skipped `docker compose config` (the YAML checks above ran)",
      );
      return;
    }
    const out = run(["compose", "-f", path.join(root, "deploy/compose.yaml"), "config", "--quiet"]);
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
  });
});

/**
 * Validates a Kubernetes object against the API's own OpenAPI schema, as compiled by the pinned
 * `kubernetes-models` package (types, required fields, enums; unknown fields are not refused by
 * these schemas — the assertions below pin the fields Atom relies on).
 * @throws Error listing every schema violation, or naming a kind this check does not know.
 */
async function validateK8s(doc: Doc): Promise<void> {
  const group = K8S_MODELS[String(doc.apiVersion)] as Record<string, unknown> | undefined;
  const Model = group?.[String(doc.kind)] as (new (d: Doc) => { validate(): void }) | undefined;
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

/** The API groups Atom's manifests use, by apiVersion. */
const K8S_MODELS: Record<string, unknown> = { v1: k8sCore, "apps/v1": k8sApps, "policy/v1": k8sPolicy };

describe("deploy/kubernetes", () => {
  const objects = k8sObjects();
  const byKind = (kind: string) => objects.filter((o) => o.doc.kind === kind).map((o) => o.doc);

  it("every object validates against the Kubernetes API schema of its kind", async () => {
    const kinds: string[] = [];
    for (const { file, doc } of objects) {
      if (doc.kind === "Kustomization") continue;
      await expect(validateK8s(doc), file).resolves.toBeUndefined();
      kinds.push(doc.kind);
    }
    expect(kinds.sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "Namespace",
      "PodDisruptionBudget",
      "Secret",
      "Service",
    ]);
  });

  it("the schema check refuses a broken Deployment (wrong type, missing container name, probe without port)", async () => {
    const dep = structuredClone(byKind("Deployment")[0]!);
    dep.spec.replicas = "two";
    delete dep.spec.template.spec.containers[0].name;
    delete dep.spec.template.spec.containers[0].livenessProbe.httpGet.port;
    await expect(validateK8s(dep)).rejects.toThrow(
      /spec\/replicas must be integer.*containers\/0 must have required property name.*httpGet must have required property port/s,
    );
  });

  it("every object has apiVersion, kind and metadata.name", () => {
    for (const { file, doc } of objects) {
      if (doc.kind === "Kustomization") continue;
      expect(doc.apiVersion, file).toBeTypeOf("string");
      expect(doc.kind, file).toBeTypeOf("string");
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it("a Deployment with ≥ 2 replicas, readiness and liveness probes, non-root, keys from a Secret", () => {
    const [dep] = byKind("Deployment");
    expect(dep).toBeDefined();
    expect(dep!.spec.replicas).toBeGreaterThanOrEqual(2);
    const labels = dep!.spec.template.metadata.labels;
    expect(dep!.spec.selector.matchLabels).toEqual(labels);
    const pod = dep!.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const [c] = pod.containers;
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    expect(c.ports[0].containerPort).toBe(3000);
    const secretName = c.envFrom.find((e: Doc) => e.secretRef)?.secretRef.name;
    const [secret] = byKind("Secret");
    expect(secret?.metadata.name).toBe(secretName);
    expect(Object.keys(secret!.stringData)).toEqual(expect.arrayContaining(["DATABASE_URL", "LANCEDB_URI"]));
    const cm = c.envFrom.find((e: Doc) => e.configMapRef)?.configMapRef.name;
    expect(byKind("ConfigMap").map((m) => m.metadata.name)).toContain(cm);
    for (const v of c.volumeMounts) expect(pod.volumes.map((x: Doc) => x.name)).toContain(v.name);
  });

  it("a Service selects the Deployment's pods on its named port", () => {
    const [svc] = byKind("Service");
    const [dep] = byKind("Deployment");
    expect(svc!.spec.selector).toEqual(dep!.spec.template.metadata.labels);
    expect(svc!.spec.ports[0].targetPort).toBe(dep!.spec.template.spec.containers[0].ports[0].name);
  });

  it("kustomization lists every manifest except the Secret example, and `kubectl kustomize` builds it", () => {
    const k = parse(read("deploy/kubernetes/kustomization.yaml")) as Doc;
    const files = fs
      .readdirSync(path.join(root, "deploy/kubernetes"))
      .filter((f) => f.endsWith(".yaml") && !["kustomization.yaml", "secret.example.yaml"].includes(f));
    expect([...k.resources].sort()).toEqual(files.sort());
    let out: string;
    try {
      out = execFileSync("kubectl", ["kustomize", path.join(root, "deploy/kubernetes")], {
        encoding: "utf8",
      });
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") {
        console.warn("kubectl is not installed here: skipped `kubectl kustomize`");
        return;
      }
      throw err;
    }
    const kinds = parseAllDocuments(out).map((d) => (d.toJS() as Doc).kind);
    expect(kinds.sort()).toEqual(["ConfigMap", "Deployment", "Namespace", "PodDisruptionBudget", "Service"]);
  });
});
