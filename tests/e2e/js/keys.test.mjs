// Keys through @azure/keyvault-keys (KeyClient + CryptographyClient), written from
// azure-kv-keys.md: create (RSA sizes, every EC curve, -HSM), import of node:crypto JWKs,
// get/list/versions/update, delete/recover/purge, backup/restore, rotate + rotation policy,
// getRandomBytes, and every sign/verify/encrypt/decrypt/wrap/unwrap algorithm on both the SDK's
// local path (public key in the client) and the remote path (the service), cross-checked with
// node:crypto. Error cases: disabled key, key_ops, digest length, unknown alg.
//
// Cost: one RSA-4096 generation (the sizes test); everything else is 2048 or EC.
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { KeyClient, CryptographyClient } from "@azure/keyvault-keys";
import { credential, uniqueName, HEX32, rejectsWith, collect, env, httpsJson } from "./helpers.mjs";

const cred = credential();
const client = new KeyClient(env("COFFER_VAULT_URL"), cred);
const T = { timeout: 120_000 };
const POLL = { intervalInMs: 100 };

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };
const EC_CURVES = [
  { crv: "P-256", alg: "ES256", hash: "sha256", size: 32, node: "prime256v1" },
  { crv: "P-384", alg: "ES384", hash: "sha384", size: 48, node: "secp384r1" },
  { crv: "P-521", alg: "ES512", hash: "sha512", size: 66, node: "secp521r1" },
  { crv: "P-256K", alg: "ES256K", hash: "sha256", size: 32, node: "secp256k1" },
];
const RSA_SIGN = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const RSA_ENC = ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"];
const ALL_RSA_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];

const b64u = (u8) => Buffer.from(u8).toString("base64url");
const hashOf = (alg) => HASH[alg.slice(-3)];
const digest = (hash, data) => crypto.createHash(hash).update(data).digest();

// node:crypto public key object from the JWK the service returned.
function nodePublicKey(jwk) {
  if (jwk.kty.startsWith("RSA")) {
    return crypto.createPublicKey({ key: { kty: "RSA", n: b64u(jwk.n), e: b64u(jwk.e) }, format: "jwk" });
  }
  const crv = jwk.crv === "P-256K" ? "secp256k1" : jwk.crv;
  return crypto.createPublicKey({ key: { kty: "EC", crv, x: b64u(jwk.x), y: b64u(jwk.y) }, format: "jwk" });
}

