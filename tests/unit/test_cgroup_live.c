/* Cgroups for real, as root on the host the tests run on (v1, v2 or
 * hybrid: the code discovers which).  Skipped without root or without
 * writable cgroup hierarchies.
 *
 * Everything is made below berth-live-<pid> in each hierarchy (relative to
 * this process's own cgroup) and removed at the end; a controller this test
 * enabled in the v2 parent's cgroup.subtree_control is disabled again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[64];
static char *v2_parent;         /* the v2 directory base is made in */
static char *v2_subtree_before; /* its cgroup.subtree_control at the start */

static bool
dir_exists (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static void
check (int r, berth_err *err)
{
  if (r < 0)
    fail_msg ("%s", (*err)->msg);
}

static int
setup (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *probe;

  snprintf (base, sizeof (base), "berth-live-%d", (int)getpid ());
  if (geteuid () != 0)
    return 0;
  probe = berth_cgroup_resolve (base, "x", &err);
  if (probe == NULL)
    {
      berth_err_free (&err);
      return 0;
    }
  for (size_t i = 0; i < probe->n; i++)
    if (probe->h[i].version == 2)
      {
        char *slash;

        v2_parent = strdup (probe->h[i].path);
        slash = strrchr (v2_parent, '/');
        *slash = '\0';
        if (cg_read (v2_parent, "cgroup.subtree_control", &v2_subtree_before, &err) < 0)
          berth_err_free (&err);
      }
  berth_cgroup_free (probe);
  return 0;
}

static int
teardown (void **state)
{
  berth_err err = NULL;

  /* Put the v2 parent's subtree_control back as it was. */
  if (v2_parent != NULL && v2_subtree_before != NULL)
    {
      cleanup_free char *now = NULL;

      if (cg_read (v2_parent, "cgroup.subtree_control", &now, &err) == 0)
        {
          char *save = NULL;

          for (char *c = strtok_r (now, " ", &save); c != NULL; c = strtok_r (NULL, " ", &save))
            if (!strstr (v2_subtree_before, c) && cg_writef (v2_parent, "cgroup.subtree_control", &err, "-%s", c) < 0)
              berth_err_free (&err);
        }
      berth_err_free (&err);
    }
  free (v2_parent);
  free (v2_subtree_before);
  return 0;
}

/* The cgroup.procs-relative name of each hierarchy's directory must show
 * in /proc/PID/cgroup.  cg_read drops the final newline, so one is put back:
 * on a pure v2 host the only line, "0::/path", is also the last (issue 3). */
static void
assert_in_cgroup (const struct berth_cgroup *cg, pid_t pid)
{
  cleanup_free char *raw = NULL;
  cleanup_free char *text = NULL;
  char procdir[64];
  berth_err err = NULL;

  snprintf (procdir, sizeof (procdir), "/proc/%d", (int)pid);
  check (cg_read (procdir, "cgroup", &raw, &err), &err);
  if (asprintf (&text, "%s\n", raw) < 0)
    abort ();
  for (size_t i = 0; i < cg->n; i++)
    {
      const char *rel = cg->h[i].path + strlen (cg->h[i].mount);
      cleanup_free char *needle = NULL;

      if (asprintf (&needle, ":%s\n", rel) < 0)
        abort ();
      if (strstr (text, needle) == NULL)
        fail_msg ("/proc/%d/cgroup lacks `%s` (%s):\n%s", (int)pid, rel, cg->h[i].controllers, text);
    }
}

/* A child that waits on a pipe, then (when asked) locks `lock` bytes of
 * memory so that the memory cgroup cannot reclaim them, then sleeps. */
static pid_t
spawn (int *go, size_t lock)
{
  int p[2];
  pid_t pid;

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      char c;

      close (p[1]);
      if (read (p[0], &c, 1) != 1)
        _exit (1);
      close (p[0]);
      if (lock > 0)
        {
          char *m = mmap (NULL, lock, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

          if (m == MAP_FAILED || mlock (m, lock) < 0)
            _exit (2);
          memset (m, 1, lock);
        }
      for (;;)
        pause ();
    }
  close (p[0]);
  *go = p[1];
  return pid;
}

static void
release (int go)
{
  assert_int_equal (write (go, "x", 1), 1);
  close (go);
}

static const char *
file_for (const struct cg_hier *h, const char *v1, const char *v2)
{
  return h->version == 1 ? v1 : v2;
}

/* Processes join, show up everywhere, freeze and thaw, and are killed;
 * a memory limit below what one has locked names the file. */
static void
exercise_processes (const struct berth_cgroup *cg)
{
  const struct cg_hier *h;
  cleanup_free pid_t *pids = NULL;
  berth_err err = NULL;
  size_t n;
  bool frozen;
  pid_t child;
  int go, status;

  /* A process joins, shows up everywhere, freezes and thaws. */
  child = spawn (&go, 0);
  check (berth_cgroup_enter (cg, child, &err), &err);
  release (go);
  assert_in_cgroup (cg, child);
  check (berth_cgroup_pids (cg, &pids, &n, &err), &err);
  assert_int_equal (n, 1);
  assert_int_equal (pids[0], child);
  free (steal_pointer (&pids));
  check (berth_cgroup_set_frozen (cg, true, &err), &err);
  check (berth_cgroup_is_frozen (cg, &frozen, &err), &err);
  assert_true (frozen);
  check (berth_cgroup_set_frozen (cg, false, &err), &err);
  check (berth_cgroup_is_frozen (cg, &frozen, &err), &err);
  assert_false (frozen);

  /* kill_all with a catchable signal: SIGTERM is not caught by the child. */
  check (berth_cgroup_kill_all (cg, SIGTERM, &err), &err);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGTERM);

  /* SIGKILL to a frozen cgroup still kills (it is thawed). */
  child = spawn (&go, 4 << 20);
  check (berth_cgroup_enter (cg, child, &err), &err);
  release (go);
  /* Let it lock its memory. */
  for (int i = 0; i < 200; i++)
    {
      cleanup_free char *st = NULL;
      char procdir[64];

      snprintf (procdir, sizeof (procdir), "/proc/%d", (int)child);
      if (cg_read (procdir, "status", &st, &err) < 0)
        berth_err_free (&err);
      else if (strstr (st, "VmLck:\t    4096 kB") != NULL)
        break;
      usleep (5000);
    }

  /* A memory limit below what the process has locked. */
  h = cg_find (cg, "memory");
  if (h->version == 1)
    {
      struct berth_resources low = { 0 };

      low.memory.present = true;
      low.memory.has_limit = true;
      low.memory.limit = 4096;
      assert_int_equal (berth_cgroup_update (cg, &low, &err), -1);
      assert_non_null (strstr (err->msg, "memory.limit_in_bytes"));
      assert_non_null (strstr (err->msg, "`4096`"));
      assert_non_null (strstr (err->msg, "memory limit too low?"));
      berth_err_free (&err);
    }

  check (berth_cgroup_set_frozen (cg, true, &err), &err);
  check (berth_cgroup_kill_all (cg, SIGKILL, &err), &err);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGKILL);
  check (berth_cgroup_is_frozen (cg, &frozen, &err), &err);
  assert_false (frozen);
}

