// Paging past the 25-item default: 60 secrets in a vault of their own, listed with the
// default page size and with byPage({maxPageSize: 10}); every name exactly once.
import test from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { secretClient, createVault, collect, rejectsWith } from "./helpers.mjs";

const T = { timeout: 120_000 };
const N = 60;
// A fresh vault so that other test files running against the same server cannot change the
// counts (and so that this also checks paging on a vault created through management).
const vaultName = `pg${crypto.randomBytes(5).toString("hex")}`;
let client;
let names;

test.before(async () => {
  client = secretClient(await createVault(vaultName));
  names = Array.from({ length: N }, (_, i) => `page-${String(i).padStart(2, "0")}`);
  // One request first: @azure/keyvault-common's challenge policy keeps one "started" state per
  // client, and when several first requests race, the one sent bodyless can get its 401
  // answered after another's has completed the state - it is then retried without its body
  // (keyvault-common 2.1.0, keyVaultAuthenticationPolicy.js handleChallenge). An SDK race,
  // not a server one: real Key Vault answers that empty PUT with 400 as well.
  await client.setSecret(names[0], `value-${names[0]}`);
  for (let i = 1; i < N; i += 10) {
    await Promise.all(names.slice(i, i + 10).map((n) => client.setSecret(n, `value-${n}`)));
  }
});

function countNames(list) {
  const counts = new Map();
  for (const n of list) counts.set(n, (counts.get(n) ?? 0) + 1);
  return counts;
}

test("listPropertiesOfSecrets returns all 60 exactly once (default paging, > 25)", T, async () => {
  const listed = (await collect(client.listPropertiesOfSecrets())).map((p) => p.name);
  assert.equal(listed.length, N, `listed ${listed.length} items`);
  const counts = countNames(listed);
  for (const n of names) assert.equal(counts.get(n), 1, `${n} listed once`);
});

test("byPage() default pages hold at most 25 items and there are at least 3 pages", T, async () => {
  const pages = [];
  for await (const page of client.listPropertiesOfSecrets().byPage()) pages.push(page.length);
  assert.ok(pages.length >= 3, `pages: ${JSON.stringify(pages)}`);
  for (const len of pages) assert.ok(len <= 25, `page of ${len} items`);
  assert.equal(pages.reduce((a, b) => a + b, 0), N);
});

test("byPage({maxPageSize: 10}): pages of at most 10, every name exactly once", T, async () => {
  const pages = [];
  const all = [];
  for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 10 })) {
    pages.push(page.length);
    for (const p of page) all.push(p.name);
  }
  for (const len of pages) assert.ok(len <= 10, `page of ${len} items: ${JSON.stringify(pages)}`);
  assert.ok(pages.length >= 6, `pages: ${JSON.stringify(pages)}`);
  assert.equal(all.length, N);
  const counts = countNames(all);
  for (const n of names) assert.equal(counts.get(n), 1, `${n} listed once`);
});

test("listPropertiesOfSecretVersions pages past 25 versions", T, async () => {
  const name = "many-versions";
  const versions = new Set();
  for (let i = 0; i < 30; i += 10) {
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, j) => client.setSecret(name, `v${i + j}`)),
    );
    for (const s of made) versions.add(s.properties.version);
  }
  assert.equal(versions.size, 30);
  const listed = (await collect(client.listPropertiesOfSecretVersions(name))).map((p) => p.version);
  assert.equal(listed.length, 30);
  assert.deepEqual(new Set(listed), versions);
  const paged = [];
  for await (const page of client.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: 7 })) {
    assert.ok(page.length <= 7, `page of ${page.length}`);
    for (const p of page) paged.push(p.version);
  }
  assert.equal(paged.length, 30);
  assert.deepEqual(new Set(paged), versions);
  // Leave the listing test above stable if it runs again: remove this name.
  await (await client.beginDeleteSecret(name)).pollUntilDone();
  await client.purgeDeletedSecret(name);
});

test("listDeletedSecrets pages past 25 (30 deleted secrets)", T, async () => {
  const del = names.slice(0, 30);
  for (let i = 0; i < del.length; i += 10) {
    await Promise.all(
      del.slice(i, i + 10).map(async (n) => (await client.beginDeleteSecret(n)).pollUntilDone()),
    );
  }
  const listed = (await collect(client.listDeletedSecrets())).map((d) => d.name);
  assert.equal(listed.length, 30);
  const counts = countNames(listed);
  for (const n of del) assert.equal(counts.get(n), 1, `${n} listed once among deleted`);
  const pages = [];
  for await (const page of client.listDeletedSecrets().byPage({ maxPageSize: 10 })) pages.push(page.length);
  for (const len of pages) assert.ok(len <= 10, `deleted page of ${len}`);
  assert.equal(pages.reduce((a, b) => a + b, 0), 30);
  const live = (await collect(client.listPropertiesOfSecrets())).map((p) => p.name);
  assert.equal(live.length, N - 30);
  await rejectsWith(() => client.getSecret(del[0]), 404, "SecretNotFound");
});