// node:crypto verification of a service signature over data (the service signed hash(data)).
function nodeVerify(alg, data, pub, sig) {
  const h = hashOf(alg);
  if (alg.startsWith("ES")) return crypto.verify(h, data, { key: pub, dsaEncoding: "ieee-p1363" }, sig);
  if (alg.startsWith("PS")) {
    return crypto.verify(h, data, { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, sig);
  }
  return crypto.verify(h, data, { key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, sig);
}

function nodeSign(alg, data, priv) {
  const h = hashOf(alg);
  if (alg.startsWith("ES")) return crypto.sign(h, data, { key: priv, dsaEncoding: "ieee-p1363" });
  if (alg.startsWith("PS")) {
    return crypto.sign(h, data, { key: priv, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  }
  return crypto.sign(h, data, { key: priv, padding: crypto.constants.RSA_PKCS1_PADDING });
}

function nodeEncrypt(alg, pub, pt) {
  if (alg === "RSA1_5") return crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, pt);
  return crypto.publicEncrypt(
    { key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP-256" ? "sha256" : "sha1" },
    pt,
  );
}

// node:crypto private key -> the SDK's JsonWebKey (Uint8Array members).
function sdkJwk(priv, keyOps) {
  const j = priv.export({ format: "jwk" });
  const out = { kty: j.kty, keyOps };
  for (const f of ["n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y"]) if (j[f]) out[f] = Buffer.from(j[f], "base64url");
  if (j.crv) out.crv = j.crv === "secp256k1" ? "P-256K" : j.crv;
  return out;
}

// Raw data-plane call (the SDK cannot be made to send some requests, e.g. a remote RSA-OAEP
// encrypt or an op outside key_ops).
let dataToken;
async function rest(method, pathAndQuery, body) {
  if (!dataToken) {
    const u = new URL(env("COFFER_VAULT_URL"));
    dataToken = (await cred.getToken(`https://${env("COFFER_DNS_SUFFIX")}:${u.port || 443}/.default`)).token;
  }
  const sep = pathAndQuery.includes("?") ? "&" : "?";
  return httpsJson(method, `${env("COFFER_VAULT_URL")}${pathAndQuery}${sep}api-version=7.5`, dataToken, body);
}

function assertTimes(props) {
  assert.ok(props.createdOn instanceof Date, "createdOn");
  assert.ok(Math.abs(props.createdOn.getTime() - Date.now()) < 120_000, "createdOn is now");
  assert.ok(props.updatedOn instanceof Date, "updatedOn");
}

function resolvedVersion(pkg) {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(pkg)));
  for (;;) {
    const f = path.join(dir, "package.json");
    if (fs.existsSync(f)) {
      const j = JSON.parse(fs.readFileSync(f, "utf8"));
      if (j.name === pkg) return j.version;
    }
    dir = path.dirname(dir);
  }
}

// One RSA-2048 key shared by the crypto tests (created once, lazily).
let rsaKeyP;
function rsaKey() {
  rsaKeyP ??= client.createRsaKey(uniqueName("krsa"), { keySize: 2048 });
  return rsaKeyP;
}

test("keys: the keyvault-keys generation matches the Node runtime", () => {
  const v = resolvedVersion("@azure/keyvault-keys");
  console.log(`node ${process.versions.node}, keyvault-keys ${v}`);
  if (Number(process.versions.node.split(".")[0]) >= 22) assert.match(v, /^4\.10\.[2-9]/);
  else assert.match(v, /^4\.10\.0$/);
});

test("keys: create RSA 2048/3072/4096 (public exponent, default ops, exact n/e)", T, async () => {
  for (const size of [2048, 3072, 4096]) {
    const name = uniqueName(`rsa${size}`);
    const k = await client.createRsaKey(name, { keySize: size, tags: { size: String(size) } });
    assert.equal(k.name, name);
    assert.equal(k.keyType, "RSA");
    assert.match(k.properties.version, HEX32);
    assert.equal(k.id, `${env("COFFER_VAULT_URL")}/keys/${name}/${k.properties.version}`);
    assert.equal(k.key.kid, k.id);
    assert.equal(k.key.n.length, size / 8, "n has no leading zero byte");
    assert.ok(k.key.n[0] >= 0x80, "n top bit set");
    assert.deepEqual([...k.key.e], [1, 0, 1]);
    assert.deepEqual([...k.keyOperations].sort(), [...ALL_RSA_OPS].sort());
    assert.equal(k.properties.enabled, true);
    assert.deepEqual(k.properties.tags, { size: String(size) });
    assert.equal(k.key.d, undefined, "no private part");
    assert.equal(k.key.p, undefined, "no private part");
    assertTimes(k.properties);
    assert.equal(nodePublicKey(k.key).asymmetricKeyDetails.modulusLength, size);
  }
  // Default size (2048) when the caller gives none; createKey with an explicit exponent.
  const d = await client.createKey(uniqueName("rsadef"), "RSA");
  assert.equal(d.key.n.length, 256);
  // public_exponent through REST: keyvault-keys 4.10 drops the publicExponent option.
  const xr = await rest("POST", `/keys/${uniqueName("rsaexp")}/create`, { kty: "RSA", key_size: 2048, public_exponent: 3 });
  assert.equal(xr.status, 200, JSON.stringify(xr.body));
  assert.equal(xr.body.key.e, "Aw");
  await rejectsWith(() => client.createRsaKey(uniqueName("rsabad"), { keySize: 1000 }), 400, "BadParameter");
});

test("keys: create EC on every curve (fixed-length x/y, sign/verify ops)", T, async () => {
  for (const c of EC_CURVES) {
    const k = await client.createEcKey(uniqueName("ec"), { curve: c.crv });
    assert.equal(k.keyType, "EC");
    assert.equal(k.key.crv, c.crv);
    assert.equal(k.key.x.length, c.size, `${c.crv} x length`);
    assert.equal(k.key.y.length, c.size, `${c.crv} y length`);
    assert.deepEqual([...k.keyOperations].sort(), ["sign", "verify"]);
    assert.equal(k.key.d, undefined);
    assert.equal(nodePublicKey(k.key).asymmetricKeyDetails.namedCurve, c.node);
  }
  const d = await client.createKey(uniqueName("ecdef"), "EC");
  assert.equal(d.key.crv, "P-256", "default curve");
  await rejectsWith(() => client.createKey(uniqueName("ecbad"), "EC", { curve: "P-999" }), 400, "BadParameter");
  await rejectsWith(() => client.createKey(uniqueName("ktybad"), "DSA"), 400, "BadParameter");
});

test("keys: -HSM key types get an exact answer (RSA-HSM / EC-HSM kty, or a clear refusal)", T, async () => {
  // Coffer without a PKCS#11 token may refuse -HSM; if it accepts, the kty must be echoed
  // exactly (the SDKs compare "EC-HSM" case-sensitively) and the key must work.
  for (const [make, kty] of [
    [() => client.createRsaKey(uniqueName("rsahsm"), { hsm: true }), "RSA-HSM"],
    [() => client.createEcKey(uniqueName("echsm"), { hsm: true, curve: "P-384" }), "EC-HSM"],
  ]) {
    let k;
    try {
      k = await make();
    } catch (err) {
      assert.ok([400, 403].includes(err.statusCode), `${kty} refusal status ${err.statusCode}: ${err.message}`);
      assert.ok(["BadParameter", "Forbidden"].includes(err.code), `${kty} refusal code ${err.code}`);
      continue;
    }
    assert.equal(k.keyType, kty);
    assert.equal(k.key.kty, kty);
    const cc = new CryptographyClient(k, cred);
    const alg = kty === "RSA-HSM" ? "RS256" : "ES384";
    const data = Buffer.from("hsm data");
    const s = await cc.sign(alg, digest(hashOf(alg), data));
    assert.ok(nodeVerify(alg, data, nodePublicKey(k.key), s.result), `${kty} signature verifies in node`);
  }
});

test("keys: import RSA and EC JWKs made by node:crypto; private parts never returned", T, async () => {
  const { privateKey: rsaPriv, publicKey: rsaPub } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const name = uniqueName("imprsa");
  const k = await client.importKey(name, sdkJwk(rsaPriv, ["sign", "verify", "encrypt", "decrypt"]), {
    tags: { src: "node" },
  });
  assert.equal(k.name, name);
  assert.equal(k.keyType, "RSA");
  assert.deepEqual([...k.keyOperations].sort(), ["decrypt", "encrypt", "sign", "verify"]);
  assert.deepEqual(k.properties.tags, { src: "node" });
  assert.equal(b64u(k.key.n), rsaPub.export({ format: "jwk" }).n, "n echoes the imported modulus");
  for (const f of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(k.key[f], undefined, `${f} not returned`);
  const got = await client.getKey(name);
  assert.equal(got.key.d, undefined);

  // Coffer signs with the imported key: node verifies with its own public key; node signs: Coffer verifies.
  const cc = new CryptographyClient(k, cred);
  const data = Buffer.from("imported rsa");
  for (const alg of ["RS256", "PS512"]) {
    const s = await cc.sign(alg, digest(hashOf(alg), data));
    assert.ok(nodeVerify(alg, data, rsaPub, s.result), `${alg}: node verifies Coffer's signature`);
    const mine = nodeSign(alg, data, rsaPriv);
    assert.equal((await cc.verify(alg, digest(hashOf(alg), data), mine)).result, true, `${alg}: Coffer verifies node's`);
  }
  // Coffer encrypts (remotely: RSA-OAEP-256 is remote in JS), node decrypts with the private key.
  const pt = crypto.randomBytes(40);
  const e = await cc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: pt });
  assert.equal(e.keyID, k.id);
  const back = crypto.privateDecrypt({ key: rsaPriv, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, e.result);
  assert.deepEqual(back, pt);

  // EC on every curve.
  for (const c of EC_CURVES) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: c.node });
    const ek = await client.importKey(uniqueName("impec"), sdkJwk(privateKey, ["sign", "verify"]));
    assert.equal(ek.keyType, "EC");
    assert.equal(ek.key.crv, c.crv);
    assert.equal(b64u(ek.key.x), publicKey.export({ format: "jwk" }).x, `${c.crv} x`);
    assert.equal(ek.key.d, undefined);
    const ecc = new CryptographyClient(ek, cred);
    const s = await ecc.sign(c.alg, digest(c.hash, data));
    assert.equal(s.result.length, 2 * c.size, `${c.alg} signature is r||s`);
    assert.ok(nodeVerify(c.alg, data, publicKey, s.result), `${c.alg}: node verifies Coffer's signature`);
    const mine = nodeSign(c.alg, data, privateKey);
    assert.equal((await ecc.verify(c.alg, digest(c.hash, data), mine)).result, true, `${c.alg}: Coffer verifies node's`);
  }

  // Hardware-protected import, and a JWK whose EC point does not match d.
  try {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const h = await client.importKey(uniqueName("imphsm"), sdkJwk(privateKey, ["sign", "verify"]), { hardwareProtected: true });
    assert.equal(h.keyType, "EC-HSM");
  } catch (err) {
    assert.ok([400, 403].includes(err.statusCode), `hsm import refusal: ${err.statusCode} ${err.message}`);
  }
  const a = sdkJwk(crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey, ["sign"]);
  const b = sdkJwk(crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey, ["sign"]);
  await rejectsWith(() => client.importKey(uniqueName("impbad"), { ...a, d: b.d }), 400, "BadParameter");
});

