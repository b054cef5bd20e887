/* berth state: the container's state JSON, indented as runc's
 * json.MarshalIndent (two spaces, no final newline). */
#include "cli/cli.h"

static int
run_state (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  struct berth_container_info *info = NULL;
  json_t *json;
  int ret;

  if (berth_container_state (&cli->ctx, args->positional[0], &info, err) < 0)
    return -1;
  json = berth_container_info_to_json (info);
  ret = json != NULL ? berth_cli_print_json (json, 2, false, err) : berth_fail (err, 0, "cannot encode state");
  json_decref (json);
  berth_container_info_free (info);
  return ret < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_state = {
  .name = "state",
  .summary = "output the state of a container",
  .usage = "<container-id>"
           "\n\nWhere \"<container-id>\" is your name for the instance of the container.",
  .description = "The state command outputs current state information for the\ninstance of a container.",
  .min_args = 1,
  .max_args = 1,
  .run = run_state,
};
