// Certificates through @azure/keyvault-certificates (CertificateClient), written from
// azure-kv-certificates.md: Self-issued RSA and EC certificates through the SDK poller with full
// policies, the certificate's secret (PFX / PEM) parsed by node:crypto and openssl, its key used
// through CryptographyClient, get/versions/list/update/policy, import of PFX (password) and PEM
// made by openssl, the Unknown-issuer CSR flow merged with a CA this test creates, delete /
// recover / purge, contacts, issuers, backup/restore, refusals on the managed key and secret,
// and an AutoRenew lifetime action fired by the server's janitor on a short-lived certificate.
//
// Cost: three RSA-2048 and a few EC keys on the server, a handful of openssl calls, and the
// janitor wait (js.sh runs it every 5 s; the renewal is armed in the first test and checked in the
// last, so only what is left of the tick is waited for).
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient, CryptographyClient } from "@azure/keyvault-keys";
import { credential, secretClient, uniqueName, HEX32, rejectsWith, collect, env } from "./helpers.mjs";

const cred = credential();
const VAULT = env("COFFER_VAULT_URL");
const client = new CertificateClient(VAULT, cred);
const keys = new KeyClient(VAULT, cred);
const secrets = secretClient(VAULT, cred);
const T = { timeout: 120_000 };
const POLL = { intervalInMs: 100 };
const EKU_SERVER = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT = "1.3.6.1.5.5.7.3.2";

const TMP = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "js-certs-"));
process.on("exit", () => fs.rmSync(TMP, { recursive: true, force: true }));

// ---- openssl and node:crypto helpers ----

