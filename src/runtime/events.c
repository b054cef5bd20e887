/* events: the container's statistics, once or every interval, and its OOM
 * notifications, as runc's `events` streams them.
 *
 *   poll on { init's pidfd, OOM fd } with the time left to the next tick
 *     OOM fd readable   -> {"type":"oom","id":ID}
 *     tick              -> {"type":"stats","id":ID,"data":{...}}
 *     pidfd readable    -> the container stopped: pending OOMs are reported,
 *                          then the loop ends
 *
 * The OOM fd is, on cgroup v1, an eventfd registered for memory.oom_control
 * through cgroup.event_control (it also fires when the cgroup is removed);
 * on v2 an inotify watch on memory.events, whose oom/oom_kill counters are
 * compared with the last values seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"

/* What Go prints for UINT64_MAX (jansson holds it as a real). */
#define U64_MAX_TEXT "18446744073709551615"

char *
berth_event_dumps (json_t *event)
{
  cleanup_free char *text = json_dumps (event, JSON_COMPACT | JSON_ENCODE_ANY);
  cleanup_free char *fixed = NULL;
  json_t *max = json_real ((double)UINT64_MAX);
  /* How this jansson prints that real ("1.8446744073709552e19" or "...e+19"). */
  cleanup_free char *max_as_real = json_dumps (max, JSON_ENCODE_ANY);
  size_t n = 0;
  char *out, *p;

  json_decref (max);
  if (text == NULL || max_as_real == NULL)
    return NULL;
  /* Stats hold no strings that could contain the token (keys and ops only). */
  for (p = strstr (text, max_as_real); p; p = strstr (p + 1, max_as_real))
    n++;
  fixed = malloc (strlen (text) + n * (strlen (U64_MAX_TEXT) - strlen (max_as_real) + 1) + 1);
  if (fixed == NULL)
    return NULL;
  out = fixed;
  for (const char *s = text; *s;)
    {
      if (strncmp (s, max_as_real, strlen (max_as_real)) == 0)
        {
          out = stpcpy (out, U64_MAX_TEXT);
          s += strlen (max_as_real);
        }
      else
        *out++ = *s++;
    }
  *out = '\0';
  return berth_json_go_escape (fixed);
}

static json_t *
make_event (const char *type, const char *id, json_t *data)
{
  json_t *e = json_object ();

  json_object_set_new (e, "type", json_string (type));
  json_object_set_new (e, "id", json_string (id));
  if (data != NULL)
    json_object_set_new (e, "data", data);
  return e;
}

static int
emit (berth_event_fn fn, void *data, json_t *event, berth_err *err)
{
  int r = fn (event, data, err);
  json_decref (event);
  return r;
}

/* Load the state; a stopped container is refused as runc refuses it. */
static struct berth_state *
load_live (const struct berth_context *ctx, const char *id, berth_err *err)
{
  cleanup_close int dirfd = berth_state_dir_open (ctx->state_root, id, false, err);
  struct berth_state *st;

  if (dirfd < 0)
    return NULL;
  st = berth_state_load (dirfd, id, err);
  if (st == NULL)
    return NULL;
  if (berth_state_status (dirfd, st) == BERTH_STATUS_STOPPED)
    {
      berth_state_free (st);
      return berth_fail (err, 0, "container with id %s is not running", id), NULL;
    }
  if (st->cgroup == NULL)
    {
      berth_state_free (st);
      return berth_fail (err, 0, "container %s has no cgroup", id), NULL;
    }
  return st;
}

json_t *
berth_container_stats (const struct berth_context *ctx, const char *id, berth_err *err)
{
  struct berth_state *st = load_live (ctx, id, err);
  json_t *stats;

  if (st == NULL)
    return NULL;
  stats = berth_cgroup_stats (st->cgroup, err);
  berth_state_free (st);
  return stats;
}

/* ---- OOM notification ---- */

