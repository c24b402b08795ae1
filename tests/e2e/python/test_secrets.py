"""Coffer e2e: the core secrets flow through Debian's python3-azure (azure-identity 1.13.0b2,
azure-keyvault-secrets 4.7.0b1) on /usr/bin/python3. Run by tests/e2e/suites/python.sh with the
environment of cofferd's DIR/env (REQUESTS_CA_BUNDLE, AZURE_*, COFFER_*)."""
import os
import re
import secrets
import time
import unittest

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set (run through tests/e2e/run.sh)")
    return v


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(6)}"


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault_url = env("COFFER_VAULT_URL")
        cls.cred = ClientSecretCredential(
            env("AZURE_TENANT_ID"),
            env("AZURE_CLIENT_ID"),
            env("AZURE_CLIENT_SECRET"),
            authority=env("AZURE_AUTHORITY_HOST"),
            instance_discovery=False,  # the name Debian's 1.13.0b2 honours
            disable_instance_discovery=True,  # the name newer releases use
        )
        # Challenge-resource verification stays ON: the challenge must carry the port.
        cls.client = SecretClient(cls.vault_url, cls.cred)

    def test_set_get_versions(self):
        name = unique("py")
        a = self.client.set_secret(name, "py-one")
        self.assertEqual(a.value, "py-one")
        self.assertEqual(a.name, name)
        self.assertRegex(a.properties.version, HEX32)
        self.assertEqual(a.properties.vault_url, self.vault_url)
        b = self.client.set_secret(name, "py-two", tags={"k": "v"})
        self.assertNotEqual(a.properties.version, b.properties.version)
        g = self.client.get_secret(name)
        self.assertEqual(g.value, "py-two")
        self.assertEqual(g.properties.version, b.properties.version)
        self.assertEqual(g.properties.tags, {"k": "v"})
        self.assertEqual(self.client.get_secret(name, a.properties.version).value, "py-one")
        versions = {p.version for p in self.client.list_properties_of_secret_versions(name)}
        self.assertEqual(versions, {a.properties.version, b.properties.version})

    def test_unicode_value(self):
        name = unique("pyu")
        value = "pâsswörd ✓ 日本 🚀"
        self.client.set_secret(name, value)
        self.assertEqual(self.client.get_secret(name).value, value)

    def test_list(self):
        names = [unique("pyl") for _ in range(3)]
        for n in names:
            self.client.set_secret(n, "v-" + n)
        listed = [p.name for p in self.client.list_properties_of_secrets()]
        for n in names:
            self.assertEqual(listed.count(n), 1, n)

    def test_update_properties(self):
        name = unique("pyp")
        s = self.client.set_secret(name, "upd")
        exp = int(time.time()) + 86400
        from datetime import datetime, timezone

        p = self.client.update_secret_properties(
            name,
            s.properties.version,
            content_type="text/plain",
            tags={"a": "1"},
            expires_on=datetime.fromtimestamp(exp, tz=timezone.utc),
        )
        self.assertEqual(p.content_type, "text/plain")
        self.assertEqual(p.tags, {"a": "1"})
        self.assertEqual(int(p.expires_on.timestamp()), exp)
        g = self.client.get_secret(name)
        self.assertEqual(g.value, "upd")
        self.assertEqual(g.properties.content_type, "text/plain")
        # Version omitted: the latest version (PATCH /secrets/{name}/).
        p2 = self.client.update_secret_properties(name, enabled=False)
        self.assertFalse(p2.enabled)
        with self.assertRaises(HttpResponseError) as cm:
            self.client.get_secret(name)
        self.assertEqual(cm.exception.status_code, 403)
        self.assertEqual(cm.exception.error.code, "Forbidden")
        self.client.update_secret_properties(name, enabled=True)
        self.assertEqual(self.client.get_secret(name).value, "upd")

    def test_not_found(self):
        name = unique("pyn")
        with self.assertRaises(ResourceNotFoundError) as cm:
            self.client.get_secret(name)
        self.assertEqual(cm.exception.status_code, 404)
        self.assertEqual(cm.exception.error.code, "SecretNotFound")
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_deleted_secret(name)

    def test_bad_name(self):
        with self.assertRaises(HttpResponseError) as cm:
            self.client.set_secret("bad_name", "x")
        self.assertEqual(cm.exception.status_code, 400)
        self.assertEqual(cm.exception.error.code, "BadParameter")

    def test_delete_recover_purge(self):
        name = unique("pyd")
        s = self.client.set_secret(name, "keep")
        deleted = self.client.begin_delete_secret(name).result()
        self.assertEqual(deleted.name, name)
        self.assertEqual(deleted.recovery_id, f"{self.vault_url}/deletedsecrets/{name}")
        self.assertIsNotNone(deleted.deleted_date)
        self.assertIsNotNone(deleted.scheduled_purge_date)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_secret(name)
        self.assertEqual(self.client.get_deleted_secret(name).name, name)
        self.assertEqual([d.name for d in self.client.list_deleted_secrets()].count(name), 1)
        with self.assertRaises(HttpResponseError) as cm:
            self.client.set_secret(name, "reuse")
        self.assertEqual(cm.exception.status_code, 409)
        self.assertEqual(cm.exception.error.code, "Conflict")
        recovered = self.client.begin_recover_deleted_secret(name).result()
        self.assertEqual(recovered.name, name)
        g = self.client.get_secret(name)
        self.assertEqual(g.value, "keep")
        self.assertEqual(g.properties.version, s.properties.version)
        self.client.begin_delete_secret(name).result()
        self.client.purge_deleted_secret(name)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_deleted_secret(name)
        self.assertEqual(self.client.set_secret(name, "again").value, "again")

    def test_backup_restore(self):
        name = unique("pyb")
        self.client.set_secret(name, "bk1")
        self.client.set_secret(name, "bk2")
        blob = self.client.backup_secret(name)
        self.assertIsInstance(blob, bytes)
        self.assertNotIn(b"bk2", blob)
        self.client.begin_delete_secret(name).result()
        self.client.purge_deleted_secret(name)
        restored = self.client.restore_secret_backup(blob)
        self.assertEqual(restored.name, name)
        self.assertEqual(self.client.get_secret(name).value, "bk2")
        self.assertEqual(len(list(self.client.list_properties_of_secret_versions(name))), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
