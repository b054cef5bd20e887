/* On-disk records and the name index (records.h). */
#include "daemon/records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"

#define RECORD_MAX_BYTES (4 << 20)

int
record_store_init (struct record_store *s, const char *dir, const char *what, berth_err *err)
{
  DIR *dp;
  struct dirent *de;

  memset (s, 0, sizeof (*s));
  pthread_mutex_init (&s->mu, NULL);
  s->what = what;
  s->dir = strdup (dir);
  if (s->dir == NULL)
    abort ();
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "%s records: mkdir `%s`", what, dir);
  dp = opendir (dir);
  if (dp == NULL)
    return berth_fail (err, errno, "%s records: open `%s`", what, dir);
  while ((de = readdir (dp)))
    {
      size_t len = strlen (de->d_name);
      /* A write that died before its rename: the record it would have
         replaced is still whole. */
      if (len > 4 && strcmp (de->d_name + len - 4, ".tmp") == 0)
        unlinkat (dirfd (dp), de->d_name, 0);
    }
  closedir (dp);
  return 0;
}

void
record_store_clear (struct record_store *s)
{
  for (size_t i = 0; i < s->n_names; i++)
    free (s->names[i].name);
  free (s->names);
  free (s->dir);
  pthread_mutex_destroy (&s->mu);
  memset (s, 0, sizeof (*s));
}

int
record_new_id (char id[RECORD_ID_LEN + 1], berth_err *err)
{
  unsigned char raw[RECORD_ID_LEN / 2];
  size_t got = 0;

  while (got < sizeof (raw))
    {
      ssize_t n = getrandom (raw + got, sizeof (raw) - got, 0);
      if (n < 0 && errno != EINTR)
        return berth_fail (err, errno, "getrandom");
      if (n > 0)
        got += (size_t)n;
    }
  for (size_t i = 0; i < sizeof (raw); i++)
    snprintf (id + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

int
record_id_valid (const char *id)
{
  size_t len = id ? strlen (id) : 0;

  if (len == 0 || len > RECORD_ID_LEN)
    return 0;
  return strspn (id, "0123456789abcdef") == len;
}

int
record_reserve_name (struct record_store *s, const char *name, const char *id, berth_err *err)
{
  int ret = 0;

  pthread_mutex_lock (&s->mu);
  for (size_t i = 0; i < s->n_names; i++)
    if (strcmp (s->names[i].name, name) == 0)
      {
        if (strcmp (s->names[i].id, id) != 0)
          ret = berth_fail (err, 0, "name \"%s\" is reserved for \"%s\"", name, s->names[i].id);
        if (ret < 0)
          (*err)->errnum = EEXIST;
        pthread_mutex_unlock (&s->mu);
        return ret;
      }
  if (s->n_names == s->cap_names)
    {
      s->cap_names = s->cap_names ? 2 * s->cap_names : 16;
      s->names = realloc (s->names, s->cap_names * sizeof (*s->names));
      if (s->names == NULL)
        abort ();
    }
  s->names[s->n_names].name = strdup (name);
  if (s->names[s->n_names].name == NULL)
    abort ();
  snprintf (s->names[s->n_names].id, sizeof (s->names[s->n_names].id), "%s", id);
  s->n_names++;
  pthread_mutex_unlock (&s->mu);
  return 0;
}

void
record_release_name (struct record_store *s, const char *name, const char *id)
{
  pthread_mutex_lock (&s->mu);
  for (size_t i = 0; i < s->n_names; i++)
    if (strcmp (s->names[i].name, name) == 0 && strcmp (s->names[i].id, id) == 0)
      {
        free (s->names[i].name);
        s->names[i] = s->names[--s->n_names];
        break;
      }
  pthread_mutex_unlock (&s->mu);
}

static char *
record_path (const struct record_store *s, const char *id, const char *suffix)
{
  char *p;

  if (asprintf (&p, "%s/%s.json%s", s->dir, id, suffix) < 0)
    abort ();
  return p;
}

int
record_write (struct record_store *s, const char *id, json_t *doc, berth_err *err)
{
  cleanup_free char *path = record_path (s, id, "");
  cleanup_free char *tmp = record_path (s, id, ".tmp");
  cleanup_free char *text = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
  cleanup_close int fd = -1, dfd = -1;

  if (text == NULL)
    return berth_fail (err, 0, "%s %s: cannot encode its record", s->what, id);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail (err, errno, "%s record: open `%s`", s->what, tmp);
  if (berth_write_all (fd, text, strlen (text)) < 0 || fsync (fd) < 0)
    {
      int e = errno;
      unlink (tmp);
      return berth_fail (err, e, "%s record: write `%s`", s->what, tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return berth_fail (err, e, "%s record: rename to `%s`", s->what, path);
    }
  /* The rename itself must survive a power cut before the RPC answers. */
  dfd = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync (dfd) < 0)
    return berth_fail (err, errno, "%s records: fsync `%s`", s->what, s->dir);
  return 0;
}

int
record_remove (struct record_store *s, const char *id, berth_err *err)
{
  cleanup_free char *path = record_path (s, id, "");
  cleanup_close int dfd = -1;

  if (unlink (path) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return berth_fail (err, errno, "%s record: remove `%s`", s->what, path);
    }
  dfd = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    fsync (dfd);
  return 0;
}

int
record_load_all (struct record_store *s, record_load_fn fn, void *user, berth_err *err)
{
  DIR *dp = opendir (s->dir);
  struct dirent *de;

  if (dp == NULL)
    return berth_fail (err, errno, "%s records: open `%s`", s->what, s->dir);
  while ((de = readdir (dp)))
    {
      size_t len = strlen (de->d_name);
      char id[RECORD_ID_LEN + 1];
      berth_err e = NULL;
      json_t *doc;
      int fd;

      if (len != RECORD_ID_LEN + 5 || strcmp (de->d_name + RECORD_ID_LEN, ".json") != 0)
        continue;
      memcpy (id, de->d_name, RECORD_ID_LEN);
      id[RECORD_ID_LEN] = '\0';
      if (!record_id_valid (id))
        continue;
      fd = openat (dirfd (dp), de->d_name, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          berth_log (BERTH_LOG_WARNING, "%s record %s/%s: %s: skipped", s->what, s->dir, de->d_name, strerror (errno));
          continue;
        }
      doc = berth_json_load_fd (fd, de->d_name, &e);
      close (fd);
      if (doc == NULL || !json_is_object (doc))
        {
          berth_log (BERTH_LOG_WARNING, "%s record %s/%s: %s: skipped", s->what, s->dir, de->d_name,
                     e ? e->msg : "not a JSON object");
          berth_err_free (&e);
          json_decref (doc);
          continue;
        }
      fn (user, id, doc);
      json_decref (doc);
    }
  closedir (dp);
  return 0;
}
