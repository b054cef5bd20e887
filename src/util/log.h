/* Log lines as runc writes them (logrus), since engines parse them: podman
 * and containerd read the json lines of --log-format json.
 *
 *   text:  time="2026-01-02T03:04:05Z" level=error msg="container does not exist"
 *   json:  {"level":"error","msg":"container does not exist","time":"2026-01-02T03:04:05Z"}
 *
 * Text values are quoted (Go %q) only when they hold a character outside
 * [A-Za-z0-9-._/@^+], as logrus does.  On a terminal, text lines take logrus'
 * short coloured form (ERRO[0000] msg).
 *
 * The target is process-wide (set once at start-up from the global flags);
 * each line is one write(2) on an O_APPEND fd, so concurrent writers do not
 * interleave within a line.
 */
#ifndef BERTH_UTIL_LOG_H
#define BERTH_UTIL_LOG_H

#include <stdbool.h>
#include <time.h>

#include "util/error.h"

enum berth_log_level
{
  BERTH_LOG_ERROR = 0,
  BERTH_LOG_WARNING,
  BERTH_LOG_INFO,
  BERTH_LOG_DEBUG,
};

enum berth_log_format
{
  BERTH_LOG_TEXT = 0,
  BERTH_LOG_JSON,
  BERTH_LOG_TEXT_TTY, /* logrus' coloured form, chosen when the target is a terminal */
};

/* path NULL or "": stderr.  format NULL, "" or "text", or "json".  Lines below
 * info are written only when debug is set.  On failure the log stays on
 * stderr in text format. */
int berth_log_init (const char *path, const char *format, bool debug, berth_err *err);

/* Close the log file (if any) and go back to stderr. */
void berth_log_reset (void);

void berth_log (enum berth_log_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* runc's fatal(): the error is logged; when the log is not stderr the bare
 * message is also printed on stderr. */
void berth_log_error_and_print (const struct berth_error *err);

/* One line (with its '\n') in the given format, at time `now`
 * (`elapsed`: seconds since start, for the terminal form).  Pure, for tests.
 * Returns a malloc'd string. */
char *berth_log_format_line (enum berth_log_format format, enum berth_log_level level, const char *msg,
                             const struct timespec *now, long elapsed);

const char *berth_log_level_name (enum berth_log_level level);

/* Rewrite JSON text dumped by jansson into the bytes Go's encoding/json
 * writes (runc's output is made by it): <, >, & and U+2028/U+2029 become
 * \u escapes, \b and \f become \u0008 and \u000c.  Returns a new string. */
char *berth_json_go_escape (const char *json);

/* A copy of text with invalid UTF-8 replaced by U+FFFD (jansson refuses
 * invalid strings; Go substitutes them). */
char *berth_utf8_sanitize (const char *text);

#endif