test("keys: get latest/by version, versions, list (unversioned kid), update", T, async () => {
  const name = uniqueName("kget");
  const v1 = await client.createEcKey(name, { curve: "P-256" });
  const v2 = await client.createEcKey(name, { curve: "P-256", tags: { gen: "2" } });
  assert.notEqual(v1.properties.version, v2.properties.version);
  assert.equal((await client.getKey(name)).properties.version, v2.properties.version);
  const g1 = await client.getKey(name, { version: v1.properties.version });
  assert.deepEqual(g1.key.x, v1.key.x);
  await rejectsWith(() => client.getKey(uniqueName("nokey")), 404, "KeyNotFound");
  await rejectsWith(() => client.getKey(name, { version: "0".repeat(32) }), 404, "KeyNotFound");

  const versions = await collect(client.listPropertiesOfKeyVersions(name));
  assert.deepEqual(versions.map((p) => p.version).sort(), [v1.properties.version, v2.properties.version].sort());
  for (const p of versions) assert.equal(p.id, `${env("COFFER_VAULT_URL")}/keys/${name}/${p.version}`);

  const listed = (await collect(client.listPropertiesOfKeys())).filter((p) => p.name === name);
  assert.equal(listed.length, 1);
  assert.deepEqual(listed[0].tags, { gen: "2" }, "list shows the latest version's tags");

  const exp = new Date(Math.floor(Date.now() / 1000 + 86400) * 1000);
  const u = await client.updateKeyProperties(name, v1.properties.version, {
    enabled: false, tags: { a: "1" }, expiresOn: exp, keyOps: ["verify"],
  });
  assert.equal(u.properties.enabled, false);
  assert.deepEqual(u.properties.tags, { a: "1" });
  assert.equal(u.properties.expiresOn.getTime(), exp.getTime());
  assert.deepEqual(u.keyOperations, ["verify"]);
  assert.ok(u.properties.updatedOn.getTime() >= v1.properties.updatedOn.getTime());
  // A disabled key stays readable; the latest version is untouched.
  const g = await client.getKey(name, { version: v1.properties.version });
  assert.equal(g.properties.enabled, false);
  assert.equal((await client.getKey(name)).properties.enabled, true);
  // Update without a version: the latest.
  const u2 = await client.updateKeyProperties(name, { tags: { latest: "yes" } });
  assert.equal(u2.properties.version, v2.properties.version);
  assert.deepEqual(u2.properties.tags, { latest: "yes" });
});