function openssl(args, input) {
  return execFileSync("openssl", args, { cwd: TMP, input, stdio: ["pipe", "pipe", "pipe"] });
}
const tmp = (name) => path.join(TMP, name);
const sha1 = (b) => crypto.createHash("sha1").update(b).digest();
const spki = (keyObject) => keyObject.export({ type: "spki", format: "der" });
const pemOf = (der) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`.replace("\n\n", "\n");

// A CA made by openssl (RSA-2048, CA:TRUE, keyCertSign): {key, pem, der} paths and bytes.
let caP;
function testCa() {
  caP ??= (() => {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
      "-days", "2", "-subj", "/CN=Coffer e2e test CA", "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    const pem = fs.readFileSync(tmp("ca.pem"), "utf8");
    return { key: tmp("ca.key"), pemPath: tmp("ca.pem"), pem, der: new crypto.X509Certificate(pem).raw };
  })();
  return caP;
}

// The CA signs a CSR (DER, checked by openssl req -verify): returns the leaf's DER, valid one
// day, with the extensions a CA would add.
let serial = 1;
function caSign(csrDer, label) {
  const ca = testCa();
  fs.writeFileSync(tmp(`${label}.csr.der`), csrDer);
  openssl(["req", "-inform", "DER", "-in", `${label}.csr.der`, "-out", `${label}.csr.pem`, "-verify"]);
  fs.writeFileSync(tmp(`${label}.ext`), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  openssl(["x509", "-req", "-in", `${label}.csr.pem`, "-CA", ca.pemPath, "-CAkey", ca.key,
    "-set_serial", String(1000 + serial++), "-days", "1", "-extfile", `${label}.ext`, "-outform", "DER", "-out", `${label}.der`]);
  return fs.readFileSync(tmp(`${label}.der`));
}

// A key (PKCS#8 PEM) and a leaf signed by the test CA, made entirely by openssl.
function caIssued(label, keyArgs = ["-newkey", "rsa:2048"]) {
  openssl(["req", ...keyArgs, "-nodes", "-keyout", `${label}.key`, "-out", `${label}.req.pem`, "-subj", `/CN=${label}.coffer.test`]);
  const csrDer = openssl(["req", "-in", `${label}.req.pem`, "-outform", "DER"]);
  const der = caSign(csrDer, label);
  return { keyPem: fs.readFileSync(tmp(`${label}.key`), "utf8"), keyPath: tmp(`${label}.key`), der, pem: pemOf(der) };
}

// openssl's text of the extensions we care about.
function extText(der) {
  fs.writeFileSync(tmp("ext.der"), der);
  return openssl(["x509", "-inform", "DER", "-in", "ext.der", "-noout", "-ext",
    "keyUsage,extendedKeyUsage,subjectAltName,basicConstraints"]).toString();
}

// openssl verify of leaf (DER) against the root PEM (untrusted intermediates none).
function opensslVerifies(leafDer, rootPemPath) {
  fs.writeFileSync(tmp("leaf.pem"), pemOf(leafDer));
  try {
    openssl(["verify", "-CAfile", rootPemPath, "leaf.pem"]);
    return true;
  } catch {
    return false;
  }
}

// PFX (base64 of an unencrypted PKCS#12) -> {keyPem, certs: [PEM...]} through openssl pkcs12.
function parsePfx(b64) {
  fs.writeFileSync(tmp("secret.pfx"), Buffer.from(b64, "base64"));
  const keyPem = openssl(["pkcs12", "-in", "secret.pfx", "-passin", "pass:", "-nocerts", "-nodes"]).toString();
  const certText = openssl(["pkcs12", "-in", "secret.pfx", "-passin", "pass:", "-nokeys"]).toString();
  return { keyPem, certs: pemBlocks(certText, "CERTIFICATE") };
}
function pemBlocks(text, label) {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return text.match(re) ?? [];
}

// The private key (PEM) matches the certificate's public key.
function assertKeyMatches(keyPem, x509, what) {
  const priv = crypto.createPrivateKey(keyPem);
  assert.deepEqual(spki(crypto.createPublicKey(priv)), spki(x509.publicKey), `${what}: key matches the certificate`);
  return priv;
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

// The operation a certificate poller holds. keyvault-certificates 4.10 strips it from
// getOperationState() (cleanState keeps name/flags/result only), although its README reads the
// CSR from there; the poller's operation state still has it.
function opOf(poller) {
  const op = poller.operation?.state?.certificateOperation;
  assert.ok(op, "the poller holds the certificate operation");
  return op;
}

async function createSelf(name, policy, options = {}) {
  const poller = await client.beginCreateCertificate(name, { issuerName: "Self", ...policy }, { ...POLL, ...options });
  return poller.pollUntilDone();
}

// ---- tests ----

test("certificates: the keyvault-certificates generation matches the Node runtime", () => {
  const v = resolvedVersion("@azure/keyvault-certificates");
  console.log(`node ${process.versions.node}, keyvault-certificates ${v}`);
  if (Number(process.versions.node.split(".")[0]) >= 22) assert.match(v, /^4\.10\.[3-9]/);
  else assert.equal(v, "4.10.0");
});

// Armed first, checked by the last test: a short-lived openssl certificate (one day: the smallest
// unit of `openssl req -days`; a created certificate's policy cannot go below one month) is
// imported, then its policy says Self + AutoRenew 2 days before expiry, so it is due at once and
// the janitor's next run (every 5 s in js.sh, 60 s by default) must add a Self-signed version with a fresh key and the
// policy's validity.
const renewName = uniqueName("crenew");
let renewFirst;
test("certificates: auto-renewal armed (short-lived import, Self + AutoRenew daysBeforeExpiry)", T, async () => {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "short.key",
    "-out", "short.pem", "-subj", "/CN=short.coffer.test", "-days", "1"]);
  const pem = fs.readFileSync(tmp("short.key"), "utf8") + fs.readFileSync(tmp("short.pem"), "utf8");
  renewFirst = await client.importCertificate(renewName, Buffer.from(pem), { policy: { contentType: "application/x-pem-file" } });
  assert.equal(renewFirst.policy.issuerName, "Unknown", "an import's derived policy names issuer Unknown");
  await client.updateCertificatePolicy(renewName, {
    issuerName: "Self",
    subject: "CN=short.coffer.test",
    validityInMonths: 1,
    lifetimeActions: [{ action: "AutoRenew", daysBeforeExpiry: 2 }],
  });
  const p = await client.getCertificatePolicy(renewName);
  assert.equal(p.issuerName, "Self");
  assert.deepEqual(p.lifetimeActions.map((a) => [a.action, a.daysBeforeExpiry]), [["AutoRenew", 2]]);
});

let rsaCert; // shared by the get/list/update test
test("certificates: create Self RSA-2048 through the poller (subject, SANs, EKUs, key usage, validity)", T, async () => {
  const name = uniqueName("crsa");
  const policy = {
    subject: "CN=rsa.coffer.test,O=Coffer e2e",
    subjectAlternativeNames: { dnsNames: ["rsa.coffer.test", "www.rsa.coffer.test"], emails: ["ops@coffer.test"] },
    keyType: "RSA",
    keySize: 2048,
    exportable: true,
    reuseKey: false,
    contentType: "application/x-pkcs12",
    enhancedKeyUsage: [EKU_SERVER, EKU_CLIENT],
    keyUsage: ["digitalSignature", "keyEncipherment"],
    validityInMonths: 6,
  };
  const poller = await client.beginCreateCertificate(name, { issuerName: "Self", ...policy }, { ...POLL, tags: { app: "e2e" } });
  const op = opOf(poller);
  assert.ok(op.csr && op.csr.length > 0, "the operation carries a CSR");
  assert.equal(op.issuerName, "Self");
  const c = await poller.pollUntilDone();
  rsaCert = c;
  const v = c.properties.version;
  assert.equal(c.name, name);
  assert.match(v, HEX32);
  assert.equal(c.properties.id, `${VAULT}/certificates/${name}/${v}`);
  assert.equal(c.keyId, `${VAULT}/keys/${name}/${v}`);
  assert.equal(c.secretId, `${VAULT}/secrets/${name}/${v}`);
  assert.deepEqual(c.properties.tags, { app: "e2e" });
  assert.equal(c.properties.enabled, true);

  const x = new crypto.X509Certificate(Buffer.from(c.cer));
  assert.equal(Buffer.from(c.properties.x509Thumbprint).toString("hex"), sha1(Buffer.from(c.cer)).toString("hex"), "x5t = SHA-1 of cer");
  assert.equal(Buffer.from(c.properties.x509Thumbprint).toString("hex").toUpperCase(), x.fingerprint.replace(/:/g, ""));
  assert.match(x.subject, /CN=rsa\.coffer\.test/);
  assert.match(x.subject, /O=Coffer e2e/);
  assert.equal(x.subject, x.issuer, "self-signed");
  assert.ok(x.verify(x.publicKey), "signature verifies with its own key");
  assert.equal(x.publicKey.asymmetricKeyType, "rsa");
  assert.equal(x.publicKey.asymmetricKeyDetails.modulusLength, 2048);
  assert.match(x.subjectAltName, /DNS:rsa\.coffer\.test/);
  assert.match(x.subjectAltName, /DNS:www\.rsa\.coffer\.test/);
  assert.match(x.subjectAltName, /email:ops@coffer\.test/);
  assert.deepEqual([...x.keyUsage].sort(), [EKU_SERVER, EKU_CLIENT].sort(), "node's keyUsage lists the EKUs");
  const days = (new Date(x.validTo) - new Date(x.validFrom)) / 86400_000;
  assert.ok(days > 175 && days < 190, `about six months of validity (${days} days)`);
  assert.equal(Math.floor(c.properties.expiresOn.getTime() / 1000), Math.floor(new Date(x.validTo).getTime() / 1000));
  assert.equal(Math.floor(c.properties.notBefore.getTime() / 1000), Math.floor(new Date(x.validFrom).getTime() / 1000));
  const ext = extText(Buffer.from(c.cer));
  assert.match(ext, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(ext, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(ext, /CA:FALSE/);

  // The policy came back as sent (plus the service's defaults).
  const p = c.policy;
  assert.equal(p.issuerName, "Self");
  assert.equal(p.subject, policy.subject);
  assert.deepEqual(p.subjectAlternativeNames.dnsNames, policy.subjectAlternativeNames.dnsNames);
  assert.deepEqual(p.subjectAlternativeNames.emails, policy.subjectAlternativeNames.emails);
  assert.equal(p.keyType, "RSA");
  assert.equal(p.keySize, 2048);
  assert.equal(p.exportable, true);
  assert.equal(p.reuseKey, false);
  assert.equal(p.contentType, "application/x-pkcs12");
  assert.deepEqual(p.enhancedKeyUsage, policy.enhancedKeyUsage);
  assert.deepEqual(p.keyUsage, policy.keyUsage);
  assert.equal(p.validityInMonths, 6);

  // The operation is completed and points at the certificate.
  const opPoller = await client.getCertificateOperation(name, POLL);
  const done = opOf(opPoller);
  assert.equal(done.status, "completed");
  assert.equal(done.target, `${VAULT}/certificates/${name}`);
  assert.equal((await opPoller.pollUntilDone()).properties.version, v);

  // The secret: an unencrypted PFX whose key matches and whose certificate is cer.
  const s = await secrets.getSecret(name);
  assert.equal(s.properties.contentType, "application/x-pkcs12");
  assert.equal(s.properties.managed, true);
  assert.equal(s.properties.version, v);
  assert.equal(s.properties.certificateKeyId, c.keyId, "the secret names the key (kid)");
  const pfx = parsePfx(s.value);
  assert.equal(pfx.certs.length, 1);
  assert.deepEqual(new crypto.X509Certificate(pfx.certs[0]).raw, Buffer.from(c.cer));
  const priv = assertKeyMatches(pfx.keyPem, x, "PFX");

  // The key: managed, same version, RSA; it signs through CryptographyClient, node verifies
  // against the certificate's public key, and a node signature with the exported key verifies
  // remotely.
  const k = await keys.getKey(name);
  assert.equal(k.properties.managed, true);
  assert.equal(k.properties.version, v);
  assert.equal(k.id, c.keyId);
  const cc = new CryptographyClient(c.keyId, cred);
  const data = Buffer.from("signed by the certificate's key");
  const dg = crypto.createHash("sha256").update(data).digest();
  const sig = await cc.sign("RS256", dg);
  assert.ok(crypto.verify("sha256", data, { key: x.publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, sig.result), "node verifies RS256 with the certificate's key");
  const ps = await cc.sign("PS256", dg);
  assert.ok(crypto.verify("sha256", data, { key: x.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, ps.result));
  const mine = crypto.sign("sha256", data, { key: priv, padding: crypto.constants.RSA_PKCS1_PADDING });
  assert.deepEqual(Buffer.from(mine), Buffer.from(sig.result), "PKCS#1 v1.5: the exported key signs identically");
  // The key decrypts what node encrypts to the certificate.
  const ct = crypto.publicEncrypt({ key: x.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, Buffer.from("to the cert"));
  assert.equal(Buffer.from((await cc.decrypt({ algorithm: "RSA-OAEP", ciphertext: ct })).result).toString(), "to the cert");
});

test("certificates: create Self EC P-256 with a PEM secret; ES256 through the certificate's key", T, async () => {
  const name = uniqueName("cec");
  const c = await createSelf(name, {
    subject: "CN=ec.coffer.test",
    subjectAlternativeNames: { dnsNames: ["ec.coffer.test"] },
    keyType: "EC",
    keyCurveName: "P-256",
    contentType: "application/x-pem-file",
    enhancedKeyUsage: [EKU_CLIENT],
    keyUsage: ["digitalSignature"],
    validityInMonths: 12,
  });
  const x = new crypto.X509Certificate(Buffer.from(c.cer));
  assert.equal(x.publicKey.asymmetricKeyType, "ec");
  assert.equal(x.publicKey.asymmetricKeyDetails.namedCurve, "prime256v1");
  assert.equal(x.subjectAltName, "DNS:ec.coffer.test");
  assert.deepEqual([...x.keyUsage], [EKU_CLIENT]);
  const days = (new Date(x.validTo) - new Date(x.validFrom)) / 86400_000;
  assert.ok(days > 364 && days < 367, `12 months = about 365 days (${days})`);
  assert.match(extText(Buffer.from(c.cer)), /Key Usage: critical\s+Digital Signature\n/);
  assert.equal(c.policy.keyType, "EC");
  assert.equal(c.policy.keyCurveName, "P-256");
  assert.equal(c.policy.contentType, "application/x-pem-file");

  const s = await secrets.getSecret(name);
  assert.equal(s.properties.contentType, "application/x-pem-file");
  assert.equal(pemBlocks(s.value, "PRIVATE KEY").length, 1, "one PKCS#8 key block");
  const certs = pemBlocks(s.value, "CERTIFICATE");
  assert.equal(certs.length, 1);
  assert.deepEqual(new crypto.X509Certificate(certs[0]).raw, Buffer.from(c.cer));
  const priv = assertKeyMatches(pemBlocks(s.value, "PRIVATE KEY")[0], x, "PEM");

  const cc = new CryptographyClient(c.keyId, cred);
  const data = Buffer.from("ec data");
  const sig = await cc.sign("ES256", crypto.createHash("sha256").update(data).digest());
  assert.equal(sig.result.length, 64);
  assert.ok(crypto.verify("sha256", data, { key: x.publicKey, dsaEncoding: "ieee-p1363" }, sig.result), "node verifies ES256 with the certificate's key");
  const mine = crypto.sign("sha256", data, { key: priv, dsaEncoding: "ieee-p1363" });
  assert.equal((await cc.verify("ES256", crypto.createHash("sha256").update(data).digest(), mine)).result, true);
});

test("certificates: get by version, versions, list, updateCertificateProperties, policy get/update", T, async () => {
  const c1 = rsaCert ?? (await createSelf(uniqueName("crsa"), { subject: "CN=x" }));
  const name = c1.name;
  const v1 = c1.properties.version;
  // Policy update: later versions follow it (12 -> 3 months, EmailContacts at 90 %).
  await client.updateCertificatePolicy(name, {
    issuerName: "Self",
    subject: "CN=rsa2.coffer.test",
    validityInMonths: 3,
    lifetimeActions: [{ action: "EmailContacts", lifetimePercentage: 90 }],
  });
  const p = await client.getCertificatePolicy(name);
  assert.equal(p.subject, "CN=rsa2.coffer.test");
  assert.equal(p.validityInMonths, 3);
  assert.deepEqual(p.lifetimeActions.map((a) => [a.action, a.lifetimePercentage]), [["EmailContacts", 90]]);
  assert.equal(p.keySize, 2048, "key_props not sent: kept");
  assert.equal(p.contentType, "application/x-pkcs12", "secret_props not sent: kept");

  const c2 = await createSelf(name, { subject: "CN=rsa2.coffer.test", validityInMonths: 3, keyType: "RSA", keySize: 2048 });
  const v2 = c2.properties.version;
  assert.notEqual(v2, v1);
  const x2 = new crypto.X509Certificate(Buffer.from(c2.cer));
  assert.match(x2.subject, /CN=rsa2\.coffer\.test/);
  const days = (new Date(x2.validTo) - new Date(x2.validFrom)) / 86400_000;
  assert.ok(days > 88 && days < 94, `3 months (${days} days)`);

  assert.equal((await client.getCertificate(name)).properties.version, v2);
  const g1 = await client.getCertificateVersion(name, v1);
  assert.deepEqual(Buffer.from(g1.cer), Buffer.from(c1.cer));
  assert.equal(g1.properties.version, v1);
  await rejectsWith(() => client.getCertificateVersion(name, "0".repeat(32)), 404, "CertificateNotFound");
  await rejectsWith(() => client.getCertificate(uniqueName("nocert")), 404, "CertificateNotFound");

  const versions = await collect(client.listPropertiesOfCertificateVersions(name));
  assert.deepEqual(versions.map((x) => x.version).sort(), [v1, v2].sort());
  for (const x of versions) assert.equal(x.id, `${VAULT}/certificates/${name}/${x.version}`);
  const listed = (await collect(client.listPropertiesOfCertificates())).filter((x) => x.name === name);
  assert.equal(listed.length, 1, "one list item per name");
  assert.deepEqual(Buffer.from(listed[0].x509Thumbprint), sha1(Buffer.from(c2.cer)), "the item carries the latest x5t");

  // Update v1: disabled + tags; the latest is untouched; the managed key and secret follow.
  const u = await client.updateCertificateProperties(name, v1, { enabled: false, tags: { state: "retired" } });
  assert.equal(u.properties.enabled, false);
  assert.deepEqual(u.properties.tags, { state: "retired" });
  assert.equal((await client.getCertificateVersion(name, v1)).properties.enabled, false);
  assert.equal((await client.getCertificate(name)).properties.enabled, true);
  assert.equal((await keys.getKey(name, { version: v1 })).properties.enabled, false, "the key version is disabled too");
  await rejectsWith(() => secrets.getSecret(name, { version: v1 }), 403, "Forbidden");
  const u2 = await client.updateCertificateProperties(name, "", { tags: { latest: "yes" } });
  assert.equal(u2.properties.version, v2);
  assert.deepEqual(u2.properties.tags, { latest: "yes" });
});

test("certificates: import PFX with a password (openssl), chain to the test CA, wrong password is 400", T, async () => {
  const ca = testCa();
  const leaf = caIssued("pfxleaf");
  fs.writeFileSync(tmp("pfxleaf.pem"), leaf.pem);
  openssl(["pkcs12", "-export", "-inkey", "pfxleaf.key", "-in", "pfxleaf.pem", "-certfile", ca.pemPath,
    "-passout", "pass:s3cret-pfx", "-out", "pfxleaf.pfx"]);
  const pfx = fs.readFileSync(tmp("pfxleaf.pfx"));
  const name = uniqueName("cimp");
  await rejectsWith(() => client.importCertificate(name, pfx, { password: "wrong" }), 400, "BadParameter");
  const c = await client.importCertificate(name, pfx, { password: "s3cret-pfx", tags: { src: "openssl" } });
  assert.deepEqual(Buffer.from(c.cer), leaf.der, "cer is the imported leaf");
  assert.deepEqual(c.properties.tags, { src: "openssl" });
  assert.equal(c.policy.issuerName, "Unknown");
  assert.equal(c.policy.keyType, "RSA");
  assert.equal(c.policy.keySize, 2048);
  assert.equal(c.policy.subject, "CN=pfxleaf.coffer.test");
  assert.deepEqual(c.policy.enhancedKeyUsage, [EKU_SERVER], "EKUs derived from the certificate");

  // The secret is an unencrypted PFX with key, leaf and CA; the leaf verifies to the test CA.
  const s = await secrets.getSecret(name);
  assert.equal(s.properties.contentType, "application/x-pkcs12");
  const got = parsePfx(s.value);
  assert.equal(got.certs.length, 2, "leaf + CA");
  const certs = got.certs.map((p) => new crypto.X509Certificate(p));
  assert.ok(certs.some((x) => x.raw.equals(leaf.der)), "the leaf is in the PFX");
  assert.ok(certs.some((x) => x.raw.equals(ca.der)), "the CA is in the PFX");
  assertKeyMatches(got.keyPem, new crypto.X509Certificate(leaf.der), "imported PFX");
  assert.ok(opensslVerifies(Buffer.from(c.cer), ca.pemPath), "openssl verify: leaf -> test CA");
  assert.ok(new crypto.X509Certificate(Buffer.from(c.cer)).checkIssued(new crypto.X509Certificate(ca.pem)));
  // The imported key signs: node verifies with the leaf's public key.
  const data = Buffer.from("imported");
  const sig = await new CryptographyClient(c.keyId, cred).sign("RS256", crypto.createHash("sha256").update(data).digest());
  assert.ok(crypto.verify("sha256", data, new crypto.X509Certificate(leaf.der).publicKey, sig.result));
});

test("certificates: import PEM (PKCS#8 key + chain) served back as PEM", T, async () => {
  const ca = testCa();
  const leaf = caIssued("pemleaf", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
  const pem = leaf.keyPem + leaf.pem + ca.pem;
  const name = uniqueName("cpem");
  const c = await client.importCertificate(name, Buffer.from(pem), { policy: { contentType: "application/x-pem-file" } });
  assert.deepEqual(Buffer.from(c.cer), leaf.der);
  assert.equal(c.policy.keyType, "EC");
  assert.equal(c.policy.keyCurveName, "P-384");
  assert.equal(c.policy.contentType, "application/x-pem-file");
  const s = await secrets.getSecret(name);
  assert.equal(s.properties.contentType, "application/x-pem-file");
  const certs = pemBlocks(s.value, "CERTIFICATE").map((p) => new crypto.X509Certificate(p));
  assert.equal(certs.length, 2);
  assert.ok(certs[0].raw.equals(leaf.der), "leaf first");
  assert.ok(certs[1].raw.equals(ca.der), "then the CA");
  assertKeyMatches(pemBlocks(s.value, "PRIVATE KEY")[0], certs[0], "imported PEM");
  assert.ok(opensslVerifies(leaf.der, ca.pemPath));
  // A PEM without a key is refused.
  await rejectsWith(() => client.importCertificate(uniqueName("cpem"), Buffer.from(leaf.pem), { policy: { contentType: "application/x-pem-file" } }), 400, "BadParameter");
});

test("certificates: import PEM with the CA first and preserveCertificateOrder - leaf's x5t/cer/policy, chain kept as given", T, async () => {
  // azure-kv-certificates.md §8: preserveCertOrder keeps the input order of the chain; the leaf
  // is still the certificate whose key is the private key (the fuzz seed
  // fuzz_pem/ec_chain_ca_first_preserve: x5t, policy and export used to come from the CA).
  const ca = testCa();
  const leaf = caIssued("orderleaf", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  const leafX = new crypto.X509Certificate(leaf.der);
  // PEM only: the SDK sends a PEM as text only when the policy says x-pem-file (a PFX secret of
  // such an import: certs.sh through REST, and the vault unit tests).
  for (const contentType of ["application/x-pem-file"]) {
    const name = uniqueName("corder");
    const c = await client.importCertificate(name, Buffer.from(ca.pem + leaf.pem + leaf.keyPem), {
      policy: { contentType }, preserveCertificateOrder: true,
    });
    assert.deepEqual(Buffer.from(c.cer), leaf.der, `${contentType}: cer is the leaf`);
    assert.deepEqual(Buffer.from(c.properties.x509Thumbprint), sha1(leaf.der), `${contentType}: x5t is the leaf's`);
    assert.equal(c.properties.preserveCertificateOrder, true);
    assert.equal(c.policy.subject, "CN=orderleaf.coffer.test", "the derived policy is the leaf's");
    assert.equal(c.policy.keyType, "EC");
    assert.equal(c.properties.expiresOn.getTime(), new Date(leafX.validTo).getTime(), "exp is the leaf's");
    const got = await client.getCertificate(name);
    assert.deepEqual(Buffer.from(got.properties.x509Thumbprint), sha1(leaf.der));
    // The secret lists the chain as imported (CA, then leaf); the key is the leaf's.
    const s = await secrets.getSecret(name);
    assert.equal(s.properties.contentType, contentType);
    const blocks = contentType === "application/x-pem-file"
      ? { certs: pemBlocks(s.value, "CERTIFICATE"), keyPem: pemBlocks(s.value, "PRIVATE KEY")[0] }
      : parsePfx(s.value);
    const certs = blocks.certs.map((p) => new crypto.X509Certificate(p));
    assert.equal(certs.length, 2);
    assert.ok(certs[0].raw.equals(ca.der), `${contentType}: the CA first, as imported`);
    assert.ok(certs[1].raw.equals(leaf.der), `${contentType}: then the leaf`);
    assertKeyMatches(blocks.keyPem, leafX, `${contentType} preserved-order secret`);
  }
  // Without preserveCertificateOrder the same input is stored leaf first.
  const name = uniqueName("corder");
  await client.importCertificate(name, Buffer.from(ca.pem + leaf.pem + leaf.keyPem), { policy: { contentType: "application/x-pem-file" } });
  const certs = pemBlocks((await secrets.getSecret(name)).value, "CERTIFICATE").map((p) => new crypto.X509Certificate(p));
  assert.ok(certs[0].raw.equals(leaf.der) && certs[1].raw.equals(ca.der), "leaf first by default");
});

