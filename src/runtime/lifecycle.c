/* The commands that act on an existing container: start, state, list, kill,
 * delete, ps.  Status is derived, never stored: from the init's pid and start
 * time, the exec fifo and the freezer (state.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/create.h"
#include "runtime/hooks.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"

const char *
berth_status_name (enum berth_status status)
{
  static const char *names[] = { "creating", "created", "running", "paused", "stopped" };
  return status <= BERTH_STATUS_STOPPED ? names[status] : "unknown";
}

int
berth_validate_id (const char *id, berth_err *err)
{
  size_t len = id ? strlen (id) : 0;

  if (len == 0)
    return berth_fail (err, 0, "container id cannot be empty");
  if (len > 1024)
    return berth_fail (err, 0, "invalid container id: longer than 1024 bytes");
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return berth_fail (err, 0, "invalid container id: `%s`", id);
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '+'
          || *p == '-' || *p == '.'))
      return berth_fail (err, 0, "invalid container id `%s`: only [A-Za-z0-9_+.-] are allowed", id);
  return 0;
}

void
berth_container_info_free (struct berth_container_info *info)
{
  if (info == NULL)
    return;
  free (info->id);
  free (info->bundle);
  free (info->rootfs);
  free (info->created);
  free (info->owner);
  json_decref (info->annotations);
  free (info);
}

void
berth_container_info_list_free (struct berth_container_info *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (list[i].id);
      free (list[i].bundle);
      free (list[i].rootfs);
      free (list[i].created);
      free (list[i].owner);
      json_decref (list[i].annotations);
    }
  free (list);
}

static void
fill_info (struct berth_container_info *info, const struct berth_state *st, enum berth_status status)
{
  info->id = strdup (st->id);
  info->status = status;
  info->pid = status == BERTH_STATUS_STOPPED ? 0 : st->pid;
  info->bundle = strdup (st->bundle);
  info->rootfs = strdup (st->rootfs);
  info->created = strdup (st->created);
  info->owner = strdup (st->owner ? st->owner : "");
  info->annotations = json_incref (st->annotations);
}

json_t *
berth_container_info_to_json (const struct berth_container_info *info)
{
  json_t *o = json_object ();

  json_object_set_new (o, "ociVersion", json_string (BERTH_OCI_VERSION));
  json_object_set_new (o, "id", json_string (info->id));
  json_object_set_new (o, "pid", json_integer (info->pid));
  json_object_set_new (o, "status", json_string (berth_status_name (info->status)));
  json_object_set_new (o, "bundle", json_string (info->bundle));
  json_object_set_new (o, "rootfs", json_string (info->rootfs));
  json_object_set_new (o, "created", json_string (info->created));
  if (info->annotations && json_object_size (info->annotations) > 0)
    json_object_set (o, "annotations", info->annotations);
  json_object_set_new (o, "owner", json_string (info->owner ? info->owner : ""));
  return o;
}

/* Open, lock as asked, and load.  *dirfd stays open for the caller. */
static struct berth_state *
load (const struct berth_context *ctx, const char *id, bool lock, int *dirfd, berth_err *err)
{
  struct berth_state *st;

  *dirfd = berth_state_dir_open (ctx->state_root, id, lock, err);
  if (*dirfd < 0)
    return NULL;
  st = berth_state_load (*dirfd, id, err);
  if (st == NULL)
    {
      close (*dirfd);
      *dirfd = -1;
    }
  return st;
}

int
berth_container_state (const struct berth_context *ctx, const char *id, struct berth_container_info **out,
                       berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = load (ctx, id, false, &dirfd, err);

  if (st == NULL)
    return -1;
  *out = calloc (1, sizeof (**out));
  fill_info (*out, st, berth_state_status (dirfd, st));
  berth_state_free (st);
  return 0;
}

static int
compare_info (const void *a, const void *b)
{
  return strcmp (((const struct berth_container_info *)a)->id, ((const struct berth_container_info *)b)->id);
}

