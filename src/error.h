/* Filling the caller's mdnmf_error (the header's one error convention).
 * Private to the library. */
#ifndef MDNMF_ERROR_H
#define MDNMF_ERROR_H

#include "mdnmf.h"

/* Status MDNMF_OK and message "" (error may be NULL); returns MDNMF_OK. */
int error_ok(mdnmf_error *error);

/* Fill *error (if not NULL) with `status` and, on failure, `message`, or
 * mdnmf_strerror(status) when the message is NULL or empty; on success "".
 * Returns `status`. */
int error_report(mdnmf_error *error, int status, const char *message);

/* Record `status` with a printf-style one-line message (error may be NULL);
 * returns `status`. */
int error_fail(mdnmf_error *error, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
