/* berth features: features.json, indented as runc's json.MarshalIndent
 * with four spaces, then a newline. */
#include "cli/cli.h"

static int
run_features (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  json_t *features = berth_features_json ();
  int ret;

  (void)cli;
  (void)args;
  ret = berth_cli_print_json (features, 4, true, err);
  json_decref (features);
  return ret < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_features = {
  .name = "features",
  .summary = "show the enabled features",
  .usage = "",
  .description = "Show the enabled features.\n   The result is parsable as a JSON.\n   See "
                 "https://github.com/opencontainers/runtime-spec/blob/main/features.md for the type definition.",
  .min_args = 0,
  .max_args = 0,
  .run = run_features,
};
