/* Cgroup discovery, path resolution, conversions and resource writers,
 * without touching real cgroups: discovery is fed sample texts of
 * /proc/self/mountinfo and /proc/self/cgroup (v1, v2, hybrid), and the
 * writers write into a scratch directory of plain files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A hybrid host (this is the one berth is developed on). */
static const char hybrid_mountinfo[]
    = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
      "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_cgroup[] = "9:name=systemd:/\n"
                                    "8:pids:/\n"
                                    "7:blkio:/\n"
                                    "6:freezer:/\n"
                                    "5:devices:/\n"
                                    "4:memory:/process_api/40c4\n"
                                    "3:cpuset:/\n"
                                    "2:cpuacct:/\n"
                                    "1:cpu:/\n"
                                    "0::/\n";

/* A pure v2 host (systemd, unified). */
static const char v2_mountinfo[]
    = "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n";
static const char v2_cgroup[] = "0::/user.slice/user-1000.slice/session-2.scope\n";

/* A pure v1 host (older systemd): joined controllers, a named hierarchy,
 * no cgroup2 mount although the kernel prints a 0:: line, and a hierarchy
 * in /proc/self/cgroup that is not mounted at all (perf_event). */
static const char v1_mountinfo[]
    = "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
      "26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup "
      "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
      "28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "29 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
      "cgroup rw,net_cls,net_prio\n"
      "30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory\n"
      "31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids\n";
static const char v1_cgroup[] = "12:perf_event:/\n"
                                "6:pids:/user.slice/user-1000.slice\n"
                                "5:memory:/user.slice\n"
                                "4:net_cls,net_prio:/\n"
                                "3:cpu,cpuacct:/user.slice\n"
                                "1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n"
                                "0::/user.slice/user-1000.slice/session-2.scope\n";

/* Inside a container: the hierarchy is mounted from a sub-cgroup (mount
 * root /docker/abc) and the mount point has a space in it. */
static const char nested_mountinfo[]
    = "600 500 0:27 /docker/abc /sys/fs/cgroup/my\\040memory ro,nosuid - cgroup cgroup rw,memory\n";
static const char nested_cgroup[] = "5:memory:/docker/abc/sub\n";

static const struct cg_hier *
hier_with (const struct berth_cgroup *cg, const char *controller)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg_list_has (cg->h[i].controllers, controller))
      return &cg->h[i];
  return NULL;
}

static void
test_hybrid_discover (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (hybrid_mountinfo, hybrid_cgroup, "hugetlb\n", NULL, "c1", &err);
  const struct cg_hier *h;

  assert_non_null (cg);
  assert_int_equal (cg->n, 10);
  h = cg_find (cg, "memory");
  assert_non_null (h);
  assert_int_equal (h->version, 1);
  assert_string_equal (h->path, "/sys/fs/cgroup/memory/process_api/40c4/c1");
  assert_string_equal (cg_find (cg, "cpu")->path, "/sys/fs/cgroup/cpu/c1");
  assert_string_equal (cg_find (cg, "cpuacct")->path, "/sys/fs/cgroup/cpuacct/c1");
  assert_string_equal (hier_with (cg, "name=systemd")->path, "/sys/fs/cgroup/systemd/c1");
  /* hugetlb is not on v1 here: the v2 hierarchy has it. */
  h = cg_find (cg, "hugetlb");
  assert_non_null (h);
  assert_int_equal (h->version, 2);
  assert_string_equal (h->path, "/sys/fs/cgroup/unified/c1");
  assert_ptr_equal (cg_find_v2 (cg), h);
  assert_true (cg_has_v1 (cg));
  assert_null (cg_find (cg, "net_cls"));
  assert_null (cg_find (cg, "io"));
  berth_cgroup_free (cg);
}

static void
test_hybrid_absolute (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (hybrid_mountinfo, hybrid_cgroup, "", "/berth/c1", "c1", &err);

  assert_non_null (cg);
  assert_string_equal (cg_find (cg, "memory")->path, "/sys/fs/cgroup/memory/berth/c1");
  assert_string_equal (cg_find_v2 (cg)->path, "/sys/fs/cgroup/unified/berth/c1");
  assert_null (cg_find (cg, "hugetlb")); /* the v2 root listed nothing */
  berth_cgroup_free (cg);
}

