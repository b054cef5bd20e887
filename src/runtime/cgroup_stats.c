/* Statistics of a container's cgroup as runc's `events` prints them: the
 * JSON of runc 1.1's types.Stats (field names, order and omitempty rules
 * of Go's encoding/json, map keys sorted).
 *
 * Each group of numbers comes from the hierarchy that holds its controller,
 * as cgroup_resources.c chooses where to write: a v1 hierarchy first, else
 * the v2 one (cpu.stat needs no controller there).  Files that are missing
 * read as zero, as runc treats the optional ones; a cgroup removed meanwhile
 * gives zeros, not an error.
 *
 * Counters are uint64 in Go.  jansson holds int64, so a value above
 * INT64_MAX (only "max" limits of v2, UINT64_MAX) is stored as a real;
 * berth_event_dumps() (events.c) prints it back as the integer.
 */
#include "runtime/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define CLOCK_TICKS 100ULL /* runc's system.GetClockTicks(): USER_HZ */

/* dir/file whole, or NULL when it cannot be read. */
static char *
rd (const char *dir, const char *file)
{
  berth_err err = NULL;
  char *text = NULL;

  if (dir == NULL || cg_read (dir, file, &text, &err) < 0)
    {
      berth_err_free (&err);
      return NULL;
    }
  return text;
}

/* Go's fscommon.ParseUint: "max" is UINT64_MAX, negative numbers are 0. */
static uint64_t
parse_u64 (const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  if (strncmp (s, "max", 3) == 0)
    return UINT64_MAX;
  if (*s == '-')
    return 0;
  return strtoull (s, NULL, 10);
}

static uint64_t
rd_u64 (const char *dir, const char *file)
{
  cleanup_free char *text = rd (dir, file);
  return text ? parse_u64 (text) : 0;
}

/* The value of `key` in a "key value" per line file (memory.events ...). */
static uint64_t
rd_key (const char *dir, const char *file, const char *key)
{
  cleanup_free char *text = rd (dir, file);
  size_t klen = strlen (key);

  for (char *line = text; line != NULL && *line != '\0';)
    {
      char *nl = strchr (line, '\n');
      if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
        return parse_u64 (line + klen + 1);
      line = nl ? nl + 1 : NULL;
    }
  return 0;
}

json_t *
berth_stats_u64 (uint64_t v)
{
  return v > (uint64_t)INT64_MAX ? json_real ((double)v) : json_integer ((json_int_t)v);
}

/* `omitempty`: set only when non-zero. */
static void
set_nz (json_t *o, const char *key, uint64_t v)
{
  if (v != 0)
    json_object_set_new (o, key, berth_stats_u64 (v));
}

static void
set_u64 (json_t *o, const char *key, uint64_t v)
{
  json_object_set_new (o, key, berth_stats_u64 (v));
}

/* The hierarchy directory for a controller's numbers; NULL: none. */
static const char *
dir_for (const struct berth_cgroup *cg, const char *v1, const char *v2, bool v2_any)
{
  const struct cg_hier *h = cg_find (cg, v1);
  const struct cg_hier *u = cg_find_v2 (cg);

  if (h != NULL && h->version == 1)
    return h->path;
  if (u != NULL && (v2_any || (v2 != NULL && cg_list_has (u->controllers, v2))))
    return u->path;
  return NULL;
}

static bool
is_v2 (const struct berth_cgroup *cg, const char *dir)
{
  const struct cg_hier *u = cg_find_v2 (cg);
  return dir != NULL && u != NULL && strcmp (u->path, dir) == 0;
}

/* ---- cpu ---- */

static json_t *
u64_array (const char *text, int column)
{
  json_t *a = json_array ();
  char *save = NULL;
  cleanup_free char *copy = strdup (text ? text : "");

  if (column < 0)
    {
      for (char *f = strtok_r (copy, " \t\n", &save); f; f = strtok_r (NULL, " \t\n", &save))
        json_array_append_new (a, berth_stats_u64 (parse_u64 (f)));
      return a;
    }
  /* cpuacct.usage_all: a header, then "cpu user system" lines. */
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      unsigned long long c[3];
      if (sscanf (line, "%llu %llu %llu", &c[0], &c[1], &c[2]) == 3)
        json_array_append_new (a, berth_stats_u64 (c[column]));
    }
  return a;
}

