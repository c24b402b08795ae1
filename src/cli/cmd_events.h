/* cmd_events.h - `coffer keyvault event-subscription ...` (cmd_events.c): Event Grid
 * subscriptions on a vault (create, list, show, delete) and Coffer's dead-letter store
 * (dead-letters). commands.c splices the rows below into its tables. */
#ifndef CF_CLI_CMD_EVENTS_H
#define CF_CLI_CMD_EVENTS_H

#include "base/cf.h"
#include "cli/cli_int.h"

int cf_cli_cmd_evsub_create(struct cf_cli_run *r);
int cf_cli_cmd_evsub_list(struct cf_cli_run *r);
int cf_cli_cmd_evsub_show(struct cf_cli_run *r);
int cf_cli_cmd_evsub_delete(struct cf_cli_run *r);
int cf_cli_cmd_evsub_dead_letters(struct cf_cli_run *r);

/* The PUT body from create's arguments (pure; exposed for tests). NULL on bad input (err). */
struct cf_val *cf_cli_evsub_body(const char *endpoint, const struct cf_cli_arg *types,
                                 const char *schema, const char *max_attempts,
                                 const char *ttl_min, char *err, size_t errlen);

extern const struct cf_cli_opt cf_cli_o_evsub_create[], cf_cli_o_evsub_list[],
    cf_cli_o_evsub_named[];

#define CF_CLI_EVENTS_GROUPS                                                                       \
    {"keyvault event-subscription", "Manage Event Grid subscriptions of a vault."}

#define CF_CLI_EVENTS_COMMANDS                                                                     \
    {"keyvault event-subscription", "create", cf_cli_cmd_evsub_create, CMD_LOGIN, "Create or update an event subscription (webhook) on a vault; prints the signing secret once.", cf_cli_o_evsub_create, NULL}, \
    {"keyvault event-subscription", "list", cf_cli_cmd_evsub_list, CMD_LOGIN, "List the event subscriptions of a vault.", cf_cli_o_evsub_list, NULL}, \
    {"keyvault event-subscription", "show", cf_cli_cmd_evsub_show, CMD_LOGIN | CMD_SHOW, "Show an event subscription.", cf_cli_o_evsub_named, NULL}, \
    {"keyvault event-subscription", "delete", cf_cli_cmd_evsub_delete, CMD_LOGIN, "Delete an event subscription (its pending deliveries and dead letters too).", cf_cli_o_evsub_named, NULL}, \
    {"keyvault event-subscription", "dead-letters", cf_cli_cmd_evsub_dead_letters, CMD_LOGIN, "List the events a subscription gave up on.", cf_cli_o_evsub_named, NULL}

#endif