static void
test_v2 (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg
      = cg_resolve_text (v2_mountinfo, v2_cgroup, "cpuset cpu io memory hugetlb pids rdma misc\n", "a/b", "x", &err);

  assert_non_null (cg);
  assert_int_equal (cg->n, 1);
  assert_int_equal (cg->h[0].version, 2);
  assert_false (cg_has_v1 (cg));
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/a/b");
  assert_ptr_equal (cg_find (cg, "memory"), &cg->h[0]);
  assert_ptr_equal (cg_find (cg, "io"), &cg->h[0]);
  assert_null (cg_find (cg, "net_cls"));
  assert_null (cg_find (cg, "blkio"));
  assert_string_equal (cg->h[0].controllers, "cpuset,cpu,io,memory,hugetlb,pids,rdma,misc");
  assert_int_equal (cg_resolve_paths (cg, "/machine.slice/x", "x", &err), 0);
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/machine.slice/x");
  berth_cgroup_free (cg);
}

static void
test_v1 (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (v1_mountinfo, v1_cgroup, NULL, NULL, "ctr", &err);

  assert_non_null (cg);
  /* perf_event is not mounted and the 0:: line has no cgroup2 mount. */
  assert_int_equal (cg->n, 5);
  assert_null (cg_find_v2 (cg));
  assert_ptr_equal (cg_find (cg, "cpu"), cg_find (cg, "cpuacct"));
  assert_string_equal (cg_find (cg, "cpu")->path, "/sys/fs/cgroup/cpu,cpuacct/user.slice/ctr");
  assert_string_equal (cg_find (cg, "net_prio")->path, "/sys/fs/cgroup/net_cls,net_prio/ctr");
  assert_string_equal (cg_find (cg, "pids")->path, "/sys/fs/cgroup/pids/user.slice/user-1000.slice/ctr");
  assert_string_equal (hier_with (cg, "name=systemd")->path,
                       "/sys/fs/cgroup/systemd/user.slice/user-1000.slice/session-2.scope/ctr");
  assert_null (cg_find (cg, "perf_event"));
  assert_null (cg_find (cg, "hugetlb"));
  berth_cgroup_free (cg);
}

static void
test_nested_mount_root (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (nested_mountinfo, nested_cgroup, NULL, "x", "id", &err);

  assert_non_null (cg);
  assert_int_equal (cg->n, 1);
  assert_string_equal (cg->h[0].mount, "/sys/fs/cgroup/my memory");
  assert_string_equal (cg->h[0].own, "/sub");
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/my memory/sub/x");
  berth_cgroup_free (cg);
}

static void
test_nothing_mounted (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg
      = cg_resolve_text ("22 1 254:0 / / rw - ext4 /dev/vda rw\n", v1_cgroup, NULL, NULL, "c", &err);

  assert_null (cg);
  assert_non_null (err);
  assert_non_null (strstr (err->msg, "no mounted cgroup hierarchy"));
  berth_err_free (&err);
}

static void
expect_path_error (const char *cgroups_path, const char *id, const char *needle)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (v2_mountinfo, v2_cgroup, "", cgroups_path, id, &err);

  assert_null (cg);
  assert_non_null (err);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("`%s`: message `%s` lacks `%s`", cgroups_path ? cgroups_path : "(null)", err->msg, needle);
  berth_err_free (&err);
}

static void
test_path_refusals (void **state)
{
  expect_path_error ("a/../b", "c", "linux.cgroupsPath");
  expect_path_error ("/..", "c", "`..` is not allowed");
  expect_path_error ("../escape", "c", "`..`");
  expect_path_error ("..", "c", "`..`");
  expect_path_error ("/", "c", "hierarchy root");
  expect_path_error ("./", "c", "linux.cgroupsPath");
  expect_path_error (NULL, "a/b", "invalid container id");
  expect_path_error (NULL, "..", "invalid container id");
  expect_path_error ("", "", "invalid container id");
}

static void
test_path_normalized (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (v2_mountinfo, "0::/\n", "", "./a//b/./", "c", &err);

  assert_non_null (cg);
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/a/b");
  /* "" is the same as absent; systemd-looking paths are taken literally. */
  assert_int_equal (cg_resolve_paths (cg, "", "c2", &err), 0);
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/c2");
  assert_int_equal (cg_resolve_paths (cg, "system.slice:berth:c3", "c3", &err), 0);
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/system.slice:berth:c3");
  /* A dotted name that is not ".." is fine. */
  assert_int_equal (cg_resolve_paths (cg, "/a/..b/c..", "c", &err), 0);
  assert_string_equal (cg->h[0].path, "/sys/fs/cgroup/a/..b/c..");
  berth_cgroup_free (cg);
}