test("keys: delete, get/list deleted, conflict on create, recover, purge", T, async () => {
  const name = uniqueName("kdel");
  const k = await client.createRsaKey(name, { keySize: 2048 });
  const poller = await client.beginDeleteKey(name, POLL);
  const d = await poller.pollUntilDone();
  assert.equal(d.name, name);
  assert.equal(d.properties.recoveryId, `${env("COFFER_VAULT_URL")}/deletedkeys/${name}`);
  assert.ok(d.properties.deletedOn instanceof Date);
  assert.ok(d.properties.scheduledPurgeDate > d.properties.deletedOn);
  assert.deepEqual(d.key.n, k.key.n);
  await rejectsWith(() => client.getKey(name), 404, "KeyNotFound");
  assert.equal((await client.getDeletedKey(name)).name, name);
  assert.equal((await collect(client.listDeletedKeys())).filter((x) => x.name === name).length, 1);
  await rejectsWith(() => client.createRsaKey(name), 409, "Conflict");

  const r = await (await client.beginRecoverDeletedKey(name, POLL)).pollUntilDone();
  assert.equal(r.name, name);
  assert.equal((await client.getKey(name)).properties.version, k.properties.version);
  await rejectsWith(() => client.getDeletedKey(name), 404);

  await (await client.beginDeleteKey(name, POLL)).pollUntilDone();
  await client.purgeDeletedKey(name);
  await rejectsWith(() => client.getDeletedKey(name), 404);
  await rejectsWith(() => client.purgeDeletedKey(name), 404);
  const again = await client.createEcKey(name);
  assert.equal(again.keyType, "EC");
});

