/* Errors carried up the stack, crun style.
 *
 * Every fallible function takes a `berth_err *err` out-parameter and returns
 * a negative int (or NULL).  Making an error is one line:
 *
 *     return berth_fail (err, errno, "open `%s`", path);
 *
 * and a caller adds context with berth_wrap().  The message of an error with
 * an errno ends in ": <strerror>" so users always see the OS reason.
 */
#ifndef BERTH_UTIL_ERROR_H
#define BERTH_UTIL_ERROR_H

#include <stdarg.h>

struct berth_error
{
  int errnum; /* errno value, 0 when the error is not from the OS */
  char *msg;  /* full text, including context and errno text */
};
typedef struct berth_error *berth_err;

/* Set *err (which must be NULL) and return -1.  errnum may be 0. */
int berth_fail (berth_err *err, int errnum, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
int berth_failv (berth_err *err, int errnum, const char *fmt, va_list ap);

/* Prefix the message of *err with "<context>: " and return -1. */
int berth_wrap (berth_err *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

void berth_err_free (berth_err *err);

/* Move an error: *dst = *src, *src = NULL.  Frees what *dst held. */
void berth_err_move (berth_err *dst, berth_err *src);

#endif
