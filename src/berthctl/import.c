/* berthctl import [--name NAME] PATH: OCI layout dir or tar, docker-archive tar. */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = { { "name", required_argument, NULL, 'n' }, { NULL, 0, NULL, 0 } };
  const char *name = NULL;
  struct berth_store *s;
  berth_err err = NULL;
  json_t *names = NULL, *v;
  size_t i;
  int c, ret;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'n')
      name = optarg;
    else
      return ctl_usage (&ctl_cmd_import, NULL);
  if (argc - optind != 1)
    return ctl_usage (&ctl_cmd_import, "expected one path");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  ret = berth_import (s, argv[optind], name, &names, &err);
  berth_store_close (s);
  if (ret < 0)
    {
      json_decref (names);
      return ctl_fail (&err);
    }
  json_array_foreach (names, i, v) printf ("Imported: %s\n", json_string_value (v));
  json_decref (names);
  return 0;
}

const struct ctl_command ctl_cmd_import = {
  "import", "[--name NAME] PATH", "import an OCI layout (dir or tar) or a docker-archive tar", run, false,
};