static void
test_unescape (void **state)
{
  char s[] = "/a\\040b\\011c\\134d\\05";

  cg_unescape_mountinfo (s);
  assert_string_equal (s, "/a b\tc\\d\\05");
}

static void
test_list_has (void **state)
{
  assert_true (cg_list_has ("cpu,cpuacct", "cpu"));
  assert_true (cg_list_has ("cpu,cpuacct", "cpuacct"));
  assert_false (cg_list_has ("cpuacct", "cpu"));
  assert_false (cg_list_has ("", "cpu"));
  assert_false (cg_list_has (NULL, "cpu"));
  assert_true (cg_list_has ("rw,xattr,name=systemd", "name=systemd"));
}

static void
test_shares_to_weight (void **state)
{
  assert_int_equal (cg_shares_to_weight (0), 0);
  assert_int_equal (cg_shares_to_weight (2), 1);
  assert_int_equal (cg_shares_to_weight (1024), 39);
  assert_int_equal (cg_shares_to_weight (512), 20);
  assert_int_equal (cg_shares_to_weight (262144), 10000);
  /* Out of range shares are clamped instead of wrapping around. */
  assert_int_equal (cg_shares_to_weight (1), 1);
  assert_int_equal (cg_shares_to_weight (1000000), 10000);
}

static void
test_blkio_to_io_weight (void **state)
{
  assert_int_equal (cg_blkio_to_io_weight (0), 0);
  assert_int_equal (cg_blkio_to_io_weight (10), 1);
  assert_int_equal (cg_blkio_to_io_weight (500), 4950);
  assert_int_equal (cg_blkio_to_io_weight (1000), 10000);
  assert_int_equal (cg_blkio_to_io_weight (5), 1);
}

static void
test_swap_to_v2 (void **state)
{
  berth_err err = NULL;
  bool write;
  int64_t v;

  assert_int_equal (cg_swap_to_v2 (0, 0, &write, &v, &err), 0);
  assert_false (write);
  assert_int_equal (cg_swap_to_v2 (0, 100, &write, &v, &err), 0);
  assert_false (write);
  assert_int_equal (cg_swap_to_v2 (0, -1, &write, &v, &err), 0);
  assert_true (write);
  assert_int_equal (v, -1);
  assert_int_equal (cg_swap_to_v2 (-1, 100, &write, &v, &err), 0);
  assert_true (write);
  assert_int_equal (v, -1);
  assert_int_equal (cg_swap_to_v2 (300, 100, &write, &v, &err), 0);
  assert_true (write);
  assert_int_equal (v, 200);
  assert_int_equal (cg_swap_to_v2 (100, 100, &write, &v, &err), 0);
  assert_true (write);
  assert_int_equal (v, 0);
  assert_int_equal (cg_swap_to_v2 (50, 100, &write, &v, &err), -1);
  assert_non_null (strstr (err->msg, "must be >= memory limit"));
  berth_err_free (&err);
  assert_int_equal (cg_swap_to_v2 (100, 0, &write, &v, &err), -1);
  assert_non_null (strstr (err->msg, "without a memory limit"));
  berth_err_free (&err);
  assert_int_equal (cg_swap_to_v2 (100, -1, &write, &v, &err), -1);
  berth_err_free (&err);
}

