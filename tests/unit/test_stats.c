/* Stats (runc's types.Stats JSON) from sample cgroup files in a scratch
 * directory, v1 and v2; the event encoder; update's merge rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cgroup_internal.h"
#include "runtime/container.h"
#include "util/cleanup.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[] = "/tmp/berth-unit-stats-XXXXXX";

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove (path);
}

static int
setup (void **state)
{
  (void)state;
  strcpy (scratch, "/tmp/berth-unit-stats-XXXXXX");
  return mkdtemp (scratch) ? 0 : -1;
}

static int
teardown (void **state)
{
  (void)state;
  return nftw (scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
sub (const char *name)
{
  char *p = NULL;
  assert_true (asprintf (&p, "%s/%s", scratch, name) > 0);
  mkdir (p, 0755);
  return p;
}

static void
put (const char *dir, const char *file, const char *text)
{
  char path[512];
  FILE *f;

  snprintf (path, sizeof (path), "%s/%s", dir, file);
  f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static char *
dump (json_t *v)
{
  char *s = berth_event_dumps (v);
  assert_non_null (s);
  return s;
}

static void
test_cpu_list (void **state)
{
  json_t *a;
  cleanup_free char *s = NULL;

  (void)state;
  a = berth_stats_cpu_list ("0-2,5\n");
  s = json_dumps (a, JSON_COMPACT);
  assert_string_equal (s, "[0,1,2,5]");
  json_decref (a);
  assert_null (berth_stats_cpu_list ("3-1"));
  assert_null (berth_stats_cpu_list ("x"));
  a = berth_stats_cpu_list ("");
  assert_int_equal (json_array_size (a), 0);
  json_decref (a);
}

static void
test_hugepage_name (void **state)
{
  char name[32];

  (void)state;
  assert_int_equal (berth_stats_hugepage_name ("hugepages-2048kB", name, sizeof (name)), 0);
  assert_string_equal (name, "2MB");
  assert_int_equal (berth_stats_hugepage_name ("hugepages-1048576kB", name, sizeof (name)), 0);
  assert_string_equal (name, "1GB");
  assert_int_equal (berth_stats_hugepage_name ("hugepages-64kB", name, sizeof (name)), 0);
  assert_string_equal (name, "64KB");
  assert_int_equal (berth_stats_hugepage_name (".", name, sizeof (name)), -1);
}

static void
test_u64_max_prints_as_integer (void **state)
{
  json_t *o = json_object ();
  cleanup_free char *s = NULL;

  (void)state;
  json_object_set_new (o, "limit", berth_stats_u64 (UINT64_MAX));
  json_object_set_new (o, "n", berth_stats_u64 (42));
  s = dump (o);
  assert_string_equal (s, "{\"limit\":18446744073709551615,\"n\":42}");
  json_decref (o);
}

/* One hierarchy per controller, like a v1 host. */
static void
test_v1_stats (void **state)
{
  cleanup_free char *mem = sub ("memory"), *pids = sub ("pids"), *cpu = sub ("cpuacct"), *blk = sub ("blkio");
  cleanup_free char *cs = sub ("cpuset");
  struct cg_hier h[] = {
    { .version = 1, .controllers = (char *)"memory", .path = mem },
    { .version = 1, .controllers = (char *)"pids", .path = pids },
    { .version = 1, .controllers = (char *)"cpuacct", .path = cpu },
    { .version = 1, .controllers = (char *)"blkio", .path = blk },
    { .version = 1, .controllers = (char *)"cpuset", .path = cs },
  };
  struct berth_cgroup cg = { .h = h, .n = 5 };
  berth_err err = NULL;
  json_t *s;
  cleanup_free char *text = NULL;

  (void)state;
  put (mem, "memory.stat", "rss 4096\ncache 8192\nactive_anon 1\n");
  put (mem, "memory.usage_in_bytes", "100\n");
  put (mem, "memory.max_usage_in_bytes", "200\n");
  put (mem, "memory.failcnt", "0\n");
  put (mem, "memory.limit_in_bytes", "9223372036854771712\n");
  put (pids, "pids.current", "3\n");
  put (pids, "pids.max", "max\n");
  put (cpu, "cpuacct.stat", "user 10\nsystem 20\n");
  put (cpu, "cpuacct.usage", "1234\n");
  put (cpu, "cpuacct.usage_percpu", "1000 234 \n");
  put (cpu, "cpuacct.usage_all", "cpu user system\n0 600 400\n1 200 34\n");
  put (blk, "blkio.throttle.io_serviced_recursive", "8:0 Read 5\n8:0 Write 6\nTotal 11\n");
  put (blk, "blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\nTotal 4096\n");
  put (cs, "cpuset.cpus", "0-1\n");
  put (cs, "cpuset.mems", "0\n");
  put (cs, "cpuset.sched_relax_domain_level", "-1\n");
  s = berth_cgroup_stats (&cg, &err);
  assert_non_null (s);
  text = dump (s);
  assert_non_null (strstr (text, "{\"cpu\":{\"usage\":{\"total\":1234,\"percpu\":[1000,234],\"percpu_kernel\":[400,34],"
                                 "\"percpu_user\":[600,200],\"kernel\":200000000,\"user\":100000000},"
                                 "\"throttling\":{}},"));
  assert_non_null (strstr (text, "\"cpuset\":{\"cpus\":[0,1],\"cpu_exclusive\":0,\"mems\":[0],"));
  assert_non_null (strstr (text, "\"sched_relax_domain_level\":-1}"));
  assert_non_null (strstr (text, "\"memory\":{\"cache\":8192,\"usage\":{\"limit\":9223372036854771712,\"usage\":100,"
                                 "\"max\":200,\"failcnt\":0},\"swap\":{\"limit\":0,\"failcnt\":0},"));
  assert_non_null (strstr (text, "\"raw\":{\"active_anon\":1,\"cache\":8192,\"rss\":4096}}"));
  assert_non_null (strstr (text, "\"pids\":{\"current\":3}"));
  assert_non_null (strstr (text,
                           "\"blkio\":{\"ioServiceBytesRecursive\":[{\"major\":8,\"op\":\"Read\",\"value\":4096}],"
                           "\"ioServicedRecursive\":[{\"major\":8,\"op\":\"Read\",\"value\":5},"
                           "{\"major\":8,\"op\":\"Write\",\"value\":6}]}"));
  assert_non_null (strstr (text, "\"intel_rdt\":{},\"network_interfaces\":null}"));
  json_decref (s);
}

