/* Checks a config must pass before anything is made for it: what the spec
 * allows in JSON but the kernel cannot do (messages as runc's, which engines
 * and users know). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/init.h"

static bool
has_ns (const struct berth_linux *lx, enum berth_ns_type t)
{
  return lx && lx->namespaces[t].present;
}

static bool
resctrl_mounted (void)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char line[4096];
  bool found = false;

  if (f == NULL)
    return false;
  while (!found && fgets (line, sizeof (line), f))
    found = strstr (line, " - resctrl ") != NULL;
  fclose (f);
  return found;
}

int
validate_for_create (const struct berth_spec *s, bool systemd_cgroup, berth_err *err)
{
  const struct berth_linux *lx = s->linux;
  struct stat sb;

  /* systemd's own test for "booted with systemd" (sd_booted). */
  if (systemd_cgroup && stat ("/run/systemd/system", &sb) < 0)
    return berth_fail (err, 0,
                       "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); "
                       "drop the flag to use cgroupfs");
  if (systemd_cgroup)
    return berth_fail (err, 0,
                       "--systemd-cgroup: cgroups through systemd are not supported yet; drop the flag to "
                       "use cgroupfs");
  if (lx && lx->intel_rdt && !resctrl_mounted ())
    return berth_fail (err, 0, "linux.intelRdt: Intel RDT is not available on this host (resctrl is not mounted)");
  if (lx && lx->intel_rdt)
    return berth_fail (err, 0, "linux.intelRdt: not supported yet");

  if (s->hostname && *s->hostname && !has_ns (lx, BERTH_NS_UTS))
    return berth_fail (err, 0, "hostname: unable to set hostname without a private UTS namespace");
  if (s->domainname && *s->domainname && !has_ns (lx, BERTH_NS_UTS))
    return berth_fail (err, 0, "domainname: unable to set domainname without a private UTS namespace");
  for (size_t i = 0; lx && i < lx->n_sysctl; i++)
    {
      const char *key = lx->sysctl[i].key;
      int ns = berth_sysctl_namespace (key);
      if (ns < 0)
        return berth_fail (err, 0, "linux.sysctl: sysctl \"%s\" is not in a separate kernel namespace", key);
      if (!has_ns (lx, ns))
        return berth_fail (err, 0, "linux.sysctl: sysctl \"%s\" is not allowed in the host's %s namespace", key,
                           berth_ns_type_name (ns));
    }
  if (lx && has_ns (lx, BERTH_NS_USER) && lx->namespaces[BERTH_NS_USER].path == NULL
      && (lx->n_uid_mappings == 0 || lx->n_gid_mappings == 0))
    return berth_fail (err, 0, "linux.uidMappings: a new user namespace needs uid and gid mappings");
  return 0;
}
