#include "runtime/process_extras.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spec/json_path.h"
#include "util/cleanup.h"

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NUMA_BALANCING (1 << 13)

struct name_value
{
  const char *name;
  long value;
};

static int
lookup (const struct name_value *t, size_t n, const char *name, const char *path, long *out, berth_err *err)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (t[i].name, name) == 0)
      {
        *out = t[i].value;
        return 0;
      }
  return berth_fail (err, 0, "%s: unknown value \"%s\"", path, name);
}
#define LOOKUP(t, name, path, out, err) lookup (t, sizeof (t) / sizeof (t[0]), name, path, out, err)

static const struct name_value sched_policies[] = {
  { "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 },       { "SCHED_BATCH", 3 },
  { "SCHED_ISO", 4 },   { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 },
};
static const struct name_value sched_flags[] = {
  { "SCHED_FLAG_RESET_ON_FORK", 0x01 },  { "SCHED_FLAG_RECLAIM", 0x02 },     { "SCHED_FLAG_DL_OVERRUN", 0x04 },
  { "SCHED_FLAG_KEEP_POLICY", 0x08 },    { "SCHED_FLAG_KEEP_PARAMS", 0x10 }, { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
  { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};
static const struct name_value ioprio_classes[] = {
  { "IOPRIO_CLASS_RT", 1 },
  { "IOPRIO_CLASS_BE", 2 },
  { "IOPRIO_CLASS_IDLE", 3 },
};
static const struct name_value mpol_modes[] = {
  { "MPOL_DEFAULT", 0 },
  { "MPOL_PREFERRED", 1 },
  { "MPOL_BIND", 2 },
  { "MPOL_INTERLEAVE", 3 },
  { "MPOL_LOCAL", 4 },
  { "MPOL_PREFERRED_MANY", 5 },
  { "MPOL_WEIGHTED_INTERLEAVE", 6 },
};
static const struct name_value mpol_flags[] = {
  { "MPOL_F_NUMA_BALANCING", MPOL_F_NUMA_BALANCING },
  { "MPOL_F_RELATIVE_NODES", MPOL_F_RELATIVE_NODES },
  { "MPOL_F_STATIC_NODES", MPOL_F_STATIC_NODES },
};

/* Parses "0-3,7" into bits; `limit` bounds the numbers. */
static int
parse_list (const char *list, const char *path, unsigned long *bits, size_t limit, berth_err *err)
{
  const char *p = list;

  while (*p)
    {
      char *end;
      unsigned long a = strtoul (p, &end, 10), b;
      if (end == p)
        return berth_fail (err, 0, "%s: invalid list \"%s\"", path, list);
      b = a;
      if (*end == '-')
        {
          const char *q = end + 1;
          b = strtoul (q, &end, 10);
          if (end == q || b < a)
            return berth_fail (err, 0, "%s: invalid range in \"%s\"", path, list);
        }
      if (b >= limit)
        return berth_fail (err, 0, "%s: %lu is out of range (0 to %zu)", path, b, limit - 1);
      for (unsigned long i = a; i <= b; i++)
        bits[i / (8 * sizeof (unsigned long))] |= 1UL << (i % (8 * sizeof (unsigned long)));
      if (*end == ',')
        end++;
      else if (*end != '\0')
        return berth_fail (err, 0, "%s: invalid list \"%s\"", path, list);
      p = end;
    }
  return 0;
}

int
parse_cpu_list (const char *list, const char *path, cpu_set_t *set, berth_err *err)
{
  CPU_ZERO (set);
  return parse_list (list, path, (unsigned long *)set, CPU_SETSIZE, err);
}

static int
parse_scheduler (json_t *o, struct process_extras *x, berth_err *err)
{
  cleanup_free char *policy = NULL;
  json_t *flags = NULL;
  int64_t v;
  long value = 0;

  if (spec_get_string (o, "process.scheduler", "policy", SPEC_REQUIRED, &policy, err) < 0
      || LOOKUP (sched_policies, policy, "process.scheduler.policy", &value, err) < 0)
    return -1;
  x->sched.size = 48; /* SCHED_ATTR_SIZE_VER0 */
  x->sched.policy = (uint32_t)value;
  /* Absent members leave v alone: reset it for each. */
  v = 0;
  if (spec_get_range (o, "process.scheduler", "nice", 0, -20, 19, &v, err) < 0)
    return -1;
  x->sched.nice = (int32_t)v;
  v = 0;
  if (spec_get_range (o, "process.scheduler", "priority", 0, 0, 99, &v, err) < 0)
    return -1;
  x->sched.priority = (uint32_t)v;
  if (spec_get_uint64 (o, "process.scheduler", "runtime", 0, &x->sched.runtime, err) < 0
      || spec_get_uint64 (o, "process.scheduler", "deadline", 0, &x->sched.deadline, err) < 0
      || spec_get_uint64 (o, "process.scheduler", "period", 0, &x->sched.period, err) < 0
      || spec_get_array (o, "process.scheduler", "flags", 0, &flags, err) < 0)
    return -1;
  for (size_t i = 0; flags && i < json_array_size (flags); i++)
    {
      char path[64];
      snprintf (path, sizeof (path), "process.scheduler.flags[%zu]", i);
      if (!json_is_string (json_array_get (flags, i)))
        return berth_fail (err, 0, "%s: expected string", path);
      if (LOOKUP (sched_flags, json_string_value (json_array_get (flags, i)), path, &value, err) < 0)
        return -1;
      x->sched.flags |= (uint64_t)value;
    }
  x->has_sched = true;
  return 0;
}

static int
parse_ioprio (json_t *o, struct process_extras *x, berth_err *err)
{
  cleanup_free char *cls = NULL;
  int64_t prio;
  long value = 0;

  if (spec_get_string (o, "process.ioPriority", "class", SPEC_REQUIRED, &cls, err) < 0
      || LOOKUP (ioprio_classes, cls, "process.ioPriority.class", &value, err) < 0
      || spec_get_range (o, "process.ioPriority", "priority", SPEC_REQUIRED, 0, 7, &prio, err) < 0)
    return -1;
  x->ioprio = (int)(value << IOPRIO_CLASS_SHIFT) | (int)prio;
  x->has_ioprio = true;
  return 0;
}

static int
parse_affinity (json_t *o, struct process_extras *x, berth_err *err)
{
  cleanup_free char *initial = NULL, *final = NULL;

  if (spec_get_string (o, "process.execCPUAffinity", "initial", 0, &initial, err) < 0
      || spec_get_string (o, "process.execCPUAffinity", "final", 0, &final, err) < 0)
    return -1;
  if (initial && parse_cpu_list (initial, "process.execCPUAffinity.initial", &x->cpus_initial, err) < 0)
    return -1;
  if (final && parse_cpu_list (final, "process.execCPUAffinity.final", &x->cpus_final, err) < 0)
    return -1;
  x->has_cpus_initial = initial != NULL;
  x->has_cpus_final = final != NULL;
  return 0;
}

static int
parse_personality (json_t *o, struct process_extras *x, berth_err *err)
{
  cleanup_free char *domain = NULL;
  json_t *flags = NULL;

  if (spec_get_string (o, "linux.personality", "domain", SPEC_REQUIRED, &domain, err) < 0
      || spec_get_array (o, "linux.personality", "flags", 0, &flags, err) < 0)
    return -1;
  if (strcmp (domain, "LINUX") == 0)
    x->personality = PER_LINUX;
  else if (strcmp (domain, "LINUX32") == 0)
    x->personality = PER_LINUX32;
  else
    return berth_fail (err, 0, "linux.personality.domain: unknown value \"%s\" (LINUX or LINUX32)", domain);
  if (flags && json_array_size (flags) > 0)
    return berth_fail (err, 0, "linux.personality.flags[0]: no personality flags are supported");
  x->has_personality = true;
  return 0;
}

static int
parse_mempolicy (json_t *o, struct process_extras *x, berth_err *err)
{
  cleanup_free char *mode = NULL, *nodes = NULL;
  json_t *flags = NULL;
  long value = 0;

  if (spec_get_string (o, "linux.memoryPolicy", "mode", SPEC_REQUIRED, &mode, err) < 0
      || LOOKUP (mpol_modes, mode, "linux.memoryPolicy.mode", &value, err) < 0
      || spec_get_string (o, "linux.memoryPolicy", "nodes", 0, &nodes, err) < 0
      || spec_get_array (o, "linux.memoryPolicy", "flags", 0, &flags, err) < 0)
    return -1;
  x->mempolicy_mode = (int)value;
  for (size_t i = 0; flags && i < json_array_size (flags); i++)
    {
      char path[64];
      snprintf (path, sizeof (path), "linux.memoryPolicy.flags[%zu]", i);
      if (!json_is_string (json_array_get (flags, i))
          || LOOKUP (mpol_flags, json_string_value (json_array_get (flags, i)), path, &value, err) < 0)
        return json_is_string (json_array_get (flags, i)) ? -1 : berth_fail (err, 0, "%s: expected string", path);
      x->mempolicy_mode |= (int)value;
    }
  if (nodes && *nodes && parse_list (nodes, "linux.memoryPolicy.nodes", x->nodemask, EXTRAS_MAX_NODES, err) < 0)
    return -1;
  x->maxnode = nodes && *nodes ? EXTRAS_MAX_NODES : 0;
  x->has_mempolicy = true;
  return 0;
}

static bool
file_says_yes (const char *path)
{
  char c = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  if (read (fd, &c, 1) != 1)
    c = 0;
  close (fd);
  return c == 'Y' || c == 'y' || c == '1';
}

static int
check_lsm (const struct berth_process *p, const struct berth_linux *lx, berth_err *err)
{
  struct stat sb;
  bool selinux = stat ("/sys/fs/selinux/enforce", &sb) == 0;

  if (p->apparmor_profile && *p->apparmor_profile && !file_says_yes ("/sys/module/apparmor/parameters/enabled"))
    return berth_fail (err, 0, "process.apparmorProfile: AppArmor is not enabled on this host (profile \"%s\")",
                       p->apparmor_profile);
  if (p->selinux_label && *p->selinux_label && !selinux)
    return berth_fail (err, 0, "process.selinuxLabel: SELinux is not enabled on this host (label \"%s\")",
                       p->selinux_label);
  /* A mount label only names the files' context for a policy to enforce;
     without SELinux there is no policy and nothing to label, so (as crun and
     containerd) it is ignored, with a warning.  The process label above is
     different: it is the confinement itself, so asking for it fails. */
  if (lx && lx->mount_label && *lx->mount_label && !selinux)
    berth_log (BERTH_LOG_WARNING, "linux.mountLabel ignored: SELinux is not enabled on this host (label \"%s\")",
               lx->mount_label);
  return 0;
}

int
process_extras_parse (const struct berth_process *p, const struct berth_linux *lx, struct process_extras *x,
                      berth_err *err)
{
  memset (x, 0, sizeof (*x));
  if (check_lsm (p, lx, err) < 0)
    return -1;
  x->apparmor_profile = p->apparmor_profile && *p->apparmor_profile ? p->apparmor_profile : NULL;
  x->selinux_label = p->selinux_label && *p->selinux_label ? p->selinux_label : NULL;
  if (p->scheduler && parse_scheduler (p->scheduler, x, err) < 0)
    return -1;
  if (p->io_priority && parse_ioprio (p->io_priority, x, err) < 0)
    return -1;
  if (p->exec_cpu_affinity && parse_affinity (p->exec_cpu_affinity, x, err) < 0)
    return -1;
  if (lx && lx->personality && parse_personality (lx->personality, x, err) < 0)
    return -1;
  if (lx && lx->memory_policy && parse_mempolicy (lx->memory_policy, x, err) < 0)
    return -1;
  return 0;
}

static int
write_attr (const char *path, const char *prefix, const char *value, const char *what, berth_err *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  char buf[4096];
  int len = snprintf (buf, sizeof (buf), "%s%s", prefix, value);

  if (fd < 0 || write (fd, buf, len) != len)
    return berth_fail (err, errno, "%s: set \"%s\" through %s", what, value, path);
  return 0;
}

int
process_extras_apply (const struct process_extras *x, berth_err *err)
{
  if (x->has_personality && personality (x->personality) < 0)
    return berth_fail (err, errno, "linux.personality: personality 0x%lx", x->personality);
  if (x->has_ioprio && syscall (SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, x->ioprio) < 0)
    return berth_fail (err, errno, "process.ioPriority: ioprio_set");
  if (x->has_sched && syscall (SYS_sched_setattr, 0, &x->sched, 0) < 0)
    return berth_fail (err, errno, "process.scheduler: sched_setattr (policy %u)", x->sched.policy);
  if (x->has_cpus_final && sched_setaffinity (0, sizeof (x->cpus_final), &x->cpus_final) < 0)
    return berth_fail (err, errno, "process.execCPUAffinity.final: sched_setaffinity");
  if (x->has_mempolicy
      && syscall (SYS_set_mempolicy, x->mempolicy_mode, x->maxnode ? x->nodemask : NULL,
                  x->maxnode ? x->maxnode + 1 : 0)
             < 0)
    return berth_fail (err, errno, "linux.memoryPolicy: set_mempolicy (mode 0x%x)", x->mempolicy_mode);
  /* Labels take effect at execve. */
  if (x->apparmor_profile
      && write_attr ("/proc/self/attr/apparmor/exec", "exec ", x->apparmor_profile, "process.apparmorProfile", err) < 0)
    return -1;
  if (x->selinux_label && write_attr ("/proc/self/attr/exec", "", x->selinux_label, "process.selinuxLabel", err) < 0)
    return -1;
  return 0;
}