test("certificates: Unknown issuer - CSR from the pending operation, signed by the test CA, merged", T, async () => {
  const ca = testCa();
  const name = uniqueName("cmerge");
  const poller = await client.beginCreateCertificate(name, {
    issuerName: "Unknown",
    subject: "CN=merge.coffer.test",
    subjectAlternativeNames: { dnsNames: ["merge.coffer.test"] },
    keyType: "RSA",
    keySize: 2048,
  }, POLL);
  await poller.poll();
  const op = opOf(poller);
  assert.equal(op.status, "inProgress");
  assert.equal(op.issuerName, "Unknown");
  assert.match(op.statusDetails, /Please Perform Merge/);
  assert.equal(poller.isDone(), false, "an Unknown-issuer operation waits for the merge");
  // A second create while the first is pending: 409.
  await assert.rejects(() => client.beginCreateCertificate(name, { issuerName: "Self", subject: "CN=x" }), (err) => {
    assert.equal(err.statusCode, 409, err.message);
    return true;
  });
  // The CSR of the operation names the subject; the test CA signs it.
  const csr = Buffer.from(op.csr);
  const leafDer = caSign(csr, "merge");
  fs.writeFileSync(tmp("merge.csr.der"), csr);
  assert.match(openssl(["req", "-inform", "DER", "-in", "merge.csr.der", "-noout", "-subject"]).toString(), /CN\s*=\s*merge\.coffer\.test/);
  // A certificate for another key is refused.
  const other = caIssued("otherleaf");
  await rejectsWith(() => client.mergeCertificate(name, [other.der]), 400, "BadParameter");

  const c = await client.mergeCertificate(name, [leafDer, ca.der]);
  assert.deepEqual(Buffer.from(c.cer), leafDer);
  assert.equal(c.properties.enabled, true);
  assert.ok(opensslVerifies(leafDer, ca.pemPath), "the merged leaf verifies to the test CA");
  const doneOp = opOf(await client.getCertificateOperation(name, POLL));
  assert.equal(doneOp.status, "completed");
  assert.equal(doneOp.target, `${VAULT}/certificates/${name}`);
  assert.equal((await poller.pollUntilDone()).properties.version, c.properties.version, "the create poller finishes after the merge");
  // The secret holds the CA-issued chain and the key generated by the server.
  const s = parsePfx((await secrets.getSecret(name)).value);
  const certs = s.certs.map((p) => new crypto.X509Certificate(p));
  assert.ok(certs.some((x) => x.raw.equals(leafDer)) && certs.some((x) => x.raw.equals(ca.der)), "leaf and CA in the PFX");
  assertKeyMatches(s.keyPem, new crypto.X509Certificate(leafDer), "merged");

  // Delete-operation: a second Unknown create, deleted before any merge.
  const name2 = uniqueName("cpend");
  await client.beginCreateCertificate(name2, { issuerName: "Unknown", subject: "CN=pending" }, POLL);
  const del = await client.deleteCertificateOperation(name2);
  assert.equal(del.status, "inProgress");
  await rejectsWith(() => client.deleteCertificateOperation(name2), 404, "PendingCertificateNotFound");
});

