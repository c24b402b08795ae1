/* cmd_monitor.h - `coffer monitor diagnostic-settings create / list / show / delete`
 * (cmd_monitor.c): Microsoft.Insights/diagnosticSettings on a vault (or, with --resource
 * /subscriptions/ID, the server-wide setting for records about no vault), with az monitor's
 * argument names and flattened result shape; the destination is a stream of cofferd's
 * configuration (--stream, properties.streamName). commands.c splices the rows below into its
 * tables. */
#ifndef CF_CLI_CMD_MONITOR_H
#define CF_CLI_CMD_MONITOR_H

#include "base/cf.h"
#include "cli/cli_int.h"

int cf_cli_cmd_diag_create(struct cf_cli_run *r);
int cf_cli_cmd_diag_list(struct cf_cli_run *r);
int cf_cli_cmd_diag_show(struct cf_cli_run *r);
int cf_cli_cmd_diag_delete(struct cf_cli_run *r);

/* ---- pure parts (exposed for unit tests) ---- */
/* The PUT body {"properties":{"logs":..,"metrics":..,"streamName":..}} from create's JSON
 * arguments (logs/metrics may be NULL, not both). NULL with a message in err. */
struct cf_val *cf_cli_diag_body(const char *logs, const char *metrics, const char *stream,
                                char *err, size_t errlen);
/* An ARM diagnostic setting -> az's flattened model (id, name, type, logs, metrics,
 * streamName). */
struct cf_val *cf_cli_shape_diag(const struct cf_val *arm);

extern const struct cf_cli_opt cf_cli_o_diag_create[], cf_cli_o_diag_list[],
    cf_cli_o_diag_named[];

#define CF_CLI_MONITOR_GROUPS                                                                      \
    {"monitor", "Manage the Azure Monitor service."},                                              \
    {"monitor diagnostic-settings", "Manage service diagnostic settings."}

#define CF_CLI_MONITOR_COMMANDS                                                                    \
    {"monitor diagnostic-settings", "create", cf_cli_cmd_diag_create, CMD_LOGIN, "Create or replace the diagnostic settings of a vault (or the server-wide one).", cf_cli_o_diag_create, NULL}, \
    {"monitor diagnostic-settings", "list", cf_cli_cmd_diag_list, CMD_LOGIN, "Get the diagnostic settings of a resource.", cf_cli_o_diag_list, NULL}, \
    {"monitor diagnostic-settings", "show", cf_cli_cmd_diag_show, CMD_LOGIN | CMD_SHOW, "Get a diagnostic setting.", cf_cli_o_diag_named, NULL}, \
    {"monitor diagnostic-settings", "delete", cf_cli_cmd_diag_delete, CMD_LOGIN, "Delete a diagnostic setting.", cf_cli_o_diag_named, NULL}

#endif