static void
set_array_nz (json_t *o, const char *key, json_t *a)
{
  if (json_array_size (a) > 0)
    json_object_set_new (o, key, a);
  else
    json_decref (a);
}

static json_t *
cpu_stats (const struct berth_cgroup *cg)
{
  json_t *cpu = json_object (), *usage = json_object (), *thr = json_object ();
  const char *acct = dir_for (cg, "cpuacct", NULL, false);
  const char *cpud = dir_for (cg, "cpu", "cpu", true);
  uint64_t user = 0, kernel = 0;

  if (acct != NULL && !is_v2 (cg, acct))
    {
      cleanup_free char *st = rd (acct, "cpuacct.stat");
      cleanup_free char *percpu = rd (acct, "cpuacct.usage_percpu");
      cleanup_free char *all = rd (acct, "cpuacct.usage_all");
      unsigned long long u = 0, s = 0;

      if (st && sscanf (st, "user %llu system %llu", &u, &s) == 2)
        {
          user = u * 1000000000ULL / CLOCK_TICKS;
          kernel = s * 1000000000ULL / CLOCK_TICKS;
        }
      set_nz (usage, "total", rd_u64 (acct, "cpuacct.usage"));
      set_array_nz (usage, "percpu", u64_array (percpu, -1));
      set_array_nz (usage, "percpu_kernel", u64_array (all, 2));
      set_array_nz (usage, "percpu_user", u64_array (all, 1));
    }
  else if (cpud != NULL && is_v2 (cg, cpud))
    {
      set_nz (usage, "total", rd_key (cpud, "cpu.stat", "usage_usec") * 1000);
      user = rd_key (cpud, "cpu.stat", "user_usec") * 1000;
      kernel = rd_key (cpud, "cpu.stat", "system_usec") * 1000;
    }
  set_u64 (usage, "kernel", kernel);
  set_u64 (usage, "user", user);
  if (cpud != NULL)
    {
      bool v2 = is_v2 (cg, cpud);
      set_nz (thr, "periods", rd_key (cpud, "cpu.stat", "nr_periods"));
      set_nz (thr, "throttledPeriods", rd_key (cpud, "cpu.stat", "nr_throttled"));
      set_nz (thr, "throttledTime",
              v2 ? rd_key (cpud, "cpu.stat", "throttled_usec") * 1000 : rd_key (cpud, "cpu.stat", "throttled_time"));
    }
  json_object_set_new (cpu, "usage", usage);
  json_object_set_new (cpu, "throttling", thr);
  return cpu;
}

/* "0-2,5" -> [0,1,2,5]; NULL on a malformed list. */
json_t *
berth_stats_cpu_list (const char *text)
{
  json_t *a = json_array ();
  cleanup_free char *copy = strdup (text ? text : "");
  char *save = NULL;

  copy[strcspn (copy, "\n")] = '\0';
  for (char *f = strtok_r (copy, ",", &save); f; f = strtok_r (NULL, ",", &save))
    {
      char *end = NULL;
      unsigned long lo = strtoul (f, &end, 10), hi = lo;
      if (end == f)
        goto bad;
      if (*end == '-')
        {
          char *e2 = NULL;
          hi = strtoul (end + 1, &e2, 10);
          if (e2 == end + 1 || *e2 != '\0' || hi < lo)
            goto bad;
        }
      else if (*end != '\0')
        goto bad;
      if (hi > 65535)
        goto bad;
      for (unsigned long i = lo; i <= hi; i++)
        json_array_append_new (a, json_integer ((json_int_t)i));
    }
  return a;
bad:
  json_decref (a);
  return NULL;
}

