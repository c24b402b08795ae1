// Shared helpers for the JS e2e tests (both SDK generations load this same file).
// Everything comes from the environment that cofferd writes to DIR/env (run.sh sources it).
import https from "node:https";
import fs from "node:fs";
import crypto from "node:crypto";
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (run through tests/e2e/run.sh)`);
  return v;
}

export function credential() {
  return new ClientSecretCredential(
    env("AZURE_TENANT_ID"),
    env("AZURE_CLIENT_ID"),
    env("AZURE_CLIENT_SECRET"),
    { authorityHost: env("AZURE_AUTHORITY_HOST"), disableInstanceDiscovery: true },
  );
}

export function secretClient(vaultUrl = env("COFFER_VAULT_URL"), cred = credential()) {
  return new SecretClient(vaultUrl, cred);
}

// A unique, valid secret name: prefix + 12 random hex characters.
export function uniqueName(prefix = "s") {
  return `${prefix}-${crypto.randomBytes(6).toString("hex")}`;
}

export const HEX32 = /^[0-9a-f]{32}$/;

// Asserts that the async function rejects with a RestError of the given status and code.
export async function rejectsWith(fn, statusCode, code) {
  await assert.rejects(fn, (err) => {
    assert.equal(err.statusCode, statusCode, `statusCode (error: ${err.code}: ${err.message})`);
    if (code !== undefined) assert.equal(err.code, code, `error code (message: ${err.message})`);
    return true;
  });
}

// Minimal HTTPS JSON request (management plane): resolves {status, headers, body}.
export function httpsJson(method, url, token, body) {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(env("COFFER_CA_FILE")),
        headers: {
          accept: "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(data ? { "content-type": "application/json", "content-length": data.length } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed });
        });
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

export async function managementToken(cred = credential()) {
  const t = await cred.getToken(`${env("COFFER_MANAGEMENT_URL")}/.default`);
  return t.token;
}

// Creates a vault in the dev resource group through the management API and returns its
// data-plane URL (origin, no trailing slash).
export async function createVault(name, cred = credential()) {
  const token = await managementToken(cred);
  const sub = env("COFFER_SUBSCRIPTION_ID");
  const rg = env("COFFER_RESOURCE_GROUP");
  const url =
    `${env("COFFER_MANAGEMENT_URL")}/subscriptions/${sub}/resourceGroups/${rg}` +
    `/providers/Microsoft.KeyVault/vaults/${name}?api-version=2023-07-01`;
  const res = await httpsJson("PUT", url, token, {
    location: "westus",
    properties: {
      tenantId: env("AZURE_TENANT_ID"),
      sku: { family: "A", name: "standard" },
      accessPolicies: [],
      enableRbacAuthorization: true,
    },
  });
  assert.ok(
    res.status === 200 || res.status === 201,
    `vault create status ${res.status}: ${JSON.stringify(res.body)}`,
  );
  assert.equal(res.body.name, name);
  assert.equal(res.body.type, "Microsoft.KeyVault/vaults");
  const uri = new URL(res.body.properties.vaultUri);
  const expected = new URL(env("COFFER_VAULT_URL"));
  assert.equal(uri.hostname, `${name.toLowerCase()}.${env("COFFER_DNS_SUFFIX")}`);
  assert.equal(uri.port, expected.port);
  return uri.origin;
}

export async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

export function secondsEqual(actualDate, expectedDate, what) {
  assert.ok(actualDate instanceof Date, `${what} is a Date`);
  assert.equal(
    Math.floor(actualDate.getTime() / 1000),
    Math.floor(expectedDate.getTime() / 1000),
    what,
  );
}
