// Core secret lifecycle through SecretClient: set, get (latest and by version), versions,
// update of every mutable property, disabled/unknown errors, delete/recover/purge pollers.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { secretClient, uniqueName, HEX32, rejectsWith, collect, secondsEqual, env } from "./helpers.mjs";

const client = secretClient();
const T = { timeout: 60_000 };

// The package version this runtime resolved: one walk up from the entry point.
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

test("the SDK generation matches the Node runtime", () => {
  const major = Number(process.versions.node.split(".")[0]);
  const kv = resolvedVersion("@azure/keyvault-secrets");
  const id = resolvedVersion("@azure/identity");
  console.log(`node ${process.versions.node}, keyvault-secrets ${kv}, identity ${id}`);
  if (major >= 22) {
    assert.match(kv, /^4\.12\./);
    assert.match(id, /^4\.14\./);
  } else {
    assert.match(kv, /^4\.11\./);
    assert.match(id, /^4\.13\./);
  }
});

test("set creates a new 32-hex version each time; get latest and by version", T, async () => {
  const name = uniqueName("core");
  const a = await client.setSecret(name, "value-one");
  assert.equal(a.value, "value-one");
  assert.equal(a.name, name);
  assert.match(a.properties.version, HEX32);
  assert.equal(a.properties.enabled, true);
  assert.equal(a.properties.vaultUrl, env("COFFER_VAULT_URL"));
  assert.equal(a.properties.id, `${env("COFFER_VAULT_URL")}/secrets/${name}/${a.properties.version}`);
  assert.ok(a.properties.createdOn instanceof Date, "createdOn is set");
  assert.ok(Math.abs(a.properties.createdOn.getTime() - Date.now()) < 120_000, "createdOn is now");
  assert.equal(a.properties.recoveryLevel, "Recoverable+Purgeable");

  const b = await client.setSecret(name, "value-two");
  assert.match(b.properties.version, HEX32);
  assert.notEqual(b.properties.version, a.properties.version);
  const c = await client.setSecret(name, "value-two"); // identical value: still a new version
  assert.notEqual(c.properties.version, b.properties.version);

  const latest = await client.getSecret(name);
  assert.equal(latest.value, "value-two");
  assert.equal(latest.properties.version, c.properties.version);

  const first = await client.getSecret(name, { version: a.properties.version });
  assert.equal(first.value, "value-one");
  assert.equal(first.properties.version, a.properties.version);
  const second = await client.getSecret(name, { version: b.properties.version });
  assert.equal(second.value, "value-two");
});

test("listPropertiesOfSecretVersions lists every version exactly once, without values", T, async () => {
  const name = uniqueName("vers");
  const versions = [];
  for (let i = 0; i < 4; i++) versions.push((await client.setSecret(name, `v${i}`)).properties.version);
  const listed = await collect(client.listPropertiesOfSecretVersions(name));
  assert.deepEqual(listed.map((p) => p.version).sort(), [...versions].sort());
  for (const p of listed) {
    assert.equal(p.name, name);
    assert.equal(p.value, undefined);
    assert.equal(p.enabled, true);
  }
  // Versions of another name are not mixed in.
  const other = uniqueName("other");
  await client.setSecret(other, "o");
  const listed2 = await collect(client.listPropertiesOfSecretVersions(name));
  assert.equal(listed2.length, 4);
});

test("listPropertiesOfSecrets shows a new secret once, no value, latest metadata", T, async () => {
  const name = uniqueName("lst");
  await client.setSecret(name, "x1");
  await client.setSecret(name, "x2", { tags: { gen: "2" } });
  const mine = (await collect(client.listPropertiesOfSecrets())).filter((p) => p.name === name);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].value, undefined);
  assert.equal(mine[0].version, undefined, "list items carry the base id (no version)");
  assert.deepEqual(mine[0].tags, { gen: "2" });
});

test("set with attributes and tags round-trips them", T, async () => {
  const name = uniqueName("attr");
  const nbf = new Date(Date.now() - 3600_000);
  const exp = new Date(Date.now() + 86400_000);
  const s = await client.setSecret(name, "with-attrs", {
    notBefore: nbf,
    expiresOn: exp,
    tags: { env: "e2e", owner: "coffer" },
  });
  secondsEqual(s.properties.notBefore, nbf, "notBefore on set");
  secondsEqual(s.properties.expiresOn, exp, "expiresOn on set");
  const g = await client.getSecret(name);
  assert.equal(g.value, "with-attrs");
  secondsEqual(g.properties.notBefore, nbf, "notBefore on get");
  secondsEqual(g.properties.expiresOn, exp, "expiresOn on get");
  assert.deepEqual(g.properties.tags, { env: "e2e", owner: "coffer" });
});