test("keys: backup and restore keep every version id and the key material", T, async () => {
  const name = uniqueName("kbak");
  const v1 = await client.createEcKey(name, { curve: "P-256" });
  const v2 = await client.createEcKey(name, { curve: "P-256", tags: { t: "2" } });
  const blob = await client.backupKey(name);
  assert.ok(blob instanceof Uint8Array && blob.length > 0);
  await rejectsWith(() => client.restoreKeyBackup(blob), 409, "Conflict");
  await (await client.beginDeleteKey(name, POLL)).pollUntilDone();
  await client.purgeDeletedKey(name);
  const r = await client.restoreKeyBackup(blob);
  assert.equal(r.name, name);
  assert.equal(r.properties.version, v2.properties.version);
  assert.deepEqual(r.properties.tags, { t: "2" });
  const versions = (await collect(client.listPropertiesOfKeyVersions(name))).map((p) => p.version).sort();
  assert.deepEqual(versions, [v1.properties.version, v2.properties.version].sort());
  // The private half came back too: a signature by the restored key verifies against v2's public key.
  const data = Buffer.from("after restore");
  const s = await new CryptographyClient(r, cred).sign("ES256", digest("sha256", data));
  assert.ok(nodeVerify("ES256", data, nodePublicKey(v2.key), s.result));
  const garbled = Buffer.from(blob);
  garbled[Math.floor(garbled.length / 2)] ^= 0xff;
  await rejectsWith(() => client.restoreKeyBackup(garbled), 400, "BadParameter");
});

test("keys: rotate makes a new version of the same type; rotation policy get/update", T, async () => {
  const name = uniqueName("krot");
  const k = await client.createRsaKey(name, { keySize: 2048, keyOps: ["sign", "verify"] });
  const def = await client.getKeyRotationPolicy(name);
  // Azure's default for a key that never had a policy: one Notify 30 days before expiry
  assert.deepEqual(def.lifetimeActions.map((a) => `${a.action}:${a.timeBeforeExpiry ?? ""}`), ["Notify:P30D"],
    "default policy is Notify P30D");
  const p = await client.updateKeyRotationPolicy(name, {
    lifetimeActions: [
      { action: "Rotate", timeAfterCreate: "P90D" },
      { action: "Notify", timeBeforeExpiry: "P30D" },
    ],
    expiresIn: "P2Y",
  });
  assert.equal(p.id, `${env("COFFER_VAULT_URL")}/keys/${name}/rotationpolicy`);
  assert.equal(p.expiresIn, "P2Y");
  assert.ok(p.createdOn instanceof Date && p.updatedOn instanceof Date);
  const back = await client.getKeyRotationPolicy(name);
  assert.equal(back.expiresIn, "P2Y");
  const acts = back.lifetimeActions.map((a) => `${a.action}:${a.timeAfterCreate ?? ""}:${a.timeBeforeExpiry ?? ""}`).sort();
  assert.deepEqual(acts, ["Notify::P30D", "Rotate:P90D:"]);

  const r = await client.rotateKey(name);
  assert.equal(r.name, name);
  assert.notEqual(r.properties.version, k.properties.version);
  assert.equal(r.keyType, "RSA");
  assert.equal(r.key.n.length, 256);
  assert.notDeepEqual(r.key.n, k.key.n, "new key material");
  assert.deepEqual([...r.keyOperations].sort(), ["sign", "verify"]);
  // expiryTime P2Y from the policy: exp about two years from now.
  assert.ok(r.properties.expiresOn instanceof Date, "rotate applies the policy's expiryTime");
  const years = (r.properties.expiresOn.getTime() - Date.now()) / (365.25 * 86400_000);
  assert.ok(years > 1.9 && years < 2.1, `expiry ${years} years away`);
  assert.equal((await client.getKey(name)).properties.version, r.properties.version);
  await rejectsWith(() => client.getKeyRotationPolicy(uniqueName("nokey")), 404, "KeyNotFound");
  await rejectsWith(
    () => client.updateKeyRotationPolicy(name, { lifetimeActions: [{ action: "Rotate", timeAfterCreate: "not-a-duration" }] }),
    400,
    "BadParameter",
  );
});