static void
test_json_roundtrip (void **state)
{
  berth_err err = NULL;
  struct berth_cgroup *cg = cg_resolve_text (hybrid_mountinfo, hybrid_cgroup, "hugetlb", "a/b", "c", &err);
  struct berth_cgroup *back;
  json_t *j, *j2;

  assert_non_null (cg);
  cg->h[3].created = 2;
  j = berth_cgroup_to_json (cg);
  back = berth_cgroup_from_json (j, &err);
  assert_non_null (back);
  assert_int_equal (back->n, cg->n);
  for (size_t i = 0; i < cg->n; i++)
    {
      assert_int_equal (back->h[i].version, cg->h[i].version);
      assert_string_equal (back->h[i].path, cg->h[i].path);
      assert_string_equal (back->h[i].mount, cg->h[i].mount);
      assert_string_equal (back->h[i].controllers, cg->h[i].controllers);
      assert_int_equal (back->h[i].created, cg->h[i].created);
    }
  j2 = berth_cgroup_to_json (back);
  assert_true (json_equal (j, j2));
  json_decref (j);
  json_decref (j2);
  berth_cgroup_free (back);
  berth_cgroup_free (cg);

  j = json_pack ("{s:[{s:i, s:s, s:s, s:s, s:s, s:i}]}", "hierarchies", "version", 1, "controllers", "memory", "mount",
                 "/sys/fs/cgroup/memory", "own", "/", "path", "/etc", "created", 1);
  assert_null (berth_cgroup_from_json (j, &err));
  assert_non_null (err);
  berth_err_free (&err);
  json_decref (j);
  j = json_pack ("{s:[{s:i, s:s, s:s, s:s, s:s, s:i}]}", "hierarchies", "version", 1, "controllers", "memory", "mount",
                 "/sys/fs/cgroup/memory", "own", "/", "path", "/sys/fs/cgroup/memory/../../../etc", "created", 3);
  assert_null (berth_cgroup_from_json (j, &err));
  assert_non_null (err);
  berth_err_free (&err);
  json_decref (j);
}

/* ---- writers, against plain files in a scratch directory ---- */

static char scratch[64];

