/* The document every CRI spec starts from: containerd's defaults for a
 * Linux container, less /run (the kubelet mounts volumes there and images
 * expect what they ship) and less rlimits (inherited from berthd, as with
 * containerd, so the node's limits apply). */
#include "cri/cri_internal.h"

static json_t *
mount (const char *dest, const char *type, const char *source, const char *const *opts, size_t n)
{
  return json_pack ("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source, "options",
                    cri_strv_json (opts, n));
}
#define MOUNT(d, t, s, o) mount ((d), (t), (s), (o), CRI_ARRAY_SIZE (o))

static json_t *
default_mounts (void)
{
  static const char *const proc[] = { "nosuid", "noexec", "nodev" };
  static const char *const dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
  static const char *const pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" };
  static const char *const shm[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
  static const char *const mqueue[] = { "nosuid", "noexec", "nodev" };
  static const char *const sys[] = { "nosuid", "noexec", "nodev", "ro" };
  static const char *const cgroup[] = { "nosuid", "noexec", "nodev", "relatime", "ro" };
  json_t *m = json_array ();

  json_array_append_new (m, MOUNT ("/proc", "proc", "proc", proc));
  json_array_append_new (m, MOUNT ("/dev", "tmpfs", "tmpfs", dev));
  json_array_append_new (m, MOUNT ("/dev/pts", "devpts", "devpts", pts));
  json_array_append_new (m, MOUNT ("/dev/shm", "tmpfs", "shm", shm));
  json_array_append_new (m, MOUNT ("/dev/mqueue", "mqueue", "mqueue", mqueue));
  json_array_append_new (m, MOUNT ("/sys", "sysfs", "sysfs", sys));
  json_array_append_new (m, MOUNT ("/sys/fs/cgroup", "cgroup", "cgroup", cgroup));
  return m;
}

/* Default deny, then the nodes every container has (runc's list, which
 * runc appends itself; berth's runtime applies the rules as written, so
 * they are spelled out here).  Config devices and privileged add more. */
static json_t *
default_device_rules (void)
{
  static const struct
  {
    const char *type;
    int major, minor; /* -1: any */
    const char *access;
  } allow[] = {
    { "c", -1, -1, "m" },    { "b", -1, -1, "m" },    /* mknod of anything; using it needs a rule */
    { "c", 1, 3, "rwm" },    { "c", 1, 5, "rwm" },    /* null, zero */
    { "c", 1, 7, "rwm" },    { "c", 1, 8, "rwm" },    /* full, random */
    { "c", 1, 9, "rwm" },    { "c", 5, 0, "rwm" },    /* urandom, tty */
    { "c", 5, 2, "rwm" },    { "c", 136, -1, "rwm" }, /* ptmx, pts */
    { "c", 10, 200, "rwm" },                          /* net/tun */
  };
  json_t *rules = json_pack ("[{s:b, s:s}]", "allow", 0, "access", "rwm");

  for (size_t i = 0; i < CRI_ARRAY_SIZE (allow); i++)
    {
      json_t *r = json_pack ("{s:b, s:s, s:s}", "allow", 1, "type", allow[i].type, "access", allow[i].access);
      if (allow[i].major >= 0)
        json_object_set_new (r, "major", json_integer (allow[i].major));
      if (allow[i].minor >= 0)
        json_object_set_new (r, "minor", json_integer (allow[i].minor));
      json_array_append_new (rules, r);
    }
  return rules;
}

json_t *
cri_base_spec (const char *rootfs)
{
  json_t *spec = json_object ();
  json_t *process, *lx;

  json_object_set_new (spec, "ociVersion", json_string ("1.1.0"));
  json_object_set_new (spec, "root", json_pack ("{s:s}", "path", cri_empty (rootfs) ? "rootfs" : rootfs));
  process = json_pack ("{s:b, s:{s:i, s:i}, s:[], s:[s], s:s}", "terminal", 0, "user", "uid", 0, "gid", 0, "args",
                       "env", CRI_DEFAULT_PATH, "cwd", "/");
  json_object_set_new (spec, "process", process);
  json_object_set_new (spec, "mounts", default_mounts ());
  lx = json_object ();
  json_object_set_new (lx, "resources", json_pack ("{s:o}", "devices", default_device_rules ()));
  json_object_set_new (lx, "namespaces", json_array ());
  json_object_set_new (spec, "linux", lx);
  return spec;
}
