/* berth events [--stats] [--interval 5s] ID: runc's event stream, one JSON
 * object per line (Go's json.Encoder): stats every interval and OOM
 * notifications until the container stops; with --stats, one stats event. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const struct berth_flag events_flags[] = {
  { "interval", BERTH_FLAG_STRING, "set the stats collection interval (default: 5s)", NULL },
  { "stats", BERTH_FLAG_BOOL, "display the container's stats then exit", NULL },
};

/* Go's time.ParseDuration, in nanoseconds.  Returns -1 when malformed. */
static int
parse_duration (const char *s, long long *ns)
{
  static const struct
  {
    const char *name;
    double ns;
  } units[] = {
    { "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
    { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },        { "h", 3600e9 },
  };
  double total = 0;
  bool neg = false;

  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (strcmp (s, "0") == 0)
    {
      *ns = 0;
      return 0;
    }
  if (*s == '\0')
    return -1;
  while (*s != '\0')
    {
      const char *start = s;
      char *end = NULL;
      double v;
      size_t best = 0, best_len = 0;

      if (!((*s >= '0' && *s <= '9') || *s == '.'))
        return -1;
      while ((*s >= '0' && *s <= '9') || *s == '.')
        s++;
      if (s == start || (s - start == 1 && *start == '.'))
        return -1;
      v = strtod (start, &end);
      if (end != s)
        return -1;
      for (size_t i = 0; i < sizeof (units) / sizeof (units[0]); i++)
        {
          size_t len = strlen (units[i].name);
          if (strncmp (s, units[i].name, len) == 0 && len > best_len)
            best = i, best_len = len;
        }
      if (best_len == 0)
        return -1; /* missing or unknown unit */
      total += v * units[best].ns;
      s += best_len;
    }
  if (total > 9.2e18)
    return -1;
  *ns = (long long)(neg ? -total : total);
  return 0;
}

static int
print_event (json_t *event, void *data, berth_err *err)
{
  cleanup_free char *text = berth_event_dumps (event);

  (void)data;
  if (text == NULL)
    return berth_fail (err, 0, "cannot encode event");
  if (fputs (text, stdout) < 0 || putchar ('\n') < 0 || fflush (stdout) != 0)
    return berth_fail (err, errno, "write event");
  return 0;
}

static int
run_events (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *interval = berth_cli_flag (&berth_cmd_events, args, "interval")->s;
  bool stats = berth_cli_flag (&berth_cmd_events, args, "stats")->b;
  long long ns = 5000000000LL;
  unsigned long long ms;

  if (interval != NULL && parse_duration (interval, &ns) < 0)
    return berth_fail (err, 0, "invalid value \"%s\" for flag -interval: parse error", interval);
  /* Sub-millisecond intervals round up; non-positive ones are refused. */
  ms = ns <= 0 ? 0 : (unsigned long long)((ns + 999999) / 1000000);
  return berth_container_events (&cli->ctx, args->positional[0], stats, ms, print_event, NULL, err) < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_events = {
  .name = "events",
  .summary = "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is the name for the instance of the container.",
  .description = "The events command displays information about the container. By default the\ninformation is "
                 "displayed once every 5 seconds.",
  .flags = events_flags,
  .n_flags = BERTH_N_FLAGS (events_flags),
  .min_args = 1,
  .max_args = 1,
  .run = run_events,
};