test("certificates: getCertificateOperation on a certificate that is still pending (Unknown issuer)", T, async () => {
  // The SDK's operation poller starts with GET /certificates/{name}/ and only then reads
  // /pending, so a pending certificate must be readable by name (azure-kv-certificates.md §6.1:
  // the version exists, disabled, without cer).
  const name = uniqueName("cpget");
  await client.beginCreateCertificate(name, { issuerName: "Unknown", subject: "CN=pending.coffer.test" }, POLL);
  const p = await client.getCertificateOperation(name, POLL);
  const op = opOf(p);
  assert.equal(op.status, "inProgress");
  assert.ok(op.csr?.length > 0);
  const c = await client.getCertificate(name);
  assert.equal(c.properties.enabled, false, "a pending certificate reads disabled");
  assert.equal(c.cer, undefined, "no cer before the merge");
  await client.deleteCertificateOperation(name);
});

test("certificates: includePending - a certificate still pending (Unknown issuer) is listed only when asked", T, async () => {
  // azure-kv-certificates.md §9: pending certificates are listed only with includePending=true.
  const name = uniqueName("cplist");
  await client.beginCreateCertificate(name, { issuerName: "Unknown", subject: "CN=plist.coffer.test" }, POLL);
  try {
    const plain = (await collect(client.listPropertiesOfCertificates())).map((x) => x.name);
    assert.ok(!plain.includes(name), "left out without includePending");
    const all = await collect(client.listPropertiesOfCertificates({ includePending: true }));
    const mine = all.filter((x) => x.name === name);
    assert.equal(mine.length, 1, "listed once with includePending");
    assert.equal(mine[0].enabled, false, "a pending certificate lists disabled");
    assert.equal(mine[0].x509Thumbprint, undefined, "and without a thumbprint");
    assert.ok(mine[0].createdOn instanceof Date);
    const names = all.map((x) => x.name);
    assert.deepEqual(names.filter((n) => n !== name), plain, "every issued certificate too, in the same order");
    assert.deepEqual([...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)), names, "in name order");
    // Page by page (this SDK does not send maxPageSize for certificates; certs.sh checks that
    // the nextLink of a short page keeps includePending).
    const paged = [];
    for await (const page of client.listPropertiesOfCertificates({ includePending: true }).byPage()) {
      paged.push(...page.map((x) => x.name));
    }
    assert.deepEqual(paged, names, "paged with includePending: the same list");
  } finally {
    await client.deleteCertificateOperation(name);
  }
  const after = await collect(client.listPropertiesOfCertificates({ includePending: true }));
  assert.ok(!after.some((x) => x.name === name), "the operation deleted: nothing left to list");
});