test("keys: getRandomBytes returns count fresh bytes; out-of-range count is 400", T, async () => {
  const a = await client.getRandomBytes(32);
  const b = await client.getRandomBytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  assert.equal((await client.getRandomBytes(1)).length, 1);
  assert.equal((await client.getRandomBytes(128)).length, 128);
  await rejectsWith(() => client.getRandomBytes(0), 400, "BadParameter");
  await rejectsWith(() => client.getRandomBytes(129), 400, "BadParameter");
});

test("keys: RSA sign with every alg; verify remotely (digest), locally (verifyData) and in node", T, async () => {
  const k = await rsaKey();
  const cc = new CryptographyClient(k.id, cred); // built from the id: fetches the key first
  const pub = nodePublicKey(k.key);
  const data = Buffer.from("the message to sign");
  for (const alg of RSA_SIGN) {
    const dg = digest(hashOf(alg), data);
    const s = await cc.sign(alg, dg);
    assert.equal(s.keyID, k.id);
    assert.equal(s.result.length, 256, `${alg} signature is k bytes`);
    assert.ok(nodeVerify(alg, data, pub, s.result), `${alg}: node verifies`);
    assert.equal((await cc.verify(alg, dg, s.result)).result, true, `${alg}: remote verify`);
    // Local verifyData: keyvault-keys' local provider verifies PS* with PKCS#1 v1.5 padding
    // (node createVerify without PSS options), so it answers false for any PSS signature; only
    // RS* is meaningful locally. PS* is checked by node:crypto above and remotely.
    if (alg.startsWith("RS")) {
      assert.equal((await cc.verifyData(alg, data, s.result)).result, true, `${alg}: local verifyData`);
    }
    const bad = Buffer.from(s.result);
    bad[10] ^= 1;
    assert.equal((await cc.verify(alg, dg, bad)).result, false, `${alg}: remote verify of a bad signature is false`);
    assert.equal((await cc.verifyData(alg, data, bad)).result, false, `${alg}: local verify of a bad signature is false`);
    // signData hashes locally then signs remotely.
    const sd = await cc.signData(alg, data);
    assert.ok(nodeVerify(alg, data, pub, sd.result), `${alg}: signData verifies in node`);
  }
  // PKCS#1 v1.5 is deterministic: node's signature equals Coffer's.
  const s = await cc.sign("RS256", digest("sha256", data));
  assert.ok(nodeVerify("RS256", data, pub, s.result));
});

test("keys: EC sign/verify on every curve; r||s checked by node; remote verify of node's signatures", T, async () => {
  for (const c of EC_CURVES) {
    const k = await client.createEcKey(uniqueName("ecs"), { curve: c.crv });
    const cc = new CryptographyClient(k, cred);
    const pub = nodePublicKey(k.key);
    const data = Buffer.from(`sign on ${c.crv}`);
    const dg = digest(c.hash, data);
    const s = await cc.sign(c.alg, dg);
    assert.equal(s.result.length, 2 * c.size, `${c.alg} r||s length`);
    assert.ok(nodeVerify(c.alg, data, pub, s.result), `${c.alg}: node verifies`);
    assert.equal((await cc.verify(c.alg, dg, s.result)).result, true, `${c.alg}: remote verify`);
    assert.equal((await cc.verifyData(c.alg, data, s.result)).result, true, `${c.alg}: verifyData`);
    const bad = Buffer.from(s.result);
    bad[5] ^= 1;
    assert.equal((await cc.verify(c.alg, dg, bad)).result, false, `${c.alg}: bad signature is false`);
    // ES512 digests are SHA-512 (64 bytes) although the coordinates are 66 bytes.
    if (c.alg === "ES512") assert.equal(dg.length, 64);
  }
});

