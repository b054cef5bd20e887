/* Cgroup directories and processes: create, enter, destroy, pids, kill,
 * freeze.  Every hierarchy of a struct berth_cgroup gets the same treatment;
 * which controller lives where only matters for resources
 * (cgroup_resources.c) and for the freezer. */
#include "runtime/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

#define CG_WAIT_MS 1000 /* for EBUSY on rmdir and for processes to die */
#define CG_FREEZE_MS 2000

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

int
cg_hint (berth_err *err, const char *hint)
{
  char *msg = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  if (asprintf (&msg, "%s (%s)", (*err)->msg, hint) < 0)
    abort ();
  free ((*err)->msg);
  (*err)->msg = msg;
  return -1;
}

int
cg_write (const char *dir, const char *file, const char *value, berth_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_close int fd = -1;
  size_t len = strlen (value);
  ssize_t r;

  if (asprintf (&path, "%s/%s", dir, file) < 0)
    abort ();
  fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open `%s` to write `%s`", path, value);
  do
    r = write (fd, value, len);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return berth_fail (err, errno, "write `%s` to `%s`", value, path);
  if ((size_t)r != len)
    return berth_fail (err, EIO, "short write of `%s` to `%s`", value, path);
  return 0;
}

int
cg_writef (const char *dir, const char *file, berth_err *err, const char *fmt, ...)
{
  cleanup_free char *value = NULL;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&value, fmt, ap);
  va_end (ap);
  if (r < 0)
    abort ();
  return cg_write (dir, file, value, err);
}

int
cg_read (const char *dir, const char *file, char **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_close int fd = -1;
  char *buf;
  size_t len;

  if (asprintf (&path, "%s/%s", dir, file) < 0)
    abort ();
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open `%s`", path);
  buf = berth_read_fd (fd, 16 * 1024 * 1024, &len, path, err);
  if (buf == NULL)
    return -1;
  while (len > 0 && buf[len - 1] == '\n')
    len--;
  buf[len] = '\0';
  free (*out);
  *out = buf;
  return 0;
}

bool
cg_file_exists (const char *dir, const char *file)
{
  cleanup_free char *path = NULL;

  if (asprintf (&path, "%s/%s", dir, file) < 0)
    abort ();
  return access (path, F_OK) == 0;
}

/* ---- create ---- */

static size_t
mount_len (const struct cg_hier *h)
{
  return strcmp (h->mount, "/") == 0 ? 0 : strlen (h->mount);
}

/* mkdir -p h->path below the mount, counting the trailing components made. */
static int
mkdir_tracked (struct cg_hier *h, berth_err *err)
{
  cleanup_free char *cur = strdup (h->path);
  bool made = false;

  if (cur == NULL)
    abort ();
  h->created = 0;
  for (char *p = cur + mount_len (h) + 1;; p++)
    {
      char save = *p;

      if (save != '/' && save != '\0')
        continue;
      *p = '\0';
      if (mkdir (cur, 0755) == 0)
        made = true;
      else if (errno != EEXIST)
        return berth_fail (err, errno, "mkdir `%s`", cur);
      if (made)
        h->created++;
      *p = save;
      if (save == '\0')
        return 0;
    }
}

/* A new v1 cpuset directory starts with empty cpus and mems, and no task
 * can join it until they are set: copy them from the parent, top-down.
 * Every level below the mount is checked, not only those this create made:
 * a parent made a moment ago by a concurrent create may still be empty, and
 * its values are the same whoever copies them. */
static int
cpuset_copy_parent (const struct cg_hier *h, berth_err *err)
{
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  cleanup_free char *dir = strdup (h->path);
  size_t base = mount_len (h);

  if (dir == NULL)
    abort ();
  for (char *p = dir + base + 1;; p++)
    {
      bool last = *p == '\0';
      if (*p != '/' && !last)
        continue;
      *p = '\0';
      for (size_t i = 0; i < 2; i++)
        {
          cleanup_free char *mine = NULL;
          cleanup_free char *parent_val = NULL;
          cleanup_free char *parent = strdup (dir);
          char *slash;

          if (parent == NULL)
            abort ();
          slash = strrchr (parent, '/');
          slash[slash == parent] = '\0'; /* the parent of "/x" is "/" */
          if (cg_read (dir, files[i], &mine, err) < 0)
            return -1;
          if (*mine != '\0')
            continue;
          if (cg_read (parent, files[i], &parent_val, err) < 0 || cg_write (dir, files[i], parent_val, err) < 0)
            return -1;
        }
      if (last)
        return 0;
      *p = '/';
    }
}