test("certificates: includePending - a pending-only certificate whose operation was cancelled is still listed, until the operation is deleted", T, async () => {
  // A cancelled create leaves the certificate "not completely provisioned" with its pending
  // object in a final status (Learn, "Monitor and manage certificate creation": get pending
  // request - status "canceled" or "failed"); includePending lists such certificates, as GET
  // reads them (disabled, no thumbprint), and Delete-operation removes them.
  const name = uniqueName("cpcan");
  const poller = await client.beginCreateCertificate(name, { issuerName: "Unknown", subject: "CN=pcancel.coffer.test" }, POLL);
  await poller.cancelOperation(); // PATCH .../pending {"cancellation_requested":true}
  assert.equal(opOf(await client.getCertificateOperation(name, POLL)).status, "cancelled");
  const plain = (await collect(client.listPropertiesOfCertificates())).map((x) => x.name);
  assert.ok(!plain.includes(name), "left out without includePending");
  const all = await collect(client.listPropertiesOfCertificates({ includePending: true }));
  const mine = all.filter((x) => x.name === name);
  assert.equal(mine.length, 1, "listed once with includePending");
  assert.equal(mine[0].enabled, false, "a cancelled pending certificate lists disabled");
  assert.equal(mine[0].x509Thumbprint, undefined, "and without a thumbprint");
  const got = await client.getCertificate(name);
  assert.equal(got.properties.enabled, false, "GET reads it the same way");
  assert.deepEqual(all.map((x) => x.name).filter((n) => n !== name).sort(), [...plain].sort(),
    "every issued certificate too");
  await client.deleteCertificateOperation(name);
  const after = await collect(client.listPropertiesOfCertificates({ includePending: true }));
  assert.ok(!after.some((x) => x.name === name), "the operation deleted: nothing left to list");
});

