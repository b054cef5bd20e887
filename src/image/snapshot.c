/* Snapshots: each layer blob unpacked once into snapshots/<hex>, used as an
 * overlayfs lower dir by every container of every image that has it.
 * Making them (snapshot_unpack.c) needs the layer unpacker and libarchive;
 * this file only finds and mounts them, so that berthd, which mounts but
 * never unpacks, links neither (berthd's pull helper unpacks).
 *
 * A mounted container root is containers/<id>/{upper,work,mount.json};
 * mount.json lists its layers so GC keeps them while it exists.
 */
#include "image/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

bool
snapshot_exists (struct berth_store *s, const char *digest)
{
  return faccessat (s->snapfd, digest_hex (digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
berth_image_unpacked (struct berth_store *s, const char *what, berth_err *err)
{
  struct berth_image_ref img = { 0 };
  struct manifest m = { 0 };
  int ret = 1;

  if (berth_image_lookup (s, what, &img, err) < 0 || manifest_load (s, img.digest, &m, err) < 0)
    ret = -1;
  for (size_t i = 0; ret == 1 && i < m.n_layers; i++)
    if (!snapshot_exists (s, m.layers[i].digest))
      ret = 0;
  manifest_clear (&m);
  berth_image_ref_clear (&img);
  return ret;
}

static bool
id_valid (const char *id)
{
  if (id[0] == '\0' || id[0] == '.' || strlen (id) > 128)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
          || *p == '.'))
      return false;
  return true;
}

/* lowerdir=<top>:...:<bottom>,upperdir=...,workdir=...  The kernel takes at
 * most a page of options through mount(2). */
static char *
overlay_options (struct berth_store *s, const struct manifest *m, const char *id, berth_err *err)
{
  size_t cap = 256 + m->n_layers * (strlen (s->root) + 80) + 2 * strlen (s->root);
  char *o = malloc (cap), *p = o;

  p += sprintf (p, "lowerdir=");
  for (size_t i = m->n_layers; i-- > 0;)
    p += sprintf (p, "%s/snapshots/%s%s", s->root, digest_hex (m->layers[i].digest), i ? ":" : "");
  sprintf (p, ",upperdir=%s/containers/%s/upper,workdir=%s/containers/%s/work", s->root, id, s->root, id);
  if (strlen (o) >= 4096)
    {
      free (o);
      return (berth_fail (err, 0,
                          "overlay options for %zu layers exceed the kernel's 4096 bytes (store root %s is "
                          "too long)",
                          m->n_layers, s->root),
              NULL);
    }
  return o;
}

int
berth_image_mount (struct berth_store *s, const char *what, const char *target, const char *id, berth_err *err)
{
  struct berth_image_ref img = { 0 };
  struct manifest m = { 0 };
  char real[PATH_MAX], derived[32];
  cleanup_free char *opts = NULL;
  cleanup_free char *record = NULL;
  json_t *layers;
  bool made = false;
  int ret = -1;

  if (realpath (target, real) == NULL)
    return berth_fail (err, errno, "mount target `%s`", target);
  if (id == NULL)
    {
      char d[BERTH_DIGEST_LEN];
      sha256_buf (real, strlen (real), d);
      snprintf (derived, sizeof (derived), "m-%.16s", digest_hex (d));
      id = derived;
    }
  if (!id_valid (id))
    return berth_fail (err, 0, "invalid container id \"%s\" (letters, digits, '_', '-', '.')", id);
  if (store_lock (s, LOCK_SH, err) < 0)
    return -1;
  if (berth_image_lookup (s, what, &img, err) < 0 || manifest_load (s, img.digest, &m, err) < 0)
    goto out;
  if (m.n_layers == 0)
    {
      berth_fail (err, 0, "image %s has no layers", img.name);
      goto out;
    }
  for (size_t i = 0; i < m.n_layers; i++)
    if (!snapshot_exists (s, m.layers[i].digest))
      {
        berth_fail (err, ENOENT, "image %s: layer %s is not unpacked", img.name, m.layers[i].digest);
        goto out;
      }
  opts = overlay_options (s, &m, id, err);
  if (opts == NULL)
    goto out;
  if (mkdirat (s->ctrfd, id, 0700) < 0)
    {
      if (errno == EEXIST)
        berth_fail (err, 0, "container root \"%s\" exists already in %s/containers (unmount it first)", id, s->root);
      else
        berth_fail (err, errno, "mkdir `%s/containers/%s`", s->root, id);
      goto out;
    }
  made = true;
  {
    cleanup_close int cfd = openat (s->ctrfd, id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0 || mkdir_at (cfd, "upper", 0755, err) < 0 || mkdir_at (cfd, "work", 0700, err) < 0)
      {
        berth_fail (err, errno, "mkdir in `%s/containers/%s`", s->root, id);
        goto out;
      }
    layers = json_array ();
    for (size_t i = 0; i < m.n_layers; i++)
      json_array_append_new (layers, json_string (m.layers[i].digest));
    json_t *doc = json_pack ("{s:s, s:s, s:s, s:o}", "image", img.name, "manifest", img.digest, "target", real,
                             "layers", layers);
    record = json_dumps (doc, JSON_INDENT (2));
    json_decref (doc);
    /* Written before the mount and while holding the lock: GC must see the
       layers in use before they are. */
    if (write_file_atomic_at (cfd, "mount.json", record, strlen (record), err) < 0)
      goto out;
  }
  if (mount ("overlay", real, "overlay", 0, opts) < 0)
    {
      berth_fail (err, errno, "mount overlay of %s on `%s`", img.name, real);
      goto out;
    }
  ret = 0;
out:
  if (ret < 0 && made)
    rm_rf_at (s->ctrfd, id, NULL);
  store_unlock (s);
  manifest_clear (&m);
  berth_image_ref_clear (&img);
  return ret;
}

/* The id of the container root mounted on `real`, from its mount.json. */
static char *
find_mount_record (struct berth_store *s, const char *real)
{
  cleanup_close int fd = openat (s->ctrfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;
  char *found = NULL;

  if (d == NULL)
    return NULL;
  fd = -1;
  while (found == NULL && (de = readdir (d)) != NULL)
    {
      char path[300];
      if (de->d_name[0] == '.')
        continue;
      snprintf (path, sizeof (path), "%s/mount.json", de->d_name);
      cleanup_close int rfd = openat (dirfd (d), path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (rfd < 0)
        continue;
      json_t *doc = berth_json_load_fd (rfd, path, NULL);
      const char *t = json_string_value (json_object_get (doc, "target"));
      if (t && strcmp (t, real) == 0)
        found = strdup (de->d_name);
      json_decref (doc);
    }
  closedir (d);
  return found;
}

int
berth_image_unmount (struct berth_store *s, const char *target, bool keep, berth_err *err)
{
  char real[PATH_MAX];
  cleanup_free char *id = NULL;

  if (realpath (target, real) == NULL)
    return berth_fail (err, errno, "unmount `%s`", target);
  id = find_mount_record (s, real);
  if (id == NULL)
    return berth_fail (err, 0, "no image is mounted on `%s` (store %s)", real, s->root);
  if (umount2 (real, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
    return berth_fail (err, errno, "unmount `%s`", real);
  if (keep)
    return 0;
  if (store_lock (s, LOCK_SH, err) < 0)
    return -1;
  int ret = rm_rf_at (s->ctrfd, id, err);
  store_unlock (s);
  return ret;
}
