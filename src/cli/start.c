/* berth start: let a created container's init run the user process. */
#include "cli/cli.h"

static int
run_start (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  return berth_container_start (&cli->ctx, args->positional[0], err) < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_start = {
  .name = "start",
  .summary = "executes the user defined process in a created container",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is your name for the instance of the container that you\n"
           "are starting. The name you provide for the container instance must be unique on\n"
           "your host.",
  .description = "The start command executes the user defined process in a created container.",
  .min_args = 1,
  .max_args = 1,
  .run = run_start,
};
