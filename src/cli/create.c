/* berth create: set up a container whose init waits for `start`. */
#include "cli/cli.h"

#include <stdlib.h>

static const struct berth_flag create_flags[] = { BERTH_CREATE_FLAGS };

static int
run_create (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  struct berth_create_options opts;
  char *bundle = NULL;
  char *pid_file = NULL;
  int ret;

  ret = berth_cli_create_options (&berth_cmd_create, args, &opts, &bundle, &pid_file, err);
  if (ret == 0)
    ret = berth_container_create (&cli->ctx, &opts, err);
  free (bundle);
  free (pid_file);
  return ret < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_create = {
  .sealed_exe = true,
  .name = "create",
  .summary = "create a container",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is your name for the instance of the container that you\n"
           "are starting. The name you provide for the container instance must be unique on\n"
           "your host.",
  .description = "The create command creates an instance of a container for a bundle. The bundle\n"
                 "is a directory with a specification file named \"config.json\" and a root\n"
                 "filesystem.\n\n"
                 "The specification file includes an args parameter. The args parameter is used\n"
                 "to specify command(s) that get run when the container is started. To change the\n"
                 "command(s) that get executed on start, edit the args parameter of the spec. See\n"
                 "\"berth spec --help\" for more explanation.",
  .flags = create_flags,
  .n_flags = BERTH_N_FLAGS (create_flags),
  .min_args = 1,
  .max_args = 1,
  .run = run_create,
};
