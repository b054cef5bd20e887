/* berth pause: freeze every process of the container (cgroup freezer). */
#include "cli/cli.h"

static int
run_pause (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  return berth_container_pause (&cli->ctx, args->positional[0], err) < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_pause = {
  .name = "pause",
  .summary = "pause suspends all processes inside the container",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is the name for the instance of the container to be\n"
           "paused.",
  .description = "The pause command suspends all processes in the instance of the container.\n\nUse runc list to "
                 "identify instances of containers and their current status.",
  .min_args = 1,
  .max_args = 1,
  .run = run_pause,
};
