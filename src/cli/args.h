/* Command line flags parsed the way runc's (urfave/cli v1 over Go's `flag`)
 * are, because engines build runc command lines and expect them to work:
 *
 *   - one or two dashes: -root and --root;
 *   - a value as `--flag=value` or `--flag value` (the next word is taken even
 *     if it starts with '-'); bools as `--detach` or `--detach=false`;
 *   - parsing stops at the first non-flag word, at "-" and after "--";
 *   - unless a command skips it, flags after positional words are first moved
 *     in front of them (urfave's reorderArgs, quirks included: a non-flag word
 *     following a reordered flag travels with it);
 *   - -h/--help is implicit.
 *
 * Error texts are Go's ("flag provided but not defined: -x") since they are
 * printed after "Incorrect Usage".  Pure code: no I/O.
 */
#ifndef BERTH_CLI_ARGS_H
#define BERTH_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum berth_flag_type
{
  BERTH_FLAG_BOOL,
  BERTH_FLAG_STRING,
  BERTH_FLAG_INT,         /* strtoll base 0, like Go's ParseInt(s, 0, 64) */
  BERTH_FLAG_STRING_LIST, /* repeatable */
  BERTH_FLAG_INT_LIST,    /* repeatable, each checked as an int */
};

struct berth_flag
{
  const char *names; /* "bundle, b": long name first, as runc's help shows them */
  enum berth_flag_type type;
  const char *usage;        /* help text */
  const char *default_text; /* shown as (default: ...) in help; NULL: none */
};

struct berth_flag_value
{
  bool set; /* the flag was given at least once */
  bool b;
  const char *s; /* STRING / INT: the text given (last one wins) */
  long long i;
  const char **list; /* *_LIST: every value, in order */
  size_t n_list;
};

struct berth_args
{
  struct berth_flag_value *values; /* one per flag, same order */
  size_t n_values;
  char **positional; /* borrowed from argv */
  size_t n_positional;
  bool help; /* -h / --help was given */
};

/* Parse argv[0..argc) (no command name) against flags.  Returns 0, or -1 with
 * *error set to a malloc'd Go-style message.  out must be freed with
 * berth_args_free() in both cases. */
int berth_args_parse (const struct berth_flag *flags, size_t n_flags, int argc, char **argv, bool reorder,
                      struct berth_args *out, char **error);

void berth_args_free (struct berth_args *args);

/* Index of the flag called `name` (any of its names), or -1. */
int berth_flag_find (const struct berth_flag *flags, size_t n_flags, const char *name);

/* Go's strconv.ParseBool. */
int berth_parse_bool (const char *text, bool *out);

#endif
