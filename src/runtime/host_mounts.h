/* Containers without a mount namespace.
 *
 * The runtime-spec says an unlisted namespace is inherited, so such a
 * container's rootfs bind and every mount of its config land in the host's
 * mount table, under the rootfs.  runc leaves them there after delete; berth
 * notes which mount its rootfs bind is (its mount id) and at delete, or when
 * create fails, detaches it with everything under it. */
#ifndef BERTH_RUNTIME_HOST_MOUNTS_H
#define BERTH_RUNTIME_HOST_MOUNTS_H

#include <stdbool.h>

#include "util/error.h"

struct host_mounts
{
  bool used;                /* the container has no mount namespace of its own */
  unsigned long long before; /* mount id at the rootfs before create */
  unsigned long long ours;   /* the rootfs bind's mount id once made; 0 if not known */
};

/* The id of the mount on top of `path` (statx STATX_MNT_ID). */
int host_mounts_id (const char *path, unsigned long long *id, berth_err *err);

/* Records the rootfs's mount id before the init mounts anything. */
int host_mounts_begin (struct host_mounts *h, const char *rootfs, berth_err *err);

/* After the init is ready: the mount now on top of the rootfs is ours. */
int host_mounts_commit (struct host_mounts *h, const char *rootfs, berth_err *err);

/* Detaches our rootfs bind, with every mount under it, when it is still the
 * top mount at `rootfs` (known by `ours`, or, for a create that never
 * finished, by being other than `before`). */
int host_mounts_release (const struct host_mounts *h, const char *rootfs, berth_err *err);

#endif
