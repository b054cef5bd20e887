#include "cli/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP_NAMES "help, h"

/* Whether name[0..len) is one of "long, s"; *position: which one. */
static bool
name_in_list (const char *names, const char *name, size_t len, int *position)
{
  const char *p = names;
  int index = 0;

  while (*p != '\0')
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *end = p;
      while (*end != '\0' && *end != ',' && *end != ' ')
        end++;
      if ((size_t)(end - p) == len && len > 0 && memcmp (p, name, len) == 0)
        {
          if (position != NULL)
            *position = index;
          return true;
        }
      index++;
      p = end;
    }
  return false;
}

/* Returns the n-th name of "long, s" as a pointer and length. */
static const char *
nth_name (const char *names, int n, size_t *len)
{
  const char *p = names;

  for (;;)
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *end = p;
      while (*end != '\0' && *end != ',' && *end != ' ')
        end++;
      if (n-- == 0 || *end == '\0')
        {
          *len = end - p;
          return p;
        }
      p = end;
    }
}

static int
find_flag (const struct berth_flag *flags, size_t n_flags, const char *name, size_t len, int *position)
{
  for (size_t i = 0; i < n_flags; i++)
    if (name_in_list (flags[i].names, name, len, position))
      return (int)i;
  if (name_in_list (HELP_NAMES, name, len, position))
    return (int)n_flags; /* the implicit help flag */
  return -1;
}

int
berth_flag_find (const struct berth_flag *flags, size_t n_flags, const char *name)
{
  int i = find_flag (flags, n_flags, name, strlen (name), NULL);
  return i == (int)n_flags ? -1 : i;
}

int
berth_parse_bool (const char *text, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

  for (size_t i = 0; i < sizeof (yes) / sizeof (yes[0]); i++)
    {
      if (strcmp (text, yes[i]) == 0)
        return (*out = true), 0;
      if (strcmp (text, no[i]) == 0)
        return (*out = false), 0;
    }
  return -1;
}

static int
parse_int (const char *text, long long *out)
{
  char *end = NULL;

  errno = 0;
  *out = strtoll (text, &end, 0);
  if (*text == '\0' || *end != '\0')
    return -EINVAL;
  if (errno == ERANGE)
    return -ERANGE;
  return 0;
}

