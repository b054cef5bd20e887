/* features: features.json (runtime-spec features.md and features-linux.md)
 * in the layout `runc features` prints.
 *
 * Lists come from the code that interprets the config where it can tell
 * (mount options from the spec parser, namespaces and capabilities from the
 * name tables, limited to what the kernel and libcap know; seccomp from
 * runtime/seccomp_filter.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "runtime/container.h"
#include "runtime/seccomp_filter.h"

#ifndef BERTH_COMMIT
#define BERTH_COMMIT ""
#endif

#define N_ELEMS(a) (sizeof (a) / sizeof ((a)[0]))

/* Every mount option name runc or berth may know; features lists those the
 * parser accepts on a bind mount (unknown ones are refused there). */
static const char *const mount_option_candidates[] = {
  "acl",
  "async",
  "atime",
  "bind",
  "defaults",
  "dev",
  "diratime",
  "dirsync",
  "exec",
  "idmap",
  "iversion",
  "lazytime",
  "loud",
  "mand",
  "noacl",
  "noatime",
  "nodev",
  "nodiratime",
  "noexec",
  "noiversion",
  "nolazytime",
  "nomand",
  "norelatime",
  "nostrictatime",
  "nosuid",
  "nosymfollow",
  "private",
  "ratime",
  "rbind",
  "rdev",
  "rdiratime",
  "relatime",
  "remount",
  "rexec",
  "ridmap",
  "rnoatime",
  "rnodev",
  "rnodiratime",
  "rnoexec",
  "rnorelatime",
  "rnostrictatime",
  "rnosuid",
  "rnosymfollow",
  "ro",
  "rprivate",
  "rrelatime",
  "rro",
  "rrw",
  "rshared",
  "rslave",
  "rstrictatime",
  "rsuid",
  "rsymfollow",
  "runbindable",
  "rw",
  "shared",
  "silent",
  "slave",
  "strictatime",
  "suid",
  "symfollow",
  "sync",
  "tmpcopyup",
  "unbindable",
};

static int
compare_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static json_t *
mount_options (void)
{
  const char *names[N_ELEMS (mount_option_candidates)];
  size_t n = 0;
  json_t *a = json_array ();

  for (size_t i = 0; i < N_ELEMS (mount_option_candidates); i++)
    if (berth_mount_option_known (mount_option_candidates[i]))
      names[n++] = mount_option_candidates[i];
  qsort (names, n, sizeof (names[0]), compare_str);
  for (size_t i = 0; i < n; i++)
    json_array_append_new (a, json_string (names[i]));
  return a;
}

static json_t *
hooks (void)
{
  json_t *a = json_array ();

  for (int k = 0; k < BERTH_HOOK_KIND_COUNT; k++)
    json_array_append_new (a, json_string (berth_hook_kind_name ((enum berth_hook_kind)k)));
  return a;
}

/* Namespace types berth knows and this kernel has, sorted by name. */
static json_t *
namespaces (void)
{
  static const char *const proc_names[BERTH_NS_COUNT] = {
    [BERTH_NS_USER] = "user", [BERTH_NS_PID] = "pid",       [BERTH_NS_NET] = "net",   [BERTH_NS_IPC] = "ipc",
    [BERTH_NS_UTS] = "uts",   [BERTH_NS_CGROUP] = "cgroup", [BERTH_NS_TIME] = "time", [BERTH_NS_MNT] = "mnt",
  };
  const char *names[BERTH_NS_COUNT];
  size_t n = 0;
  json_t *a = json_array ();

  for (int t = 0; t < BERTH_NS_COUNT; t++)
    {
      char path[64];
      struct stat st;
      snprintf (path, sizeof (path), "/proc/self/ns/%s", proc_names[t]);
      if (stat (path, &st) == 0)
        names[n++] = berth_ns_type_name ((enum berth_ns_type)t);
    }
  qsort (names, n, sizeof (names[0]), compare_str);
  for (size_t i = 0; i < n; i++)
    json_array_append_new (a, json_string (names[i]));
  return a;
}

/* Capabilities this kernel has (libcap's cap_max_bits) and berth parses, in
 * number order as runc lists them. */
static json_t *
capabilities (void)
{
  json_t *a = json_array ();
  unsigned max = (unsigned)cap_max_bits ();

  for (unsigned c = 0; c < max; c++)
    {
      char *lower = cap_to_name ((cap_value_t)c);
      char name[64];
      size_t i;

      if (lower == NULL)
        continue;
      for (i = 0; lower[i] != '\0' && i < sizeof (name) - 1; i++)
        name[i] = (char)toupper ((unsigned char)lower[i]);
      name[i] = '\0';
      cap_free (lower);
      if (berth_capability_from_name (name) == (int)c)
        json_array_append_new (a, json_string (name));
    }
  return a;
}

static json_t *
enabled (bool on)
{
  return json_pack ("{s:b}", "enabled", on);
}

static json_t *
linux_features (void)
{
  json_t *lx = json_object ();
  struct stat st;

  json_object_set_new (lx, "namespaces", namespaces ());
  json_object_set_new (lx, "capabilities", capabilities ());
  json_object_set_new (
      lx, "cgroup", json_pack ("{s:b,s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "rdma", 1));
  json_object_set_new (lx, "seccomp", berth_seccomp_features ());
  json_object_set_new (lx, "apparmor", enabled (false));
  json_object_set_new (lx, "selinux", enabled (false));
  /* resctrl's info dir exists only where it is mounted. */
  json_object_set_new (lx, "intelRdt", enabled (stat ("/sys/fs/resctrl/info", &st) == 0));
  json_object_set_new (lx, "netDevices", enabled (true));
  json_object_set_new (lx, "mountExtensions", json_pack ("{s:o}", "idmap", enabled (true)));
  return lx;
}

json_t *
berth_features_json (void)
{
  json_t *f = json_object ();
  const struct scmp_version *v = seccomp_version ();
  char libseccomp[64];

  snprintf (libseccomp, sizeof (libseccomp), "%u.%u.%u", v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0);
  json_object_set_new (f, "ociVersionMin", json_string ("1.0.0"));
  json_object_set_new (f, "ociVersionMax", json_string (BERTH_OCI_VERSION));
  json_object_set_new (f, "hooks", hooks ());
  json_object_set_new (f, "mountOptions", mount_options ());
  json_object_set_new (f, "linux", linux_features ());
  json_object_set_new (f, "annotations",
                       json_pack ("{s:s,s:s,s:s}", "io.github.seccomp.libseccomp.version", libseccomp,
                                  "org.opencontainers.berth.commit", BERTH_COMMIT, "org.opencontainers.berth.version",
                                  BERTH_VERSION));
  return f;
}
