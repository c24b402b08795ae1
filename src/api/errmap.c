/* errmap.c - the single map from Coffer's error codes to HTTP status and Azure error code.
 * Handlers use a more specific code where Azure has one (SecretNotFound, ...); this table is
 * the fallback and the unit test tests/unit/api/test_errmap.c fails when a code is unmapped. */
#include "base/cf.h"
#include "api/internal.h"

static const struct api_errmap map[CF_ERR_COUNT] = {
    [CF_OK] = {200, "OK"},
    [CF_ENOMEM] = {503, "ServiceUnavailable"},
    [CF_EINVAL] = {400, "BadParameter"},
    [CF_EIO] = {500, "InternalServerError"},
    [CF_ESTORE] = {500, "InternalServerError"},
    [CF_EFULL] = {503, "ServiceUnavailable"},
    [CF_EBUSY] = {503, "ServiceUnavailable"},
    [CF_ECRYPTO] = {500, "InternalServerError"},
    [CF_ECORRUPT] = {500, "InternalServerError"},
    [CF_ENOTFOUND] = {404, "NotFound"},
    [CF_EEXISTS] = {409, "Conflict"},
    [CF_EDELETED] = {409, "Conflict"},
    [CF_EDISABLED] = {403, "Forbidden"},
    [CF_EPURGEPROTECT] = {403, "Forbidden"},
    [CF_EBADNAME] = {400, "BadParameter"},
    [CF_EBADJSON] = {400, "BadParameter"},
    [CF_EBADPARAM] = {400, "BadParameter"},
    [CF_EBADVERSION] = {400, "BadParameter"},
    [CF_ETOOBIG] = {400, "BadParameter"},
    [CF_EUNAUTH] = {401, "Unauthorized"},
    [CF_EBADCLIENT] = {401, "Unauthorized"},
    [CF_EFORBIDDEN] = {403, "Forbidden"},
    [CF_ETHROTTLED] = {429, "Throttled"},
    [CF_ESEALED] = {503, "ServiceUnavailable"},
    [CF_ENOTIMPL] = {501, "NotImplemented"},
    [CF_EINTERNAL] = {500, "InternalServerError"},
};

bool api_errmap_is_mapped(cf_err e)
{
    return (unsigned)e < CF_ERR_COUNT && map[e].code != NULL && map[e].status != 0;
}

const struct api_errmap *api_errmap_get(cf_err e)
{
    static const struct api_errmap unknown = {500, "InternalServerError"};
    if ((unsigned)e >= CF_ERR_COUNT || map[e].code == NULL)
        return &unknown;
    return &map[e];
}