int
berth_container_list (const struct berth_context *ctx, struct berth_container_info **out, size_t *n, berth_err *err)
{
  DIR *dir = opendir (ctx->state_root);
  struct dirent *de;
  size_t cap = 0;

  *out = NULL;
  *n = 0;
  if (dir == NULL)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "open state root `%s`", ctx->state_root);
  while ((de = readdir (dir)) != NULL)
    {
      berth_err ignored = NULL;
      int dirfd;
      struct berth_state *st;
      if (de->d_name[0] == '.')
        continue;
      /* A container being created or deleted right now is skipped. */
      st = load (ctx, de->d_name, false, &dirfd, &ignored);
      if (st == NULL)
        {
          berth_err_free (&ignored);
          continue;
        }
      if (*n == cap)
        {
          cap = cap ? cap * 2 : 8;
          *out = realloc (*out, cap * sizeof (**out));
        }
      memset (&(*out)[*n], 0, sizeof (**out));
      fill_info (&(*out)[*n], st, berth_state_status (dirfd, st));
      (*n)++;
      berth_state_free (st);
      close (dirfd);
    }
  closedir (dir);
  if (*n > 1)
    qsort (*out, *n, sizeof (**out), compare_info);
  return 0;
}

static bool
alive (const struct berth_state *st)
{
  /* A start time of 0 is "gone" (berth_proc_start_time): never alive. */
  return st->pid > 0 && st->pid_start != 0 && berth_proc_start_time (st->pid) == st->pid_start;
}

/* The config copied at create: parsed only when hooks need it. */
static struct berth_spec *
load_state_spec (int dirfd, const char *id, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  cleanup_free char *data = NULL;
  size_t size = 0, len = 0;
  FILE *f;

  if (fd < 0)
    return (berth_fail (err, errno, "open config of `%s`", id), NULL);
  f = fdopen (steal_fd (&fd), "re");
  if (f == NULL)
    return (berth_fail (err, errno, "read config of `%s`", id), NULL);
  len = getdelim (&data, &size, '\0', f);
  fclose (f);
  if ((ssize_t)len < 0)
    return (berth_fail (err, errno, "read config of `%s`", id), NULL);
  return berth_spec_parse (data, len, "config.json", err);
}

/* A create that died before writing state.json may have made the cgroup:
 * it is where config.json's cgroupsPath puts it (resolved as create did).
 * Whatever runs in the leaf is killed and the leaf removed, as for a state
 * with its cgroup pending; parents made on the way cannot be told from
 * others and stay.  No config (killed before it was written) or no linux
 * section: nothing was made. */
static int
remove_half_made_cgroup (int dirfd, const char *id, berth_err *err)
{
  berth_err ignored = NULL;
  struct berth_spec *spec = load_state_spec (dirfd, id, &ignored);
  struct berth_cgroup *cg;
  int ret;

  if (spec == NULL || spec->linux == NULL)
    {
      berth_err_free (&ignored);
      berth_spec_free (spec);
      return 0;
    }
  cg = berth_cgroup_resolve (spec->linux->cgroups_path, id, err);
  berth_spec_free (spec);
  if (cg == NULL)
    return -1;
  berth_cgroup_assume_leaf_made (cg);
  ret = berth_cgroup_destroy (cg, err);
  berth_cgroup_free (cg);
  return ret;
}

/* Runs the hooks of `kind` from the container's config with the current
 * state. */
static int
run_state_hooks (int dirfd, const struct berth_state *st, enum berth_hook_kind kind, const char *status, berth_err *err)
{
  struct berth_spec *spec;
  cleanup_free char *state = NULL;
  int ret;

  if (!(st->hooks & (1u << kind)))
    return 0;
  spec = load_state_spec (dirfd, st->id, err);
  if (spec == NULL)
    return -1;
  state = hooks_state_json (st->id, status, status[0] == 's' ? 0 : st->pid, st->bundle, st->annotations);
  if (hooks_failure_is_warning (spec, kind))
    {
      hooks_run_warn (spec, kind, state);
      ret = 0;
    }
  else
    ret = hooks_run (spec, kind, state, err);
  berth_spec_free (spec);
  return ret;
}

/* The init keeps the fifo open until execve closes it; before that it may
 * write "E<error>" when a startContainer hook failed. */
static int
wait_user_process (int fifo, const struct berth_state *st, berth_err *err)
{
  char buf[4096];
  size_t len = 0;

  for (;;)
    {
      struct pollfd pfd = { .fd = fifo, .events = POLLIN };
      ssize_t n;
      if (poll (&pfd, 1, 100) < 0 && errno != EINTR)
        return berth_fail (err, errno, "wait on exec fifo");
      n = read (fifo, buf + len, sizeof (buf) - 1 - len);
      if (n > 0)
        {
          len += (size_t)n;
          if (len < sizeof (buf) - 1)
            continue;
        }
      if (n == 0 || len == sizeof (buf) - 1)
        break;
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return berth_fail (err, errno, "read exec fifo");
      if (n < 0 && !alive (st))
        break;
    }
  buf[len] = '\0';
  if (len > 0 && buf[0] == 'E')
    return berth_fail (err, 0, "%s", buf + 1);
  return 0;
}

