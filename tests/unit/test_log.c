/* Log lines must be byte-for-byte what runc (logrus) writes: podman and
 * containerd parse them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* 2026-01-02T03:04:05Z */
static const struct timespec when = { .tv_sec = 1767323045, .tv_nsec = 123456789 };

static void
expect_line (enum berth_log_format format, enum berth_log_level level, const char *msg, const char *expected)
{
  char *line = berth_log_format_line (format, level, msg, &when, 0);
  assert_string_equal (line, expected);
  free (line);
}

static void
test_text_plain_word_is_unquoted (void **state)
{
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_INFO, "hello", "time=\"2026-01-02T03:04:05Z\" level=info msg=hello\n");
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_DEBUG, "a-b.c_d/e@f^g+h",
               "time=\"2026-01-02T03:04:05Z\" level=debug msg=a-b.c_d/e@f^g+h\n");
}

static void
test_text_runc_error_line (void **state)
{
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_ERROR, "container does not exist",
               "time=\"2026-01-02T03:04:05Z\" level=error msg=\"container does not exist\"\n");
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_WARNING, "x y", "time=\"2026-01-02T03:04:05Z\" level=warning msg=\"x y\"\n");
}

static void
test_text_escapes_like_go_quote (void **state)
{
  /* What runc prints for urfave's "No help topic for 'foo'\n". */
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_ERROR, "No help topic for 'foo'\n",
               "time=\"2026-01-02T03:04:05Z\" level=error msg=\"No help topic for 'foo'\\n\"\n");
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_ERROR, "say \"hi\"\\\t\x01\x7f",
               "time=\"2026-01-02T03:04:05Z\" level=error msg=\"say \\\"hi\\\"\\\\\\t\\x01\\x7f\"\n");
  /* Printable UTF-8 is kept, invalid bytes are \x escaped. */
  expect_line (BERTH_LOG_TEXT, BERTH_LOG_ERROR, "b\xc3\xbcndle \xff",
               "time=\"2026-01-02T03:04:05Z\" level=error msg=\"b\xc3\xbcndle \\xff\"\n");
}

static void
test_json_line_keys_and_order (void **state)
{
  expect_line (BERTH_LOG_JSON, BERTH_LOG_ERROR, "container does not exist",
               "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"2026-01-02T03:04:05Z\"}\n");
}

static void
test_json_line_is_valid_json_with_escapes (void **state)
{
  const char *msg = "a \"quoted\"\nline\\ <tag> & \b\x01 \xff";
  char *line = berth_log_format_line (BERTH_LOG_JSON, BERTH_LOG_WARNING, msg, &when, 0);
  json_error_t jerr;
  json_t *obj = json_loads (line, 0, &jerr);

  assert_non_null (obj);
  assert_string_equal (json_string_value (json_object_get (obj, "level")), "warning");
  assert_string_equal (json_string_value (json_object_get (obj, "msg")),
                       "a \"quoted\"\nline\\ <tag> & \b\x01 \xef\xbf\xbd");
  /* Go's encoder escapes HTML characters and \b. */
  assert_non_null (strstr (line, "\\u003ctag\\u003e \\u0026 \\u0008\\u0001"));
  assert_non_null (strstr (line, "\\n"));
  assert_int_equal (line[strlen (line) - 1], '\n');
  assert_ptr_equal (strchr (line, '\n'), line + strlen (line) - 1); /* one line */
  json_decref (obj);
  free (line);
}

static void
test_tty_line (void **state)
{
  char *line = berth_log_format_line (BERTH_LOG_TEXT_TTY, BERTH_LOG_ERROR, "boom\n", &when, 3);
  assert_string_equal (line, "\x1b[31mERRO\x1b[0m[0003] boom                                         \n");
  free (line);
}

static void
test_go_escape_keeps_escaped_backslash (void **state)
{
  char *out = berth_json_go_escape ("\"a\\\\b\\b\\f\\n\xe2\x80\xa8\"");
  assert_string_equal (out, "\"a\\\\b\\u0008\\u000c\\n\\u2028\"");
  free (out);
}

static void
test_utf8_sanitize (void **state)
{
  char *out = berth_utf8_sanitize ("ok \xc3\xbc \xc3 \xed\xa0\x80 \xf0\x9f\x98\x80");
  assert_string_equal (out, "ok \xc3\xbc \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
  free (out);
}

static char *
read_all (const char *path)
{
  FILE *f = fopen (path, "r");
  static char buf[4096];
  size_t n;

  assert_non_null (f);
  n = fread (buf, 1, sizeof (buf) - 1, f);
  buf[n] = '\0';
  fclose (f);
  return buf;
}

static void
test_log_file_levels_and_format (void **state)
{
  char path[] = "/tmp/berth-test-log-XXXXXX";
  char err_path[] = "/tmp/berth-test-stderr-XXXXXX";
  int fd = mkstemp (path);
  berth_err err = NULL;
  struct berth_error e = { .msg = (char *)"it broke" };
  char *text;

  assert_true (fd >= 0);
  close (fd);
  fd = mkstemp (err_path);
  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (berth_log_init (path, "json", false, &err), 0);
  berth_log (BERTH_LOG_DEBUG, "hidden %d", 1);
  berth_log (BERTH_LOG_INFO, "shown %d", 2);
  /* Logging to a file, runc also prints the bare error on stderr. */
  int saved_stderr = dup (STDERR_FILENO);
  int err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2 (err_fd, STDERR_FILENO);
  berth_log_error_and_print (&e);
  dup2 (saved_stderr, STDERR_FILENO);
  close (saved_stderr);
  close (err_fd);
  assert_string_equal (read_all (err_path), "it broke\n");
  unlink (err_path);
  berth_log_reset ();
  text = read_all (path);
  assert_null (strstr (text, "hidden"));
  assert_non_null (strstr (text, "{\"level\":\"info\",\"msg\":\"shown 2\",\"time\":\""));
  assert_non_null (strstr (text, "{\"level\":\"error\",\"msg\":\"it broke\",\"time\":\""));

  assert_int_equal (berth_log_init (path, "text", true, &err), 0);
  berth_log (BERTH_LOG_DEBUG, "now shown");
  berth_log_reset ();
  assert_non_null (strstr (read_all (path), " level=debug msg=\"now shown\"\n"));
  unlink (path);
}

static void
test_bad_format_is_refused (void **state)
{
  berth_err err = NULL;

  assert_int_equal (berth_log_init (NULL, "xml", false, &err), -1);
  assert_non_null (err);
  assert_string_equal (err->msg, "invalid log-format: xml");
  berth_err_free (&err);
  berth_log_reset ();
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_text_plain_word_is_unquoted),          cmocka_unit_test (test_text_runc_error_line),
    cmocka_unit_test (test_text_escapes_like_go_quote),           cmocka_unit_test (test_json_line_keys_and_order),
    cmocka_unit_test (test_json_line_is_valid_json_with_escapes), cmocka_unit_test (test_tty_line),
    cmocka_unit_test (test_go_escape_keeps_escaped_backslash),    cmocka_unit_test (test_utf8_sanitize),
    cmocka_unit_test (test_log_file_levels_and_format),           cmocka_unit_test (test_bad_format_is_refused),
  };

  /* Times are printed in local time, as runc does: pin it. */
  setenv ("TZ", "UTC", 1);
  tzset ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
