/* errors.c - the few answers http/ writes by itself (malformed requests, limits, methods it
 * does not serve, overload): Azure-shaped JSON bodies and reason phrases.
 *
 * Map: error_table (status -> Azure-style code, message, reason), cf_http_error_code,
 * cf_http_error_body, cf_http_reason. Messages are fixed ASCII with no caller data, so the body
 * needs no escaping and can never echo anything a client sent. */
#include "base/cf.h"
#include "http/http_int.h"

struct error_row {
    int status;
    const char *code;
    const char *message;
};

static const struct error_row error_table[] = {
    {400, "BadParameter", "The request could not be parsed."},
    {408, "RequestTimeout", "The request was not received in time."},
    {413, "RequestBodyTooLarge", "The request body is larger than the server accepts."},
    {417, "ExpectationFailed", "The Expect header is not supported."},
    {431, "RequestHeaderFieldsTooLarge", "The request headers are larger than the server accepts."},
    {501, "NotImplemented", "The request method is not supported."},
    {503, "ServiceUnavailable", "The server cannot take the request now."},
};

static const struct error_row *error_find(int status)
{
    for (size_t i = 0; i < CF_ARRAY_LEN(error_table); i++)
        if (error_table[i].status == status)
            return &error_table[i];
    return NULL;
}

const char *cf_http_error_code(int status)
{
    const struct error_row *r = error_find(status);

    if (r != NULL)
        return r->code;
    return status >= 500 ? "InternalServerError" : "BadRequest";
}

size_t cf_http_error_body(int status, char *out, size_t cap)
{
    const struct error_row *r = error_find(status);
    const char *msg = r != NULL ? r->message : "The request failed.";
    int n;

    if (cap == 0)
        return 0;
    n = snprintf(out, cap, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                 cf_http_error_code(status), msg);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return CF_MIN((size_t)n, cap - 1);
}

const char *cf_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return NULL;
    }
}