static json_t *
cpuset_stats (const struct berth_cgroup *cg)
{
  static const char *const fields[][2] = {
    { "cpu_exclusive", "cpuset.cpu_exclusive" },
    { "mems", NULL },
    { "mem_hardwall", "cpuset.mem_hardwall" },
    { "mem_exclusive", "cpuset.mem_exclusive" },
    { "memory_migrate", "cpuset.memory_migrate" },
    { "memory_spread_page", "cpuset.memory_spread_page" },
    { "memory_spread_slab", "cpuset.memory_spread_slab" },
    { "memory_pressure", "cpuset.memory_pressure" },
    { "sched_load_balance", "cpuset.sched_load_balance" },
  };
  const struct cg_hier *h = cg_find (cg, "cpuset");
  const char *dir = h != NULL && h->version == 1 ? h->path : NULL; /* runc reads no cpuset stats on v2 */
  json_t *o = json_object ();
  cleanup_free char *cpus = rd (dir, "cpuset.cpus");
  cleanup_free char *mems = rd (dir, "cpuset.mems");
  cleanup_free char *relax = rd (dir, "cpuset.sched_relax_domain_level");
  json_t *a;

  if ((a = berth_stats_cpu_list (cpus)) != NULL)
    set_array_nz (o, "cpus", a);
  for (size_t i = 0; i < sizeof (fields) / sizeof (fields[0]); i++)
    {
      if (fields[i][1] != NULL)
        set_u64 (o, fields[i][0], rd_u64 (dir, fields[i][1]));
      else if ((a = berth_stats_cpu_list (mems)) != NULL)
        set_array_nz (o, "mems", a);
    }
  json_object_set_new (o, "sched_relax_domain_level", json_integer (relax ? strtoll (relax, NULL, 10) : 0));
  return o;
}

/* ---- memory ---- */

static json_t *
mem_entry (uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
  json_t *e = json_object ();

  set_u64 (e, "limit", limit);
  set_nz (e, "usage", usage);
  set_nz (e, "max", max);
  set_u64 (e, "failcnt", failcnt);
  return e;
}

/* v1 memory[.name].{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}. */
static json_t *
mem_entry_v1 (const char *dir, const char *module)
{
  char f[4][96];

  snprintf (f[0], sizeof (f[0]), "%s.usage_in_bytes", module);
  snprintf (f[1], sizeof (f[1]), "%s.max_usage_in_bytes", module);
  snprintf (f[2], sizeof (f[2]), "%s.failcnt", module);
  snprintf (f[3], sizeof (f[3]), "%s.limit_in_bytes", module);
  if (!cg_file_exists (dir, f[0]))
    return mem_entry (0, 0, 0, 0);
  return mem_entry (rd_u64 (dir, f[3]), rd_u64 (dir, f[0]), rd_u64 (dir, f[1]), rd_u64 (dir, f[2]));
}

