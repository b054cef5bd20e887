/* Name <-> constant tables for namespaces, hooks, signals, rlimits,
 * capabilities and propagation modes. */
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "spec/spec.h"
#include "spec/spec_internal.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

static const char *const ns_names[BERTH_NS_COUNT] = {
  [BERTH_NS_USER] = "user", [BERTH_NS_PID] = "pid",       [BERTH_NS_NET] = "network", [BERTH_NS_IPC] = "ipc",
  [BERTH_NS_UTS] = "uts",   [BERTH_NS_CGROUP] = "cgroup", [BERTH_NS_TIME] = "time",   [BERTH_NS_MNT] = "mount",
};

int
berth_ns_type_from_name (const char *name)
{
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    if (strcmp (ns_names[i], name) == 0)
      return i;
  return -1;
}

const char *
berth_ns_type_name (enum berth_ns_type type)
{
  if ((unsigned)type >= BERTH_NS_COUNT)
    return NULL;
  return ns_names[type];
}

static const char *const hook_names[BERTH_HOOK_KIND_COUNT] = {
  [BERTH_HOOK_PRESTART] = "prestart",
  [BERTH_HOOK_CREATE_RUNTIME] = "createRuntime",
  [BERTH_HOOK_CREATE_CONTAINER] = "createContainer",
  [BERTH_HOOK_START_CONTAINER] = "startContainer",
  [BERTH_HOOK_POSTSTART] = "poststart",
  [BERTH_HOOK_POSTSTOP] = "poststop",
};

const char *
berth_hook_kind_name (enum berth_hook_kind kind)
{
  if ((unsigned)kind >= BERTH_HOOK_KIND_COUNT)
    return NULL;
  return hook_names[kind];
}

static const struct
{
  const char *name;
  int sig;
} signals[] = {
  { "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT },     { "ILL", SIGILL },   { "TRAP", SIGTRAP },
  { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },       { "FPE", SIGFPE },   { "KILL", SIGKILL },
  { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
  { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },     { "CLD", SIGCHLD },  { "CONT", SIGCONT },
  { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU }, { "URG", SIGURG },
  { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
  { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

/* A decimal number made of digits only; -1 when not one or above `max`. */
static int
parse_small_number (const char *s, int max)
{
  long v = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9')
        return -1;
      v = v * 10 + (*s - '0');
      if (v > max)
        return -1;
    }
  return (int)v;
}

/* "RTMIN", "RTMIN+3", "RTMAX-2".  The bounds are glibc's SIGRTMIN/SIGRTMAX,
 * which is what programs in the container mean by these names (systemd's
 * SIGRTMIN+3 is 37). */
static int
realtime_signal (const char *s)
{
  int base, n;

  if (strncasecmp (s, "RTMIN", 5) == 0)
    {
      base = SIGRTMIN;
      s += 5;
      if (*s == '\0')
        return base;
      if (*s++ != '+' || (n = parse_small_number (s, SIGRTMAX - SIGRTMIN)) < 0)
        return -1;
      return base + n;
    }
  if (strncasecmp (s, "RTMAX", 5) == 0)
    {
      base = SIGRTMAX;
      s += 5;
      if (*s == '\0')
        return base;
      if (*s++ != '-' || (n = parse_small_number (s, SIGRTMAX - SIGRTMIN)) < 0)
        return -1;
      return base - n;
    }
  return -1;
}

int
berth_signal_from_name (const char *name)
{
  int n;

  if (name == NULL)
    return -1;
  if (*name >= '0' && *name <= '9')
    {
      n = parse_small_number (name, SIGRTMAX);
      return n > 0 ? n : -1;
    }
  if (strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < ARRAY_SIZE (signals); i++)
    if (strcasecmp (signals[i].name, name) == 0)
      return signals[i].sig;
  return realtime_signal (name);
}

static const struct
{
  const char *name;
  int resource;
} rlimits[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

int
berth_rlimit_from_name (const char *name)
{
  if (name == NULL)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE (rlimits); i++)
    if (strcmp (rlimits[i].name, name) == 0)
      return rlimits[i].resource;
  return -1;
}

int
berth_capability_from_name (const char *name)
{
  cap_value_t v;

  /* OCI names are "CAP_" and upper case; libcap would also take "chown" or "0". */
  if (name == NULL || strncmp (name, "CAP_", 4) != 0 || name[4] == '\0')
    return -1;
  for (const char *p = name + 4; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return -1;
  if (cap_from_name (name, &v) < 0 || v < 0 || v > 63)
    return -1;
  return (int)v;
}

unsigned long
spec_propagation_from_name (const char *name)
{
  static const struct
  {
    const char *name;
    unsigned long flag;
  } table[] = {
    { "shared", MS_SHARED },
    { "slave", MS_SLAVE },
    { "private", MS_PRIVATE },
    { "unbindable", MS_UNBINDABLE },
    { "rshared", MS_SHARED | MS_REC },
    { "rslave", MS_SLAVE | MS_REC },
    { "rprivate", MS_PRIVATE | MS_REC },
    { "runbindable", MS_UNBINDABLE | MS_REC },
  };

  for (size_t i = 0; i < ARRAY_SIZE (table); i++)
    if (strcmp (table[i].name, name) == 0)
      return table[i].flag;
  return 0;
}

int
berth_sysctl_namespace (const char *key)
{
  static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
  for (size_t i = 0; i < sizeof (ipc_keys) / sizeof (ipc_keys[0]); i++)
    if (strcmp (key, ipc_keys[i]) == 0)
      return BERTH_NS_IPC;
  if (strncmp (key, "fs.mqueue.", 10) == 0)
    return BERTH_NS_IPC;
  if (strncmp (key, "net.", 4) == 0)
    return BERTH_NS_NET;
  if (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0)
    return BERTH_NS_UTS;
  return -1;
}
