// Authorization through the official SDK (issue 10, "Tests"): run by tests/e2e/suites/authz.sh,
// not by js.sh (the name is not *.test.mjs: it needs its own server set-up).
//
//   COFFER_AUTHZ_PHASE=rbac      a Key Vault Secrets User service principal (made through the
//                                Graph routes, assigned on a new vault) reads a secret and gets a
//                                RestError 403 Forbidden on setSecret; a certificate registered
//                                with Graph PATCH keyCredentials (COFFER_AUTHZ_CERT_PEM: key + cert
//                                PEM made by openssl in the suite) logs in through
//                                ClientCertificateCredential and reads a secret.
//   COFFER_AUTHZ_PHASE=throttle  the server runs with --throttle on and a secret-create limit of
//                                COFFER_AUTHZ_LIMIT per 10 s: LIMIT + 2 setSecret calls all
//                                succeed, the SDK having retried the 429s after Retry-After.
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { ClientSecretCredential, ClientCertificateCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { credential, createVault, env, httpsJson, managementToken, rejectsWith, uniqueName } from "./helpers.mjs";

const T = { timeout: 90_000 };
const PHASE = process.env.COFFER_AUTHZ_PHASE || "rbac";
const SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";
const admin = credential();
const mgmt = () => env("COFFER_MANAGEMENT_URL");
const idOpts = { authorityHost: env("AZURE_AUTHORITY_HOST"), disableInstanceDiscovery: true };

// A service principal through the Graph-shaped routes: {appId, appObjectId, oid, secret}.
async function newPrincipal(token, name) {
  const app = await httpsJson("POST", `${mgmt()}/v1.0/applications`, token, { displayName: name });
  assert.equal(app.status, 201, `create application: ${JSON.stringify(app.body)}`);
  const pw = await httpsJson("POST", `${mgmt()}/v1.0/applications/${app.body.id}/addPassword`, token,
    { passwordCredential: { displayName: "sdk" } });
  assert.equal(pw.status, 200, "addPassword");
  const sp = await httpsJson("GET",
    `${mgmt()}/v1.0/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${app.body.appId}'`)}`, token);
  assert.equal(sp.status, 200);
  assert.equal(sp.body.value.length, 1);
  return { appId: app.body.appId, appObjectId: app.body.id, oid: sp.body.value[0].id, secret: pw.body.secretText };
}

async function assign(token, scope, roleGuid, oid) {
  const res = await httpsJson("PUT",
    `${mgmt()}${scope}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}?api-version=2022-04-01`,
    token, { properties: {
      roleDefinitionId: `/subscriptions/${env("COFFER_SUBSCRIPTION_ID")}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId: oid, principalType: "ServicePrincipal" } });
  assert.ok(res.status === 200 || res.status === 201, `role assignment: ${res.status} ${JSON.stringify(res.body)}`);
}

function vaultScope(name) {
  return `/subscriptions/${env("COFFER_SUBSCRIPTION_ID")}/resourceGroups/${env("COFFER_RESOURCE_GROUP")}` +
    `/providers/Microsoft.KeyVault/vaults/${name}`;
}

