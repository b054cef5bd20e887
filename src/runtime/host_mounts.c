/* Mounts a container without a mount namespace leaves in the host's table:
 * found by mount id, detached at delete (host_mounts.h). */
#include "runtime/host_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* 0, or the errno of statx. */
static int
mount_id_of (const char *path, unsigned long long *id)
{
  struct statx sx;

  if (statx (AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) < 0)
    return errno;
  if (!(sx.stx_mask & STATX_MNT_ID))
    return ENOSYS;
  *id = sx.stx_mnt_id;
  return 0;
}

int
host_mounts_id (const char *path, unsigned long long *id, berth_err *err)
{
  int e = mount_id_of (path, id);

  return e ? berth_fail (err, e, "mount id of `%s`", path) : 0;
}

int
host_mounts_begin (struct host_mounts *h, const char *rootfs, berth_err *err)
{
  h->used = true;
  h->ours = 0;
  return host_mounts_id (rootfs, &h->before, err);
}

int
host_mounts_commit (struct host_mounts *h, const char *rootfs, berth_err *err)
{
  unsigned long long now;

  if (!h->used)
    return 0;
  if (host_mounts_id (rootfs, &now, err) < 0)
    return -1;
  h->ours = now != h->before ? now : 0;
  return 0;
}

int
host_mounts_release (const struct host_mounts *h, const char *rootfs, berth_err *err)
{
  unsigned long long now;
  int e;

  if (!h->used)
    return 0;
  e = mount_id_of (rootfs, &now);
  if (e == ENOENT)
    return 0; /* the rootfs is gone, so nothing is mounted on it */
  if (e)
    return berth_fail (err, e, "mount id of `%s`", rootfs);
  if (h->ours ? now != h->ours : now == h->before)
    return 0; /* not ours on top: never detach someone else's mount */
  /* Lazy: the container's processes are gone, but an open fd must not make
     delete fail; the whole subtree goes with the bind. */
  if (umount2 (rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
    return berth_fail (err, errno, "unmount the container's rootfs `%s` from the host's mount table", rootfs);
  return 0;
}
