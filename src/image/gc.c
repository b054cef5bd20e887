/* Garbage collection: mark what named images and mounted container roots
 * need, sweep the rest.  Runs under the store's exclusive lock, so no pull,
 * import or mount is half-way (they hold the shared lock), and every
 * temporary left in ingest/ or snapshots/tmp-* belongs to a process that
 * died. */
#include "image/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

static int
mark_image (struct berth_store *s, const char *name, const char *digest, json_t *blobs, json_t *snaps, berth_err *err)
{
  struct manifest m;

  if (!digest_valid (digest))
    return berth_fail (err, 0, "image %s: invalid digest in index.json; not collecting", name);
  json_object_set_new (blobs, digest_hex (digest), json_true ());
  if (manifest_load (s, digest, &m, err) < 0)
    return berth_wrap (err, "image %s (remove it with rmi first; nothing was collected)", name);
  json_object_set_new (blobs, digest_hex (m.config.digest), json_true ());
  for (size_t i = 0; i < m.n_layers; i++)
    {
      json_object_set_new (blobs, digest_hex (m.layers[i].digest), json_true ());
      json_object_set_new (snaps, digest_hex (m.layers[i].digest), json_true ());
    }
  manifest_clear (&m);
  return 0;
}

/* Layers of mounted container roots; a dir without mount.json is a mount
 * that died half-made and goes. */
static int
mark_containers (struct berth_store *s, json_t *blobs, json_t *snaps, struct berth_gc_stats *st, berth_err *err)
{
  int fd = openat (s->ctrfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;

  if (d == NULL)
    return berth_fail (err, errno, "open `%s/containers`", s->root);
  while ((de = readdir (d)) != NULL)
    {
      char path[300];
      json_t *doc, *layers, *v;
      size_t i;
      if (de->d_name[0] == '.')
        continue;
      snprintf (path, sizeof (path), "%s/mount.json", de->d_name);
      cleanup_close int rfd = openat (dirfd (d), path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (rfd < 0)
        {
          if (rm_rf_at (dirfd (d), de->d_name, err) < 0)
            {
              closedir (d);
              return -1;
            }
          st->temp++;
          continue;
        }
      doc = berth_json_load_fd (rfd, path, NULL);
      layers = json_object_get (doc, "layers");
      json_array_foreach (layers, i, v)
      {
        const char *dg = json_string_value (v);
        if (digest_valid (dg))
          {
            json_object_set_new (snaps, digest_hex (dg), json_true ());
            json_object_set_new (blobs, digest_hex (dg), json_true ());
          }
      }
      json_decref (doc);
    }
  closedir (d);
  return 0;
}

static int
sweep (int dirfd_, const char *where, json_t *keep, bool is_snap, struct berth_gc_stats *st, berth_err *err)
{
  int fd = openat (dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;
  int ret = 0;

  if (d == NULL)
    return berth_fail (err, errno, "open %s", where);
  while ((de = readdir (d)) != NULL)
    {
      struct stat sb;
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (keep && json_object_get (keep, de->d_name))
        continue;
      if (is_snap)
        st->bytes += tree_size_at (dirfd (d), de->d_name);
      else if (fstatat (dirfd (d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        st->bytes += (uint64_t)sb.st_size;
      if (rm_rf_at (dirfd (d), de->d_name, err) < 0)
        {
          ret = berth_wrap (err, "%s", where);
          break;
        }
      if (keep == NULL || strncmp (de->d_name, "tmp-", 4) == 0)
        st->temp++;
      else if (is_snap)
        st->snapshots++;
      else
        st->blobs++;
    }
  closedir (d);
  return ret;
}

int
berth_gc (struct berth_store *s, struct berth_gc_stats *stats, berth_err *err)
{
  struct berth_gc_stats local = { 0 };
  json_t *doc = NULL, *blobs = json_object (), *snaps = json_object (), *entry;
  const char *name;
  int ret = -1;

  if (stats == NULL)
    stats = &local;
  memset (stats, 0, sizeof (*stats));
  if (store_lock (s, LOCK_EX, err) < 0)
    goto out;
  doc = index_load (s, err);
  if (doc == NULL)
    goto out;
  json_object_foreach (
      json_object_get (doc, "images"), name,
      entry) if (mark_image (s, name, json_string_value (json_object_get (entry, "digest")), blobs, snaps, err)
                 < 0) goto out;
  if (mark_containers (s, blobs, snaps, stats, err) < 0)
    goto out;
  if (sweep (s->ingestfd, "ingest", NULL, false, stats, err) < 0
      || sweep (s->snapfd, "snapshots", snaps, true, stats, err) < 0
      || sweep (s->blobsfd, "blobs", blobs, false, stats, err) < 0)
    goto out;
  ret = 0;
out:
  store_unlock (s);
  json_decref (doc);
  json_decref (blobs);
  json_decref (snaps);
  return ret;
}
