/* main.c - the `coffer` entry point: everything lives in cf_cli (cli.h) so it can be tested. */
#include "base/cf.h"
#include "cli/cli.h"
#include "client/client.h"

int main(int argc, char **argv)
{
    struct cf_cli_ctx ctx = {.out = stdout, .err = stderr};
    int rc;

    cf_client_global_init();
    rc = cf_cli_run(&ctx, argc, argv);
    cf_client_global_cleanup();
    return rc;
}
