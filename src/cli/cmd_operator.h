/* cmd_operator.h - `coffer operator init | unseal | seal | status | rotate-master-key`
 * (cmd_operator.c): custody of the master key, through the server's custody socket
 * (<data_dir>/custody.sock, unix stream, 0600; one JSON request line, one JSON answer line).
 * The socket works while the server is sealed, when no token can be issued or checked; being
 * local to the server's host and uid is the authorisation. commands.c splices the rows below
 * into its tables. */
#ifndef CF_CLI_CMD_OPERATOR_H
#define CF_CLI_CMD_OPERATOR_H

#include "base/cf.h"
#include "cli/cli_int.h"

int cf_cli_cmd_operator_init(struct cf_cli_run *r);
int cf_cli_cmd_operator_unseal(struct cf_cli_run *r);
int cf_cli_cmd_operator_seal(struct cf_cli_run *r);
int cf_cli_cmd_operator_status(struct cf_cli_run *r);
int cf_cli_cmd_operator_rotate(struct cf_cli_run *r);

extern const struct cf_cli_opt cf_cli_o_operator_sock[];
extern const struct cf_cli_opt cf_cli_o_operator_init[];
extern const struct cf_cli_opt cf_cli_o_operator_unseal[];
extern const struct cf_cli_opt cf_cli_o_operator_rotate[];

#define CF_CLI_OPERATOR_GROUPS {"operator", "Custody of the master key: initialise, unseal, seal, rotate (on the server's host)."}

#define CF_CLI_OPERATOR_COMMANDS                                                                   \
    {"operator", "init", cf_cli_cmd_operator_init, 0, "Create the master key and print its key shares once (shamir custody).", cf_cli_o_operator_init, NULL}, \
    {"operator", "unseal", cf_cli_cmd_operator_unseal, 0, "Give one key share (--share, or a line on stdin) towards unsealing the server.", cf_cli_o_operator_unseal, NULL}, \
    {"operator", "seal", cf_cli_cmd_operator_seal, 0, "Seal the server: it forgets the master key and every key opened with it.", cf_cli_o_operator_sock, NULL}, \
    {"operator", "status", cf_cli_cmd_operator_status, 0, "Show the custody state (sealed, unsealed, shares given).", cf_cli_o_operator_sock, NULL}, \
    {"operator", "rotate-master-key", cf_cli_cmd_operator_rotate, 0, "Re-wrap everything under a new master key (prints the new shares for shamir custody; --confirm once the operators hold them).", cf_cli_o_operator_rotate, NULL}

#endif