static int
compare_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* memory.stat as a map, keys sorted as Go writes maps. */
static json_t *
memory_raw (const char *dir, uint64_t *cache, const char *cache_key)
{
  cleanup_free char *text = rd (dir, "memory.stat");
  cleanup_free char **lines = NULL;
  size_t n = 0, cap = 0;
  char *save = NULL;
  json_t *raw = json_object ();

  if (text == NULL)
    return raw;
  for (char *l = strtok_r (text, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      if (n == cap)
        {
          cap = cap ? cap * 2 : 64;
          lines = realloc (lines, cap * sizeof (*lines));
          if (lines == NULL)
            abort ();
        }
      lines[n++] = l;
    }
  if (n > 1)
    qsort (lines, n, sizeof (*lines), compare_str);
  for (size_t i = 0; i < n; i++)
    {
      char *sp = strchr (lines[i], ' ');
      if (sp == NULL)
        continue;
      *sp = '\0';
      uint64_t v = parse_u64 (sp + 1);
      if (strcmp (lines[i], cache_key) == 0)
        *cache = v;
      json_object_set_new (raw, lines[i], berth_stats_u64 (v));
    }
  return raw;
}

static json_t *
memory_stats (const struct berth_cgroup *cg)
{
  const char *dir = dir_for (cg, "memory", "memory", false);
  json_t *m = json_object ();
  json_t *raw;
  uint64_t cache = 0;

  if (dir == NULL)
    {
      json_object_set_new (m, "usage", mem_entry (0, 0, 0, 0));
      json_object_set_new (m, "swap", mem_entry (0, 0, 0, 0));
      json_object_set_new (m, "kernel", mem_entry (0, 0, 0, 0));
      json_object_set_new (m, "kernelTCP", mem_entry (0, 0, 0, 0));
      return m;
    }
  raw = memory_raw (dir, &cache, is_v2 (cg, dir) ? "file" : "cache");
  set_nz (m, "cache", cache);
  if (is_v2 (cg, dir))
    {
      uint64_t usage = rd_u64 (dir, "memory.current"), limit = rd_u64 (dir, "memory.max");
      uint64_t swap = 0, swap_limit = 0;

      json_object_set_new (m, "usage", mem_entry (limit, usage, 0, 0));
      /* v1 reports memory+swap; runc adds the two on v2 to match. */
      if (cg_file_exists (dir, "memory.swap.current"))
        {
          swap = rd_u64 (dir, "memory.swap.current");
          swap_limit = rd_u64 (dir, "memory.swap.max");
        }
      swap += usage;
      if (swap_limit != UINT64_MAX)
        swap_limit = limit == UINT64_MAX || swap_limit > UINT64_MAX - limit ? UINT64_MAX : swap_limit + limit;
      json_object_set_new (m, "swap", mem_entry (swap_limit, swap, 0, 0));
      json_object_set_new (m, "kernel", mem_entry (0, 0, 0, 0));
      json_object_set_new (m, "kernelTCP", mem_entry (0, 0, 0, 0));
    }
  else
    {
      json_object_set_new (m, "usage", mem_entry_v1 (dir, "memory"));
      json_object_set_new (m, "swap", mem_entry_v1 (dir, "memory.memsw"));
      json_object_set_new (m, "kernel", mem_entry_v1 (dir, "memory.kmem"));
      json_object_set_new (m, "kernelTCP", mem_entry_v1 (dir, "memory.kmem.tcp"));
    }
  if (json_object_size (raw) > 0)
    json_object_set_new (m, "raw", raw);
  else
    json_decref (raw);
  return m;
}

/* ---- pids ---- */

static json_t *
pids_stats (const struct berth_cgroup *cg)
{
  const char *dir = dir_for (cg, "pids", "pids", false);
  json_t *o = json_object ();
  uint64_t current = 0, limit = 0;

  if (dir != NULL)
    {
      current = rd_u64 (dir, "pids.current");
      limit = rd_u64 (dir, "pids.max");
    }
  else if ((dir = dir_for (cg, NULL, NULL, true)) != NULL)
    {
      /* v2 without the pids controller: count cgroup.procs. */
      cleanup_free char *procs = rd (dir, "cgroup.procs");
      for (const char *p = procs; p && *p; p++)
        current += *p == '\n';
    }
  if (limit == UINT64_MAX) /* "max": runc shows no limit as 0 */
    limit = 0;
  set_nz (o, "current", current);
  set_nz (o, "limit", limit);
  return o;
}

/* ---- blkio ---- */

/* "8:0 Read 4096" lines (or "8:0 4096"); NULL when none. */
static json_t *
blkio_entries (const char *dir, const char *file)
{
  cleanup_free char *text = rd (dir, file);
  json_t *a = NULL;
  char *save = NULL;

  if (text == NULL)
    return NULL;
  for (char *l = strtok_r (text, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      unsigned long long major, minor, value;
      char op[32] = "";
      json_t *e;

      if (sscanf (l, "%llu:%llu %31s %llu", &major, &minor, op, &value) != 4)
        {
          op[0] = '\0';
          if (sscanf (l, "%llu:%llu %llu", &major, &minor, &value) != 3)
            continue; /* "Total N" */
        }
      e = json_object ();
      set_nz (e, "major", major);
      set_nz (e, "minor", minor);
      if (op[0] != '\0')
        json_object_set_new (e, "op", json_string (op));
      set_nz (e, "value", value);
      if (a == NULL)
        a = json_array ();
      json_array_append_new (a, e);
    }
  return a;
}

/* runc tries groups of files in order (bfq debug, bfq, cfq, throttle
 * recursive, throttle); the first group whose first file has entries wins.
 * A group is a prefix, where in `files` it starts, and whether the names
 * lose their "_recursive". */
static void
blkio_v1 (const char *dir, json_t *o)
{
  static const char *const files[][2] = {
    { "sectors_recursive", "sectorsRecursive" },         { "io_service_time_recursive", "ioServiceTimeRecursive" },
    { "io_wait_time_recursive", "ioWaitTimeRecursive" }, { "io_merged_recursive", "ioMergedRecursive" },
    { "io_queued_recursive", "ioQueueRecursive" },       { "time_recursive", "ioTimeRecursive" },
    { "io_serviced_recursive", "ioServicedRecursive" },  { "io_service_bytes_recursive", "ioServiceBytesRecursive" },
  };
  static const struct
  {
    const char *prefix;
    size_t first;
    bool plain;
  } groups[] = {
    { "blkio.bfq.", 0, false },      { "blkio.bfq.", 6, false },     { "blkio.", 0, false },
    { "blkio.throttle.", 6, false }, { "blkio.throttle.", 6, true },
  };
  /* Go writes the struct's fields in declaration order. */
  static const int order[] = { 7, 6, 4, 1, 2, 3, 5, 0 };
  json_t *found[8] = { NULL };
  bool done = false;

  for (size_t g = 0; g < sizeof (groups) / sizeof (groups[0]) && !done; g++)
    for (size_t i = groups[g].first; i < 8; i++)
      {
        char name[96];
        size_t len;

        snprintf (name, sizeof (name), "%s%s", groups[g].prefix, files[i][0]);
        len = strlen (name);
        if (groups[g].plain && len > 10)
          name[len - 10] = '\0'; /* drop "_recursive" */
        json_t *a = blkio_entries (dir, name);
        if (a == NULL)
          {
            done = i > groups[g].first; /* a later file missing ends the search */
            break;
          }
        json_decref (found[i]);
        found[i] = a;
        done = true;
      }
  for (size_t i = 0; i < 8; i++)
    if (found[order[i]] != NULL)
      json_object_set_new (o, files[order[i]][1], found[order[i]]);
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." mapped to v1 names. */
static void
blkio_v2 (const char *dir, json_t *o)
{
  cleanup_free char *text = rd (dir, "io.stat");
  json_t *bytes = json_array (), *ios = json_array ();
  char *save = NULL;

  for (char *l = text ? strtok_r (text, "\n", &save) : NULL; l; l = strtok_r (NULL, "\n", &save))
    {
      unsigned long long major, minor;
      int off = 0;
      char *fsave = NULL;

      if (sscanf (l, "%llu:%llu%n", &major, &minor, &off) != 2)
        continue;
      for (char *f = strtok_r (l + off, " ", &fsave); f; f = strtok_r (NULL, " ", &fsave))
        {
          char *eq = strchr (f, '=');
          json_t *table, *e;
          const char *op;

          if (eq == NULL)
            continue;
          *eq = '\0';
          if (strcmp (f, "rbytes") == 0 || strcmp (f, "wbytes") == 0)
            table = bytes;
          else if (strcmp (f, "rios") == 0 || strcmp (f, "wios") == 0)
            table = ios;
          else
            continue;
          op = f[0] == 'r' ? "Read" : "Write";
          e = json_object ();
          set_nz (e, "major", major);
          set_nz (e, "minor", minor);
          json_object_set_new (e, "op", json_string (op));
          set_nz (e, "value", parse_u64 (eq + 1));
          json_array_append_new (table, e);
        }
    }
  set_array_nz (o, "ioServiceBytesRecursive", bytes);
  set_array_nz (o, "ioServicedRecursive", ios);
}

static json_t *
blkio_stats (const struct berth_cgroup *cg)
{
  const char *dir = dir_for (cg, "blkio", "io", false);
  json_t *o = json_object ();

  if (dir != NULL && is_v2 (cg, dir))
    blkio_v2 (dir, o);
  else if (dir != NULL)
    blkio_v1 (dir, o);
  return o;
}

/* ---- hugetlb ---- */

/* "hugepages-2048kB" -> "2MB", as Go's units.CustomSize("%g%s", size, 1024). */
int
berth_stats_hugepage_name (const char *dirent_name, char *out, size_t size)
{
  static const char *const abbrs[] = { "B", "KB", "MB", "GB", "TB", "PB", "EB" };
  unsigned long long kb;
  double v;
  size_t i = 0;
  char end[4];

  if (sscanf (dirent_name, "hugepages-%llu%3s", &kb, end) != 2 || strcmp (end, "kB") != 0)
    return -1;
  v = (double)kb * 1024.0;
  while (v >= 1024.0 && i < sizeof (abbrs) / sizeof (abbrs[0]) - 1)
    {
      v /= 1024.0;
      i++;
    }
  return snprintf (out, size, "%g%s", v, abbrs[i]) < (int)size ? 0 : -1;
}

static json_t *
hugetlb_stats (const struct berth_cgroup *cg)
{
  const char *dir = dir_for (cg, "hugetlb", "hugetlb", false);
  json_t *o = json_object ();
  cleanup_free char **names = NULL;
  size_t n = 0;
  DIR *d;
  struct dirent *de;

  if (dir == NULL || (d = opendir ("/sys/kernel/mm/hugepages")) == NULL)
    return o;
  while ((de = readdir (d)) != NULL)
    {
      char name[32];
      if (berth_stats_hugepage_name (de->d_name, name, sizeof (name)) < 0)
        continue;
      names = realloc (names, (n + 1) * sizeof (*names));
      if (names == NULL || (names[n++] = strdup (name)) == NULL)
        abort ();
    }
  closedir (d);
  if (n > 1)
    qsort (names, n, sizeof (*names), compare_str);
  for (size_t i = 0; i < n; i++)
    {
      json_t *e = json_object ();
      char f[96];

      if (is_v2 (cg, dir))
        {
          snprintf (f, sizeof (f), "hugetlb.%s.current", names[i]);
          set_nz (e, "usage", rd_u64 (dir, f));
          snprintf (f, sizeof (f), "hugetlb.%s.events", names[i]);
          set_u64 (e, "failcnt", rd_key (dir, f, "max"));
        }
      else
        {
          snprintf (f, sizeof (f), "hugetlb.%s.usage_in_bytes", names[i]);
          set_nz (e, "usage", rd_u64 (dir, f));
          snprintf (f, sizeof (f), "hugetlb.%s.max_usage_in_bytes", names[i]);
          set_nz (e, "max", rd_u64 (dir, f));
          snprintf (f, sizeof (f), "hugetlb.%s.failcnt", names[i]);
          set_u64 (e, "failcnt", rd_u64 (dir, f));
        }
      json_object_set_new (o, names[i], e);
      free (names[i]);
    }
  return o;
}

json_t *
berth_cgroup_stats (const struct berth_cgroup *cg, berth_err *err)
{
  json_t *s;

  if (cg == NULL)
    return berth_fail (err, 0, "container has no cgroup"), NULL;
  s = json_object ();
  json_object_set_new (s, "cpu", cpu_stats (cg));
  json_object_set_new (s, "cpuset", cpuset_stats (cg));
  json_object_set_new (s, "memory", memory_stats (cg));
  json_object_set_new (s, "pids", pids_stats (cg));
  json_object_set_new (s, "blkio", blkio_stats (cg));
  json_object_set_new (s, "hugetlb", hugetlb_stats (cg));
  json_object_set_new (s, "intel_rdt", json_object ()); /* filled only where resctrl is used: never yet */
  json_object_set_new (s, "network_interfaces", json_null ());
  return s;
}

/* Where the container's memory controller reports OOM: the v1 directory
 * (memory.oom_control) or the v2 one (memory.events).  NULL: none. */
const char *
berth_cgroup_memory_dir (const struct berth_cgroup *cg, bool *v2)
{
  const char *dir = cg ? dir_for (cg, "memory", "memory", false) : NULL;

  *v2 = dir != NULL && is_v2 (cg, dir);
  return dir;
}
