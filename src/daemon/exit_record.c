/* The exit file: what a restarted berthd (or ContainerStatus) reads to
 * learn how a container ended.  Written once by the monitor, by rename, so a
 * reader sees all of it or nothing:
 *
 *   {"id":"c1","pid":1234,"exit_code":137,"signal":9,"oom_killed":false,
 *    "exited_at":"2024-05-06T07:08:09.123456789Z","reason":"Error"}
 */
#include "daemon/monitor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

int
monitor_exit_write (const char *path, const char *id, const struct monitor_exit *e, berth_err *err)
{
  cleanup_free char *tmp = NULL;
  cleanup_free char *text = NULL;
  json_t *doc;
  int fd;

  doc = json_pack ("{s:s, s:i, s:i, s:i, s:b, s:s, s:s}", "id", id, "pid", (int)e->pid, "exit_code", e->exit_code,
                   "signal", e->signal, "oom_killed", e->oom_killed, "exited_at", e->exited_at, "reason", e->reason);
  if (doc == NULL)
    return berth_fail (err, ENOMEM, "exit file `%s`", path);
  text = json_dumps (doc, JSON_COMPACT);
  json_decref (doc);
  if (text == NULL || asprintf (&tmp, "%s.tmp", path) < 0)
    return berth_fail (err, ENOMEM, "exit file `%s`", path);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", tmp);
  if (berth_write_all (fd, text, strlen (text)) < 0 || berth_write_all (fd, "\n", 1) < 0)
    {
      int saved = errno;
      close (fd);
      unlink (tmp);
      return berth_fail (err, saved, "write `%s`", tmp);
    }
  close (fd);
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      unlink (tmp);
      return berth_fail (err, saved, "rename `%s` to `%s`", tmp, path);
    }
  return 0;
}

static int
get_int (json_t *doc, const char *key, const char *path, int *out, berth_err *err)
{
  json_t *v = json_object_get (doc, key);
  if (!json_is_integer (v))
    return berth_fail (err, 0, "exit file `%s`: %s: expected an integer", path, key);
  *out = (int)json_integer_value (v);
  return 0;
}

static int
get_str (json_t *doc, const char *key, const char *path, char **out, berth_err *err)
{
  json_t *v = json_object_get (doc, key);
  if (!json_is_string (v))
    return berth_fail (err, 0, "exit file `%s`: %s: expected a string", path, key);
  *out = strdup (json_string_value (v));
  return 0;
}

int
monitor_exit_read (const char *path, struct monitor_exit *out, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *doc;
  int pid = 0, ret = -1;

  memset (out, 0, sizeof (*out));
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return berth_fail (err, errno, "open exit file `%s`", path);
  doc = berth_json_load_fd (fd, path, err);
  if (doc == NULL)
    return -1;
  if (get_int (doc, "pid", path, &pid, err) == 0 && get_int (doc, "exit_code", path, &out->exit_code, err) == 0
      && get_int (doc, "signal", path, &out->signal, err) == 0
      && get_str (doc, "exited_at", path, &out->exited_at, err) == 0
      && get_str (doc, "reason", path, &out->reason, err) == 0)
    {
      out->pid = pid;
      out->oom_killed = json_is_true (json_object_get (doc, "oom_killed"));
      ret = 1;
    }
  json_decref (doc);
  if (ret < 0)
    monitor_exit_clear (out);
  return ret;
}

void
monitor_exit_clear (struct monitor_exit *e)
{
  free (e->exited_at);
  free (e->reason);
  e->exited_at = e->reason = NULL;
}
