/* test_role.c - `coffer role assignment|definition`: argument checks that come before any
 * network call (exit 2, one stderr line), az's custom-role input -> ARM body, and the az shapes
 * of ARM role assignments and definitions (flattened properties, roleType, permissions). */
#include "base/cf.h"
#include "cli/cmd_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct env {
    const char *config_dir;
};

static const char *fake_getenv(void *ctx, const char *name)
{
    struct env *e = ctx;
    if (!strcmp(name, "COFFER_CONFIG_DIR"))
        return e->config_dir;
    return NULL; /* nothing else: no credentials leak in from the test environment */
}

struct result {
    int rc;
    char out[16384];
    char err[4096];
};

static void run(struct result *res, const char *config_dir, int argc, char **argv)
{
    struct env e = {config_dir};
    FILE *o = fmemopen(res->out, sizeof(res->out) - 1, "w");
    FILE *er = fmemopen(res->err, sizeof(res->err) - 1, "w");
    struct cf_cli_ctx ctx = {.out = o, .err = er, .getenv = fake_getenv, .env_ctx = &e};
    memset(res->out, 0, sizeof(res->out));
    memset(res->err, 0, sizeof(res->err));
    res->rc = cf_cli_run(&ctx, argc, argv);
    fclose(o);
    fclose(er);
}

#define RUN(res, dir, ...)                                                                         \
    do {                                                                                           \
        char *av_[] = {"coffer", __VA_ARGS__};                                                     \
        run(res, dir, (int)CF_ARRAY_LEN(av_), av_);                                                \
    } while (0)

static char tmpdir[256];

/* A temp config dir with a profile whose server cannot be reached (127.0.0.1:1): a command
 * that reaches the network fails with exit 1, so exit 2 proves a usage check came first. */
static int setup(void **state)
{
    struct cf_cli_profile p = {0};
    cf_err e;
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/coffer-cli-id-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(p.tenant_id, sizeof(p.tenant_id), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    snprintf(p.client_id, sizeof(p.client_id), "c-1");
    p.client_secret = strdup("s3cr3t");
    snprintf(p.authority, sizeof(p.authority), "https://127.0.0.1:1");
    snprintf(p.management_url, sizeof(p.management_url), "https://127.0.0.1:1");
    snprintf(p.dns_suffix, sizeof(p.dns_suffix), "vault.localhost");
    p.port = 1;
    snprintf(p.subscription_id, sizeof(p.subscription_id), "sub-1");
    e = cf_cli_profile_save(tmpdir, &p);
    cf_cli_profile_release(&p);
    return e == CF_OK ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* exit code 2, one stderr line containing want, nothing on stdout */
#define ASSERT_USAGE(res, want)                                                                    \
    do {                                                                                           \
        assert_int_equal((res)->rc, 2);                                                            \
        assert_int_equal(lines((res)->err), 1);                                                    \
        assert_string_equal((res)->out, "");                                                       \
        if (!strstr((res)->err, (want)))                                                           \
            fail_msg("stderr '%s' lacks '%s'", (res)->err, (want));                                \
    } while (0)

static struct cf_val *parse(const char *s)
{
    struct cf_val *v = NULL;
    assert_int_equal(cf_val_parse(s, strlen(s), &v), CF_OK);
    return v;
}

static void test_usage(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, tmpdir, "role", "assignment", "create", "--assignee", "x");
    ASSERT_USAGE(&r, "the following arguments are required: --role");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader");
    ASSERT_USAGE(&r, "usage error: --assignee STRING | --assignee-object-id GUID");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader", "--assignee", "a",
        "--assignee-object-id", "11111111-2222-4333-8444-555555555555");
    ASSERT_USAGE(&r, "usage error: --assignee STRING | --assignee-object-id GUID");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader", "--assignee", "a",
        "--assignee-principal-type", "Group");
    ASSERT_USAGE(&r, "--assignee-principal-type TYPE");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader", "--assignee-object-id",
        "11111111-2222-4333-8444-555555555555", "--assignee-principal-type", "Robot");
    ASSERT_USAGE(&r, "invalid choice: 'Robot'");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader", "--assignee-object-id",
        "not-a-guid", "--assignee-principal-type", "Group");
    ASSERT_USAGE(&r, "is not a GUID");
    RUN(&r, tmpdir, "role", "assignment", "create", "--role", "Reader", "--assignee", "a",
        "--scope", "/", "-g", "rg");
    ASSERT_USAGE(&r, "is redundant because 'scope' is supplied");
    RUN(&r, tmpdir, "role", "assignment", "list", "--all", "--scope", "/");
    ASSERT_USAGE(&r, "not required when --all is used");
    RUN(&r, tmpdir, "role", "assignment", "delete");
    ASSERT_USAGE(&r, "pass --yes");
    RUN(&r, tmpdir, "role", "assignment", "delete", "--ids", "/x", "--role", "Reader");
    ASSERT_USAGE(&r, "When assignment ids are used");
    RUN(&r, tmpdir, "role", "definition", "delete");
    ASSERT_USAGE(&r, "required: --name/-n");
    RUN(&r, tmpdir, "role", "definition", "list", "--custom-role-only", "maybe");
    ASSERT_USAGE(&r, "invalid choice: 'maybe'");
}