static int
fail (char **error, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  if (vasprintf (error, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return -1;
}

/* urfave's argIsFlag: "--name=x", "-name" ... naming one of the flags. */
static bool
word_is_flag (const struct berth_flag *flags, size_t n_flags, const char *word)
{
  if (word[0] != '-' || strcmp (word, "-") == 0 || strcmp (word, "--") == 0)
    return false;
  word += word[1] == '-' ? 2 : 1;
  if (*word == '-')
    word++;
  return find_flag (flags, n_flags, word, strcspn (word, "="), NULL) >= 0;
}

/* urfave's reorderArgs, quirks included (see args.h). */
static char **
reorder_words (const struct berth_flag *flags, size_t n_flags, int argc, char **argv)
{
  char **out = calloc (argc + 1, sizeof (char *));
  char **rest = calloc (argc + 1, sizeof (char *));
  size_t n_out = 0, n_rest = 0;
  bool may_be_value = false;

  if (out == NULL || rest == NULL)
    abort ();
  for (int i = 0; i < argc; i++)
    {
      bool is_flag = word_is_flag (flags, n_flags, argv[i]);
      if (may_be_value && !is_flag)
        {
          may_be_value = false;
          out[n_out++] = argv[i];
        }
      else if (strcmp (argv[i], "--") == 0)
        {
          /* Everything after "--" stays an operand, "--" goes first. */
          memmove (rest + 1, rest, n_rest * sizeof (char *));
          rest[0] = argv[i];
          n_rest++;
          for (i++; i < argc; i++)
            rest[n_rest++] = argv[i];
        }
      else if (is_flag)
        {
          out[n_out++] = argv[i];
          may_be_value = strchr (argv[i], '=') == NULL;
        }
      else
        rest[n_rest++] = argv[i];
    }
  memcpy (out + n_out, rest, n_rest * sizeof (char *));
  free (rest);
  return out;
}

static int
set_value (const struct berth_flag *flag, struct berth_flag_value *v, const char *name, const char *value, char **error)
{
  long long n;
  int r;

  switch (flag->type)
    {
    case BERTH_FLAG_BOOL:
      break; /* handled by the caller: no value word */
    case BERTH_FLAG_STRING:
      v->s = value;
      break;
    case BERTH_FLAG_INT:
      r = parse_int (value, &n);
      if (r < 0)
        return fail (error, "invalid value \"%s\" for flag -%s: %s", value, name,
                     r == -ERANGE ? "value out of range" : "parse error");
      v->s = value;
      v->i = n;
      break;
    case BERTH_FLAG_INT_LIST:
      r = parse_int (value, &n);
      if (r < 0)
        return fail (error, "invalid value \"%s\" for flag -%s: strconv.ParseInt: parsing \"%s\": %s", value, name,
                     value, r == -ERANGE ? "value out of range" : "invalid syntax");
      /* fallthrough */
    case BERTH_FLAG_STRING_LIST:
      v->list = realloc (v->list, (v->n_list + 1) * sizeof (char *));
      if (v->list == NULL)
        abort ();
      v->list[v->n_list++] = value;
      break;
    }
  return 0;
}

/* One flag word (Go's FlagSet.parseOne).  *i is advanced past what is used. */
static int
parse_one (const struct berth_flag *flags, size_t n_flags, char **words, size_t n_words, size_t *i,
           struct berth_args *out, int *used_name, char **error)
{
  const char *word = words[(*i)++];
  const char *name = word + (word[1] == '-' ? 2 : 1);
  const char *eq = name[0] != '\0' ? strchr (name + 1, '=') : NULL;
  size_t len = eq != NULL ? (size_t)(eq - name) : strlen (name);
  const char *value = eq != NULL ? eq + 1 : NULL;
  char *plain = strndup (name, len);
  int position = 0;
  int index;
  int ret = 0;

  if (plain == NULL)
    abort ();
  if (len == 0 || name[0] == '-' || name[0] == '=')
    {
      free (plain);
      return fail (error, "bad flag syntax: %s", word);
    }
  index = find_flag (flags, n_flags, name, len, &position);
  if (index < 0)
    ret = fail (error, "flag provided but not defined: -%s", plain);
  else if (index == (int)n_flags || flags[index].type == BERTH_FLAG_BOOL)
    {
      bool b = true;
      if (value != NULL && berth_parse_bool (value, &b) < 0)
        ret = fail (error, "invalid boolean value \"%s\" for -%s: parse error", value, plain);
      else if (index == (int)n_flags)
        out->help = b;
      else
        out->values[index].b = b;
    }
  else
    {
      if (value == NULL && *i < n_words)
        value = words[(*i)++];
      if (value == NULL)
        ret = fail (error, "flag needs an argument: -%s", plain);
      else
        ret = set_value (&flags[index], &out->values[index], plain, value, error);
    }
  if (ret == 0 && index < (int)n_flags)
    {
      /* urfave refuses a flag given by two of its names. */
      if (out->values[index].set && used_name[index] != position)
        {
          size_t l1, l2;
          int first = used_name[index] < position ? used_name[index] : position;
          int second = used_name[index] < position ? position : used_name[index];
          const char *n1 = nth_name (flags[index].names, first, &l1);
          const char *n2 = nth_name (flags[index].names, second, &l2);
          ret = fail (error, "Cannot use two forms of the same flag: %.*s %.*s", (int)l2, n2, (int)l1, n1);
        }
      out->values[index].set = true;
      used_name[index] = position;
    }
  free (plain);
  return ret;
}

int
berth_args_parse (const struct berth_flag *flags, size_t n_flags, int argc, char **argv, bool reorder,
                  struct berth_args *out, char **error)
{
  char **words = reorder ? reorder_words (flags, n_flags, argc, argv) : argv;
  int *used_name = calloc (n_flags + 1, sizeof (int));
  size_t i = 0;
  int ret = 0;

  memset (out, 0, sizeof (*out));
  *error = NULL;
  out->values = calloc (n_flags + 1, sizeof (struct berth_flag_value));
  out->n_values = n_flags;
  out->positional = calloc (argc + 1, sizeof (char *));
  if (out->values == NULL || out->positional == NULL || used_name == NULL)
    abort ();

  while (i < (size_t)argc)
    {
      const char *word = words[i];
      if (strlen (word) < 2 || word[0] != '-')
        break;
      if (strcmp (word, "--") == 0)
        {
          i++;
          break;
        }
      ret = parse_one (flags, n_flags, words, argc, &i, out, used_name, error);
      if (ret < 0)
        break;
    }
  if (ret == 0)
    for (; i < (size_t)argc; i++)
      out->positional[out->n_positional++] = words[i];

  free (used_name);
  if (reorder)
    free (words);
  return ret;
}

void
berth_args_free (struct berth_args *args)
{
  for (size_t i = 0; args->values != NULL && i < args->n_values; i++)
    free (args->values[i].list);
  free (args->values);
  free (args->positional);
  memset (args, 0, sizeof (*args));
}
