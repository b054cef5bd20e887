/* berth update [flags] ID, or update -r FILE|- ID: change the container's
 * resources.  The flags (or the file, which then wins over them) become a
 * linux.resources object of changes; the library merges it into the
 * container's resources as runc does.  Values and error texts as runc's
 * update.go: sizes like "512m" (docker/go-units RAMInBytes), "-1" for
 * unlimited, Go's strconv messages. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/log.h"

/* clang-format off */
static const struct berth_flag update_flags[] = {
  { "resources, r", BERTH_FLAG_STRING,
    "path to the file containing the resources to update or '-' to read from the standard input\n\n"
    "The accepted format is as follow (unchanged values can be omitted):\n\n"
    "{\n  \"memory\": {\n    \"limit\": 0,\n    \"reservation\": 0,\n    \"swap\": 0,\n    \"checkBeforeUpdate\": true\n  },\n"
    "  \"cpu\": {\n    \"shares\": 0,\n    \"quota\": 0,\n    \"burst\": 0,\n    \"period\": 0,\n"
    "    \"realtimeRuntime\": 0,\n    \"realtimePeriod\": 0,\n    \"cpus\": \"\",\n    \"mems\": \"\",\n"
    "    \"idle\": 0\n  },\n  \"blockIO\": {\n    \"weight\": 0\n  }\n}\n\n"
    "Note: if data is to be read from a file or the standard input, all\nother options are ignored.\n", NULL },
  { "blkio-weight", BERTH_FLAG_INT, "Specifies per cgroup weight, range is from 10 to 1000", "0" },
  { "cpu-period", BERTH_FLAG_STRING, "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default", NULL },
  { "cpu-quota", BERTH_FLAG_STRING, "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period", NULL },
  { "cpu-burst", BERTH_FLAG_STRING,
    "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period", NULL },
  { "cpu-share", BERTH_FLAG_STRING, "CPU shares (relative weight vs. other containers)", NULL },
  { "cpu-rt-period", BERTH_FLAG_STRING,
    "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default", NULL },
  { "cpu-rt-runtime", BERTH_FLAG_STRING, "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period",
    NULL },
  { "cpuset-cpus", BERTH_FLAG_STRING, "CPU(s) to use", NULL },
  { "cpuset-mems", BERTH_FLAG_STRING, "Memory node(s) to use", NULL },
  { "kernel-memory", BERTH_FLAG_STRING, "(obsoleted; do not use)", NULL },
  { "kernel-memory-tcp", BERTH_FLAG_STRING, "(obsoleted; do not use)", NULL },
  { "memory", BERTH_FLAG_STRING, "Memory limit (in bytes)", NULL },
  { "cpu-idle", BERTH_FLAG_STRING, "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE", NULL },
  { "memory-reservation", BERTH_FLAG_STRING, "Memory reservation or soft_limit (in bytes)", NULL },
  { "memory-swap", BERTH_FLAG_STRING, "Total memory usage (memory + swap); set '-1' to enable unlimited swap", NULL },
  { "pids-limit", BERTH_FLAG_INT, "Maximum number of pids allowed in the container", "0" },
  { "l3-cache-schema", BERTH_FLAG_STRING, "The string of Intel RDT/CAT L3 cache schema", NULL },
  { "mem-bw-schema", BERTH_FLAG_STRING, "The string of Intel RDT/MBA memory bandwidth schema", NULL },
};
/* clang-format on */

