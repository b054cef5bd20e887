/* Making snapshots: a layer blob unpacked into snapshots/<hex> (snapshot.c
 * finds and mounts them).  Here, not in snapshot.c, because it needs the
 * layer unpacker and so libarchive, which berthd does not link.
 *
 * A snapshot is unpacked into snapshots/tmp-XXXXXX and renamed to its name
 * when complete, so a name under snapshots/ always means a whole layer; two
 * processes unpacking the same layer both finish and the second rename
 * loses harmlessly.  Snapshots are not fsync'ed (neither containerd nor
 * GNU tar do): a kill leaves them whole, a power cut may not; GC removes
 * nothing that an image needs, so `berthctl prune` plus a new pull heals.
 */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/cleanup.h"

int
snapshot_ensure (struct berth_store *s, const char *digest, berth_err *err)
{
  cleanup_free char *tmpl = NULL;
  cleanup_close int dirfd = -1;
  cleanup_close int blobfd = -1;
  char what[128];
  const char *tmpname;

  if (snapshot_exists (s, digest))
    return 0;
  if (asprintf (&tmpl, "%s/snapshots/tmp-XXXXXX", s->root) < 0)
    abort ();
  if (mkdtemp (tmpl) == NULL)
    return berth_fail (err, errno, "create a snapshot dir in %s/snapshots", s->root);
  tmpname = strrchr (tmpl, '/') + 1;
  dirfd = openat (s->snapfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  blobfd = blob_open (s, digest, err);
  snprintf (what, sizeof (what), "layer %s", digest);
  if (dirfd < 0 || blobfd < 0 || berth_unpack_layer (blobfd, dirfd, digest, what, err) < 0)
    {
      if (dirfd < 0)
        berth_fail (err, errno, "open `%s`", tmpl);
      rm_rf_at (s->snapfd, tmpname, NULL);
      return -1;
    }
  if (renameat (s->snapfd, tmpname, s->snapfd, digest_hex (digest)) < 0)
    {
      int e = errno;
      rm_rf_at (s->snapfd, tmpname, NULL);
      if (e == EEXIST || e == ENOTEMPTY)
        return 0; /* another process unpacked it first */
      return berth_fail (err, e, "rename snapshot of %s", digest);
    }
  return 0;
}

int
berth_image_unpack (struct berth_store *s, const struct berth_image_ref *img, berth_err *err)
{
  /* Shared lock while unpacking, as a pull holds it: GC must not take the
     blob being read or the snapshots/tmp-* being written. */
  bool lock_here = s->lock_held == 0;
  struct manifest m;
  int ret = 0;

  if (store_lock (s, LOCK_SH, err) < 0)
    return -1;
  if (manifest_load (s, img->digest, &m, err) < 0)
    ret = -1;
  else
    {
      for (size_t i = 0; i < m.n_layers && ret == 0; i++)
        ret = snapshot_ensure (s, m.layers[i].digest, err);
      manifest_clear (&m);
    }
  if (lock_here)
    store_unlock (s);
  return ret;
}
