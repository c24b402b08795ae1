/* cmd_ca.h - `coffer ca create | show` (cmd_ca.c): the server's private certificate authority
 * (the CofferCA certificate issuer) through the management host: PUT / GET
 * /providers/Microsoft.Coffer/certificateAuthority (permissions Microsoft.Coffer/directory/
 * write and /read at "/"). commands.c splices the rows below into its tables. */
#ifndef CF_CLI_CMD_CA_H
#define CF_CLI_CMD_CA_H

#include "base/cf.h"
#include "cli/cli_int.h"

int cf_cli_cmd_ca_create(struct cf_cli_run *r);
int cf_cli_cmd_ca_show(struct cf_cli_run *r);
/* The CA resource -> {issuerName, subject, kty, keySize, crv, created, notBefore, notAfter,
 * x5t, pem} (null when absent). Exposed for unit tests. */
struct cf_val *cf_cli_shape_ca(const struct cf_val *res);

extern const struct cf_cli_opt cf_cli_o_ca_create[];
extern const struct cf_cli_opt cf_cli_o_ca_show[];

#define CF_CLI_CA_GROUPS {"ca", "Manage the server's private certificate authority (issuer CofferCA)."}

#define CF_CLI_CA_COMMANDS                                                                         \
    {"ca", "create", cf_cli_cmd_ca_create, CMD_LOGIN, "Create the server's private CA (once); certificates whose policy names the issuer CofferCA chain to it.", cf_cli_o_ca_create, NULL}, \
    {"ca", "show", cf_cli_cmd_ca_show, CMD_LOGIN | CMD_SHOW, "Show the private CA and its root certificate (PEM); --file writes the PEM to a file.", cf_cli_o_ca_show, NULL}

#endif
