/* Helpers shared by the spec unit tests.  JSON is written with single quotes
 * in the C sources (no backslash soup) and turned into real JSON here. */
#ifndef BERTH_TEST_SPEC_UTIL_H
#define BERTH_TEST_SPEC_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec.h"

static inline char *
json_quote (const char *text)
{
  char *s = strdup (text);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  return s;
}

/* Parses single-quoted JSON; fails the test on error. */
static inline struct berth_spec *
parse_ok (const char *text)
{
  berth_err err = NULL;
  char *s = json_quote (text);
  struct berth_spec *spec = berth_spec_parse (s, strlen (s), "config.json", &err);
  if (spec == NULL)
    fail_msg ("unexpected error: %s", err->msg);
  free (s);
  return spec;
}

/* Parses single-quoted JSON that must fail with exactly `expected`. */
static inline void
parse_fails (const char *text, const char *expected)
{
  berth_err err = NULL;
  char *s = json_quote (text);
  struct berth_spec *spec = berth_spec_parse (s, strlen (s), "config.json", &err);
  free (s);
  if (spec != NULL)
    {
      berth_spec_free (spec);
      fail_msg ("parsed, but expected error: %s", expected);
    }
  assert_non_null (err);
  assert_string_equal (err->msg, expected);
  assert_int_equal (err->errnum, 0);
  berth_err_free (&err);
}

/* A minimal valid document with `extra` (",'key': value" members) appended. */
#define DOC(extra) "{'ociVersion': '1.2.0'" extra "}"
#define PROC(extra) DOC (", 'process': {'args': ['sh'], 'cwd': '/'" extra "}")
#define LINUX(extra) DOC (", 'linux': {" extra "}")
#define RES(extra) LINUX ("'resources': {" extra "}")
#define MOUNT(extra) DOC (", 'mounts': [{'destination': '/m'" extra "}]")

#endif