test("certificates: delete (poller), get/list deleted, recover (poller), purge - key and secret follow", T, async () => {
  const name = uniqueName("cdel");
  const c = await createSelf(name, { subject: "CN=del.coffer.test", keyType: "EC", keyCurveName: "P-256" });
  const d = await (await client.beginDeleteCertificate(name, POLL)).pollUntilDone();
  assert.equal(d.name, name);
  assert.equal(d.recoveryId, `${VAULT}/deletedcertificates/${name}`);
  assert.ok(d.deletedOn instanceof Date);
  assert.ok(d.scheduledPurgeDate > d.deletedOn);
  assert.deepEqual(Buffer.from(d.cer), Buffer.from(c.cer));
  await rejectsWith(() => client.getCertificate(name), 404, "CertificateNotFound");
  await rejectsWith(() => secrets.getSecret(name), 404);
  await rejectsWith(() => keys.getKey(name), 404);
  assert.equal((await keys.getDeletedKey(name)).name, name, "the key went to deletedkeys");
  assert.equal((await secrets.getDeletedSecret(name)).name, name, "the secret went to deletedsecrets");
  assert.equal((await client.getDeletedCertificate(name)).name, name);
  assert.equal((await collect(client.listDeletedCertificates())).filter((x) => x.name === name).length, 1);
  await assert.rejects(() => createSelf(name, { subject: "CN=x" }), (err) => {
    assert.equal(err.statusCode, 409, err.message);
    return true;
  });

  const r = await (await client.beginRecoverDeletedCertificate(name, POLL)).pollUntilDone();
  assert.equal(r.name, name);
  assert.equal(r.properties.version, c.properties.version);
  assert.equal((await secrets.getSecret(name)).properties.version, c.properties.version);
  assert.equal((await keys.getKey(name)).properties.version, c.properties.version);
  await rejectsWith(() => client.getDeletedCertificate(name), 404);

  await (await client.beginDeleteCertificate(name, POLL)).pollUntilDone();
  await client.purgeDeletedCertificate(name);
  await rejectsWith(() => client.getDeletedCertificate(name), 404);
  await rejectsWith(() => keys.getDeletedKey(name), 404);
  await rejectsWith(() => secrets.getDeletedSecret(name), 404);
  const again = await createSelf(name, { subject: "CN=again" });
  assert.notEqual(again.properties.version, c.properties.version);
});