struct oom_watch
{
  int fd; /* eventfd (v1) or inotify (v2); -1: none */
  bool v2;
  char *dir;
  unsigned long long oom, oom_kill; /* v2: last counters seen */
};

static int
write_at (const char *dir, const char *file, const char *text)
{
  char path[4096];
  cleanup_close int fd = -1;

  if ((size_t)snprintf (path, sizeof (path), "%s/%s", dir, file) >= sizeof (path))
    return -1;
  fd = open (path, O_WRONLY | O_CLOEXEC);
  return fd < 0 || write (fd, text, strlen (text)) != (ssize_t)strlen (text) ? -1 : 0;
}

static void
read_oom_counters (const char *dir, unsigned long long *oom, unsigned long long *oom_kill)
{
  char path[4096], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;

  *oom = *oom_kill = 0;
  if ((size_t)snprintf (path, sizeof (path), "%s/memory.events", dir) >= sizeof (path))
    return;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read (fd, buf, sizeof (buf) - 1)) <= 0)
    return;
  buf[n] = '\0';
  for (char *line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    {
      if (strncmp (line, "oom ", 4) == 0)
        *oom = strtoull (line + 4, NULL, 10);
      else if (strncmp (line, "oom_kill ", 9) == 0)
        *oom_kill = strtoull (line + 9, NULL, 10);
    }
}

static int
oom_watch_start (struct oom_watch *w, const struct berth_cgroup *cg, berth_err *err)
{
  const char *dir = berth_cgroup_memory_dir (cg, &w->v2);
  char path[4096];

  w->fd = -1;
  if (dir == NULL)
    return 0; /* no memory controller: nothing to watch */
  w->dir = strdup (dir);
  if (w->dir == NULL)
    return berth_fail (err, ENOMEM, "oom watch");
  if (w->v2)
    {
      if ((size_t)snprintf (path, sizeof (path), "%s/memory.events", dir) >= sizeof (path))
        return berth_fail (err, ENAMETOOLONG, "%s", dir);
      w->fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
      if (w->fd < 0)
        return berth_fail (err, errno, "unable to init inotify");
      if (inotify_add_watch (w->fd, path, IN_MODIFY) < 0)
        return berth_fail (err, errno, "unable to add inotify watch on `%s`", path);
      read_oom_counters (dir, &w->oom, &w->oom_kill);
      return 0;
    }
  if ((size_t)snprintf (path, sizeof (path), "%s/memory.oom_control", dir) >= sizeof (path))
    return berth_fail (err, ENAMETOOLONG, "%s", dir);
  cleanup_close int ctl = open (path, O_RDONLY | O_CLOEXEC);
  if (ctl < 0)
    return berth_fail (err, errno, "open `%s`", path);
  w->fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->fd < 0)
    return berth_fail (err, errno, "eventfd");
  char line[64];
  snprintf (line, sizeof (line), "%d %d", w->fd, ctl);
  if (write_at (dir, "cgroup.event_control", line) < 0)
    return berth_fail (err, errno, "register OOM notification in `%s/cgroup.event_control`", dir);
  return 0;
}

static void
oom_watch_stop (struct oom_watch *w)
{
  if (w->fd >= 0)
    close (w->fd);
  free (w->dir);
}

/* After the fd polled readable: 1 when an OOM happened, 0 when not, -1
 * when the cgroup is gone (v1's eventfd fires on rmdir too). */