if (PHASE === "rbac") {
  let vaultName, vaultUrl, token, secretName;

  test.before(async () => {
    token = await managementToken(admin);
    vaultName = `az${crypto.randomBytes(5).toString("hex")}`;
    vaultUrl = await createVault(vaultName, admin);
    secretName = uniqueName("authz");
    await new SecretClient(vaultUrl, admin).setSecret(secretName, "readable-by-secrets-user");
  });

  test("Secrets User (REST-made principal): getSecret works, setSecret is 403 Forbidden", T, async () => {
    const p = await newPrincipal(token, `authz-sdk-su-${crypto.randomBytes(3).toString("hex")}`);
    await assign(token, vaultScope(vaultName), SECRETS_USER, p.oid);
    const client = new SecretClient(vaultUrl, new ClientSecretCredential(env("AZURE_TENANT_ID"), p.appId, p.secret, idOpts));
    const got = await client.getSecret(secretName);
    assert.equal(got.value, "readable-by-secrets-user");
    await rejectsWith(() => client.setSecret(secretName, "not-allowed"), 403, "Forbidden");
    // The RestError carries the service's body: inner code ForbiddenByRbac, the action named.
    await assert.rejects(() => client.setSecret(uniqueName("authz"), "x"), (err) => {
      assert.equal(err.name, "RestError");
      assert.match(err.message, /Microsoft\.KeyVault\/vaults\/secrets\/setSecret\/action/);
      // the SDK deserialises the body into err.details (innererror -> innerError)
      assert.equal(err.details.error.code, "Forbidden");
      assert.equal(err.details.error.innerError.code, "ForbiddenByRbac");
      return true;
    });
    // the value was not changed by the refused set
    assert.equal((await new SecretClient(vaultUrl, admin).getSecret(secretName)).value, "readable-by-secrets-user");
  });

  test("ClientCertificateCredential with a certificate registered through Graph PATCH keyCredentials", T, async () => {
    const pemPath = env("COFFER_AUTHZ_CERT_PEM");
    const pem = fs.readFileSync(pemPath, "utf8");
    const certB64 = pem.match(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/)[1].replace(/\s+/g, "");
    const p = await newPrincipal(token, `authz-sdk-cert-${crypto.randomBytes(3).toString("hex")}`);
    const patch = await httpsJson("PATCH", `${mgmt()}/v1.0/applications/${p.appObjectId}`, token, {
      keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: certB64, displayName: "authz-sdk" }],
    });
    assert.ok(patch.status === 204 || patch.status === 200, `PATCH keyCredentials: ${patch.status} ${JSON.stringify(patch.body)}`);
    const app = await httpsJson("GET", `${mgmt()}/v1.0/applications/${p.appObjectId}`, token);
    const thumb = crypto.createHash("sha1").update(Buffer.from(certB64, "base64")).digest("hex").toUpperCase();
    assert.deepEqual(app.body.keyCredentials.map((k) => k.customKeyIdentifier), [thumb]);
    await assign(token, vaultScope(vaultName), SECRETS_USER, p.oid);

    const cred = new ClientCertificateCredential(env("AZURE_TENANT_ID"), p.appId, { certificatePath: pemPath }, idOpts);
    const t = await cred.getToken(`https://${env("COFFER_DNS_SUFFIX")}:${env("COFFER_PORT")}/.default`);
    assert.equal(t.token.split(".").length, 3);
    const claims = JSON.parse(Buffer.from(t.token.split(".")[1], "base64url").toString("utf8"));
    assert.equal(claims.appid, p.appId);
    assert.equal(claims.oid, p.oid);
    const got = await new SecretClient(vaultUrl, cred).getSecret(secretName);
    assert.equal(got.value, "readable-by-secrets-user");
    // a certificate that was not registered is refused (another key, same subject)
    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = new ClientCertificateCredential(env("AZURE_TENANT_ID"), p.appId, {
      certificate: privateKey.export({ type: "pkcs8", format: "pem" }) + pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)[0],
    }, idOpts);
    await assert.rejects(() => other.getToken(`https://${env("COFFER_DNS_SUFFIX")}:${env("COFFER_PORT")}/.default`));
  });
}

if (PHASE === "throttle") {
  test("a throttled setSecret succeeds transparently: the SDK waits Retry-After and retries", T, async () => {
    const limit = Number(env("COFFER_AUTHZ_LIMIT"));
    const url = await createVault(`th${crypto.randomBytes(5).toString("hex")}`, admin);
    const seen = []; // one entry per attempt the pipeline sent: {status, retryAfter, at}
    const counter = {
      name: "authzCount429",
      async sendRequest(request, next) {
        const res = await next(request);
        if (request.method === "PUT") {
          seen.push({ status: res.status, retryAfter: res.headers.get("retry-after"), at: Date.now() });
        }
        return res;
      },
    };
    const client = new SecretClient(url, admin, { additionalPolicies: [{ policy: counter, position: "perRetry" }] });
    const name = uniqueName("thr");
    for (let i = 0; i < limit + 2; i++) {
      const s = await client.setSecret(name, `v${i}`);
      assert.equal(s.value, `v${i}`);
    }
    const throttled = seen.filter((x) => x.status === 429);
    console.log(`${seen.length} PUT attempts, ${throttled.length} answered 429 (Retry-After ${throttled.map((x) => x.retryAfter).join(",")})`);
    assert.ok(throttled.length >= 1, "at least one attempt was throttled");
    for (const x of throttled) {
      assert.match(x.retryAfter || "", /^[1-9][0-9]*$/, "429 with Retry-After in seconds");
      const next = seen[seen.indexOf(x) + 1];
      assert.ok(next, "the SDK retried after the 429");
      assert.ok(next.at - x.at >= Number(x.retryAfter) * 1000 - 50,
        `the SDK waited Retry-After (${next.at - x.at} ms for ${x.retryAfter} s)`);
    }
    assert.equal(seen.filter((x) => x.status === 200).length, limit + 2, "every set succeeded once");
  });
}
