/* cmd_signing.h - `coffer ad signing-key list | rotate` (cmd_signing.c): the server's token
 * signing key ring through the management host (GET /providers/Microsoft.Coffer/signingKeys,
 * POST .../signingKeys/rotate; permission Microsoft.Coffer/directory/read and /write at "/").
 * commands.c splices the rows below into its tables. */
#ifndef CF_CLI_CMD_SIGNING_H
#define CF_CLI_CMD_SIGNING_H

#include "base/cf.h"
#include "cli/cli_int.h"

int cf_cli_cmd_signing_key_list(struct cf_cli_run *r);
int cf_cli_cmd_signing_key_rotate(struct cf_cli_run *r);
/* One signing key resource -> {kid, alg, active, created, retired, retireAfter} (null when
 * absent). Exposed for unit tests. */
struct cf_val *cf_cli_shape_signing_key(const struct cf_val *res);

extern const struct cf_cli_opt cf_cli_o_signing_none[];

#define CF_CLI_SIGNING_GROUPS {"ad signing-key", "Manage the server's token signing keys."}

#define CF_CLI_SIGNING_COMMANDS                                                                    \
    {"ad signing-key", "list", cf_cli_cmd_signing_key_list, CMD_LOGIN, "List the token signing keys (the signing one first, then retired keys whose tokens may still be valid).", cf_cli_o_signing_none, NULL}, \
    {"ad signing-key", "rotate", cf_cli_cmd_signing_key_rotate, CMD_LOGIN, "Rotate the token signing key now; tokens of the previous key stay valid until they expire.", cf_cli_o_signing_none, NULL}

#endif