test("certificates: contacts set/get/delete", T, async () => {
  const want = [
    { email: "admin@coffer.test", name: "Ada Admin", phone: "1111111111" },
    { email: "ops@coffer.test", name: "Otto Ops" },
  ];
  const set = await client.setContacts(want);
  assert.deepEqual(set.map((c) => [c.email, c.name, c.phone]), want.map((c) => [c.email, c.name, c.phone]));
  const got = await client.getContacts();
  assert.deepEqual(got.map((c) => c.email), want.map((c) => c.email));
  // deleteContacts returns what was removed; keyvault-certificates 4.10 reads it from a
  // "contactList" member of the raw body (the wire's is "contacts"), so it resolves to [].
  const del = await client.deleteContacts();
  if (del.length) assert.deepEqual(del.map((c) => c.email), want.map((c) => c.email), "delete returns what was removed");
  const after = await client.getContacts();
  assert.ok(after === undefined || after.length === 0, `no contacts after delete (${JSON.stringify(after)})`);
  await rejectsWith(() => client.setContacts([{ name: "no email" }]), 400, "BadParameter");
});

test("certificates: issuers create/get/update/list/delete; the password never comes back", T, async () => {
  const name = uniqueName("iss");
  const created = await client.createIssuer(name, "Test", {
    accountId: "keyvaultuser",
    password: "issuer-password-never-echoed",
    administratorContacts: [{ firstName: "John", lastName: "Doe", email: "admin@coffer.test", phone: "4255555555" }],
    enabled: true,
  });
  // keyvault-certificates 4.10 names an issuer after the id's second segment ("issuers"): take
  // the name from the id's last segment.
  assert.equal(created.id.split("/").pop(), name);
  assert.equal(created.id, `${VAULT}/certificates/issuers/${name}`);
  assert.equal(created.provider, "Test");
  assert.equal(created.accountId, "keyvaultuser");
  assert.equal(created.password, undefined, "pwd is not echoed");
  assert.equal(created.enabled, true);
  assert.equal(created.administratorContacts?.[0]?.email, "admin@coffer.test");
  const g = await client.getIssuer(name);
  assert.equal(g.provider, "Test");
  assert.equal(g.administratorContacts?.[0]?.lastName, "Doe");
  assert.equal(g.password, undefined);
  // keyvault-certificates 4.10's updateIssuer sends attributes only when enabled is truthy, so
  // it cannot disable an issuer; provider and credentials are what it can change.
  const u = await client.updateIssuer(name, { accountId: "other-user", provider: "Test2" });
  assert.equal(u.accountId, "other-user");
  assert.equal(u.provider, "Test2");
  assert.equal(u.enabled, true, "update merges: enabled kept");
  assert.equal(u.administratorContacts?.[0]?.email, "admin@coffer.test", "update merges: contacts kept");
  // keyvault-certificates 4.10.x lists issuers without a name: take it from the id.
  const listed = (await collect(client.listPropertiesOfIssuers())).filter((i) => i.id.split("/").pop() === name);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].provider, "Test2");
  const d = await client.deleteIssuer(name);
  assert.equal(d.provider, "Test2");
  await rejectsWith(() => client.getIssuer(name), 404);
  await rejectsWith(() => client.createIssuer("Self", "Test"), 400, "BadParameter");
});

