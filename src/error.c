/* The caller's mdnmf_error: one status and one line per failure. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int error_ok(mdnmf_error *error)
{
    if (error) {
        error->status = MDNMF_OK;
        error->message[0] = '\0';
    }
    return MDNMF_OK;
}

int error_report(mdnmf_error *error, int status, const char *message)
{
    if (!error)
        return status;
    if (status == MDNMF_OK)
        return error_ok(error);
    return error_fail(error, status, "%s", message && *message ? message : mdnmf_strerror(status));
}

int error_fail(mdnmf_error *error, int status, const char *format, ...)
{
    if (error) {
        va_list args;
        va_start(args, format);
        vsnprintf(error->message, sizeof error->message, format, args);
        va_end(args);
        error->status = status;
    }
    return status;
}
