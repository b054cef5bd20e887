/* OCI image layouts (image-spec image-layout.md): import from a directory,
 * export to a directory or a tar.
 *
 *   oci-layout                 {"imageLayoutVersion": "1.0.0"}
 *   index.json                 manifests, named by the annotation
 *                              org.opencontainers.image.ref.name
 *   blobs/sha256/<hex>
 *
 * Every blob copied either way is hashed on the way and must match its
 * digest. */
#include "image/layout.h"

#include <archive.h>
#include <archive_entry.h>
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

#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD_NAME "io.containerd.image.name"

/* Copies layout blob <dirfd>/blobs/sha256/<hex> into the store, checked. */
static int
import_blob (struct berth_store *s, int dirfd, const char *digest, int64_t size, berth_err *err)
{
  char path[128];
  cleanup_close int fd = -1;

  if (digest_check (digest, "descriptor", err) < 0)
    return -1;
  if (blob_exists (s, digest))
    return 0;
  snprintf (path, sizeof (path), "blobs/sha256/%s", digest_hex (digest));
  fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return berth_fail (err, errno, "layout: open `%s`", path);
  return blob_ingest_fd (s, fd, digest, size, NULL, NULL, path, err);
}

static char *
read_layout_file (int dirfd, const char *name, size_t limit, size_t *len, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return (berth_fail (err, errno, "layout: open `%s`", name), NULL);
  return berth_read_fd (fd, limit, len, name, err);
}

/* Imports the image whose manifest descriptor is `desc` (an index is
 * resolved to linux/amd64).  Returns the manifest digest in `out`. */
static int
import_manifest (struct berth_store *s, int dirfd, json_t *desc, char out[BERTH_DIGEST_LEN], char **mt_out,
                 berth_err *err)
{
  const char *digest = json_string_value (json_object_get (desc, "digest"));
  const char *mt = json_string_value (json_object_get (desc, "mediaType"));
  json_int_t size = json_integer_value (json_object_get (desc, "size"));
  char path[128];
  cleanup_free char *buf = NULL;
  size_t len;
  struct manifest m;
  char got[BERTH_DIGEST_LEN];
  cleanup_free char *sniffed = NULL;

  if (digest_check (digest, "index.json: manifests[].digest", err) < 0)
    return -1;
  snprintf (path, sizeof (path), "blobs/sha256/%s", digest_hex (digest));
  buf = read_layout_file (dirfd, path, BERTH_MANIFEST_MAX, &len, err);
  if (buf == NULL)
    return -1;
  sha256_buf (buf, len, got);
  if (strcmp (got, digest) != 0)
    return berth_fail (err, 0, "layout: `%s`: digest mismatch: expected %s, got %s", path, digest, got);
  if (mt == NULL)
    mt = sniffed = manifest_sniff_media_type (buf, len);
  if (media_type_is_index (mt))
    {
      struct descriptor d;
      json_t *sub;
      int ret;
      if (index_select_platform (buf, len, "linux", "amd64", NULL, &d, err) < 0)
        return -1;
      sub = json_pack ("{s:s, s:s, s:I}", "digest", d.digest, "mediaType", d.media_type, "size", (json_int_t)d.size);
      descriptor_clear (&d);
      ret = import_manifest (s, dirfd, sub, out, mt_out, err);
      json_decref (sub);
      return ret;
    }
  if (manifest_parse (buf, len, &m, err) < 0)
    return berth_wrap (err, "layout: `%s`", path);
  int ret = import_blob (s, dirfd, m.config.digest, m.config.size, err);
  for (size_t i = 0; i < m.n_layers && ret == 0; i++)
    ret = import_blob (s, dirfd, m.layers[i].digest, m.layers[i].size, err);
  if (ret == 0)
    ret = blob_put (s, buf, len, digest, NULL, err);
  /* Unpacked now, as after a pull, so a mount has nothing left to do. */
  for (size_t i = 0; i < m.n_layers && ret == 0; i++)
    ret = snapshot_ensure (s, m.layers[i].digest, err);
  if (ret == 0)
    {
      strcpy (out, digest);
      *mt_out = strdup (m.media_type);
    }
  manifest_clear (&m);
  if (ret == 0 && size != 0 && (int64_t)len != size)
    return berth_fail (err, 0, "layout: `%s`: size mismatch: expected %lld bytes, got %zu", path, (long long)size, len);
  return ret;
}

