/* The store: one directory shared by every berthctl and berthd.
 *
 *   <root>/lock                 flock(2): LOCK_SH while adding content or
 *                               references, LOCK_EX while removing (GC)
 *   <root>/index.json           names -> manifest digests (index.c)
 *   <root>/index.lock           flock(2) around index read-modify-write
 *   <root>/blobs/sha256/<hex>   verified content, immutable
 *   <root>/ingest/              blobs being written (temp, fsync, rename)
 *   <root>/snapshots/<hex>      a layer blob unpacked (overlay lower dir);
 *                               tmp-* while unpacking, renamed when done
 *   <root>/containers/<id>/     upper/, work/ and mount.json of a mounted
 *                               container root (snapshot.c)
 *
 * Every name that appears in blobs/ or snapshots/ got there by rename of
 * something complete, and index.json is replaced by rename after the blobs
 * it names are in place: a process killed at any moment leaves only
 * temporaries behind, which GC removes under the exclusive lock (never
 * while another process may still be writing them).
 */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

static int
open_subdir (int parent, const char *name, const char *root, berth_err *err)
{
  int fd;

  if (mkdirat (parent, name, 0700) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "store %s: mkdir `%s`", root, name);
  fd = openat (parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "store %s: open `%s`", root, name);
  return fd;
}

int
berth_store_open (const char *root, struct berth_store **out, berth_err *err)
{
  struct berth_store *s;
  int blobs;

  if (root == NULL || root[0] == '\0')
    root = BERTH_IMAGE_DEFAULT_ROOT;
  /* Created 0700 as docker and containerd do: layer contents keep their
     setuid bits and device nodes, which no other user may reach. */
  if (mkdir (root, 0700) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "create store `%s`", root);
  s = calloc (1, sizeof (*s));
  if (s == NULL)
    abort ();
  s->rootfd = s->blobsfd = s->ingestfd = s->snapfd = s->ctrfd = s->lockfd = -1;
  s->root = strdup (root);
  s->rootfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (s->rootfd < 0)
    {
      berth_fail (err, errno, "open store `%s`", root);
      goto fail;
    }
  blobs = open_subdir (s->rootfd, "blobs", root, err);
  if (blobs < 0)
    goto fail;
  s->blobsfd = open_subdir (blobs, "sha256", root, err);
  close (blobs);
  if (s->blobsfd < 0 || (s->ingestfd = open_subdir (s->rootfd, "ingest", root, err)) < 0
      || (s->snapfd = open_subdir (s->rootfd, "snapshots", root, err)) < 0
      || (s->ctrfd = open_subdir (s->rootfd, "containers", root, err)) < 0)
    goto fail;
  s->lockfd = openat (s->rootfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (s->lockfd < 0)
    {
      berth_fail (err, errno, "store %s: open `lock`", root);
      goto fail;
    }
  *out = s;
  return 0;
fail:
  berth_store_close (s);
  return -1;
}

void
berth_store_close (struct berth_store *s)
{
  if (s == NULL)
    return;
  int *fds[] = { &s->rootfd, &s->blobsfd, &s->ingestfd, &s->snapfd, &s->ctrfd, &s->lockfd };
  for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++)
    if (*fds[i] >= 0)
      close (*fds[i]);
  free (s->root);
  free (s);
}

const char *
berth_store_root (const struct berth_store *s)
{
  return s->root;
}

int
store_lock (struct berth_store *s, int how, berth_err *err)
{
  if (s->lock_held == LOCK_EX || s->lock_held == how)
    return 0;
  while (flock (s->lockfd, how) < 0)
    if (errno != EINTR)
      return berth_fail (err, errno, "lock store %s", s->root);
  s->lock_held = how;
  return 0;
}

void
store_unlock (struct berth_store *s)
{
  if (s->lock_held)
    flock (s->lockfd, LOCK_UN);
  s->lock_held = 0;
}
