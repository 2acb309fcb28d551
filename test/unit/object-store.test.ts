import { describe, expect, it } from "vitest";
import { isObjectStoreUri, objectStoreOptions } from "../../src/memory/object-store.ts";

describe("object storage settings for memory", () => {
  it("passes AWS credentials, region and an S3-compatible endpoint as LanceDB storage options", () => {
    expect(
      objectStoreOptions("s3://bucket/atom", {
        AWS_ACCESS_KEY_ID: "AKIA",
        AWS_SECRET_ACCESS_KEY: "s3cr3t",
        AWS_SESSION_TOKEN: "tok",
        AWS_REGION: "eu-west-1",
        AWS_ENDPOINT_URL: "http://127.0.0.1:9000/",
      }),
    ).toEqual({
      aws_access_key_id: "AKIA",
      aws_secret_access_key: "s3cr3t",
      aws_session_token: "tok",
      aws_region: "eu-west-1",
      aws_endpoint: "http://127.0.0.1:9000",
      aws_virtual_hosted_style_request: "false",
      allow_http: "true",
    });
  });

  it("prefers LANCEDB_S3_ENDPOINT, allows plain http only for an http endpoint, defaults the region", () => {
    const o = objectStoreOptions("s3://b/p", {
      AWS_ENDPOINT_URL: "http://other:1",
      LANCEDB_S3_ENDPOINT: "https://minio.internal:9000",
    });
    expect(o).toEqual({
      aws_endpoint: "https://minio.internal:9000",
      aws_virtual_hosted_style_request: "false",
      aws_region: "us-east-1",
    });
    expect(objectStoreOptions("s3://b/p", { AWS_DEFAULT_REGION: "us-west-2" })).toEqual({
      aws_region: "us-west-2",
    });
  });

  it("sets nothing for a directory or for stores configured by their own environment", () => {
    expect(objectStoreOptions("/var/lib/atom/lancedb", { AWS_ACCESS_KEY_ID: "x" })).toBeUndefined();
    expect(objectStoreOptions("gs://bucket/atom", { AWS_ACCESS_KEY_ID: "x" })).toBeUndefined();
    expect(objectStoreOptions("s3://bucket/atom", {})).toBeUndefined();
    expect(isObjectStoreUri("s3://b/p")).toBe(true);
    expect(isObjectStoreUri("gs://b/p")).toBe(true);
    expect(isObjectStoreUri("./data/lancedb")).toBe(false);
  });
});
