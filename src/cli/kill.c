/* berth kill ID [SIGNAL]: SIGTERM by default; a number, or a name with or
 * without the SIG prefix in any case (runc's parseSignal). */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const struct berth_flag kill_flags[] = {
  { "all, a", BERTH_FLAG_BOOL, "send the specified signal to all processes inside the container", NULL },
};

/* Any decimal number is taken as is (the kernel judges it), like runc. */
static int
parse_signal (const char *text)
{
  char upper[64];
  char *end = NULL;
  long n;
  size_t i;

  errno = 0;
  n = strtol (text, &end, 10);
  if (text[0] != '\0' && *end == '\0' && errno == 0 && n >= INT_MIN && n <= INT_MAX)
    return (int)n;
  for (i = 0; text[i] != '\0' && i < sizeof (upper) - 1; i++)
    upper[i] = (char)toupper ((unsigned char)text[i]);
  upper[i] = '\0';
  if (text[i] != '\0' || i == 0)
    return -1;
  return berth_signal_from_name (upper);
}

static int
run_kill (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *id = args->positional[0];
  const char *name = args->n_positional > 1 ? args->positional[1] : "SIGTERM";
  int sig = parse_signal (name);

  if (sig < 0)
    {
      /* runc looks the container up first: a missing one is reported before
       * a bad signal. */
      struct berth_container_info *info = NULL;
      if (berth_container_state (&cli->ctx, id, &info, err) < 0)
        return -1;
      berth_container_info_free (info);
      return berth_fail (err, 0, "unknown signal \"%s\"", name);
    }
  if (berth_container_kill (&cli->ctx, id, sig, berth_cli_flag (&berth_cmd_kill, args, "all")->b, err) < 0)
    return -1;
  return 0;
}

const struct berth_cli_command berth_cmd_kill = {
  .name = "kill",
  .summary = "kill sends the specified signal (default: SIGTERM) to the container's init process",
  .usage = "<container-id> [signal]\n\n"
           "Where \"<container-id>\" is the name for the instance of the container and\n"
           "\"[signal]\" is the signal to be sent to the init process.\n\n"
           "EXAMPLE:\n"
           "For example, if the container id is \"ubuntu01\" the following will send a \"KILL\"\n"
           "signal to the init process of the \"ubuntu01\" container:\n\n"
           "       # berth kill ubuntu01 KILL",
  .flags = kill_flags,
  .n_flags = BERTH_N_FLAGS (kill_flags),
  .min_args = 1,
  .max_args = 2,
  .run = run_kill,
};