/* Persisted and loaded back, then destroyed with a live process inside:
 * destroy kills it and removes what create made, not the parent. */
static void
destroy_from_state (const struct berth_cgroup *cg, const struct berth_cgroup *parent)
{
  json_t *j = berth_cgroup_to_json (cg);
  berth_err err = NULL;
  struct berth_cgroup *back = berth_cgroup_from_json (j, &err);
  pid_t child;
  int go, status;

  json_decref (j);
  check (back ? 0 : -1, &err);
  child = spawn (&go, 0);
  check (berth_cgroup_enter (back, child, &err), &err);
  release (go);
  check (berth_cgroup_destroy (back, &err), &err);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFSIGNALED (status));
  for (size_t i = 0; i < back->n; i++)
    {
      cleanup_free char *a = strdup (back->h[i].path);

      *strrchr (a, '/') = '\0';
      assert_false (dir_exists (back->h[i].path));
      assert_false (dir_exists (a));
      assert_true (dir_exists (parent->h[i].path));
    }
  /* Idempotent. */
  check (berth_cgroup_destroy (back, &err), &err);
  berth_cgroup_free (back);
}

static void
test_lifecycle (void **state)
{
  struct berth_resources res = { 0 };
  struct berth_hugepage_limit huge = { (char *)"2MB", 4194304 };
  struct berth_cgroup *parent, *cg;
  const struct cg_hier *h;
  cleanup_free char *path = NULL;
  cleanup_free char *value = NULL;
  berth_err err = NULL;

  if (geteuid () != 0)
    skip ();
  parent = berth_cgroup_resolve (base, "x", &err);
  check (parent ? 0 : -1, &err);
  if (berth_cgroup_create (parent, NULL, &err) < 0)
    {
      if (err->errnum == EACCES || err->errnum == EROFS || err->errnum == EPERM)
        {
          berth_err_free (&err);
          berth_cgroup_free (parent);
          skip ();
        }
      fail_msg ("%s", err->msg);
    }
  if (asprintf (&path, "%s/a/ctr", base) < 0)
    abort ();
  cg = berth_cgroup_resolve (path, "ctr", &err);
  check (cg ? 0 : -1, &err);

  /* A value the kernel refuses: nothing is left behind. */
  res.cpu.present = true;
  res.cpu.cpus = (char *)"9999";
  assert_int_equal (berth_cgroup_create (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "cpuset.cpus"));
  assert_non_null (strstr (err->msg, "`9999`"));
  berth_err_free (&err);
  for (size_t i = 0; i < cg->n; i++)
    {
      assert_false (dir_exists (cg->h[i].path));
      assert_true (dir_exists (parent->h[i].path));
    }

  res.memory.present = true;
  res.memory.has_limit = true;
  res.memory.limit = 64 << 20;
  res.pids.present = true;
  res.pids.limit = 32;
  res.cpu.has_shares = true;
  res.cpu.shares = 512;
  res.cpu.cpus = (char *)"0";
  res.cpu.mems = (char *)"0";
  /* On a hybrid host hugetlb may live in the v2 hierarchy: hugetlb.2MB.max. */
  if (cg_find (cg, "hugetlb") != NULL && access ("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0)
    {
      res.hugepage_limits = &huge;
      res.n_hugepage_limits = 1;
    }
  check (berth_cgroup_create (cg, &res, &err), &err);
  for (size_t i = 0; i < cg->n; i++)
    {
      assert_true (dir_exists (cg->h[i].path));
      assert_int_equal (cg->h[i].created, 2); /* a and ctr, not base */
    }

  h = cg_find (cg, "memory");
  assert_non_null (h);
  check (cg_read (h->path, file_for (h, "memory.limit_in_bytes", "memory.max"), &value, &err), &err);
  assert_string_equal (value, "67108864");
  h = cg_find (cg, "pids");
  assert_non_null (h);
  check (cg_read (h->path, "pids.max", &value, &err), &err);
  assert_string_equal (value, "32");
  h = cg_find (cg, "cpu");
  assert_non_null (h);
  check (cg_read (h->path, file_for (h, "cpu.shares", "cpu.weight"), &value, &err), &err);
  assert_string_equal (value, h->version == 1 ? "512" : "20");
  h = cg_find (cg, "cpuset");
  assert_non_null (h);
  check (cg_read (h->path, "cpuset.cpus", &value, &err), &err);
  assert_string_equal (value, "0");
  h = cg_find (cg, "hugetlb");
  if (res.n_hugepage_limits > 0)
    {
      check (cg_read (h->path, file_for (h, "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"), &value, &err), &err);
      assert_string_equal (value, "4194304");
    }

  exercise_processes (cg);
  destroy_from_state (cg, parent);
  berth_cgroup_free (cg);

  check (berth_cgroup_destroy (parent, &err), &err);
  for (size_t i = 0; i < parent->n; i++)
    assert_false (dir_exists (parent->h[i].path));
  berth_cgroup_free (parent);
}

/* A sub-cgroup made inside the container (nested runtimes do this) is
 * removed with it, and its processes counted. */
static void
test_subcgroups (void **state)
{
  struct berth_cgroup *cg;
  cleanup_free pid_t *pids = NULL;
  berth_err err = NULL;
  size_t n;
  pid_t child;
  int go, status;

  if (geteuid () != 0)
    skip ();
  cg = berth_cgroup_resolve (base, "x", &err);
  check (cg ? 0 : -1, &err);
  if (berth_cgroup_create (cg, NULL, &err) < 0)
    {
      berth_err_free (&err);
      berth_cgroup_free (cg);
      skip ();
    }
  child = spawn (&go, 0);
  for (size_t i = 0; i < cg->n; i++)
    {
      cleanup_free char *sub = NULL;

      if (asprintf (&sub, "%s/inner", cg->h[i].path) < 0)
        abort ();
      assert_int_equal (mkdir (sub, 0755), 0);
      if (cg->h[i].version == 1 && cg_list_has (cg->h[i].controllers, "cpuset"))
        {
          check (cg_write (sub, "cpuset.cpus", "0", &err), &err);
          check (cg_write (sub, "cpuset.mems", "0", &err), &err);
        }
      check (cg_writef (sub, "cgroup.procs", &err, "%d", (int)child), &err);
    }
  release (go);
  check (berth_cgroup_pids (cg, &pids, &n, &err), &err);
  assert_int_equal (n, 1);
  assert_int_equal (pids[0], child);
  check (berth_cgroup_destroy (cg, &err), &err);
  assert_int_equal (waitpid (child, &status, 0), child);
  for (size_t i = 0; i < cg->n; i++)
    assert_false (dir_exists (cg->h[i].path));
  berth_cgroup_free (cg);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lifecycle),
    cmocka_unit_test (test_subcgroups),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