static void
test_v2_stats (void **state)
{
  cleanup_free char *dir = sub ("unified");
  struct cg_hier h[] = { { .version = 2, .controllers = (char *)"memory,pids,io,cpu", .path = dir } };
  struct berth_cgroup cg = { .h = h, .n = 1 };
  berth_err err = NULL;
  json_t *s;
  cleanup_free char *text = NULL;
  bool v2 = false;

  (void)state;
  put (dir, "memory.stat", "anon 4096\nfile 8192\n");
  put (dir, "memory.current", "100\n");
  put (dir, "memory.max", "max\n");
  put (dir, "memory.swap.current", "5\n");
  put (dir, "memory.swap.max", "max\n");
  put (dir, "cpu.stat", "usage_usec 7\nuser_usec 3\nsystem_usec 4\nnr_periods 2\nnr_throttled 1\nthrottled_usec 9\n");
  put (dir, "io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
  put (dir, "pids.current", "2\n");
  put (dir, "pids.max", "50\n");
  s = berth_cgroup_stats (&cg, &err);
  text = dump (s);
  assert_non_null (strstr (text, "\"usage\":{\"total\":7000,\"kernel\":4000,\"user\":3000},"
                                 "\"throttling\":{\"periods\":2,\"throttledPeriods\":1,\"throttledTime\":9000}"));
  assert_non_null (strstr (text,
                           "\"memory\":{\"cache\":8192,\"usage\":{\"limit\":18446744073709551615,\"usage\":100,"
                           "\"failcnt\":0},\"swap\":{\"limit\":18446744073709551615,\"usage\":105,\"failcnt\":0}"));
  assert_non_null (strstr (text, "\"pids\":{\"current\":2,\"limit\":50}"));
  assert_non_null (strstr (text, "\"ioServiceBytesRecursive\":[{\"major\":8,\"op\":\"Read\",\"value\":10},"
                                 "{\"major\":8,\"op\":\"Write\",\"value\":20}]"));
  assert_non_null (strstr (text, "\"cpuset\":{\"cpu_exclusive\":0,\"mem_hardwall\":0,"));
  assert_string_equal (berth_cgroup_memory_dir (&cg, &v2), dir);
  assert_true (v2);
  json_decref (s);
}

static void
test_merge (void **state)
{
  json_t *cur = json_loads ("{\"devices\":[{\"allow\":false}],\"memory\":{\"limit\":100,\"swap\":200},"
                            "\"pids\":{\"limit\":5},\"hugepageLimits\":[]}",
                            0, NULL);
  json_t *chg = json_loads ("{\"memory\":{\"limit\":150,\"kernel\":9},\"cpu\":{\"shares\":0,\"cpus\":\"0\","
                            "\"burst\":0},\"pids\":{\"limit\":0},\"blockIO\":{\"weight\":300,"
                            "\"throttleReadBpsDevice\":[]},\"network\":{\"classID\":1}}",
                            0, NULL);
  json_t *m = berth_resources_merge (cur, chg);
  cleanup_free char *s = json_dumps (m, JSON_COMPACT | JSON_SORT_KEYS);

  (void)state;
  assert_string_equal (s, "{\"blockIO\":{\"weight\":300},\"cpu\":{\"burst\":0,\"cpus\":\"0\"},"
                          "\"devices\":[{\"allow\":false}],\"hugepageLimits\":[],"
                          "\"memory\":{\"limit\":150,\"swap\":200},\"pids\":{\"limit\":5}}");
  json_decref (m);
  json_decref (chg);

  /* Memory unlimited without a swap value lifts swap too. */
  chg = json_loads ("{\"memory\":{\"limit\":-1}}", 0, NULL);
  m = berth_resources_merge (cur, chg);
  assert_int_equal (json_integer_value (json_object_get (json_object_get (m, "memory"), "swap")), -1);
  json_decref (m);
  json_decref (chg);
  json_decref (cur);

  m = berth_resources_merge (NULL, NULL);
  assert_int_equal (json_object_size (m), 0);
  json_decref (m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_cpu_list),
    cmocka_unit_test (test_hugepage_name),
    cmocka_unit_test (test_u64_max_prints_as_integer),
    cmocka_unit_test_setup_teardown (test_v1_stats, setup, teardown),
    cmocka_unit_test_setup_teardown (test_v2_stats, setup, teardown),
    cmocka_unit_test (test_merge),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
