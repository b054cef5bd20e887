/* berth delete [--force] ID */
#include "cli/cli.h"

static const struct berth_flag delete_flags[] = {
  { "force, f", BERTH_FLAG_BOOL, "Forcibly deletes the container if it is still running (uses SIGKILL)", NULL },
};

static int
run_delete (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  bool force = berth_cli_flag (&berth_cmd_delete, args, "force")->b;

  if (berth_container_delete (&cli->ctx, args->positional[0], force, err) == 0)
    return 0;
  /* runc: deleting a missing container with --force succeeds; engines rely
   * on it when cleaning up after a failed create. */
  if (force && berth_cli_is_not_exist (*err))
    {
      berth_err_free (err);
      return 0;
    }
  return -1;
}

const struct berth_cli_command berth_cmd_delete = {
  .name = "delete",
  .summary = "delete any resources held by the container often used with detached container",
  .usage = "<container-id>\n\n"
           "Where \"<container-id>\" is the name for the instance of the container.\n\n"
           "EXAMPLE:\n"
           "For example, if the container id is \"ubuntu01\" and berth list currently shows the\n"
           "status of \"ubuntu01\" as \"stopped\" the following will delete resources held for\n"
           "\"ubuntu01\" removing \"ubuntu01\" from the berth list of containers:\n\n"
           "       # berth delete ubuntu01",
  .flags = delete_flags,
  .n_flags = BERTH_N_FLAGS (delete_flags),
  .min_args = 1,
  .max_args = 1,
  .run = run_delete,
};
