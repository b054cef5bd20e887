/* berthctl export [--format oci-dir|oci-archive|docker-archive] IMAGE PATH */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  enum berth_export_format fmt = BERTH_EXPORT_OCI_TAR;
  struct berth_store *s;
  berth_err err = NULL;
  int c, ret;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    {
      if (c != 'f')
        return ctl_usage (&ctl_cmd_export, NULL);
      if (strcmp (optarg, "oci-dir") == 0)
        fmt = BERTH_EXPORT_OCI_DIR;
      else if (strcmp (optarg, "oci-archive") == 0)
        fmt = BERTH_EXPORT_OCI_TAR;
      else if (strcmp (optarg, "docker-archive") == 0)
        fmt = BERTH_EXPORT_DOCKER_TAR;
      else
        return ctl_usage (&ctl_cmd_export, "--format: expected oci-dir, oci-archive or docker-archive");
    }
  if (argc - optind != 2)
    return ctl_usage (&ctl_cmd_export, "expected IMAGE PATH");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  ret = berth_export (s, argv[optind], argv[optind + 1], fmt, &err);
  berth_store_close (s);
  return ret < 0 ? ctl_fail (&err) : 0;
}

const struct ctl_command ctl_cmd_export = {
  "export",
  "[--format oci-dir|oci-archive|docker-archive] IMAGE PATH",
  "write an image as an OCI layout (dir or tar) or a docker-archive tar",
  run,
  false,
};