static const char *
flag_text (const struct berth_args *args, const char *name)
{
  const char *s = berth_cli_flag (&berth_cmd_update, args, name)->s;
  return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Go's strconv.ParseInt/ParseUint(s, 10, 64) with its error text. */
static int
parse_int (const char *opt, const char *s, bool is_unsigned, json_t **out, berth_err *err)
{
  const char *fn = is_unsigned ? "strconv.ParseUint" : "strconv.ParseInt";
  const char *p = s;
  char *end = NULL;

  if (!is_unsigned && (*p == '-' || *p == '+'))
    p++;
  if (*p < '0' || *p > '9' || p[strspn (p, "0123456789")] != '\0')
    return berth_fail (err, 0, "invalid value for %s: %s: parsing \"%s\": invalid syntax", opt, fn, s);
  errno = 0;
  if (is_unsigned)
    {
      unsigned long long v = strtoull (s, &end, 10);
      if (errno == ERANGE)
        return berth_fail (err, 0, "invalid value for %s: %s: parsing \"%s\": value out of range", opt, fn, s);
      *out = json_integer ((json_int_t)v);
    }
  else
    {
      long long v = strtoll (s, &end, 10);
      if (errno == ERANGE)
        return berth_fail (err, 0, "invalid value for %s: %s: parsing \"%s\": value out of range", opt, fn, s);
      *out = json_integer (v);
    }
  return 0;
}

/* docker/go-units RAMInBytes: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$,
 * binary multiples, truncated to an integer. */
static int
ram_in_bytes (const char *s, long long *out, char **error)
{
  const char *p = s, *num_end;
  static const char units[] = "kmgtp";
  double v, mul = 1;
  char *num = NULL, *end = NULL;

  *error = NULL;
  if (*p < '0' || *p > '9')
    goto invalid;
  while ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9'))
    p++;
  num_end = p;
  if (*p == ' ')
    p++;
  if (*p != '\0' && strchr (units, *p | 0x20) != NULL)
    {
      for (const char *u = units; *u; u++)
        {
          mul *= 1024;
          if (*u == (*p | 0x20))
            break;
        }
      p++;
    }
  if (*p == 'i' || *p == 'I')
    p++;
  if (*p == 'b' || *p == 'B')
    p++;
  if (*p != '\0')
    goto invalid;
  num = strndup (s, num_end - s);
  if (num == NULL)
    abort ();
  v = strtod (num, &end);
  if (*end != '\0')
    {
      /* "1.2.3" matches the pattern but is no float. */
      if (asprintf (error, "strconv.ParseFloat: parsing \"%s\": invalid syntax", num) < 0)
        abort ();
      free (num);
      return -1;
    }
  free (num);
  *out = (long long)(v * mul);
  return 0;
invalid:
  if (asprintf (error, "invalid size: '%s'", s) < 0)
    abort ();
  return -1;
}

static int
parse_size (const char *opt, const char *s, json_t **out, berth_err *err)
{
  cleanup_free char *error = NULL;
  long long v;

  if (strcmp (s, "-1") == 0)
    v = -1;
  else if (ram_in_bytes (s, &v, &error) < 0)
    return berth_fail (err, 0, "invalid value for %s: %s", opt, error);
  *out = json_integer (v);
  return 0;
}

static void
put (json_t *changes, const char *group, const char *key, json_t *value)
{
  json_t *g = json_object_get (changes, group);

  if (g == NULL)
    {
      g = json_object ();
      json_object_set_new (changes, group, g);
    }
  json_object_set_new (g, key, value);
}

/* The changes the flags ask for, as a linux.resources object. */
static json_t *
changes_from_flags (const struct berth_args *args, berth_err *err)
{
  static const struct
  {
    const char *opt, *group, *key;
    char kind; /* 'u' ParseUint, 'i' ParseInt, 's' size */
  } numeric[] = {
    { "cpu-idle", "cpu", "idle", 'i' },
    { "cpu-burst", "cpu", "burst", 'u' },
    { "cpu-period", "cpu", "period", 'u' },
    { "cpu-rt-period", "cpu", "realtimePeriod", 'u' },
    { "cpu-share", "cpu", "shares", 'u' },
    { "cpu-quota", "cpu", "quota", 'i' },
    { "cpu-rt-runtime", "cpu", "realtimeRuntime", 'i' },
    { "memory", "memory", "limit", 's' },
    { "memory-swap", "memory", "swap", 's' },
    { "kernel-memory", "memory", "kernel", 's' },
    { "kernel-memory-tcp", "memory", "kernelTCP", 's' },
    { "memory-reservation", "memory", "reservation", 's' },
  };
  json_t *changes = json_object ();
  const struct berth_flag_value *weight = berth_cli_flag (&berth_cmd_update, args, "blkio-weight");
  const struct berth_flag_value *pids = berth_cli_flag (&berth_cmd_update, args, "pids-limit");

  if (weight->i != 0)
    put (changes, "blockIO", "weight", json_integer ((uint16_t)weight->i));
  if (flag_text (args, "cpuset-cpus"))
    put (changes, "cpu", "cpus", json_string (flag_text (args, "cpuset-cpus")));
  if (flag_text (args, "cpuset-mems"))
    put (changes, "cpu", "mems", json_string (flag_text (args, "cpuset-mems")));
  for (size_t i = 0; i < sizeof (numeric) / sizeof (numeric[0]); i++)
    {
      const char *s = flag_text (args, numeric[i].opt);
      json_t *v = NULL;
      int r;

      if (s == NULL)
        continue;
      r = numeric[i].kind == 's' ? parse_size (numeric[i].opt, s, &v, err)
                                 : parse_int (numeric[i].opt, s, numeric[i].kind == 'u', &v, err);
      if (r < 0)
        {
          json_decref (changes);
          return NULL;
        }
      put (changes, numeric[i].group, numeric[i].key, v);
    }
  if (pids->i != 0)
    put (changes, "pids", "limit", json_integer (pids->i));
  return changes;
}

static json_t *
changes_from_file (const char *path, berth_err *err)
{
  json_error_t jerr;
  json_t *doc;

  if (strcmp (path, "-") == 0)
    doc = json_loadf (stdin, JSON_DISABLE_EOF_CHECK, &jerr);
  else
    {
      FILE *f = fopen (path, "re");
      if (f == NULL)
        return berth_fail (err, errno, "open %s", path), NULL;
      doc = json_loadf (f, JSON_DISABLE_EOF_CHECK, &jerr);
      fclose (f);
    }
  if (doc == NULL)
    return berth_fail (err, 0, "invalid resources JSON: %s", jerr.text), NULL;
  return doc;
}

static bool
nonzero (json_t *v)
{
  return json_is_integer (v) && json_integer_value (v) != 0;
}

static int
run_update (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *id = args->positional[0];
  const char *file = flag_text (args, "resources");
  struct berth_container_info *info = NULL;
  struct berth_update_options opts = { 0 };
  json_t *memory;
  int ret;

  /* runc looks the container up before it reads any value. */
  if (berth_container_state (&cli->ctx, id, &info, err) < 0)
    return -1;
  berth_container_info_free (info);
  opts.resources = file ? changes_from_file (file, err) : changes_from_flags (args, err);
  if (opts.resources == NULL)
    return -1;
  memory = json_object_get (opts.resources, "memory");
  if (nonzero (json_object_get (memory, "kernel")) || nonzero (json_object_get (memory, "kernelTCP")))
    berth_log (BERTH_LOG_WARNING, "Kernel memory settings are ignored and will be removed");
  opts.l3_cache_schema = flag_text (args, "l3-cache-schema");
  opts.mem_bw_schema = flag_text (args, "mem-bw-schema");
  ret = berth_container_update (&cli->ctx, id, &opts, err);
  json_decref (opts.resources);
  return ret < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_update = {
  .name = "update",
  .summary = "update container resource constraints",
  .usage = "<container-id>",
  .flags = update_flags,
  .n_flags = BERTH_N_FLAGS (update_flags),
  .min_args = 1,
  .max_args = 1,
  .run = run_update,
};