static void test_definition_create_input_errors(void **state)
{
    struct result r;
    char path[400];
    FILE *f;
    (void)state;
    /* fail before the network: exit 1, one line, no stdout */
    RUN(&r, tmpdir, "role", "definition", "create", "--role-definition", "{not json");
    assert_int_equal(r.rc, 1);
    assert_int_equal(lines(r.err), 1);
    assert_non_null(strstr(r.err, "Failed to parse the role definition"));
    assert_string_equal(r.out, "");
    RUN(&r, tmpdir, "role", "definition", "create", "--role-definition", "@/nonexistent/r.json");
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "cannot read the role definition file"));
    snprintf(path, sizeof(path), "%s/role.json", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"Description\":\"no name\",\"AssignableScopes\":[\"/\"]}", f);
    fclose(f);
    {
        char arg[420];
        snprintf(arg, sizeof(arg), "@%s", path);
        RUN(&r, tmpdir, "role", "definition", "create", "--role-definition", arg);
        assert_int_equal(r.rc, 1);
        assert_string_equal(r.err, "ERROR: please provide role name\n");
        /* az also takes a path without '@' */
        RUN(&r, tmpdir, "role", "definition", "create", "--role-definition", path);
        assert_string_equal(r.err, "ERROR: please provide role name\n");
    }
    RUN(&r, tmpdir, "role", "definition", "create", "--role-definition", "[1,2]");
    assert_non_null(strstr(r.err, "A valid dictionary JSON representation is expected"));
}