test("keys: RSA encrypt/decrypt and wrap/unwrap, every alg, local and remote paths, node round-trips", T, async () => {
  const k = await rsaKey();
  const cc = new CryptographyClient(k, cred);
  const pub = nodePublicKey(k.key);
  for (const alg of RSA_ENC) {
    const pt = crypto.randomBytes(32);
    // SDK encrypt: local for RSA1_5/RSA-OAEP, remote for RSA-OAEP-256 (§8).
    const e = await cc.encrypt({ algorithm: alg, plaintext: pt });
    assert.equal(e.result.length, 256, `${alg} ciphertext is k bytes`);
    assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: alg, ciphertext: e.result })).result), pt, `${alg}: SDK round trip`);
    // node encrypts with the public JWK, Coffer decrypts.
    const ne = nodeEncrypt(alg, pub, pt);
    const d = await cc.decrypt({ algorithm: alg, ciphertext: ne });
    assert.equal(d.keyID, k.id);
    assert.deepEqual(Buffer.from(d.result), pt, `${alg}: Coffer decrypts node's ciphertext`);
    // Remote encrypt through the REST API (the SDK would do RSA1_5/RSA-OAEP locally).
    const re = await rest("POST", `/keys/${k.name}/${k.properties.version}/encrypt`, { alg, value: b64u(pt) });
    assert.equal(re.status, 200, JSON.stringify(re.body));
    assert.equal(re.body.kid, k.id);
    const rct = Buffer.from(re.body.value, "base64url");
    assert.equal(rct.length, 256);
    assert.deepEqual(Buffer.from((await cc.decrypt({ algorithm: alg, ciphertext: rct })).result), pt, `${alg}: remote encrypt round trip`);
    // Latest-version path with an empty version segment.
    const le = await rest("POST", `/keys/${k.name}//encrypt`, { alg, value: b64u(pt) });
    assert.equal(le.status, 200, `/keys/{name}//encrypt: ${JSON.stringify(le.body)}`);
    assert.equal(le.body.kid, k.id);

    // Key wrap: the same with wrapKey/unwrapKey.
    const cek = crypto.randomBytes(32);
    const w = await cc.wrapKey(alg, cek);
    assert.deepEqual(Buffer.from((await cc.unwrapKey(alg, w.result)).result), cek, `${alg}: wrap round trip`);
    const nw = nodeEncrypt(alg, pub, cek);
    assert.deepEqual(Buffer.from((await cc.unwrapKey(alg, nw)).result), cek, `${alg}: unwrap node's wrap`);
    const rw = await rest("POST", `/keys/${k.name}/${k.properties.version}/wrapkey`, { alg, value: b64u(cek) });
    assert.equal(rw.status, 200, JSON.stringify(rw.body));
    assert.deepEqual(Buffer.from((await cc.unwrapKey(alg, Buffer.from(rw.body.value, "base64url"))).result), cek);
  }
  // A ciphertext that fails to decrypt: an error, never a plaintext.
  await assert.rejects(() => cc.decrypt({ algorithm: "RSA-OAEP", ciphertext: crypto.randomBytes(256) }), (err) => {
    assert.equal(err.statusCode, 400, err.message);
    return true;
  });
  // Too long a plaintext for RSA-OAEP-256 (k - 66 = 190 bytes max).
  await rejectsWith(() => cc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: crypto.randomBytes(191) }), 400, "BadParameter");
});

test("keys: a disabled key refuses sign/decrypt/unwrap with 403 Forbidden (KeyDisabled)", T, async () => {
  const name = uniqueName("kdis");
  const k = await client.createRsaKey(name, { keySize: 2048 });
  const data = digest("sha256", Buffer.from("x"));
  const ok = await new CryptographyClient(k, cred).sign("RS256", data);
  await client.updateKeyProperties(name, k.properties.version, { enabled: false });
  const cc = new CryptographyClient(k.id, cred);
  await rejectsWith(() => cc.sign("RS256", data), 403, "Forbidden");
  const ct = nodeEncrypt("RSA-OAEP", nodePublicKey(k.key), Buffer.from("secret"));
  await rejectsWith(() => cc.decrypt({ algorithm: "RSA-OAEP", ciphertext: ct }), 403, "Forbidden");
  await rejectsWith(() => cc.unwrapKey("RSA-OAEP", ct), 403, "Forbidden");
  const r = await rest("POST", `/keys/${name}/${k.properties.version}/sign`, { alg: "RS256", value: b64u(data) });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "Forbidden");
  assert.equal(r.body.error.innererror?.code, "KeyDisabled", JSON.stringify(r.body));
  assert.match(r.body.error.message, /disabled/i);
  // Public-key operations stay allowed (spec §7): remote verify.
  const v = await rest("POST", `/keys/${name}/${k.properties.version}/verify`, { alg: "RS256", digest: b64u(data), value: b64u(ok.result) });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.value, true);
});

