/* Whiteouts: the image-spec's AUFS-style markers turned into what
 * overlayfs reads in a lower layer.
 *
 *   dir/.wh.name     ->  dir/name as a character device 0/0
 *   dir/.wh..wh..opq ->  xattr trusted.overlay.opaque="y" on dir
 */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

int
whiteout_make_at (int dirfd, const char *name, berth_err *err)
{
  if (mknodat (dirfd, name, S_IFCHR | 0, makedev (0, 0)) < 0)
    return berth_fail (err, errno, "make whiteout `%s`", name);
  return 0;
}

int
whiteout_make_opaque (int dirfd, berth_err *err)
{
  char path[64];

  /* dirfd is often O_PATH, which fsetxattr refuses; its /proc link works. */
  snprintf (path, sizeof (path), "/proc/self/fd/%d", dirfd);
  if (setxattr (path, "trusted.overlay.opaque", "y", 1, 0) < 0)
    return berth_fail (err, errno, "mark directory opaque (trusted.overlay.opaque)");
  return 0;
}