/* v2: each ancestor of the leaf must list a controller in
 * cgroup.subtree_control for the leaf to have it.  Enable everything the
 * ancestor has, as runc and crun do (monitoring reads memory.current even
 * without limits).  Failures are not fatal here: an ancestor holding
 * processes refuses (EBUSY), and a resource that needs the controller then
 * fails naming its file. */
static void
v2_enable_controllers (const struct cg_hier *h)
{
  cleanup_free char *cur = strdup (h->path);
  size_t base = mount_len (h);
  char *end;

  if (cur == NULL)
    abort ();
  end = strrchr (cur, '/');
  for (char *p = cur + base;; p++)
    {
      cleanup_free char *avail = NULL;
      cleanup_free char *enabled = NULL;
      berth_err ignored = NULL;
      char save = *p;

      if (save != '/' && p != end)
        continue;
      *p = '\0';
      if (cg_read (*cur ? cur : "/", "cgroup.controllers", &avail, &ignored) == 0
          && cg_read (*cur ? cur : "/", "cgroup.subtree_control", &enabled, &ignored) == 0)
        {
          char *save_tok = NULL;

          for (char *c = strtok_r (avail, " ", &save_tok); c != NULL; c = strtok_r (NULL, " ", &save_tok))
            {
              cleanup_free char *list = NULL;
              cleanup_free char *needle = NULL;

              if (asprintf (&list, " %s ", enabled) < 0 || asprintf (&needle, " %s ", c) < 0)
                abort ();
              for (char *q = list; *q; q++)
                if (*q == '\n')
                  *q = ' ';
              if (strstr (list, needle) == NULL)
                cg_writef (*cur ? cur : "/", "cgroup.subtree_control", &ignored, "+%s", c);
              berth_err_free (&ignored);
            }
        }
      berth_err_free (&ignored);
      *p = save;
      if (p == end)
        return;
    }
}

/* rmdir with retries while the kernel still sees dying tasks (EBUSY). */
static int
rmdir_retry (const char *path, bool retry)
{
  for (int waited = 0;; waited += 10)
    {
      if (rmdir (path) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || !retry || waited >= CG_WAIT_MS)
        return -1;
      sleep_ms (10);
    }
}

/* Remove path and the sub-cgroups the container made inside it. */
static int
rmdir_tree (const char *path, berth_err *err)
{
  DIR *d = opendir (path);
  struct dirent *de;

  if (d == NULL)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "open `%s`", path);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *sub = NULL;

      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (asprintf (&sub, "%s/%s", path, de->d_name) < 0)
        abort ();
      if (rmdir_tree (sub, err) < 0)
        {
          closedir (d);
          return -1;
        }
    }
  closedir (d);
  if (rmdir_retry (path, true) < 0)
    return berth_fail (err, errno, "rmdir `%s`", path);
  return 0;
}

/* Remove what create made in one hierarchy: the leaf (with sub-cgroups),
 * then the parents it made, stopping at one still in use by others. */
static int
remove_created (struct cg_hier *h, berth_err *err)
{
  cleanup_free char *dir = NULL;

  if (h->created == 0)
    return 0;
  if (rmdir_tree (h->path, err) < 0)
    return -1;
  dir = strdup (h->path);
  if (dir == NULL)
    abort ();
  for (unsigned i = 1; i < h->created; i++)
    {
      char *slash = strrchr (dir, '/');

      if (slash == NULL || (size_t)(slash - dir) <= mount_len (h))
        break;
      *slash = '\0';
      if (rmdir_retry (dir, false) < 0)
        {
          if (errno == EBUSY || errno == ENOTEMPTY || errno == EEXIST)
            break;
          return berth_fail (err, errno, "rmdir `%s`", dir);
        }
    }
  h->created = 0;
  return 0;
}

