/* berth's flag parser must accept and refuse exactly what runc's does:
 * engines build runc command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

static const struct berth_flag flags[] = {
  { "bundle, b", BERTH_FLAG_STRING, "", NULL },
  { "detach, d", BERTH_FLAG_BOOL, "", NULL },
  { "preserve-fds", BERTH_FLAG_INT, "", NULL },
  { "env, e", BERTH_FLAG_STRING_LIST, "", NULL },
  { "additional-gids, g", BERTH_FLAG_INT_LIST, "", NULL },
};
enum
{
  BUNDLE,
  DETACH,
  PRESERVE,
  ENV,
  GIDS,
  N_FLAGS
};

struct parsed
{
  struct berth_args args;
  char *error;
  int ret;
};

static struct parsed
parse (bool reorder, int argc, ...)
{
  static char *argv[32];
  struct parsed p;
  va_list ap;

  va_start (ap, argc);
  for (int i = 0; i < argc; i++)
    argv[i] = va_arg (ap, char *);
  va_end (ap);
  p.ret = berth_args_parse (flags, N_FLAGS, argc, argv, reorder, &p.args, &p.error);
  return p;
}

static void
done (struct parsed *p)
{
  berth_args_free (&p->args);
  free (p->error);
}

static void
test_one_or_two_dashes_and_equals (void **state)
{
  struct parsed p = parse (false, 5, "-bundle", "/b1", "--detach=false", "--preserve-fds=0x3", "id");
  assert_int_equal (p.ret, 0);
  assert_string_equal (p.args.values[BUNDLE].s, "/b1");
  assert_true (p.args.values[DETACH].set);
  assert_false (p.args.values[DETACH].b);
  assert_int_equal (p.args.values[PRESERVE].i, 3);
  assert_int_equal (p.args.n_positional, 1);
  assert_string_equal (p.args.positional[0], "id");
  done (&p);
}

static void
test_value_may_start_with_dash (void **state)
{
  struct parsed p = parse (false, 3, "-b", "-weird", "id");
  assert_int_equal (p.ret, 0);
  assert_string_equal (p.args.values[BUNDLE].s, "-weird");
  done (&p);
}

static void
test_stops_at_first_operand_without_reorder (void **state)
{
  /* exec and ps: what follows the id belongs to the command. */
  struct parsed p = parse (false, 4, "-d", "id", "ls", "-e");
  assert_int_equal (p.ret, 0);
  assert_true (p.args.values[DETACH].b);
  assert_int_equal (p.args.n_positional, 3);
  assert_string_equal (p.args.positional[2], "-e");
  done (&p);
}

static void
test_reorder_moves_flags_first (void **state)
{
  struct parsed p = parse (true, 3, "id", "--bundle", "/b");
  assert_int_equal (p.ret, 0);
  assert_string_equal (p.args.values[BUNDLE].s, "/b");
  assert_int_equal (p.args.n_positional, 1);
  assert_string_equal (p.args.positional[0], "id");
  done (&p);
}

static void
test_reorder_quirk_word_after_bool_travels_with_it (void **state)
{
  /* urfave: `kill c1 --all KILL` becomes `--all KILL c1`. */
  struct parsed p = parse (true, 3, "c1", "-d", "KILL");
  assert_int_equal (p.ret, 0);
  assert_int_equal (p.args.n_positional, 2);
  assert_string_equal (p.args.positional[0], "KILL");
  assert_string_equal (p.args.positional[1], "c1");
  done (&p);
}

static void
test_double_dash_ends_flags (void **state)
{
  struct parsed p = parse (true, 4, "id", "--", "-d", "x");
  assert_int_equal (p.ret, 0);
  assert_false (p.args.values[DETACH].set);
  assert_int_equal (p.args.n_positional, 3);
  assert_string_equal (p.args.positional[1], "-d");
  done (&p);
}

static void
test_repeatable_lists (void **state)
{
  struct parsed p = parse (false, 7, "-e", "A=1", "-e", "B=2", "-g", "5", "id");
  assert_int_equal (p.ret, 0);
  assert_int_equal (p.args.values[ENV].n_list, 2);
  assert_string_equal (p.args.values[ENV].list[1], "B=2");
  assert_string_equal (p.args.values[GIDS].list[0], "5");
  done (&p);
}

static void
test_help_is_implicit (void **state)
{
  struct parsed p = parse (true, 2, "id", "-h");
  assert_int_equal (p.ret, 0);
  assert_true (p.args.help);
  done (&p);
}

static void
expect_error (bool reorder, const char *expected, int argc, char *a0, char *a1, char *a2)
{
  char *argv[] = { a0, a1, a2 };
  struct parsed p;

  p.ret = berth_args_parse (flags, N_FLAGS, argc, argv, reorder, &p.args, &p.error);
  assert_int_equal (p.ret, -1);
  assert_string_equal (p.error, expected);
  done (&p);
}

static void
test_go_error_texts (void **state)
{
  expect_error (false, "flag provided but not defined: -bogus", 1, "--bogus", NULL, NULL);
  expect_error (false, "flag needs an argument: -b", 1, "-b", NULL, NULL);
  expect_error (false, "bad flag syntax: ---x", 1, "---x", NULL, NULL);
  expect_error (false, "bad flag syntax: -=x", 1, "-=x", NULL, NULL);
  expect_error (false, "invalid boolean value \"maybe\" for -d: parse error", 1, "-d=maybe", NULL, NULL);
  expect_error (false, "invalid value \"x\" for flag -preserve-fds: parse error", 2, "--preserve-fds", "x", NULL);
  expect_error (false, "invalid value \"z\" for flag -g: strconv.ParseInt: parsing \"z\": invalid syntax", 2, "-g", "z",
                NULL);
  expect_error (false, "Cannot use two forms of the same flag: b bundle", 3, "--bundle=x", "-b", "y");
}

static void
test_parse_bool_like_go (void **state)
{
  bool b = false;
  assert_int_equal (berth_parse_bool ("True", &b), 0);
  assert_true (b);
  assert_int_equal (berth_parse_bool ("F", &b), 0);
  assert_false (b);
  assert_int_equal (berth_parse_bool ("yes", &b), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_one_or_two_dashes_and_equals),
    cmocka_unit_test (test_value_may_start_with_dash),
    cmocka_unit_test (test_stops_at_first_operand_without_reorder),
    cmocka_unit_test (test_reorder_moves_flags_first),
    cmocka_unit_test (test_reorder_quirk_word_after_bool_travels_with_it),
    cmocka_unit_test (test_double_dash_ends_flags),
    cmocka_unit_test (test_repeatable_lists),
    cmocka_unit_test (test_help_is_implicit),
    cmocka_unit_test (test_go_error_texts),
    cmocka_unit_test (test_parse_bool_like_go),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