test("updateSecretProperties: contentType, tags, expiresOn, notBefore, enabled", T, async () => {
  const name = uniqueName("upd");
  const v1 = await client.setSecret(name, "first");
  const v2 = await client.setSecret(name, "second");
  // Before 2038: the JS SDK serialises dates as (ms / 1000) | 0 (int32).
  const exp = new Date(Date.UTC(2037, 0, 1));
  const nbf = new Date(Date.UTC(2020, 5, 1));
  const u = await client.updateSecretProperties(name, v2.properties.version, {
    contentType: "text/plain",
    tags: { a: "1", b: "two" },
    expiresOn: exp,
    notBefore: nbf,
  });
  assert.equal(u.version, v2.properties.version);
  assert.equal(u.contentType, "text/plain");
  assert.deepEqual(u.tags, { a: "1", b: "two" });
  secondsEqual(u.expiresOn, exp, "expiresOn after update");
  secondsEqual(u.notBefore, nbf, "notBefore after update");
  assert.equal(u.enabled, true);

  const g = await client.getSecret(name);
  assert.equal(g.value, "second", "update does not change the value");
  assert.equal(g.properties.contentType, "text/plain");
  assert.deepEqual(g.properties.tags, { a: "1", b: "two" });
  secondsEqual(g.properties.expiresOn, exp, "expiresOn read back");

  // Only the addressed version changed.
  const old = await client.getSecret(name, { version: v1.properties.version });
  assert.equal(old.properties.contentType, undefined);
  assert.equal(old.properties.expiresOn, undefined);

  // Omitted fields stay unchanged; a supplied tags map replaces the old one.
  const u2 = await client.updateSecretProperties(name, v2.properties.version, { tags: { c: "3" } });
  assert.equal(u2.contentType, "text/plain");
  assert.deepEqual(u2.tags, { c: "3" });
  secondsEqual(u2.expiresOn, exp, "expiresOn kept");
});

test("disabled secret: get -> 403 Forbidden; re-enabled -> 200; older version still readable", T, async () => {
  const name = uniqueName("dis");
  const v1 = await client.setSecret(name, "old");
  const v2 = await client.setSecret(name, "new");
  const u = await client.updateSecretProperties(name, v2.properties.version, { enabled: false });
  assert.equal(u.enabled, false);
  await rejectsWith(() => client.getSecret(name), 403, "Forbidden");
  await rejectsWith(() => client.getSecret(name, { version: v2.properties.version }), 403, "Forbidden");
  const old = await client.getSecret(name, { version: v1.properties.version });
  assert.equal(old.value, "old");
  // Disabled secrets are still listed.
  const listed = (await collect(client.listPropertiesOfSecrets())).filter((p) => p.name === name);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].enabled, false);
  await client.updateSecretProperties(name, v2.properties.version, { enabled: true });
  assert.equal((await client.getSecret(name)).value, "new");

  // Created disabled.
  const d = uniqueName("dis2");
  const s = await client.setSecret(d, "never-read", { enabled: false });
  assert.equal(s.properties.enabled, false);
  await rejectsWith(() => client.getSecret(d), 403, "Forbidden");
});

test("unknown secret -> 404 SecretNotFound (get, get by version, update, delete, backup)", T, async () => {
  const name = uniqueName("missing");
  await rejectsWith(() => client.getSecret(name), 404, "SecretNotFound");
  await rejectsWith(
    () => client.getSecret(name, { version: "0123456789abcdef0123456789abcdef" }),
    404,
    "SecretNotFound",
  );
  const exists = uniqueName("exists");
  await client.setSecret(exists, "x");
  await rejectsWith(
    () => client.getSecret(exists, { version: "0123456789abcdef0123456789abcdef" }),
    404,
    "SecretNotFound",
  );
  await rejectsWith(
    () => client.updateSecretProperties(name, "0123456789abcdef0123456789abcdef", { enabled: false }),
    404,
    "SecretNotFound",
  );
  await rejectsWith(() => client.backupSecret(name), 404, "SecretNotFound");
  await rejectsWith(() => client.getDeletedSecret(name), 404, "SecretNotFound");
  await rejectsWith(() => client.purgeDeletedSecret(name), 404, "SecretNotFound");
  await rejectsWith(async () => {
    const p = await client.beginDeleteSecret(name);
    await p.pollUntilDone();
  }, 404, "SecretNotFound");
});

