// Secret values: unicode, JSON-looking and multi-line text, the 25600-character limit.
import test from "node:test";
import assert from "node:assert/strict";
import { secretClient, uniqueName, rejectsWith, collect } from "./helpers.mjs";

const client = secretClient();
const T = { timeout: 60_000 };

test("unicode value round-trips byte for byte", T, async () => {
  const name = uniqueName("uni");
  const value = "héllo wörld ✓ 日本語 Ελληνικά русский 🚀🔐 \u2028 \"quoted\" \\ back";
  const s = await client.setSecret(name, value);
  assert.equal(s.value, value);
  assert.equal((await client.getSecret(name)).value, value);
});

test("multi-line, JSON-looking and whitespace values round-trip", T, async () => {
  for (const value of [
    "line1\nline2\r\nline3\ttab",
    '{"value":"nested","attributes":{"enabled":false}}',
    "   leading and trailing spaces   ",
    "a",
  ]) {
    const name = uniqueName("txt");
    await client.setSecret(name, value);
    assert.equal((await client.getSecret(name)).value, value);
  }
});

test("25600-character value (the limit) is stored and read back", T, async () => {
  const name = uniqueName("big");
  const value = "0123456789abcdef".repeat(1600); // 25600 chars
  assert.equal(value.length, 25600);
  const s = await client.setSecret(name, value);
  assert.equal(s.value.length, 25600);
  const g = await client.getSecret(name);
  assert.equal(g.value, value);
});

test("25 KB of multi-byte text (under 25600 characters) round-trips", T, async () => {
  const name = uniqueName("bigu");
  const value = "é日🚀x".repeat(5000); // 20000 UTF-16 code units, ~45 KB of UTF-8
  await client.setSecret(name, value);
  assert.equal((await client.getSecret(name)).value, value);
});

test("25601-character value is rejected with 400 BadParameter and nothing is stored", T, async () => {
  const name = uniqueName("toobig");
  const value = "x".repeat(25601);
  await rejectsWith(() => client.setSecret(name, value), 400, "BadParameter");
  await rejectsWith(() => client.getSecret(name), 404, "SecretNotFound");
  const listed = (await collect(client.listPropertiesOfSecrets())).filter((p) => p.name === name);
  assert.equal(listed.length, 0);
});

test("invalid names are rejected with 400 BadParameter", T, async () => {
  await rejectsWith(() => client.setSecret("a_b", "x"), 400, "BadParameter");
  await rejectsWith(() => client.setSecret("x".repeat(128), "x"), 400, "BadParameter");
  const ok = "y".repeat(127);
  await client.setSecret(ok, "max-length name");
  assert.equal((await client.getSecret(ok)).value, "max-length name");
});
