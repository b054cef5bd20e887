/* berth run: create and start; unless detached, wait and exit with the
 * container's status. */
#include "cli/cli.h"

#include <stdlib.h>

static const struct berth_flag run_flags[] = {
  BERTH_CREATE_FLAGS,
  { "detach, d", BERTH_FLAG_BOOL, "detach from the container's process", NULL },
  /* Accepted for runc compatibility: berth never uses a subreaper here. */
  { "no-subreaper", BERTH_FLAG_BOOL, "disable the use of the subreaper used to reap reparented processes", NULL },
};

static int
run_run (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  struct berth_create_options opts;
  char *bundle = NULL;
  char *pid_file = NULL;
  bool detach = berth_cli_flag (&berth_cmd_run, args, "detach")->b;
  int status = 0;
  int ret;

  ret = berth_cli_create_options (&berth_cmd_run, args, &opts, &bundle, &pid_file, err);
  if (ret == 0)
    ret = berth_container_run (&cli->ctx, &opts, detach, &status, err);
  free (bundle);
  free (pid_file);
  if (ret < 0)
    return -1;
  return detach ? 0 : status;
}

const struct berth_cli_command berth_cmd_run = {
  .sealed_exe = true,
  .name = "run",
  .summary = "create and run a container",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is your name for the instance of the container that you\n"
           "are starting. The name you provide for the container instance must be unique on\n"
           "your host.",
  .description = "The run command creates an instance of a container for a bundle. The bundle\n"
                 "is a directory with a specification file named \"config.json\" and a root\n"
                 "filesystem.\n\n"
                 "The specification file includes an args parameter. The args parameter is used\n"
                 "to specify command(s) that get run when the container is started. To change the\n"
                 "command(s) that get executed on start, edit the args parameter of the spec. See\n"
                 "\"berth spec --help\" for more explanation.",
  .flags = run_flags,
  .n_flags = BERTH_N_FLAGS (run_flags),
  .min_args = 1,
  .max_args = 1,
  .run = run_run,
};