test("delete (poller), get deleted, list deleted, recover (poller), purge", T, async () => {
  const name = uniqueName("del");
  const v1 = await client.setSecret(name, "keep-me-1");
  const v2 = await client.setSecret(name, "keep-me-2", { tags: { t: "x" } });

  const poller = await client.beginDeleteSecret(name);
  const deleted = await poller.pollUntilDone();
  assert.equal(deleted.name, name);
  assert.equal(deleted.value, undefined, "a deleted bundle carries no value");
  assert.equal(deleted.properties.version, v2.properties.version);
  assert.equal(deleted.recoveryId, `${env("COFFER_VAULT_URL")}/deletedsecrets/${name}`);
  assert.ok(deleted.deletedOn instanceof Date, "deletedOn");
  assert.ok(deleted.scheduledPurgeDate instanceof Date, "scheduledPurgeDate");
  const days = (deleted.scheduledPurgeDate - deleted.deletedOn) / 86400_000;
  assert.equal(Math.round(days), 90);

  await rejectsWith(() => client.getSecret(name), 404, "SecretNotFound");
  await rejectsWith(() => client.getSecret(name, { version: v1.properties.version }), 404, "SecretNotFound");
  const live = (await collect(client.listPropertiesOfSecrets())).filter((p) => p.name === name);
  assert.equal(live.length, 0, "a deleted secret is not listed");

  const gd = await client.getDeletedSecret(name);
  assert.equal(gd.name, name);
  assert.equal(gd.recoveryId, deleted.recoveryId);
  assert.equal(gd.value, undefined);

  const dl = (await collect(client.listDeletedSecrets())).filter((d) => d.name === name);
  assert.equal(dl.length, 1, "listed once among deleted secrets");
  assert.equal(dl[0].recoveryId, deleted.recoveryId);

  // Set on a soft-deleted name: 409 Conflict.
  await rejectsWith(() => client.setSecret(name, "reuse"), 409, "Conflict");

  const rp = await client.beginRecoverDeletedSecret(name);
  const recovered = await rp.pollUntilDone();
  assert.equal(recovered.name, name);
  const g = await client.getSecret(name);
  assert.equal(g.value, "keep-me-2");
  assert.equal(g.properties.version, v2.properties.version, "recover keeps version ids");
  assert.deepEqual(g.properties.tags, { t: "x" });
  assert.equal((await client.getSecret(name, { version: v1.properties.version })).value, "keep-me-1");
  await rejectsWith(() => client.getDeletedSecret(name), 404, "SecretNotFound");

  // Delete again and purge: the name is free afterwards.
  await (await client.beginDeleteSecret(name)).pollUntilDone();
  await client.purgeDeletedSecret(name);
  await rejectsWith(() => client.getDeletedSecret(name), 404, "SecretNotFound");
  const dl2 = (await collect(client.listDeletedSecrets())).filter((d) => d.name === name);
  assert.equal(dl2.length, 0);
  const fresh = await client.setSecret(name, "new-life");
  assert.notEqual(fresh.properties.version, v2.properties.version);
  const versions = await collect(client.listPropertiesOfSecretVersions(name));
  assert.equal(versions.length, 1, "purge removed every old version");
});

test("names are case-insensitive", T, async () => {
  const name = `MixedCase-${uniqueName("N")}`;
  const s = await client.setSecret(name, "case-value");
  const g = await client.getSecret(name.toLowerCase());
  assert.equal(g.value, "case-value");
  assert.equal(g.properties.version, s.properties.version);
  const g2 = await client.getSecret(name.toUpperCase());
  assert.equal(g2.value, "case-value");
  // A set with another casing adds a version to the same secret.
  await client.setSecret(name.toUpperCase(), "case-value-2");
  const versions = await collect(client.listPropertiesOfSecretVersions(name));
  assert.equal(versions.length, 2);
  const listed = (await collect(client.listPropertiesOfSecrets())).filter(
    (p) => p.name.toLowerCase() === name.toLowerCase(),
  );
  assert.equal(listed.length, 1);
});