test("keys: key_ops not permitted -> SDK refuses locally, service answers 403 KeyOperationForbidden", T, async () => {
  const name = uniqueName("kops");
  const k = await client.createRsaKey(name, { keySize: 2048, keyOps: ["sign", "verify"] });
  assert.deepEqual([...k.keyOperations].sort(), ["sign", "verify"]);
  const cc = new CryptographyClient(k, cred);
  await assert.rejects(() => cc.encrypt({ algorithm: "RSA-OAEP", plaintext: Buffer.from("x") }), /not supported/);
  const ct = nodeEncrypt("RSA-OAEP", nodePublicKey(k.key), Buffer.from("x"));
  for (const op of ["decrypt", "unwrapkey"]) {
    const r = await rest("POST", `/keys/${name}/${k.properties.version}/${op}`, { alg: "RSA-OAEP", value: b64u(ct) });
    assert.equal(r.status, 403, `${op}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, "Forbidden");
    assert.equal(r.body.error.innererror?.code, "KeyOperationForbidden");
  }
  const ek = await client.createEcKey(uniqueName("kopsec"), { keyOps: ["verify"] });
  const r = await rest("POST", `/keys/${ek.name}/${ek.properties.version}/sign`, { alg: "ES256", value: b64u(crypto.randomBytes(32)) });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.error.innererror?.code, "KeyOperationForbidden");
  // Widening key_ops by update lets the op through.
  await client.updateKeyProperties(name, k.properties.version, { keyOps: ALL_RSA_OPS });
  const d = await new CryptographyClient(k.id, cred).decrypt({ algorithm: "RSA-OAEP", ciphertext: ct });
  assert.equal(Buffer.from(d.result).toString(), "x");
});

test("keys: bad algorithm requests are 400 BadParameter (digest length, unknown alg, wrong key type)", T, async () => {
  const k = await rsaKey();
  const cc = new CryptographyClient(k, cred);
  await assert.rejects(() => cc.sign("RS256", crypto.randomBytes(31)), (err) => {
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, "BadParameter");
    assert.match(err.message, /RS256 requires 32 bytes/);
    return true;
  });
  await rejectsWith(() => cc.sign("PS384", crypto.randomBytes(32)), 400, "BadParameter");
  await rejectsWith(() => cc.sign("XS999", crypto.randomBytes(32)), 400, "BadParameter");
  await rejectsWith(() => cc.sign("ES256", crypto.randomBytes(32)), 400, "BadParameter");
  await rejectsWith(() => cc.decrypt({ algorithm: "A256GCM-NOPE", ciphertext: crypto.randomBytes(256) }), 400, "BadParameter");
  const ec = await client.createEcKey(uniqueName("kbad"), { curve: "P-384" });
  const ecc = new CryptographyClient(ec, cred);
  await rejectsWith(() => ecc.sign("ES256", crypto.randomBytes(32)), 400, "BadParameter"); // curve mismatch
  await rejectsWith(() => ecc.sign("ES384", crypto.randomBytes(32)), 400, "BadParameter"); // 32 != 48
  // Raw: missing alg, undecodable value, unknown key.
  let r = await rest("POST", `/keys/${k.name}/${k.properties.version}/sign`, { value: b64u(crypto.randomBytes(32)) });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, "BadParameter");
  r = await rest("POST", `/keys/${k.name}/${k.properties.version}/sign`, { alg: "RS256", value: "***" });
  assert.equal(r.status, 400);
  r = await rest("POST", `/keys/${uniqueName("nokey")}//sign`, { alg: "RS256", value: b64u(crypto.randomBytes(32)) });
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, "KeyNotFound");
});