test("certificates: backup and restore (every version, the key and the secret)", T, async () => {
  const name = uniqueName("cbak");
  const c1 = await createSelf(name, { subject: "CN=bak1", keyType: "EC", keyCurveName: "P-256" });
  const c2 = await createSelf(name, { subject: "CN=bak2", keyType: "EC", keyCurveName: "P-256" });
  const blob = await client.backupCertificate(name);
  assert.ok(blob instanceof Uint8Array && blob.length > 0);
  await rejectsWith(() => client.restoreCertificateBackup(blob), 409, "Conflict");
  await (await client.beginDeleteCertificate(name, POLL)).pollUntilDone();
  await client.purgeDeletedCertificate(name);
  const r = await client.restoreCertificateBackup(blob);
  assert.equal(r.name, name);
  assert.equal(r.properties.version, c2.properties.version);
  const versions = (await collect(client.listPropertiesOfCertificateVersions(name))).map((p) => p.version).sort();
  assert.deepEqual(versions, [c1.properties.version, c2.properties.version].sort());
  const s = await secrets.getSecret(name);
  assertKeyMatches(pemBlocks(s.value, "PRIVATE KEY")[0] ?? parsePfx(s.value).keyPem, new crypto.X509Certificate(Buffer.from(c2.cer)), "restored");
});

test("certificates: the managed key and secret refuse direct writes (403)", T, async () => {
  const name = uniqueName("cman");
  const c = await createSelf(name, { subject: "CN=managed", keyType: "EC", keyCurveName: "P-256" });
  const attempts = [
    ["set secret", () => secrets.setSecret(name, "overwrite")],
    ["update secret properties", () => secrets.updateSecretProperties(name, c.properties.version, { enabled: false })],
    ["delete secret", async () => (await secrets.beginDeleteSecret(name, POLL)).pollUntilDone()],
    ["update key properties", () => keys.updateKeyProperties(name, c.properties.version, { enabled: false })],
    ["delete key", async () => (await keys.beginDeleteKey(name, POLL)).pollUntilDone()],
  ];
  for (const [what, fn] of attempts) {
    await assert.rejects(fn, (err) => {
      assert.equal(err.statusCode, 403, `${what}: ${err.statusCode} ${err.message}`);
      assert.equal(err.code, "Forbidden", `${what}: ${err.code}`);
      return true;
    }, what);
  }
  // Untouched: the certificate's secret still serves its key, the key still signs.
  assert.equal((await secrets.getSecret(name)).properties.version, c.properties.version);
  assert.equal((await keys.getKey(name)).properties.enabled, true);
});

test("certificates: auto-renewal - the janitor adds a Self-signed version with a fresh key", { timeout: 150_000 }, async () => {
  assert.ok(renewFirst, "armed by the first test");
  const deadline = Date.now() + 130_000;
  let versions = [];
  while (Date.now() < deadline) {
    versions = await collect(client.listPropertiesOfCertificateVersions(renewName));
    if (versions.length > 1) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.equal(versions.length, 2, "one renewal within the janitor's period");
  const latest = await client.getCertificate(renewName);
  assert.notEqual(latest.properties.version, renewFirst.properties.version);
  const x = new crypto.X509Certificate(Buffer.from(latest.cer));
  const old = new crypto.X509Certificate(Buffer.from(renewFirst.cer));
  assert.equal(x.subject, x.issuer, "the renewal is Self-signed");
  assert.match(x.subject, /CN=short\.coffer\.test/);
  assert.notDeepEqual(spki(x.publicKey), spki(old.publicKey), "a fresh key (reuse_key false)");
  const days = (new Date(x.validTo) - Date.now()) / 86400_000;
  assert.ok(days > 27 && days < 32, `valid for the policy's one month (${days} days left)`);
  const s = await secrets.getSecret(renewName);
  assert.equal(s.properties.version, latest.properties.version, "the secret follows the renewal");
  assertKeyMatches(pemBlocks(s.value, "PRIVATE KEY")[0], x, "renewed");
});
