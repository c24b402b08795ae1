/* main.c - the `coffer` entry point: everything lives in cf_cli (cli.h) so it can be tested. */
#include "base/cf.h"
#include "cli/cli.h"

#include <curl/curl.h>

int main(int argc, char **argv)
{
    struct cf_cli_ctx ctx = {.out = stdout, .err = stderr};
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cf_cli_run(&ctx, argc, argv);
    curl_global_cleanup();
    return rc;
}
