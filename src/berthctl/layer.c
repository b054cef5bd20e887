/* berthctl layer unpack [--digest D] FILE DIR: one layer tar into DIR, as
 * pulls do it (for tests, benchmarks and debugging). */
#include "berthctl/berthctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = { { "digest", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 } };
  const char *digest = NULL;
  berth_err err = NULL;
  int c, fd, dirfd, ret;

  if (argc < 2 || strcmp (argv[1], "unpack") != 0)
    return ctl_usage (&ctl_cmd_layer, NULL);
  argc--;
  argv++;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'd')
      digest = optarg;
    else
      return ctl_usage (&ctl_cmd_layer, NULL);
  if (argc - optind != 2)
    return ctl_usage (&ctl_cmd_layer, "unpack: expected FILE DIR");
  fd = strcmp (argv[optind], "-") == 0 ? dup (0) : open (argv[optind], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      berth_fail (&err, errno, "open `%s`", argv[optind]);
      return ctl_fail (&err);
    }
  dirfd = open (argv[optind + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      close (fd);
      berth_fail (&err, errno, "open `%s`", argv[optind + 1]);
      return ctl_fail (&err);
    }
  ret = berth_unpack_layer (fd, dirfd, digest, argv[optind], &err);
  close (fd);
  close (dirfd);
  return ret < 0 ? ctl_fail (&err) : 0;
}

const struct ctl_command ctl_cmd_layer = {
  "layer", "unpack [--digest sha256:HEX] FILE|- DIR", "unpack one layer tar (for tests and benchmarks)", run, true,
};