int
layout_import_dir (struct berth_store *s, int dirfd, const char *where, const char *name, json_t *names, berth_err *err)
{
  cleanup_free char *text = NULL;
  size_t len;
  json_t *index, *list, *desc;
  size_t i, n;
  int ret = 0;

  text = read_layout_file (dirfd, "index.json", BERTH_MANIFEST_MAX, &len, err);
  if (text == NULL)
    return berth_wrap (err, "%s", where);
  index = json_loadb (text, len, 0, NULL);
  list = json_object_get (index, "manifests");
  if (!json_is_array (list) || json_array_size (list) == 0)
    {
      json_decref (index);
      return berth_fail (err, 0, "%s: index.json: manifests: expected a non-empty array", where);
    }
  n = json_array_size (list);
  if (name && n > 1)
    {
      json_decref (index);
      return berth_fail (err, 0, "%s holds %zu images; --name names only one", where, n);
    }
  json_array_foreach (list, i, desc)
  {
    json_t *ann = json_object_get (desc, "annotations");
    const char *ref = json_string_value (json_object_get (ann, ANN_CONTAINERD_NAME));
    const char *tag = json_string_value (json_object_get (ann, ANN_REF_NAME));
    cleanup_free char *mt = NULL;
    char digest[BERTH_DIGEST_LEN];
    const char *use = name;

    if (use == NULL)
      use = ref ? ref : (tag && strchr (tag, '/') ? tag : NULL);
    if (use == NULL)
      {
        ret = berth_fail (err, 0, "%s: image %zu has no full name (%s is \"%s\"); give one with --name", where, i,
                          ANN_REF_NAME, tag ? tag : "");
        break;
      }
    if (import_manifest (s, dirfd, desc, digest, &mt, err) < 0)
      {
        ret = berth_wrap (err, "%s", where);
        break;
      }
    if (index_set (s, use, digest, mt, err) < 0)
      {
        ret = -1;
        break;
      }
    json_array_append_new (names, json_string (use));
  }
  json_decref (index);
  return ret;
}

/* --- export ------------------------------------------------------------------*/

/* Where the files of an export go: a directory or a tar. */
struct sink
{
  int dirfd;         /* directory export */
  struct archive *a; /* tar export */
  const char *where;
};

static int
sink_dir (struct sink *k, const char *name, berth_err *err)
{
  if (k->a == NULL)
    return mkdir_at (k->dirfd, name, 0755, err);
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFDIR);
  archive_entry_set_perm (e, 0755);
  int r = archive_write_header (k->a, e);
  archive_entry_free (e);
  if (r != ARCHIVE_OK)
    return berth_fail (err, 0, "%s: write `%s`: %s", k->where, name, archive_error_string (k->a));
  return 0;
}

/* Writes `len` bytes from `buf`, or, when buf is NULL, from `fd` checking
 * they hash to `digest`. */
static int
sink_file (struct sink *k, const char *name, const void *buf, int fd, int64_t len, const char *digest, berth_err *err)
{
  cleanup_close int out = -1;
  struct archive_entry *e = NULL;
  struct sha256 *md = NULL;
  char chunk[1 << 16];
  int64_t left = len;

  if (k->a)
    {
      e = archive_entry_new ();
      archive_entry_set_pathname (e, name);
      archive_entry_set_filetype (e, AE_IFREG);
      archive_entry_set_perm (e, 0644);
      archive_entry_set_size (e, len);
      int r = archive_write_header (k->a, e);
      archive_entry_free (e);
      if (r != ARCHIVE_OK)
        return berth_fail (err, 0, "%s: write `%s`: %s", k->where, name, archive_error_string (k->a));
    }
  else
    {
      out = openat (k->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (out < 0)
        return berth_fail (err, errno, "%s: create `%s`", k->where, name);
    }
  if (buf)
    {
      if (k->a ? archive_write_data (k->a, buf, (size_t)len) != len : berth_write_all (out, buf, (size_t)len) < 0)
        return berth_fail (err, errno, "%s: write `%s`", k->where, name);
      return 0;
    }
  md = sha256_new ();
  while (left > 0)
    {
      ssize_t n = read (fd, chunk, sizeof (chunk));
      if (n <= 0)
        {
          sha256_free (md);
          return berth_fail (err, n < 0 ? errno : 0, "%s: read blob %s", k->where, digest);
        }
      sha256_update (md, chunk, (size_t)n);
      if (k->a ? archive_write_data (k->a, chunk, (size_t)n) != n : berth_write_all (out, chunk, (size_t)n) < 0)
        {
          sha256_free (md);
          return berth_fail (err, errno, "%s: write `%s`", k->where, name);
        }
      left -= n;
    }
  char got[BERTH_DIGEST_LEN];
  sha256_final (md, got);
  if (strcmp (got, digest) != 0)
    return berth_fail (err, 0, "blob %s is corrupt in the store: its content hashes to %s", digest, got);
  return 0;
}

static int
sink_blob (struct berth_store *s, struct sink *k, const char *digest, berth_err *err)
{
  char name[128];
  cleanup_close int fd = blob_open (s, digest, err);
  struct stat st;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0)
    return berth_fail (err, errno, "stat blob %s", digest);
  snprintf (name, sizeof (name), "blobs/sha256/%s", digest_hex (digest));
  return sink_file (k, name, NULL, fd, st.st_size, digest, err);
}