int
berth_cgroup_create (struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      struct cg_hier *h = &cg->h[i];

      if (mkdir_tracked (h, err) < 0)
        goto undo;
      if (h->version == 1 && cg_list_has (h->controllers, "cpuset") && cpuset_copy_parent (h, err) < 0)
        goto undo;
      if (h->version == 2)
        v2_enable_controllers (h);
    }
  if (res != NULL && cg_apply_resources (cg, res, err) < 0)
    goto undo;
  return 0;

undo:
  for (size_t i = 0; i < cg->n; i++)
    {
      berth_err ignored = NULL;

      remove_created (&cg->h[i], &ignored);
      berth_err_free (&ignored);
    }
  return -1;
}

int
berth_cgroup_update (const struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err)
{
  return res == NULL ? 0 : cg_apply_resources (cg, res, err);
}

int
berth_cgroup_enter (const struct berth_cgroup *cg, pid_t pid, berth_err *err)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg_writef (cg->h[i].path, "cgroup.procs", err, "%d", (int)pid) < 0)
      {
        if ((*err)->errnum == ENOSPC)
          cg_hint (err, "empty cpuset.cpus or cpuset.mems?");
        else if ((*err)->errnum == EBUSY && cg->h[i].version == 2)
          cg_hint (err, "the cgroup has controllers enabled in cgroup.subtree_control?");
        return berth_wrap (err, "join cgroup");
      }
  return 0;
}

int
berth_cgroup_enter_self (const struct berth_cgroup *cg, bool v2_joined, berth_err *err)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      bool v2 = cg->h[i].version == 2;
      if (v2 && v2_joined)
        continue;
      /* A single-threaded process: moving its thread moves the process. */
      if (cg_writef (cg->h[i].path, v2 ? "cgroup.procs" : "tasks", err, "0") < 0)
        {
          if ((*err)->errnum == ENOSPC)
            cg_hint (err, "empty cpuset.cpus or cpuset.mems?");
          return berth_wrap (err, "join cgroup");
        }
    }
  return 0;
}

