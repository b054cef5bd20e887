#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide target, set once by berth_log_init() before any thread runs. */
static struct
{
  int fd; /* -1: stderr */
  enum berth_log_format format;
  bool debug;
  struct timespec start; /* for the terminal form's [0000] */
} log_target = { .fd = -1 };

static const char *const level_names[] = { "error", "warning", "info", "debug" };

const char *
berth_log_level_name (enum berth_log_level level)
{
  return level <= BERTH_LOG_DEBUG ? level_names[level] : "unknown";
}

/* Growing string buffer; allocation failure aborts (nothing sane to do). */
struct buf
{
  char *data;
  size_t len, cap;
};

static void
buf_add (struct buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      b->cap = (b->len + n + 1) * 2;
      b->data = realloc (b->data, b->cap);
      if (b->data == NULL)
        abort ();
    }
  memcpy (b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void
buf_addf (struct buf *b, const char *fmt, ...)
{
  char tmp[64];
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (tmp, sizeof (tmp), fmt, ap);
  va_end (ap);
  buf_add (b, tmp, n < (int)sizeof (tmp) ? (size_t)n : sizeof (tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when invalid; *cp: the
 * code point. */
static size_t
utf8_decode (const unsigned char *s, uint32_t *cp)
{
  size_t n;
  uint32_t c, min;

  if (s[0] < 0x80)
    return (*cp = s[0]), 1;
  if ((s[0] & 0xe0) == 0xc0)
    n = 2, c = s[0] & 0x1f, min = 0x80;
  else if ((s[0] & 0xf0) == 0xe0)
    n = 3, c = s[0] & 0x0f, min = 0x800;
  else if ((s[0] & 0xf8) == 0xf0)
    n = 4, c = s[0] & 0x07, min = 0x10000;
  else
    return 0;
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      c = (c << 6) | (s[i] & 0x3f);
    }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return n;
}

char *
berth_utf8_sanitize (const char *text)
{
  struct buf b = { 0 };
  const unsigned char *s = (const unsigned char *)text;
  uint32_t cp;

  buf_add (&b, "", 0);
  while (*s != '\0')
    {
      size_t n = utf8_decode (s, &cp);
      if (n == 0)
        buf_add (&b, "\xef\xbf\xbd", 3), s++;
      else
        buf_add (&b, (const char *)s, n), s += n;
    }
  return b.data;
}

/* logrus quotes a text value holding anything outside this set. */
static bool
needs_quoting (const char *s)
{
  for (; *s != '\0'; s++)
    {
      char c = *s;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
            || c == '_' || c == '/' || c == '@' || c == '^' || c == '+'))
        return true;
    }
  return false;
}

/* Go's strconv.Quote (what %q prints). */
static void
add_go_quoted (struct buf *b, const char *text)
{
  const unsigned char *s = (const unsigned char *)text;
  uint32_t cp;

  buf_add (b, "\"", 1);
  while (*s != '\0')
    {
      size_t n = utf8_decode (s, &cp);
      const char *esc = NULL;
      switch (n == 0 ? 0x100 : cp)
        {
        case '"':
          esc = "\\\"";
          break;
        case '\\':
          esc = "\\\\";
          break;
        case '\a':
          esc = "\\a";
          break;
        case '\b':
          esc = "\\b";
          break;
        case '\f':
          esc = "\\f";
          break;
        case '\n':
          esc = "\\n";
          break;
        case '\r':
          esc = "\\r";
          break;
        case '\t':
          esc = "\\t";
          break;
        case '\v':
          esc = "\\v";
          break;
        }
      if (esc != NULL)
        buf_add (b, esc, strlen (esc));
      else if (n == 0 || cp < 0x20 || cp == 0x7f)
        buf_addf (b, "\\x%02x", *s), n = 1;
      else if ((cp >= 0x80 && cp <= 0xa0) || cp == 0xad || cp == 0x2028 || cp == 0x2029)
        buf_addf (b, "\\u%04x", cp); /* not printable for Go */
      else
        buf_add (b, (const char *)s, n);
      s += n;
    }
  buf_add (b, "\"", 1);
}

/* RFC 3339 in local time, as Go's time.RFC3339 prints it ("Z" for UTC). */
static void
format_time (const struct timespec *now, char *out, size_t size)
{
  struct tm tm;
  long off;
  size_t n;

  localtime_r (&now->tv_sec, &tm);
  n = strftime (out, size, "%Y-%m-%dT%H:%M:%S", &tm);
  off = tm.tm_gmtoff;
  if (off == 0)
    snprintf (out + n, size - n, "Z");
  else
    snprintf (out + n, size - n, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs (off) / 3600, labs (off) % 3600 / 60);
}

char *
berth_json_go_escape (const char *json)
{
  struct buf b = { 0 };

  buf_add (&b, "", 0);
  for (const char *p = json; *p != '\0'; p++)
    {
      /* Every backslash in JSON text starts an escape: copy pairs whole. */
      if (p[0] == '\\' && p[1] != '\0')
        {
          if (p[1] == 'b')
            buf_add (&b, "\\u0008", 6);
          else if (p[1] == 'f')
            buf_add (&b, "\\u000c", 6);
          else
            buf_add (&b, p, 2);
          p++;
        }
      else if (*p == '<')
        buf_add (&b, "\\u003c", 6);
      else if (*p == '>')
        buf_add (&b, "\\u003e", 6);
      else if (*p == '&')
        buf_add (&b, "\\u0026", 6);
      else if (strncmp (p, "\xe2\x80\xa8", 3) == 0 || strncmp (p, "\xe2\x80\xa9", 3) == 0)
        {
          buf_add (&b, p[2] == '\xa8' ? "\\u2028" : "\\u2029", 6);
          p += 2;
        }
      else
        buf_add (&b, p, 1);
    }
  return b.data;
}

static char *
format_json_line (const char *level, const char *msg, const char *when)
{
  char *clean = berth_utf8_sanitize (msg);
  json_t *obj = json_pack ("{s:s, s:s, s:s}", "level", level, "msg", clean, "time", when);
  char *dumped = obj != NULL ? json_dumps (obj, JSON_COMPACT) : NULL;
  char *line = NULL;
  char *escaped;

  free (clean);
  json_decref (obj);
  if (dumped == NULL)
    abort ();
  escaped = berth_json_go_escape (dumped);
  free (dumped);
  if (asprintf (&line, "%s\n", escaped) < 0)
    abort ();
  free (escaped);
  return line;
}

char *
berth_log_format_line (enum berth_log_format format, enum berth_log_level level, const char *msg,
                       const struct timespec *now, long elapsed)
{
  static const int colors[] = { 31, 33, 36, 37 }; /* logrus: red, yellow, blue, gray */
  const char *name = berth_log_level_name (level);
  struct buf b = { 0 };
  char when[64];
  char tag[5];
  size_t len;

  format_time (now, when, sizeof (when));
  if (format == BERTH_LOG_JSON)
    return format_json_line (name, msg, when);
  if (format == BERTH_LOG_TEXT_TTY)
    {
      /* logrus trims one trailing newline and pads the message to 44 columns. */
      for (int i = 0; i < 4; i++)
        tag[i] = name[i] - 'a' + 'A';
      tag[4] = '\0';
      len = strlen (msg);
      if (len > 0 && msg[len - 1] == '\n')
        len--;
      buf_addf (&b, "\x1b[%dm%s\x1b[0m[%04ld] ", colors[level], tag, elapsed);
      buf_add (&b, msg, len);
      for (; len < 44; len++)
        buf_add (&b, " ", 1);
      buf_add (&b, " \n", 2);
      return b.data;
    }
  buf_add (&b, "time=", 5);
  add_go_quoted (&b, when);
  buf_add (&b, " level=", 7);
  buf_add (&b, name, strlen (name));
  buf_add (&b, " msg=", 5);
  if (needs_quoting (msg))
    add_go_quoted (&b, msg);
  else
    buf_add (&b, msg, strlen (msg));
  buf_add (&b, "\n", 1);
  return b.data;
}

void
berth_log_reset (void)
{
  if (log_target.fd >= 0)
    close (log_target.fd);
  log_target.fd = -1;
  log_target.format = isatty (STDERR_FILENO) ? BERTH_LOG_TEXT_TTY : BERTH_LOG_TEXT;
  log_target.debug = false;
}

int
berth_log_init (const char *path, const char *format, bool debug, berth_err *err)
{
  int fd = -1;

  berth_log_reset ();
  clock_gettime (CLOCK_REALTIME, &log_target.start);
  /* Same order as runc: level, then file, then format (so a bad format is
   * reported into the file already chosen). */
  log_target.debug = debug;
  if (path != NULL && path[0] != '\0')
    {
      fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_SYNC | O_CLOEXEC, 0644);
      if (fd < 0)
        return berth_fail (err, errno, "open %s", path);
      log_target.fd = fd;
      log_target.format = isatty (fd) ? BERTH_LOG_TEXT_TTY : BERTH_LOG_TEXT;
    }
  if (format == NULL || format[0] == '\0' || strcmp (format, "text") == 0)
    return 0;
  if (strcmp (format, "json") == 0)
    {
      log_target.format = BERTH_LOG_JSON;
      return 0;
    }
  return berth_fail (err, 0, "invalid log-format: %s", format);
}

static void
write_line (enum berth_log_level level, const char *msg)
{
  struct timespec now;
  char *line;
  int fd = log_target.fd >= 0 ? log_target.fd : STDERR_FILENO;
  ssize_t r;

  clock_gettime (CLOCK_REALTIME, &now);
  line = berth_log_format_line (log_target.format, level, msg, &now, (long)(now.tv_sec - log_target.start.tv_sec));
  do
    r = write (fd, line, strlen (line));
  while (r < 0 && errno == EINTR);
  free (line);
}

void
berth_log (enum berth_log_level level, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;

  if (level == BERTH_LOG_DEBUG && !log_target.debug)
    return;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (msg == NULL)
    return;
  write_line (level, msg);
  free (msg);
}

void
berth_log_error_and_print (const struct berth_error *err)
{
  const char *msg = err != NULL && err->msg != NULL ? err->msg : "unknown error";

  write_line (BERTH_LOG_ERROR, msg);
  if (log_target.fd >= 0)
    dprintf (STDERR_FILENO, "%s\n", msg);
}
