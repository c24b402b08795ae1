/* err.c - names and messages generated from CF_ERR_TABLE. */
#include "base/cf.h"

static const char *const names[] = {
#define CF_ERR_NAME(code, msg) #code,
    CF_ERR_TABLE(CF_ERR_NAME)
#undef CF_ERR_NAME
};

static const char *const msgs[] = {
#define CF_ERR_MSG(code, msg) msg,
    CF_ERR_TABLE(CF_ERR_MSG)
#undef CF_ERR_MSG
};

const char *cf_err_name(cf_err e)
{
    return (unsigned)e < CF_ERR_COUNT ? names[e] : "CF_E?";
}

const char *cf_err_msg(cf_err e)
{
    return (unsigned)e < CF_ERR_COUNT ? msgs[e] : "unknown error";
}
