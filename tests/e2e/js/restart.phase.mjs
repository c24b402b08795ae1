// Restart round, run twice by suites/js.sh around a cofferd restart on the same data dir and
// port: COFFER_E2E_PHASE=before writes, =after reads back with the credentials of the first
// run (a fresh credential object, so a new token is issued by the restarted server).
import test from "node:test";
import assert from "node:assert/strict";
import { secretClient, env, collect, rejectsWith } from "./helpers.mjs";

const phase = env("COFFER_E2E_PHASE");
const name = env("COFFER_E2E_RESTART_NAME");
const client = secretClient();
const T = { timeout: 60_000 };

if (phase === "before") {
  test("before restart: write two versions, a disabled one and a deleted one", T, async () => {
    await client.setSecret(name, "survives-1");
    await client.setSecret(name, "survives-2 ✓", { tags: { phase: "before" } });
    const d = await client.setSecret(`${name}-off`, "off");
    await client.updateSecretProperties(`${name}-off`, d.properties.version, { enabled: false });
    await client.setSecret(`${name}-gone`, "gone");
    await (await client.beginDeleteSecret(`${name}-gone`)).pollUntilDone();
  });
} else {
  test("after restart: same data readable with the same credentials", T, async () => {
    const g = await client.getSecret(name);
    assert.equal(g.value, "survives-2 ✓");
    assert.deepEqual(g.properties.tags, { phase: "before" });
    const versions = await collect(client.listPropertiesOfSecretVersions(name));
    assert.equal(versions.length, 2);
    const values = await Promise.all(
      versions.map(async (v) => (await client.getSecret(name, { version: v.version })).value),
    );
    assert.deepEqual(values.sort(), ["survives-1", "survives-2 ✓"]);
    await rejectsWith(() => client.getSecret(`${name}-off`), 403, "Forbidden");
    await rejectsWith(() => client.getSecret(`${name}-gone`), 404, "SecretNotFound");
    const gd = await client.getDeletedSecret(`${name}-gone`);
    assert.equal(gd.name, `${name}-gone`);
    await client.beginRecoverDeletedSecret(`${name}-gone`).then((p) => p.pollUntilDone());
    assert.equal((await client.getSecret(`${name}-gone`)).value, "gone");
  });
}