int
start_created (int dirfd, const struct berth_state *st, int fifo_fd, berth_err *err)
{
  cleanup_close int fifo = fifo_fd >= 0 ? fifo_fd : openat (dirfd, BERTH_EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  char byte;

  if (fifo < 0)
    return berth_fail (err, errno, "open exec fifo of `%s`", st->id);
  /* Our open releases the init's blocking open for writing; it then writes
     one byte.  Poll with a timeout so a dead init cannot hang us. */
  for (;;)
    {
      struct pollfd pfd = { .fd = fifo, .events = POLLIN };
      int r = poll (&pfd, 1, 100);
      if (r < 0 && errno != EINTR)
        return berth_fail (err, errno, "wait on exec fifo");
      if (r > 0 && (pfd.revents & POLLIN))
        {
          if (read (fifo, &byte, 1) == 1)
            break;
        }
      if (!alive (st))
        return berth_fail (err, 0, "container init of `%s` exited before start", st->id);
    }
  if (unlinkat (dirfd, BERTH_EXEC_FIFO, 0) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove exec fifo of `%s`", st->id);
  if ((st->hooks & ((1u << BERTH_HOOK_START_CONTAINER) | (1u << BERTH_HOOK_POSTSTART)))
      && wait_user_process (fifo, st, err) < 0)
    return -1;
  /* A failing poststart hook stops the container (runtime.md 1.3, step 9;
     a bundle of an older version only gets warnings). */
  if (run_state_hooks (dirfd, st, BERTH_HOOK_POSTSTART, "running", err) < 0)
    {
      kill (st->pid, SIGKILL);
      return -1;
    }
  return 0;
}

int
berth_container_start (const struct berth_context *ctx, const char *id, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = load (ctx, id, true, &dirfd, err);
  int ret;

  if (st == NULL)
    return -1;
  switch (berth_state_status (dirfd, st))
    {
    case BERTH_STATUS_CREATED:
      ret = start_created (dirfd, st, -1, err);
      break;
    case BERTH_STATUS_STOPPED:
      ret = berth_fail (err, 0, "cannot start a container that has stopped");
      break;
    default:
      ret = berth_fail (err, 0, "cannot start an already running container");
      break;
    }
  berth_state_free (st);
  return ret;
}

int
berth_container_kill (const struct berth_context *ctx, const char *id, int sig, bool all, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = load (ctx, id, false, &dirfd, err);
  int ret = 0;

  if (st == NULL)
    return -1;
  if (all && st->cgroup)
    ret = berth_cgroup_kill_all (st->cgroup, sig, err);
  else if (!alive (st))
    ret = berth_fail (err, 0, "container not running");
  else if (kill (st->pid, sig) < 0)
    ret = berth_fail (err, errno, "kill container init (pid %d) with signal %d", st->pid, sig);
  berth_state_free (st);
  return ret;
}

/* Wait until pid exits (it is not our child: a pidfd tells). */
static int
wait_exit (pid_t pid, unsigned long long start, int timeout_ms)
{
  int pidfd;

  if (start == 0)
    return 0;
  pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (pidfd >= 0)
    {
      struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
      /* The pidfd may name a new process if the pid was reused: check. */
      if (berth_proc_start_time (pid) == start)
        poll (&pfd, 1, timeout_ms);
      close (pidfd);
      return 0;
    }
  for (int waited = 0; waited < timeout_ms && berth_proc_start_time (pid) == start; waited += 10)
    usleep (10000);
  return 0;
}

int
destroy_container (const struct berth_context *ctx, int dirfd, struct berth_state *st, berth_err *err)
{
  if (alive (st))
    {
      if (st->cgroup)
        {
          berth_err ignored = NULL;
          if (berth_cgroup_kill_all (st->cgroup, SIGKILL, &ignored) < 0)
            berth_err_free (&ignored);
        }
      kill (st->pid, SIGKILL);
      wait_exit (st->pid, st->pid_start, 10000);
    }
  if (host_mounts_release (&st->host_mounts, st->rootfs, err) < 0)
    return -1;
  if (st->cgroup && st->cgroup_pending)
    berth_cgroup_assume_leaf_made (st->cgroup);
  if (st->cgroup && berth_cgroup_destroy (st->cgroup, err) < 0)
    return -1;
  /* poststop failures are warnings: the container is gone either way. */
  {
    berth_err hook_err = NULL;
    if (run_state_hooks (dirfd, st, BERTH_HOOK_POSTSTOP, "stopped", &hook_err) < 0)
      {
        berth_log (BERTH_LOG_WARNING, "%s", hook_err->msg);
        berth_err_free (&hook_err);
      }
  }
  return berth_state_dir_remove (ctx->state_root, st->id, err);
}

static int
set_frozen (const struct berth_context *ctx, const char *id, bool frozen, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = load (ctx, id, true, &dirfd, err);
  enum berth_status status;
  int ret;

  if (st == NULL)
    return -1;
  status = berth_state_status (dirfd, st);
  if (frozen && status != BERTH_STATUS_RUNNING && status != BERTH_STATUS_CREATED)
    ret = berth_fail (err, 0, "container not running");
  else if (!frozen && status != BERTH_STATUS_PAUSED)
    ret = berth_fail (err, 0, "container not paused");
  else if (st->cgroup == NULL)
    ret = berth_fail (err, 0, "container %s has no cgroup to freeze", id);
  else
    ret = berth_cgroup_set_frozen (st->cgroup, frozen, err);
  berth_state_free (st);
  return ret;
}

int
berth_container_pause (const struct berth_context *ctx, const char *id, berth_err *err)
{
  return set_frozen (ctx, id, true, err);
}

int
berth_container_resume (const struct berth_context *ctx, const char *id, berth_err *err)
{
  return set_frozen (ctx, id, false, err);
}

int
berth_container_delete (const struct berth_context *ctx, const char *id, bool force, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st;
  int ret;

  dirfd = berth_state_dir_open (ctx->state_root, id, true, err);
  if (dirfd < 0)
    return -1;
  st = berth_state_load (dirfd, id, err);
  if (st == NULL)
    {
      /* A state dir without state: a create died half-way.  Force cleans it. */
      if (!force)
        return -1;
      berth_err_free (err);
      if (remove_half_made_cgroup (dirfd, id, err) < 0)
        return -1;
      return berth_state_dir_remove (ctx->state_root, id, err);
    }
  switch (berth_state_status (dirfd, st))
    {
    case BERTH_STATUS_STOPPED:
    case BERTH_STATUS_CREATED: /* runc deletes a created container without --force */
      ret = destroy_container (ctx, dirfd, st, err);
      break;
    default:
      if (force)
        ret = destroy_container (ctx, dirfd, st, err);
      else
        ret = berth_fail (err, 0, "cannot delete container %s that is not stopped: %s", id,
                          berth_status_name (berth_state_status (dirfd, st)));
      break;
    }
  berth_state_free (st);
  return ret;
}

int
berth_container_pids (const struct berth_context *ctx, const char *id, pid_t **pids, size_t *n, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = load (ctx, id, false, &dirfd, err);
  int ret;

  if (st == NULL)
    return -1;
  *pids = NULL;
  *n = 0;
  if (st->cgroup)
    ret = berth_cgroup_pids (st->cgroup, pids, n, err);
  else if (alive (st))
    {
      *pids = malloc (sizeof (pid_t));
      (*pids)[0] = st->pid;
      *n = 1;
      ret = 0;
    }
  else
    ret = 0;
  berth_state_free (st);
  return ret;
}

struct berth_process *
berth_container_load_process (const struct berth_context *ctx, const char *id, berth_err *err)
{
  cleanup_close int dirfd = berth_state_dir_open (ctx->state_root, id, false, err);
  cleanup_close int fd = -1;
  json_t *doc;
  struct berth_process *p;

  if (dirfd < 0)
    return NULL;
  fd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return (berth_fail (err, errno, "open config of `%s`", id), NULL);
  doc = berth_json_load_fd (fd, "config.json", err);
  if (doc == NULL)
    return (berth_wrap (err, "container `%s`", id), NULL);
  p = berth_process_parse (json_object_get (doc, "process"), "process", err);
  json_decref (doc);
  return p;
}