int
berth_cgroup_v2_dirfd (const struct berth_cgroup *cg)
{
  const struct cg_hier *v2 = cg_find_v2 (cg);

  if (v2 == NULL)
    return -1;
  return open (v2->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* ---- pids ---- */

static int
collect_pids (const char *dir, pid_t **pids, size_t *n, bool top, berth_err *err)
{
  cleanup_free char *text = NULL;
  berth_err local = NULL;
  DIR *d;
  struct dirent *de;

  if (cg_read (dir, "cgroup.procs", &text, &local) < 0)
    {
      /* A cgroup removed under us (or never made) has no processes. */
      if (local->errnum == ENOENT || (!top && local->errnum == ENODEV))
        {
          berth_err_free (&local);
          return 0;
        }
      berth_err_move (err, &local);
      return -1;
    }
  for (char *p = text; *p != '\0';)
    {
      char *end;
      long v = strtol (p, &end, 10);

      if (end == p)
        break;
      *pids = realloc (*pids, (*n + 1) * sizeof (**pids));
      if (*pids == NULL)
        abort ();
      (*pids)[(*n)++] = (pid_t)v;
      p = end;
      while (*p == '\n')
        p++;
    }
  d = opendir (dir);
  if (d == NULL)
    return 0;
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *sub = NULL;

      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (asprintf (&sub, "%s/%s", dir, de->d_name) < 0)
        abort ();
      if (collect_pids (sub, pids, n, false, err) < 0)
        {
          closedir (d);
          return -1;
        }
    }
  closedir (d);
  return 0;
}

static int
cmp_pid (const void *a, const void *b)
{
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

  return (x > y) - (x < y);
}

int
berth_cgroup_pids (const struct berth_cgroup *cg, pid_t **pids, size_t *n, berth_err *err)
{
  const struct cg_hier *h = cg_find (cg, "pids");
  size_t w = 0;

  if (h == NULL)
    h = cg_find_v2 (cg);
  if (h == NULL)
    h = &cg->h[0];
  *pids = NULL;
  *n = 0;
  if (collect_pids (h->path, pids, n, true, err) < 0)
    {
      free (*pids);
      *pids = NULL;
      *n = 0;
      return -1;
    }
  if (*n == 0)
    return 0;
  qsort (*pids, *n, sizeof (**pids), cmp_pid);
  for (size_t r = 0; r < *n; r++)
    if (w == 0 || (*pids)[w - 1] != (*pids)[r])
      (*pids)[w++] = (*pids)[r];
  *n = w;
  return 0;
}

/* ---- freezer ---- */

/* The v1 freezer where there is one (runc uses it on hybrid hosts too, and
 * it is what other tools read), else the v2 cgroup.freeze. */
static const struct cg_hier *
freezer_hier (const struct berth_cgroup *cg)
{
  const struct cg_hier *h = cg_find (cg, "freezer");

  if (h != NULL && h->version == 1)
    return h;
  return cg_find_v2 (cg);
}

static int
v1_set_frozen (const struct cg_hier *h, bool frozen, berth_err *err)
{
  const char *want = frozen ? "FROZEN" : "THAWED";

  for (int waited = 0;; waited += 1)
    {
      cleanup_free char *state = NULL;

      /* Writing again helps a FREEZING cgroup whose tasks forked meanwhile. */
      if ((waited % 10 == 0) && cg_write (h->path, "freezer.state", want, err) < 0)
        return -1;
      if (cg_read (h->path, "freezer.state", &state, err) < 0)
        return -1;
      if (strcmp (state, want) == 0)
        return 0;
      if (waited >= CG_FREEZE_MS)
        break;
      sleep_ms (1);
    }
  if (frozen)
    {
      berth_err ignored = NULL;

      cg_write (h->path, "freezer.state", "THAWED", &ignored);
      berth_err_free (&ignored);
    }
  return berth_fail (err, ETIMEDOUT, "%s `%s/freezer.state`", frozen ? "freeze" : "thaw", h->path);
}

static int
v2_set_frozen (const struct cg_hier *h, bool frozen, berth_err *err)
{
  const char *want = frozen ? "frozen 1" : "frozen 0";

  if (cg_write (h->path, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
    return -1;
  for (int waited = 0; waited < CG_FREEZE_MS; waited++)
    {
      cleanup_free char *events = NULL;
      char *hit;

      if (cg_read (h->path, "cgroup.events", &events, err) < 0)
        return -1;
      hit = strstr (events, want);
      if (hit != NULL && (hit == events || hit[-1] == '\n'))
        return 0;
      sleep_ms (1);
    }
  if (frozen)
    {
      berth_err ignored = NULL;

      cg_write (h->path, "cgroup.freeze", "0", &ignored);
      berth_err_free (&ignored);
    }
  return berth_fail (err, ETIMEDOUT, "%s `%s/cgroup.freeze`", frozen ? "freeze" : "thaw", h->path);
}

int
berth_cgroup_set_frozen (const struct berth_cgroup *cg, bool frozen, berth_err *err)
{
  const struct cg_hier *h = freezer_hier (cg);

  if (h == NULL)
    return berth_fail (err, 0, "no cgroup freezer on this host");
  return h->version == 1 ? v1_set_frozen (h, frozen, err) : v2_set_frozen (h, frozen, err);
}

int
berth_cgroup_is_frozen (const struct berth_cgroup *cg, bool *frozen, berth_err *err)
{
  const struct cg_hier *h = freezer_hier (cg);
  cleanup_free char *v = NULL;

  *frozen = false;
  if (h == NULL)
    return 0;
  if (cg_read (h->path, h->version == 1 ? "freezer.state" : "cgroup.freeze", &v, err) < 0)
    return -1;
  *frozen = h->version == 1 ? strcmp (v, "FROZEN") == 0 : strcmp (v, "1") == 0;
  return 0;
}

/* ---- kill and destroy ---- */

static int
signal_all (const struct berth_cgroup *cg, int sig, berth_err *err)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;

  if (berth_cgroup_pids (cg, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      return berth_fail (err, errno, "kill %d", (int)pids[i]);
  return 0;
}

int
berth_cgroup_kill_all (const struct berth_cgroup *cg, int sig, berth_err *err)
{
  const struct cg_hier *v2 = cg_find_v2 (cg);
  const struct cg_hier *fz = freezer_hier (cg);
  berth_err ignored = NULL;
  bool was_frozen = false, froze = false;
  int ret;

  if (fz != NULL && access (fz->path, F_OK) < 0)
    return 0; /* already gone */
  if (fz != NULL && berth_cgroup_is_frozen (cg, &was_frozen, &ignored) < 0)
    berth_err_free (&ignored);
  /* cgroup.kill (Linux 5.14) kills the whole subtree atomically; on hybrid
   * hosts the v2 directory holds every process too (enter joins it). */
  if (sig == SIGKILL && v2 != NULL && cg_file_exists (v2->path, "cgroup.kill"))
    ret = cg_write (v2->path, "cgroup.kill", "1", err);
  else
    {
      if (fz != NULL && !was_frozen)
        {
          froze = berth_cgroup_set_frozen (cg, true, &ignored) == 0;
          berth_err_free (&ignored);
        }
      ret = signal_all (cg, sig, err);
    }
  /* Frozen tasks cannot act on a signal, not even SIGKILL, until thawed. */
  if (froze || (was_frozen && sig == SIGKILL))
    {
      if (berth_cgroup_set_frozen (cg, false, ret < 0 ? &ignored : err) < 0 && ret == 0)
        ret = -1;
      berth_err_free (&ignored);
    }
  return ret;
}

int
berth_cgroup_destroy (struct berth_cgroup *cg, berth_err *err)
{
  int ret = 0;

  if (berth_cgroup_kill_all (cg, SIGKILL, err) < 0)
    {
      if ((*err)->errnum != ENOENT)
        return -1;
      berth_err_free (err);
    }
  for (int waited = 0; waited < CG_WAIT_MS; waited += 10)
    {
      cleanup_free pid_t *pids = NULL;
      size_t n = 0;
      berth_err ignored = NULL;

      if (berth_cgroup_pids (cg, &pids, &n, &ignored) < 0)
        {
          berth_err_free (&ignored);
          break;
        }
      if (n == 0)
        break;
      sleep_ms (10);
    }
  /* Go on with the other hierarchies after a failure: leave as little as
   * possible behind; the first error is reported. */
  for (size_t i = 0; i < cg->n; i++)
    if (remove_created (&cg->h[i], err) < 0)
      ret = -1;
  return ret;
}

void
berth_cgroup_assume_leaf_made (struct berth_cgroup *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].created == 0)
      cg->h[i].created = 1;
}

int
cg_write_hugetlb (const char *dir, const struct berth_resources *res, const char *suffix, berth_err *err)
{
  for (size_t i = 0; i < res->n_hugepage_limits; i++)
    {
      const struct berth_hugepage_limit *l = &res->hugepage_limits[i];
      cleanup_free char *file = NULL;
      cleanup_free char *rsvd = NULL;

      if (strchr (l->page_size, '/') != NULL)
        return berth_fail (err, 0, "invalid page size `%s`", l->page_size);
      if (asprintf (&file, "hugetlb.%s.%s", l->page_size, suffix) < 0
          || asprintf (&rsvd, "hugetlb.%s.rsvd.%s", l->page_size, suffix) < 0)
        abort ();
      if (cg_writef (dir, file, err, "%" PRIu64, l->limit) < 0)
        return -1;
      if (cg_file_exists (dir, rsvd) && cg_writef (dir, rsvd, err, "%" PRIu64, l->limit) < 0)
        return -1;
    }
  return 0;
}
