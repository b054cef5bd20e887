/* Import: an OCI layout directory, or a tar of one (oci-archive), or a
 * docker-archive (`docker save`: manifest.json with Config, RepoTags and
 * Layers paths).
 *
 * A tar is first unpacked into ingest/tmp-import-* with the layer unpacker
 * (so hostile names are refused the same way), under the store's shared
 * lock: GC only empties ingest/ under the exclusive one. */
#include "image/layout.h"

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

/* Stores a file of the archive as a blob (the digest is computed). */
static int
put_file (struct berth_store *s, int dirfd, const char *rel, char out[BERTH_DIGEST_LEN], int64_t *size, berth_err *err)
{
  cleanup_close int fd = -1;

  /* "a/../b" and absolute names were refused when the tar was unpacked;
     a directory import gets the same check here. */
  if (rel[0] == '/' || strstr (rel, "..") != NULL)
    return berth_fail (err, 0, "manifest.json: path \"%s\" leaves the archive", rel);
  fd = openat (dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return berth_fail (err, errno, "docker archive: open `%s`", rel);
  return blob_ingest_fd (s, fd, NULL, -1, out, size, rel, err);
}

/* docker-archive: every entry of manifest.json becomes an OCI manifest
 * over the same config and (uncompressed or compressed) layer files. */
static int
import_docker (struct berth_store *s, int dirfd, const char *where, const char *name, json_t *names, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, "manifest.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *doc, *entry;
  size_t i;
  int ret = 0;

  if (fd < 0)
    return berth_fail (err, errno, "%s: open manifest.json", where);
  doc = berth_json_load_fd (fd, "manifest.json", err);
  if (doc == NULL)
    return berth_wrap (err, "%s", where);
  if (!json_is_array (doc) || json_array_size (doc) == 0)
    {
      json_decref (doc);
      return berth_fail (err, 0, "%s: manifest.json: expected a non-empty array", where);
    }
  json_array_foreach (doc, i, entry)
  {
    const char *cfg = json_string_value (json_object_get (entry, "Config"));
    json_t *tags = json_object_get (entry, "RepoTags"), *layers = json_object_get (entry, "Layers"), *v;
    char cfg_digest[BERTH_DIGEST_LEN], mdigest[BERTH_DIGEST_LEN];
    int64_t cfg_size;
    size_t k;
    json_t *mlayers = json_array (), *m;
    char *text;

    if (cfg == NULL || !json_is_array (layers))
      {
        ret = berth_fail (err, 0, "%s: manifest.json[%zu]: expected Config (string) and Layers (array)", where, i);
        json_decref (mlayers);
        break;
      }
    if (put_file (s, dirfd, cfg, cfg_digest, &cfg_size, err) < 0)
      {
        ret = berth_wrap (err, "%s", where);
        json_decref (mlayers);
        break;
      }
    json_array_foreach (layers, k, v)
    {
      char d[BERTH_DIGEST_LEN];
      int64_t size;
      if (!json_is_string (v) || put_file (s, dirfd, json_string_value (v), d, &size, err) < 0)
        {
          ret = json_is_string (v)
                    ? berth_wrap (err, "%s", where)
                    : berth_fail (err, 0, "%s: manifest.json[%zu].Layers[%zu]: expected string", where, i, k);
          break;
        }
      /* libarchive detects compression on unpack; the type only says
         "a tar". */
      json_array_append_new (
          mlayers, json_pack ("{s:s, s:s, s:I}", "mediaType", MT_OCI_LAYER, "digest", d, "size", (json_int_t)size));
      if (snapshot_ensure (s, d, err) < 0)
        {
          ret = -1;
          break;
        }
    }
    if (ret < 0)
      {
        json_decref (mlayers);
        break;
      }
    m = json_pack ("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST, "config",
                   "mediaType", MT_OCI_CONFIG, "digest", cfg_digest, "size", (json_int_t)cfg_size, "layers", mlayers);
    text = json_dumps (m, JSON_COMPACT);
    json_decref (m);
    ret = blob_put (s, text, strlen (text), NULL, mdigest, err);
    free (text);
    if (ret < 0)
      break;
    if (name)
      {
        ret = index_set (s, name, mdigest, MT_OCI_MANIFEST, err);
        if (ret == 0)
          json_array_append_new (names, json_string (name));
      }
    else if (json_array_size (tags) == 0)
      ret = berth_fail (err, 0, "%s: manifest.json[%zu] has no RepoTags; give a name with --name", where, i);
    else
      json_array_foreach (tags, k, v)
      {
        if (!json_is_string (v) || index_set (s, json_string_value (v), mdigest, MT_OCI_MANIFEST, err) < 0)
          {
            ret = json_is_string (v) ? -1 : berth_fail (err, 0, "%s: RepoTags[%zu]: expected string", where, k);
            break;
          }
        json_array_append_new (names, json_string (json_string_value (v)));
      }
    if (ret < 0)
      break;
  }
  json_decref (doc);
  return ret;
}

static int
import_dir (struct berth_store *s, int dirfd, const char *where, const char *name, json_t *names, berth_err *err)
{
  if (faccessat (dirfd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return import_docker (s, dirfd, where, name, names, err);
  if (faccessat (dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return layout_import_dir (s, dirfd, where, name, names, err);
  return berth_fail (err, 0, "%s: neither an OCI layout (no oci-layout file) nor a docker archive (no manifest.json)",
                     where);
}

int
berth_import (struct berth_store *s, const char *path, const char *name, json_t **names, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  cleanup_free char *tmpl = NULL;
  struct stat st;
  int ret = -1;

  if (*names == NULL)
    *names = json_array ();
  if (fd < 0 || fstat (fd, &st) < 0)
    return berth_fail (err, errno, "import: open `%s`", path);
  if (store_lock (s, LOCK_SH, err) < 0)
    return -1;
  if (S_ISDIR (st.st_mode))
    {
      ret = import_dir (s, fd, path, name, *names, err);
      goto out;
    }
  if (asprintf (&tmpl, "%s/ingest/tmp-import-XXXXXX", s->root) < 0)
    abort ();
  if (mkdtemp (tmpl) == NULL)
    {
      berth_fail (err, errno, "import: mkdir in `%s/ingest`", s->root);
      goto out;
    }
  {
    cleanup_close int dirfd = open (tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
      berth_fail (err, errno, "open `%s`", tmpl);
    else if (berth_unpack_layer (fd, dirfd, NULL, path, err) == 0)
      ret = import_dir (s, dirfd, path, name, *names, err);
  }
  rm_rf_at (s->ingestfd, strrchr (tmpl, '/') + 1, NULL);
out:
  store_unlock (s);
  return ret;
}
