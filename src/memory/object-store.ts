/**
 * Settings for keeping memory (LanceDB) on object storage: `LANCEDB_URI=s3://bucket/prefix` with
 * the usual `AWS_*` variables, and an endpoint override for S3-compatible stores (MinIO, Ceph RGW,
 * Cloudflare R2, SeaweedFS…). They become LanceDB `storageOptions` — the keys of the Rust
 * `object_store` crate's `AmazonS3ConfigKey` (https://docs.rs/object_store, aws module), which
 * Lance passes through unchanged.
 */

/** The environment variables read here (all optional). */
export interface ObjectStoreEnv {
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  AWS_REGION?: string;
  AWS_DEFAULT_REGION?: string;
  /** Endpoint of an S3-compatible store for every AWS client (AWS SDK convention). */
  AWS_ENDPOINT_URL?: string;
  /** Endpoint for memory only; wins over AWS_ENDPOINT_URL. */
  LANCEDB_S3_ENDPOINT?: string;
}

/** Whether `uri` names an object store rather than a local directory. */
export function isObjectStoreUri(uri: string): boolean {
  return /^(s3|s3\+ddb|gs|az|abfss?):\/\//i.test(uri);
}

/**
 * LanceDB storage options for `uri`, or undefined for a local directory and for stores configured
 * entirely by their own environment variables (GCS, Azure).
 *
 * For `s3://`: credentials, session token and region from `AWS_*`; with an endpoint override the
 * store is addressed path-style (`http://host:port/bucket/key`, what MinIO/Ceph/R2 expect) and
 * plain `http://` is allowed only when the endpoint itself says `http://`. Values are secrets and
 * must never be logged.
 */
export function objectStoreOptions(uri: string, env: ObjectStoreEnv): Record<string, string> | undefined {
  if (!/^s3(\+ddb)?:\/\//i.test(uri)) return undefined;
  const out: Record<string, string> = {};
  if (env.AWS_ACCESS_KEY_ID) out.aws_access_key_id = env.AWS_ACCESS_KEY_ID;
  if (env.AWS_SECRET_ACCESS_KEY) out.aws_secret_access_key = env.AWS_SECRET_ACCESS_KEY;
  if (env.AWS_SESSION_TOKEN) out.aws_session_token = env.AWS_SESSION_TOKEN;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) out.aws_region = region;
  const endpoint = env.LANCEDB_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL;
  if (endpoint) {
    out.aws_endpoint = endpoint.replace(/\/+$/, "");
    out.aws_virtual_hosted_style_request = "false";
    if (/^http:\/\//i.test(endpoint)) out.allow_http = "true";
    // S3-compatible stores rarely know the AWS region names; any value signs the requests.
    out.aws_region ??= "us-east-1";
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