static int
oom_watch_check (struct oom_watch *w)
{
  if (!w->v2)
    {
      uint64_t count;
      char path[4096];

      if (read (w->fd, &count, sizeof (count)) != sizeof (count))
        return 0;
      snprintf (path, sizeof (path), "%s/cgroup.event_control", w->dir);
      return access (path, F_OK) == 0 ? 1 : -1;
    }
  char buf[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
  unsigned long long oom, kill;

  while (read (w->fd, buf, sizeof (buf)) > 0)
    ;
  read_oom_counters (w->dir, &oom, &kill);
  if (oom > w->oom || kill > w->oom_kill)
    {
      w->oom = oom;
      w->oom_kill = kill;
      return 1;
    }
  return 0;
}

/* A pidfd for the init, or -1 when it is gone already (or the pid reused). */
static int
open_init (const struct berth_state *st)
{
  int fd = (int)syscall (SYS_pidfd_open, st->pid, 0);

  if (fd >= 0 && berth_proc_start_time (st->pid) != st->pid_start)
    {
      close (fd);
      return -1;
    }
  return fd;
}

static int
stats_event (const struct berth_state *st, berth_event_fn fn, void *data, berth_err *err)
{
  berth_err local = NULL;
  json_t *stats = berth_cgroup_stats (st->cgroup, &local);

  if (stats == NULL)
    {
      /* runc logs a failed collection and goes on. */
      berth_log (BERTH_LOG_ERROR, "%s", local->msg);
      berth_err_free (&local);
      return 0;
    }
  return emit (fn, data, make_event ("stats", st->id, stats), err);
}

static int
events_loop (const struct berth_state *st, unsigned long long interval_ms, berth_event_fn fn, void *data,
             berth_err *err)
{
  struct oom_watch w = { .fd = -1 };
  cleanup_close int pidfd = open_init (st);
  long long next = berth_monotonic_ms () + (long long)interval_ms;
  int ret = 0;

  if (pidfd < 0)
    return 0; /* stopped meanwhile */
  if (oom_watch_start (&w, st->cgroup, err) < 0)
    {
      oom_watch_stop (&w);
      return -1;
    }
  while (ret == 0)
    {
      struct pollfd fds[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = w.fd, .events = POLLIN } };
      long long wait = next - berth_monotonic_ms ();
      int r = poll (fds, w.fd >= 0 ? 2 : 1, wait < 0 ? 0 : (int)(wait > 60000 ? 60000 : wait));

      if (r < 0 && errno != EINTR)
        {
          ret = berth_fail (err, errno, "poll");
          break;
        }
      /* OOMs first: the OOM killer may be what stopped the init. */
      if (r > 0 && w.fd >= 0 && (fds[1].revents & POLLIN))
        {
          int o = oom_watch_check (&w);
          if (o < 0)
            break;
          if (o > 0)
            ret = emit (fn, data, make_event ("oom", st->id, NULL), err);
        }
      if (ret == 0 && r > 0 && (fds[0].revents & (POLLIN | POLLHUP)))
        {
          struct pollfd late = { .fd = w.fd, .events = POLLIN };
          if (w.fd >= 0 && poll (&late, 1, 0) > 0 && oom_watch_check (&w) > 0)
            ret = emit (fn, data, make_event ("oom", st->id, NULL), err);
          break;
        }
      if (ret == 0 && berth_monotonic_ms () >= next)
        {
          ret = stats_event (st, fn, data, err);
          next += (long long)interval_ms;
          if (next < berth_monotonic_ms ())
            next = berth_monotonic_ms () + (long long)interval_ms;
        }
    }
  oom_watch_stop (&w);
  return ret;
}

int
berth_container_events (const struct berth_context *ctx, const char *id, bool stats_only,
                        unsigned long long interval_ms, berth_event_fn fn, void *data, berth_err *err)
{
  struct berth_state *st;
  int ret;

  if (interval_ms == 0)
    {
      /* runc looks the container up first. */
      int dirfd = berth_state_dir_open (ctx->state_root, id, false, err);
      if (dirfd < 0)
        return -1;
      close (dirfd);
      return berth_fail (err, 0, "duration interval must be greater than 0");
    }
  st = load_live (ctx, id, err);
  if (st == NULL)
    return -1;
  if (stats_only)
    {
      json_t *stats = berth_cgroup_stats (st->cgroup, err);
      ret = stats == NULL ? -1 : emit (fn, data, make_event ("stats", id, stats), err);
    }
  else
    ret = events_loop (st, interval_ms, fn, data, err);
  berth_state_free (st);
  return ret;
}