/* The files of one image: oci-layout, index.json, blobs; with `docker`,
 * also docker's manifest.json (as `docker save` writes since 25). */
static int
export_files (struct berth_store *s, const struct berth_image_ref *img, struct sink *k, bool docker, berth_err *err)
{
  struct manifest m;
  int ret = -1;
  char *text = NULL;
  json_t *doc;
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

  if (manifest_load (s, img->digest, &m, err) < 0)
    return -1;
  if (sink_file (k, "oci-layout", layout, -1, (int64_t)strlen (layout), NULL, err) < 0 || sink_dir (k, "blobs", err) < 0
      || sink_dir (k, "blobs/sha256", err) < 0 || sink_blob (s, k, img->digest, err) < 0
      || sink_blob (s, k, m.config.digest, err) < 0)
    goto out;
  for (size_t i = 0; i < m.n_layers; i++)
    {
      bool dup = false;
      for (size_t j = 0; j < i; j++)
        dup = dup || strcmp (m.layers[i].digest, m.layers[j].digest) == 0;
      if (!dup && sink_blob (s, k, m.layers[i].digest, err) < 0)
        goto out;
    }
  doc = json_pack ("{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}}]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
                   "manifests", "mediaType", img->media_type, "digest", img->digest, "size",
                   (json_int_t)blob_size (s, img->digest), "annotations", ANN_REF_NAME, img->name, ANN_CONTAINERD_NAME,
                   img->name);
  text = json_dumps (doc, JSON_COMPACT);
  json_decref (doc);
  if (sink_file (k, "index.json", text, -1, (int64_t)strlen (text), NULL, err) < 0)
    goto out;
  if (docker)
    {
      json_t *layers = json_array ();
      char cfg[128];
      for (size_t i = 0; i < m.n_layers; i++)
        {
          char p[128];
          snprintf (p, sizeof (p), "blobs/sha256/%s", digest_hex (m.layers[i].digest));
          json_array_append_new (layers, json_string (p));
        }
      snprintf (cfg, sizeof (cfg), "blobs/sha256/%s", digest_hex (m.config.digest));
      doc = json_pack ("[{s:s, s:[s], s:o}]", "Config", cfg, "RepoTags", img->name, "Layers", layers);
      free (text);
      text = json_dumps (doc, JSON_COMPACT);
      json_decref (doc);
      if (sink_file (k, "manifest.json", text, -1, (int64_t)strlen (text), NULL, err) < 0)
        goto out;
    }
  ret = 0;
out:
  free (text);
  manifest_clear (&m);
  return ret;
}

int
berth_export (struct berth_store *s, const char *what, const char *path, enum berth_export_format fmt, berth_err *err)
{
  struct berth_image_ref img;
  struct sink k = { .dirfd = -1, .where = path };
  cleanup_free char *tmp = NULL;
  int ret = -1;

  if (berth_image_lookup (s, what, &img, err) < 0)
    return -1;
  if (store_lock (s, LOCK_SH, err) < 0)
    goto out;
  if (fmt == BERTH_EXPORT_OCI_DIR)
    {
      if (mkdir (path, 0755) < 0)
        {
          berth_fail (err, errno, "export: mkdir `%s`", path);
          goto out;
        }
      k.dirfd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (k.dirfd < 0)
        {
          berth_fail (err, errno, "export: open `%s`", path);
          goto out;
        }
      if (export_files (s, &img, &k, false, err) < 0)
        goto out;
      ret = 0;
      goto out;
    }
  /* A tar appears whole or not at all. */
  if (asprintf (&tmp, "%s.tmp-%d", path, (int)getpid ()) < 0)
    abort ();
  k.a = archive_write_new ();
  archive_write_set_format_pax_restricted (k.a);
  if (archive_write_open_filename (k.a, tmp) != ARCHIVE_OK)
    {
      berth_fail (err, archive_errno (k.a), "export: create `%s`", tmp);
      goto out;
    }
  if (export_files (s, &img, &k, fmt == BERTH_EXPORT_DOCKER_TAR, err) < 0)
    goto out;
  if (archive_write_close (k.a) != ARCHIVE_OK)
    {
      berth_fail (err, archive_errno (k.a), "export: write `%s`: %s", tmp, archive_error_string (k.a));
      goto out;
    }
  if (rename (tmp, path) < 0)
    {
      berth_fail (err, errno, "export: rename `%s` to `%s`", tmp, path);
      goto out;
    }
  ret = 0;
out:
  if (k.a)
    archive_write_free (k.a);
  if (ret < 0 && tmp)
    unlink (tmp);
  if (k.dirfd >= 0)
    close (k.dirfd);
  store_unlock (s);
  berth_image_ref_clear (&img);
  return ret;
}
