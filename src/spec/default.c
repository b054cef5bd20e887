/* `berth spec`: the config.json runc 1.1 writes, key for key and in its order,
 * so tools that diff against `runc spec` output see only ociVersion change. */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

static json_t *
strv_json (const char *const *v, size_t n)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, json_string (v[i]));
  return arr;
}
#define STRV(v) strv_json ((v), ARRAY_SIZE (v))

static json_t *
default_process (void)
{
  static const char *const env[]
      = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" };
  static const char *const caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
  static const char *const args[] = { "sh" };

  return json_pack ("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:{s:o, s:o, s:o, s:o}, s:[{s:s, s:i, s:i}], s:b}", "terminal",
                    1, "user", "uid", 0, "gid", 0, "args", STRV (args), "env", STRV (env), "cwd", "/", "capabilities",
                    "bounding", STRV (caps), "effective", STRV (caps), "permitted", STRV (caps), "ambient", STRV (caps),
                    "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
}

static json_t *
mount_json (const char *dest, const char *type, const char *source, const char *const *opts, size_t n)
{
  json_t *m = json_pack ("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);

  if (opts != NULL)
    json_object_set_new (m, "options", strv_json (opts, n));
  return m;
}

static json_t *
default_mounts (bool rootless)
{
  static const char *const dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
  static const char *const pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" };
  static const char *const shm[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
  static const char *const mqueue[] = { "nosuid", "noexec", "nodev" };
  static const char *const sys[] = { "nosuid", "noexec", "nodev", "ro" };
  static const char *const sys_rootless[] = { "rbind", "nosuid", "noexec", "nodev", "ro" };
  static const char *const cgroup[] = { "nosuid", "noexec", "nodev", "relatime", "ro" };
  json_t *mounts = json_array ();

  json_array_append_new (mounts, mount_json ("/proc", "proc", "proc", NULL, 0));
  json_array_append_new (mounts, mount_json ("/dev", "tmpfs", "tmpfs", dev, ARRAY_SIZE (dev)));
  /* Without a mapped group 5 ("tty") the devpts gid= option would fail. */
  json_array_append_new (
      mounts, mount_json ("/dev/pts", "devpts", "devpts", pts, rootless ? ARRAY_SIZE (pts) - 1 : ARRAY_SIZE (pts)));
  json_array_append_new (mounts, mount_json ("/dev/shm", "tmpfs", "shm", shm, ARRAY_SIZE (shm)));
  json_array_append_new (mounts, mount_json ("/dev/mqueue", "mqueue", "mqueue", mqueue, ARRAY_SIZE (mqueue)));
  /* A user namespace cannot mount sysfs without owning a network namespace. */
  if (rootless)
    json_array_append_new (mounts, mount_json ("/sys", "none", "/sys", sys_rootless, ARRAY_SIZE (sys_rootless)));
  else
    json_array_append_new (mounts, mount_json ("/sys", "sysfs", "sysfs", sys, ARRAY_SIZE (sys)));
  json_array_append_new (mounts, mount_json ("/sys/fs/cgroup", "cgroup", "cgroup", cgroup, ARRAY_SIZE (cgroup)));
  return mounts;
}

static json_t *
default_linux (bool rootless, uid_t uid, gid_t gid)
{
  static const char *const masked[]
      = { "/proc/acpi",       "/proc/asound",      "/proc/kcore",       "/proc/keys",    "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" };
  static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };
  json_t *lx = json_object ();
  json_t *ns = json_array ();

  if (rootless)
    {
      json_object_set_new (lx, "uidMappings",
                           json_pack ("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)uid, "size", 1));
      json_object_set_new (lx, "gidMappings",
                           json_pack ("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)gid, "size", 1));
    }
  else
    json_object_set_new (lx, "resources", json_pack ("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
  json_array_append_new (ns, json_pack ("{s:s}", "type", "pid"));
  if (!rootless)
    json_array_append_new (ns, json_pack ("{s:s}", "type", "network"));
  json_array_append_new (ns, json_pack ("{s:s}", "type", "ipc"));
  json_array_append_new (ns, json_pack ("{s:s}", "type", "uts"));
  json_array_append_new (ns, json_pack ("{s:s}", "type", "mount"));
  if (rootless)
    json_array_append_new (ns, json_pack ("{s:s}", "type", "user"));
  json_object_set_new (lx, "namespaces", ns);
  json_object_set_new (lx, "maskedPaths", STRV (masked));
  json_object_set_new (lx, "readonlyPaths", STRV (readonly));
  return lx;
}

json_t *
berth_spec_default (bool rootless, uid_t uid, gid_t gid)
{
  json_t *spec = json_object ();

  json_object_set_new (spec, "ociVersion", json_string (BERTH_OCI_VERSION));
  json_object_set_new (spec, "process", default_process ());
  json_object_set_new (spec, "root", json_pack ("{s:s, s:b}", "path", "rootfs", "readonly", 1));
  json_object_set_new (spec, "hostname", json_string ("berth"));
  json_object_set_new (spec, "mounts", default_mounts (rootless));
  json_object_set_new (spec, "linux", default_linux (rootless, uid, gid));
  return spec;
}
