/* The last ADD of each pod, kept for DEL and CHECK, as libcni keeps its
 * results cache: DEL must see the configuration and result ADD used, even if
 * the conf dir changed since or berthd restarted.
 *
 * <cache_dir>/<container id>-<ifname>.json, mode 0600, replaced atomically
 * (write a temp file, fsync, rename) so a crash leaves the old or the new.
 */
#include "net/cni_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

char *
cni_cache_path (const char *cache_dir, const char *id, const char *ifname)
{
  char *path = NULL;
  if (asprintf (&path, "%s/%s-%s.json", cache_dir, id, ifname) < 0)
    abort ();
  return path;
}

/* mkdir -p, mode 0700 for what it creates. */
static int
mkdir_p (const char *dir, berth_err *err)
{
  cleanup_free char *copy = strdup (dir);
  for (char *p = copy + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (copy, 0700) < 0 && errno != EEXIST)
          return berth_fail (err, errno, "mkdir `%s`", copy);
        *p = '/';
      }
  if (mkdir (copy, 0700) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s`", copy);
  return 0;
}

int
cni_cache_write (const char *cache_dir, const char *id, const char *ifname, json_t *doc, berth_err *err)
{
  cleanup_free char *path = cni_cache_path (cache_dir, id, ifname);
  cleanup_free char *tmp = NULL;
  cleanup_free char *text = NULL;
  cleanup_close int fd = -1;
  size_t len, off = 0;

  if (mkdir_p (cache_dir, err) < 0)
    return -1;
  text = json_dumps (doc, JSON_COMPACT);
  if (text == NULL)
    return berth_fail (err, ENOMEM, "CNI cache `%s`", path);
  len = strlen (text);
  if (asprintf (&tmp, "%s.tmp", path) < 0)
    abort ();
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", tmp);
  while (off < len)
    {
      ssize_t n = write (fd, text + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          unlink (tmp);
          return berth_fail (err, e, "write `%s`", tmp);
        }
      off += (size_t)n;
    }
  if (fsync (fd) < 0 || rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return berth_fail (err, e, "write `%s`", path);
    }
  return 0;
}

int
cni_cache_read (const char *cache_dir, const char *id, const char *ifname, json_t **doc, berth_err *err)
{
  cleanup_free char *path = cni_cache_path (cache_dir, id, ifname);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  *doc = NULL;
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return berth_fail (err, errno, "open `%s`", path);
    }
  *doc = berth_json_load_fd (fd, path, err);
  if (*doc == NULL)
    return -1;
  if (!json_is_object (*doc))
    {
      json_decref (*doc);
      *doc = NULL;
      return berth_fail (err, 0, "%s: expected a JSON object", path);
    }
  return 0;
}

int
cni_cache_remove (const char *cache_dir, const char *id, const char *ifname, berth_err *err)
{
  cleanup_free char *path = cni_cache_path (cache_dir, id, ifname);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove `%s`", path);
  return 0;
}
