/* berth resume: thaw every process of the container (cgroup freezer). */
#include "cli/cli.h"

static int
run_resume (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  return berth_container_resume (&cli->ctx, args->positional[0], err) < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_resume = {
  .name = "resume",
  .summary = "resumes all processes that have been previously paused",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is the name for the instance of the container to be\n"
           "resumed.",
  .description = "The resume command resumes all processes in the instance of the container.\n\nUse runc list to "
                 "identify instances of containers and their current status.",
  .min_args = 1,
  .max_args = 1,
  .run = run_resume,
};