static void test_definition_body(void **state)
{
    struct cf_val *in, *body = NULL, *p, *perm;
    const char *scope = NULL;
    char err[200];
    (void)state;
    in = parse("{\"Name\":\"Key Vault Secret Rotator\",\"IsCustom\":true,"
               "\"Description\":\"Read and set secrets\",\"Actions\":[\"Microsoft.KeyVault/vaults/read\"],"
               "\"NotActions\":[],\"DataActions\":[\"Microsoft.KeyVault/vaults/secrets/getSecret/action\","
               "\"Microsoft.KeyVault/vaults/secrets/setSecret/action\"],"
               "\"AssignableScopes\":[\"/subscriptions/s1\",\"/\"]}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_OK);
    assert_string_equal(scope, "/subscriptions/s1");
    p = cf_val_get(body, "properties");
    assert_true(cf_val_is_str(cf_val_get(p, "roleName"), "Key Vault Secret Rotator"));
    assert_true(cf_val_is_str(cf_val_get(p, "type"), "CustomRole"));
    assert_true(cf_val_is_str(cf_val_get(p, "description"), "Read and set secrets"));
    assert_int_equal(cf_val_get(p, "assignableScopes")->n, 2);
    assert_int_equal(cf_val_get(p, "permissions")->n, 1);
    perm = cf_val_at(cf_val_get(p, "permissions"), 0);
    assert_int_equal(cf_val_get(perm, "actions")->n, 1);
    assert_int_equal(cf_val_get(perm, "dataActions")->n, 2);
    /* absent lists become [] (the server wants all four) */
    assert_int_equal(cf_val_get(perm, "notDataActions")->type, CF_VAL_ARR);
    assert_int_equal(cf_val_get(perm, "notDataActions")->n, 0);
    assert_null(cf_val_get(p, "IsCustom"));
    cf_val_unref(body);
    cf_val_unref(in);

    /* camel-case keys (az lower-cases the first letter) work the same */
    in = parse("{\"name\":\"r\",\"assignableScopes\":[\"/\"]}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_OK);
    assert_string_equal(scope, "/");
    cf_val_unref(body);
    cf_val_unref(in);

    in = parse("{\"Name\":\"r\"}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_EINVAL);
    assert_string_equal(err, "please provide 'assignableScopes'");
    assert_null(body);
    cf_val_unref(in);
    in = parse("{\"Name\":\"r\",\"AssignableScopes\":[]}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_EINVAL);
    cf_val_unref(in);
    in = parse("{\"Name\":\"r\",\"AssignableScopes\":[\"/\"],\"DataActions\":\"x\"}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_EINVAL);
    assert_string_equal(err, "'DataActions' must be a list of strings");
    cf_val_unref(in);
    in = parse("{\"Name\":\"\",\"AssignableScopes\":[\"/\"]}");
    assert_int_equal(cf_cli_role_definition_body(in, &body, &scope, err, sizeof(err)), CF_EINVAL);
    assert_string_equal(err, "please provide role name");
    cf_val_unref(in);
}

static void test_shape_assignment(void **state)
{
    struct cf_val *arm, *o;
    (void)state;
    arm = parse("{\"id\":\"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v/"
                "providers/Microsoft.Authorization/roleAssignments/a1\",\"name\":\"a1\","
                "\"type\":\"Microsoft.Authorization/roleAssignments\",\"properties\":{"
                "\"roleDefinitionId\":\"/subscriptions/s/providers/Microsoft.Authorization/"
                "roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6\",\"principalId\":\"p1\","
                "\"principalType\":\"ServicePrincipal\",\"scope\":\"/subscriptions/s/resourceGroups/g\","
                "\"condition\":null,\"conditionVersion\":null,\"createdOn\":\"2024-05-01T10:20:30Z\","
                "\"updatedOn\":\"2024-05-01T10:20:30.5Z\",\"createdBy\":\"c\",\"updatedBy\":\"c\"}}");
    o = cf_cli_shape_role_assignment(arm);
    assert_non_null(o);
    assert_null(cf_val_get(o, "properties"));
    assert_true(cf_val_is_str(cf_val_get(o, "principalId"), "p1"));
    assert_true(cf_val_is_str(cf_val_get(o, "principalType"), "ServicePrincipal"));
    assert_true(cf_val_is_str(cf_val_get(o, "scope"), "/subscriptions/s/resourceGroups/g"));
    assert_true(cf_val_is_str(cf_val_get(o, "name"), "a1"));
    assert_true(cf_val_is_str(cf_val_get(o, "type"), "Microsoft.Authorization/roleAssignments"));
    assert_true(cf_val_is_str(cf_val_get(o, "createdOn"), "2024-05-01T10:20:30+00:00"));
    assert_true(cf_val_is_str(cf_val_get(o, "updatedOn"), "2024-05-01T10:20:30.500000+00:00"));
    /* every model field is present, null when the server leaves it out */
    assert_non_null(cf_val_get(o, "description"));
    assert_int_equal(cf_val_get(o, "description")->type, CF_VAL_NULL);
    assert_int_equal(cf_val_get(o, "delegatedManagedIdentityResourceId")->type, CF_VAL_NULL);
    assert_int_equal(o->n, 15);
    cf_val_unref(o);
    cf_val_unref(arm);
}

static void test_shape_definition(void **state)
{
    struct cf_val *arm, *o, *perm;
    (void)state;
    arm = parse("{\"id\":\"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/d1\","
                "\"name\":\"d1\",\"type\":\"Microsoft.Authorization/roleDefinitions\",\"properties\":{"
                "\"roleName\":\"Rotator\",\"type\":\"CustomRole\",\"description\":\"x\","
                "\"assignableScopes\":[\"/subscriptions/s\"],\"permissions\":[{\"actions\":[],"
                "\"dataActions\":[\"Microsoft.KeyVault/vaults/secrets/*\"]}],"
                "\"createdOn\":null,\"updatedOn\":null}}");
    o = cf_cli_shape_role_definition(arm);
    assert_non_null(o);
    assert_true(cf_val_is_str(cf_val_get(o, "roleName"), "Rotator"));
    assert_true(cf_val_is_str(cf_val_get(o, "roleType"), "CustomRole"));
    assert_true(cf_val_is_str(cf_val_get(o, "type"), "Microsoft.Authorization/roleDefinitions"));
    assert_true(cf_val_is_str(cf_val_get(o, "name"), "d1"));
    perm = cf_val_at(cf_val_get(o, "permissions"), 0);
    assert_non_null(perm);
    assert_int_equal(cf_val_get(perm, "dataActions")->n, 1);
    /* missing lists are [] as az's model prints them */
    assert_int_equal(cf_val_get(perm, "notActions")->type, CF_VAL_ARR);
    assert_int_equal(cf_val_get(perm, "notDataActions")->n, 0);
    assert_int_equal(cf_val_get(o, "createdOn")->type, CF_VAL_NULL);
    assert_null(cf_val_get(o, "properties"));
    cf_val_unref(o);
    cf_val_unref(arm);
}

static void test_help_and_table(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, tmpdir, "role", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "assignment"));
    assert_non_null(strstr(r.out, "definition"));
    RUN(&r, tmpdir, "role", "assignment", "create", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--assignee-principal-type"));
    assert_non_null(strstr(r.out, "[Required]"));
    assert_true(cf_cli_is_guid("4633458b-17de-408a-b874-0445c86b69e6"));
    assert_true(cf_cli_is_guid("4633458B-17DE-408A-B874-0445C86B69E6"));
    assert_false(cf_cli_is_guid("4633458b-17de-408a-b874-0445c86b69e"));
    assert_false(cf_cli_is_guid("4633458b_17de-408a-b874-0445c86b69e6"));
    assert_false(cf_cli_is_guid("g633458b-17de-408a-b874-0445c86b69e6"));
    assert_false(cf_cli_is_guid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_definition_create_input_errors),
        cmocka_unit_test(test_definition_body),
        cmocka_unit_test(test_shape_assignment),
        cmocka_unit_test(test_shape_definition),
        cmocka_unit_test(test_help_and_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
