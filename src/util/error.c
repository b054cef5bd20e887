#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
format_message (int errnum, const char *fmt, va_list ap)
{
  char *text = NULL;
  char *full = NULL;

  if (vasprintf (&text, fmt, ap) < 0)
    return NULL;
  if (errnum == 0)
    return text;
  /* Lower-case like Go's errno strings: runc prints "no such file or
     directory", and engines (podman) match that text. */
  if (asprintf (&full, "%s: %s", text, strerror (errnum)) < 0)
    full = NULL;
  else
    {
      char *reason = full + strlen (text) + 2;
      if (reason[0] >= 'A' && reason[0] <= 'Z' && !(reason[1] >= 'A' && reason[1] <= 'Z'))
        reason[0] = reason[0] - 'A' + 'a';
    }
  free (text);
  return full;
}

int
berth_failv (berth_err *err, int errnum, const char *fmt, va_list ap)
{
  struct berth_error *e;

  if (err == NULL)
    return -1;
  /* Keep the first error: a later failure during cleanup must not hide it. */
  if (*err != NULL)
    return -1;
  e = calloc (1, sizeof (*e));
  if (e == NULL)
    abort ();
  e->errnum = errnum;
  e->msg = format_message (errnum, fmt, ap);
  if (e->msg == NULL)
    abort ();
  *err = e;
  return -1;
}

int
berth_fail (berth_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int ret;

  va_start (ap, fmt);
  ret = berth_failv (err, errnum, fmt, ap);
  va_end (ap);
  return ret;
}

int
berth_wrap (berth_err *err, const char *fmt, ...)
{
  va_list ap;
  char *ctx = NULL;
  char *msg = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  if (vasprintf (&ctx, fmt, ap) < 0)
    abort ();
  va_end (ap);
  if (asprintf (&msg, "%s: %s", ctx, (*err)->msg) < 0)
    abort ();
  free (ctx);
  free ((*err)->msg);
  (*err)->msg = msg;
  return -1;
}

void
berth_err_free (berth_err *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

void
berth_err_move (berth_err *dst, berth_err *src)
{
  berth_err_free (dst);
  *dst = *src;
  *src = NULL;
}
