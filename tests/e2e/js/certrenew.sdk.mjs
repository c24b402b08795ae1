// Minute-scale certificate auto-renewal through @azure/keyvault-certificates (issue 13): run by
// suites/certs.sh against its own cofferd --dev with dev_month_seconds=COFFER_E2E_MONTH_S (a
// test-only policy month in seconds) and janitor_interval_s=COFFER_E2E_JANITOR_S. Not a
// *.test.mjs file: js.sh's server has real months.
//
// A Self certificate of validity 1 "month" with AutoRenew at 50 % of its life gets a new version
// from the janitor about half a month after it was issued (never before), with a fresh key and a
// full month of validity, and the certificate's secret and key follow; the new version renews in
// turn.
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { credential, secretClient, uniqueName, collect, env } from "./helpers.mjs";

const cred = credential();
const VAULT = env("COFFER_VAULT_URL");
const MONTH = Number(env("COFFER_E2E_MONTH_S"));
const JANITOR = Number(env("COFFER_E2E_JANITOR_S"));
const client = new CertificateClient(VAULT, cred);
const keys = new KeyClient(VAULT, cred);
const secrets = secretClient(VAULT, cred);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (d) => d.getTime() / 1000;
const spki = (x) => x.publicKey.export({ type: "spki", format: "der" });

// Waits until the certificate has n versions; returns them (oldest first by notBefore).
async function versionsAtLeast(name, n, deadlineMs) {
  for (;;) {
    const v = await collect(client.listPropertiesOfCertificateVersions(name));
    if (v.length >= n) return v.sort((a, b) => a.notBefore - b.notBefore);
    assert.ok(Date.now() < deadlineMs, `${n} versions in time (have ${v.length})`);
    await sleep(250);
  }
}

test(`auto-renewal in seconds: validity 1 month (= ${MONTH} s), AutoRenew at 50 %, janitor every ${JANITOR} s`, { timeout: 90_000 }, async () => {
  assert.ok(MONTH >= 10 && MONTH <= 120 && JANITOR >= 1, "a short month and janitor");
  const name = uniqueName("cminute");
  const poller = await client.beginCreateCertificate(name, {
    issuerName: "Self",
    subject: "CN=minute.coffer.test",
    keyType: "EC",
    keyCurveName: "P-256",
    validityInMonths: 1,
    lifetimeActions: [{ action: "AutoRenew", lifetimePercentage: 50 }],
  }, { intervalInMs: 100 });
  const first = await poller.pollUntilDone();
  const nbf1 = secs(first.properties.notBefore), exp1 = secs(first.properties.expiresOn);
  assert.equal(exp1 - nbf1, MONTH, "validity is one test month");
  const x1 = new crypto.X509Certificate(Buffer.from(first.cer));
  assert.equal(Math.round(secs(new Date(x1.validTo)) - secs(new Date(x1.validFrom))), MONTH, "the X.509 validity too");
  const p = await client.getCertificatePolicy(name);
  assert.deepEqual(p.lifetimeActions.map((a) => [a.action, a.lifetimePercentage]), [["AutoRenew", 50]]);

  // Not before half its life; then within a janitor period (plus slack for a busy machine).
  const half = nbf1 + MONTH / 2;
  const vs = await versionsAtLeast(name, 2, (half + 3 * JANITOR + 15) * 1000);
  assert.equal(vs.length, 2, "one renewal, not a loop");
  const nbf2 = secs(vs[1].notBefore), exp2 = secs(vs[1].expiresOn);
  assert.ok(nbf2 >= half, `renewed at half its life or later (nbf ${nbf2} >= ${half})`);
  assert.ok(nbf2 <= half + 2 * JANITOR + 10, `renewed soon after it was due (nbf ${nbf2}, due ${half})`);
  assert.equal(exp2 - nbf2, MONTH, "the new version has a full month");
  assert.ok(exp2 > exp1, "fresh validity: it outlives the first version");

  const latest = await client.getCertificate(name);
  assert.equal(latest.properties.version, vs[1].version, "the renewal is the latest version");
  assert.notEqual(latest.properties.version, first.properties.version);
  const x2 = new crypto.X509Certificate(Buffer.from(latest.cer));
  assert.equal(x2.subject, x1.subject);
  assert.equal(x2.subject, x2.issuer, "Self-signed");
  assert.ok(!spki(x2).equals(spki(x1)), "a fresh key (reuse_key false)");
  // The certificate's secret and key follow the new version.
  const s = await secrets.getSecret(name);
  assert.equal(s.properties.version, latest.properties.version, "the secret follows");
  const k = await keys.getKey(name);
  assert.equal(k.properties.version, latest.properties.version, "the key follows");
  // The old version is still there, unchanged.
  const old = await client.getCertificateVersion(name, first.properties.version);
  assert.deepEqual(Buffer.from(old.cer), Buffer.from(first.cer));

  // And the renewal renews in turn, at half of its own life.
  const vs3 = await versionsAtLeast(name, 3, (nbf2 + MONTH / 2 + 3 * JANITOR + 15) * 1000);
  assert.ok(secs(vs3[2].notBefore) >= nbf2 + MONTH / 2, "the second renewal waited for half the new life");
});
