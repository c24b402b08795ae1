// Two vaults on one server: isolation, and backup in vault A / restore into vault B (created
// through the management API).
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
  credential, secretClient, createVault, uniqueName, rejectsWith, collect, env, secondsEqual,
} from "./helpers.mjs";

const T = { timeout: 60_000 };
const cred = credential();
const a = secretClient(env("COFFER_VAULT_URL"), cred);
let b;
let bUrl;

test.before(async () => {
  bUrl = await createVault(`vb${crypto.randomBytes(5).toString("hex")}`, cred);
  b = secretClient(bUrl, cred);
});

test("two vaults are isolated", T, async () => {
  const name = uniqueName("iso");
  await a.setSecret(name, "in-A");
  await rejectsWith(() => b.getSecret(name), 404, "SecretNotFound");
  const inB = (await collect(b.listPropertiesOfSecrets())).filter((p) => p.name === name);
  assert.equal(inB.length, 0, "not listed in B");
  await b.setSecret(name, "in-B");
  assert.equal((await a.getSecret(name)).value, "in-A");
  assert.equal((await b.getSecret(name)).value, "in-B");
  const bs = await b.getSecret(name);
  assert.equal(bs.properties.vaultUrl, bUrl);
  assert.equal((await collect(a.listPropertiesOfSecretVersions(name))).length, 1);
  // Deleting in B leaves A alone.
  await (await b.beginDeleteSecret(name)).pollUntilDone();
  assert.equal((await a.getSecret(name)).value, "in-A");
  await rejectsWith(() => a.getDeletedSecret(name), 404, "SecretNotFound");
  const del = (await collect(a.listDeletedSecrets())).filter((d) => d.name === name);
  assert.equal(del.length, 0);
});

test("a version id of vault A is unknown in vault B", T, async () => {
  const name = uniqueName("isov");
  const sa = await a.setSecret(name, "A1");
  await b.setSecret(name, "B1");
  await rejectsWith(() => b.getSecret(name, { version: sa.properties.version }), 404, "SecretNotFound");
});

test("backupSecret in A, restoreSecretBackup into B keeps versions, tags, attributes", T, async () => {
  const name = uniqueName("bak");
  const v1 = await a.setSecret(name, "backup-v1");
  const exp = new Date(Date.UTC(2037, 1, 2)); // < 2038: JS sends (ms / 1000) | 0
  const v2 = await a.setSecret(name, "backup-v2", { tags: { k: "v" }, expiresOn: exp });
  await a.updateSecretProperties(name, v2.properties.version, { contentType: "application/x-test" });
  const blob = await a.backupSecret(name);
  assert.ok(blob instanceof Uint8Array && blob.length > 0, "backup blob is non-empty bytes");
  const text = Buffer.from(blob).toString("latin1");
  assert.ok(!text.includes("backup-v1") && !text.includes("backup-v2"), "blob is not plaintext");

  const restored = await b.restoreSecretBackup(blob);
  assert.equal(restored.name, name);
  assert.equal(restored.version, v2.properties.version);
  assert.equal(restored.vaultUrl, bUrl);
  const g = await b.getSecret(name);
  assert.equal(g.value, "backup-v2");
  assert.equal(g.properties.version, v2.properties.version);
  assert.deepEqual(g.properties.tags, { k: "v" });
  assert.equal(g.properties.contentType, "application/x-test");
  secondsEqual(g.properties.expiresOn, exp, "expiresOn restored");
  assert.equal((await b.getSecret(name, { version: v1.properties.version })).value, "backup-v1");
  const versions = (await collect(b.listPropertiesOfSecretVersions(name))).map((p) => p.version);
  assert.deepEqual(versions.sort(), [v1.properties.version, v2.properties.version].sort());

  // Restoring over an existing name is a conflict (409), in A (still live) and in B.
  await rejectsWith(() => a.restoreSecretBackup(blob), 409);
  await rejectsWith(() => b.restoreSecretBackup(blob), 409);

  // Restore after delete + purge in A brings it back there too.
  await (await a.beginDeleteSecret(name)).pollUntilDone();
  await a.purgeDeletedSecret(name);
  await rejectsWith(() => a.getSecret(name), 404, "SecretNotFound");
  await a.restoreSecretBackup(blob);
  assert.equal((await a.getSecret(name)).value, "backup-v2");
});

test("a garbage backup blob is rejected with 400", T, async () => {
  await rejectsWith(
    () => b.restoreSecretBackup(new Uint8Array(crypto.randomBytes(200))),
    400,
  );
});
