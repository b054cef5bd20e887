/* index.json: which manifest each name points at.
 *
 *   {"schemaVersion": 1,
 *    "images": {"host/repo:tag": {"digest": "sha256:...", "mediaType": "...",
 *                                 "added": "2026-01-02T03:04:05Z"}}}
 *
 * Replaced whole by rename; read-modify-write happens under an exclusive
 * flock on index.lock so two pulls never lose each other's name.  Readers
 * need no lock: they see the old file or the new one.
 */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

json_t *
index_load (struct berth_store *s, berth_err *err)
{
  cleanup_close int fd = openat (s->rootfd, "index.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *doc, *images;

  if (fd < 0 && errno == ENOENT)
    return json_pack ("{s:i, s:{}}", "schemaVersion", 1, "images");
  if (fd < 0)
    return (berth_fail (err, errno, "open `%s/index.json`", s->root), NULL);
  doc = berth_json_load_fd (fd, "index.json", err);
  if (doc == NULL)
    return NULL;
  images = json_object_get (doc, "images");
  if (!json_is_object (images))
    {
      json_decref (doc);
      return (berth_fail (err, 0, "`%s/index.json`: images: expected object", s->root), NULL);
    }
  return doc;
}

static int
index_lock (struct berth_store *s, berth_err *err)
{
  int fd = openat (s->rootfd, "index.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    return berth_fail (err, errno, "open `%s/index.lock`", s->root);
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return berth_fail (err, e, "lock `%s/index.lock`", s->root);
      }
  return fd;
}

static int
index_save (struct berth_store *s, json_t *doc, berth_err *err)
{
  cleanup_free char *text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);

  if (text == NULL)
    return berth_fail (err, ENOMEM, "serialise index.json");
  return write_file_atomic_at (s->rootfd, "index.json", text, strlen (text), err);
}

int
index_set (struct berth_store *s, const char *name, const char *digest, const char *media_type, berth_err *err)
{
  cleanup_close int lfd = index_lock (s, err);
  json_t *doc;
  char now[32];
  time_t t = time (NULL);
  struct tm tm;
  int ret;

  if (lfd < 0)
    return -1;
  doc = index_load (s, err);
  if (doc == NULL)
    return -1;
  strftime (now, sizeof (now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&t, &tm));
  json_object_set_new (json_object_get (doc, "images"), name,
                       json_pack ("{s:s, s:s, s:s}", "digest", digest, "mediaType", media_type, "added", now));
  ret = index_save (s, doc, err);
  json_decref (doc);
  return ret;
}

int
index_remove (struct berth_store *s, const char *name, berth_err *err)
{
  cleanup_close int lfd = index_lock (s, err);
  json_t *doc;
  int ret;

  if (lfd < 0)
    return -1;
  doc = index_load (s, err);
  if (doc == NULL)
    return -1;
  if (json_object_del (json_object_get (doc, "images"), name) < 0)
    {
      json_decref (doc);
      return berth_fail (err, 0, "no such image: %s", name);
    }
  ret = index_save (s, doc, err);
  json_decref (doc);
  return ret;
}