static int
rm_cb (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static int
setup_scratch (void **state)
{
  strcpy (scratch, "/tmp/berth-cgtest-XXXXXX");
  return mkdtemp (scratch) == NULL ? -1 : 0;
}

static int
teardown_scratch (void **state)
{
  return nftw (scratch, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
make_dir (const char *name, const char *const *files)
{
  char *dir = NULL;

  if (asprintf (&dir, "%s/%s", scratch, name) < 0)
    abort ();
  assert_int_equal (mkdir (dir, 0755), 0);
  for (; *files; files++)
    {
      cleanup_free char *p = NULL;
      int fd;

      if (asprintf (&p, "%s/%s", dir, *files) < 0)
        abort ();
      fd = open (p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      assert_true (fd >= 0);
      close (fd);
    }
  return dir;
}

static void
assert_file (const char *dir, const char *file, const char *want)
{
  cleanup_free char *got = NULL;
  berth_err err = NULL;

  if (cg_read (dir, file, &got, &err) < 0)
    fail_msg ("%s", err->msg);
  if (strcmp (got, want) != 0)
    fail_msg ("%s/%s: got `%s`, want `%s`", dir, file, got, want);
}

static struct berth_cgroup *
fake_cgroup (size_t n)
{
  struct berth_cgroup *cg = calloc (1, sizeof (*cg));

  cg->h = calloc (n, sizeof (*cg->h));
  cg->n = n;
  return cg;
}

static void
fake_hier (struct cg_hier *h, int version, const char *controllers, char *path)
{
  h->version = version;
  h->controllers = strdup (controllers);
  h->mount = strdup (scratch);
  h->own = strdup ("/");
  h->path = path;
}

static void
test_v2_writers (void **state)
{
  static const char *const files[]
      = { "memory.max",      "memory.low",           "memory.swap.max", "cpu.weight",  "cpu.max",   "cpu.max.burst",
          "cpu.idle",        "cpuset.cpus",          "cpuset.mems",     "pids.max",    "io.weight", "io.max",
          "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max",        "memory.high", NULL };
  struct berth_cgroup *cg = fake_cgroup (1);
  struct berth_hugepage_limit huge = { "2MB", 4194304 };
  struct berth_throttle_device thr = { 254, 0, 1048576 };
  struct berth_rdma_limit rdma = { "mlx5_0", true, 3, false, 0 };
  struct berth_key_value kv = { "memory.high", "1000000" };
  struct berth_resources res = { 0 };
  berth_err err = NULL;

  fake_hier (&cg->h[0], 2, "cpuset,cpu,io,memory,hugetlb,pids,rdma", make_dir ("v2", files));
  res.memory.present = true;
  res.memory.has_limit = true;
  res.memory.limit = 100 << 20;
  res.memory.has_swap = true;
  res.memory.swap = 300 << 20;
  res.memory.has_reservation = true;
  res.memory.reservation = 50 << 20;
  res.memory.has_swappiness = true; /* ignored on v2 */
  res.memory.swappiness = 10;
  res.cpu.present = true;
  res.cpu.has_shares = true;
  res.cpu.shares = 1024;
  res.cpu.has_quota = true;
  res.cpu.quota = 50000;
  res.cpu.has_period = true;
  res.cpu.period = 100000;
  res.cpu.has_burst = true;
  res.cpu.burst = 1000;
  res.cpu.cpus = (char *)"0";
  res.cpu.mems = (char *)"0";
  res.pids.present = true;
  res.pids.limit = 0;
  res.block_io.present = true;
  res.block_io.has_weight = true;
  res.block_io.weight = 500;
  res.block_io.throttle_read_bps = &thr;
  res.block_io.n_throttle_read_bps = 1;
  res.hugepage_limits = &huge;
  res.n_hugepage_limits = 1;
  res.rdma = &rdma;
  res.n_rdma = 1;
  res.unified = &kv;
  res.n_unified = 1;

  if (berth_cgroup_update (cg, &res, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_file (cg->h[0].path, "memory.max", "104857600");
  assert_file (cg->h[0].path, "memory.swap.max", "209715200");
  assert_file (cg->h[0].path, "memory.low", "52428800");
  assert_file (cg->h[0].path, "cpu.weight", "39");
  assert_file (cg->h[0].path, "cpu.max", "50000 100000");
  assert_file (cg->h[0].path, "cpu.max.burst", "1000");
  assert_file (cg->h[0].path, "cpuset.cpus", "0");
  assert_file (cg->h[0].path, "pids.max", "max");
  assert_file (cg->h[0].path, "io.weight", "4950");
  assert_file (cg->h[0].path, "io.max", "254:0 rbps=1048576");
  assert_file (cg->h[0].path, "hugetlb.2MB.max", "4194304");
  assert_file (cg->h[0].path, "hugetlb.2MB.rsvd.max", "4194304");
  assert_file (cg->h[0].path, "rdma.max", "mlx5_0 hca_handle=3 hca_object=max");
  assert_file (cg->h[0].path, "memory.high", "1000000");

  /* Unlimited everything. */
  memset (&res, 0, sizeof (res));
  res.memory.present = true;
  res.memory.has_limit = true;
  res.memory.limit = -1;
  res.cpu.present = true;
  res.cpu.has_quota = true;
  res.cpu.quota = -1;
  res.pids.present = true;
  res.pids.limit = 64;
  if (berth_cgroup_update (cg, &res, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_file (cg->h[0].path, "memory.max", "max");
  assert_file (cg->h[0].path, "memory.swap.max", "max");
  assert_file (cg->h[0].path, "cpu.max", "max");
  assert_file (cg->h[0].path, "pids.max", "64");

  /* A unified key with no file is an error naming the key. */
  memset (&res, 0, sizeof (res));
  kv.key = (char *)"memory.nonexistent";
  res.unified = &kv;
  res.n_unified = 1;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.unified"));
  assert_non_null (strstr (err->msg, "`memory.nonexistent`"));
  berth_err_free (&err);
  kv.key = (char *)"../memory.max";
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  berth_err_free (&err);

  /* Realtime has no v2 counterpart; net_cls no controller on v2. */
  memset (&res, 0, sizeof (res));
  res.cpu.present = true;
  res.cpu.has_realtime_runtime = true;
  res.cpu.realtime_runtime = 1000;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.cpu"));
  berth_err_free (&err);
  memset (&res, 0, sizeof (res));
  res.network.present = true;
  res.network.has_class_id = true;
  res.network.class_id = 7;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.network.classID: no `net_cls` cgroup controller"));
  berth_err_free (&err);
  berth_cgroup_free (cg);
}

static void
test_hybrid_writers (void **state)
{
  static const char *const mem_files[]
      = { "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
          "memory.swappiness",     "memory.oom_control",          NULL };
  static const char *const cpu_files[] = { "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", NULL };
  static const char *const dev_files[] = { "devices.allow", "devices.deny", NULL };
  static const char *const v2_files[] = { "hugetlb.1GB.max", NULL };
  struct berth_cgroup *cg = fake_cgroup (4);
  struct berth_hugepage_limit huge = { "1GB", 0 };
  struct berth_device_rule devs[]
      = { { false, 'a', -1, -1, NULL }, { true, 'c', 1, 3, "rwm" }, { true, 'c', 136, -1, "rw" } };
  struct berth_resources res = { 0 };
  berth_err err = NULL;

  fake_hier (&cg->h[0], 1, "memory", make_dir ("memory", mem_files));
  fake_hier (&cg->h[1], 1, "cpu", make_dir ("cpu", cpu_files));
  fake_hier (&cg->h[2], 1, "devices", make_dir ("devices", dev_files));
  fake_hier (&cg->h[3], 2, "hugetlb", make_dir ("unified", v2_files));
  res.memory.present = true;
  res.memory.has_limit = true;
  res.memory.limit = 1 << 20;
  res.memory.has_swap = true;
  res.memory.swap = 2 << 20;
  res.memory.has_swappiness = true;
  res.memory.swappiness = 0;
  res.memory.has_disable_oom_killer = true;
  res.memory.disable_oom_killer = true;
  res.memory.has_kernel = true; /* no kmem file: ignored */
  res.memory.kernel = 1 << 20;
  res.cpu.present = true;
  res.cpu.has_shares = true;
  res.cpu.shares = 512;
  res.cpu.has_quota = true;
  res.cpu.quota = 20000;
  res.cpu.has_period = true;
  res.cpu.period = 100000;
  res.hugepage_limits = &huge;
  res.n_hugepage_limits = 1;
  res.devices = devs;
  res.n_devices = 3;
  /* The memsw ordering logic reads the current limit. */
  assert_int_equal (cg_write (cg->h[0].path, "memory.limit_in_bytes", "9223372036854771712", &err), 0);

  if (berth_cgroup_update (cg, &res, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_file (cg->h[0].path, "memory.limit_in_bytes", "1048576");
  assert_file (cg->h[0].path, "memory.memsw.limit_in_bytes", "2097152");
  assert_file (cg->h[0].path, "memory.swappiness", "0");
  assert_file (cg->h[0].path, "memory.oom_control", "1");
  assert_file (cg->h[1].path, "cpu.shares", "512");
  assert_file (cg->h[1].path, "cpu.cfs_quota_us", "20000");
  assert_file (cg->h[1].path, "cpu.cfs_period_us", "100000");
  assert_file (cg->h[2].path, "devices.deny", "a *:* rwm");
  assert_file (cg->h[2].path, "devices.allow", "c 136:* rw");
  assert_file (cg->h[3].path, "hugetlb.1GB.max", "0");

  /* No memsw file: a swap limit other than the memory limit is refused. */
  {
    cleanup_free char *p = NULL;

    assert_true (asprintf (&p, "%s/memory.memsw.limit_in_bytes", cg->h[0].path) > 0);
    assert_int_equal (unlink (p), 0);
  }
  memset (&res, 0, sizeof (res));
  res.memory.present = true;
  res.memory.has_limit = true;
  res.memory.limit = 1 << 20;
  res.memory.has_swap = true;
  res.memory.swap = 1 << 20;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), 0);
  res.memory.swap = 4 << 20;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "memory.memsw.limit_in_bytes"));
  berth_err_free (&err);

  /* A pids limit with no pids hierarchy anywhere. */
  memset (&res, 0, sizeof (res));
  res.pids.present = true;
  res.pids.limit = 10;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.pids"));
  berth_err_free (&err);

  /* Write errors name the file and the value. */
  memset (&res, 0, sizeof (res));
  res.cpu.present = true;
  res.cpu.has_idle = true;
  res.cpu.idle = 1;
  assert_int_equal (berth_cgroup_update (cg, &res, &err), -1);
  assert_non_null (strstr (err->msg, "cpu.idle"));
  assert_non_null (strstr (err->msg, "`1`"));
  assert_int_equal (err->errnum, ENOENT);
  berth_err_free (&err);
  berth_cgroup_free (cg);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hybrid_discover),
    cmocka_unit_test (test_hybrid_absolute),
    cmocka_unit_test (test_v2),
    cmocka_unit_test (test_v1),
    cmocka_unit_test (test_nested_mount_root),
    cmocka_unit_test (test_nothing_mounted),
    cmocka_unit_test (test_path_refusals),
    cmocka_unit_test (test_path_normalized),
    cmocka_unit_test (test_unescape),
    cmocka_unit_test (test_list_has),
    cmocka_unit_test (test_shares_to_weight),
    cmocka_unit_test (test_blkio_to_io_weight),
    cmocka_unit_test (test_swap_to_v2),
    cmocka_unit_test (test_json_roundtrip),
    cmocka_unit_test_setup_teardown (test_v2_writers, setup_scratch, teardown_scratch),
    cmocka_unit_test_setup_teardown (test_hybrid_writers, setup_scratch, teardown_scratch),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
