/* cmd_audit.h - `coffer audit verify` and `coffer audit show` (cmd_audit.c): offline commands
 * that read an audit directory through audit/audit.h (no login, no service call). Kept apart
 * from cli_int.h so the audit commands are one unit; commands.c pulls in the two table
 * fragments below. */
#ifndef CF_CLI_CMD_AUDIT_H
#define CF_CLI_CMD_AUDIT_H

#include "base/cf.h"
#include "cli/cli_int.h"

extern const struct cf_cli_opt cf_cli_audit_verify_opts[];
extern const struct cf_cli_opt cf_cli_audit_show_opts[];
int cf_cli_cmd_audit_verify(struct cf_cli_run *r);
int cf_cli_cmd_audit_show(struct cf_cli_run *r);

#define CF_CLI_AUDIT_GROUPS {"audit", "Verify and read the tamper-evident audit log."}
#define CF_CLI_AUDIT_COMMANDS                                                                      \
    {"audit", "verify", cf_cli_cmd_audit_verify, 0,                                                \
     "Verify the hash chain and signed checkpoints of an audit directory.",                       \
     cf_cli_audit_verify_opts, NULL},                                                              \
    {"audit", "show", cf_cli_cmd_audit_show, 0, "Show audit records, filtered.",                   \
     cf_cli_audit_show_opts, NULL}

#endif
