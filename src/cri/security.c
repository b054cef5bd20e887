/* Security settings: privileged, capabilities, no_new_privs, read-only
 * rootfs, masked and read-only paths, AppArmor, SELinux, seccomp. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "cri/cri_internal.h"
#include "spec/spec.h"
#include "util/cleanup.h"

#define SC "linux.security_context."

/* docker's and containerd's default set: what images have been written
 * against for a decade. */
static const char *const default_caps[] = {
  "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
  "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
  "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
  "CAP_KILL",    "CAP_AUDIT_WRITE",
};

/* Paths of /proc and /sys that leak host data or let a container poke the
 * kernel; the config's lists replace these when given. */
static const char *const default_masked[] = {
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
  "/sys/devices/virtual/powercap", /* RAPL energy counters: a side channel (CVE-2020-8694) */
};
static const char *const default_readonly[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

uint64_t
cri_all_caps (const struct cri_pod_ctx *ctx)
{
  int last = ctx && ctx->cap_last_cap > 0 ? ctx->cap_last_cap : CAP_LAST_CAP;

  /* Names only exist for what libcap knows; the spec is written in names. */
  if (last > CAP_LAST_CAP)
    last = CAP_LAST_CAP;
  if (last > 63)
    last = 63;
  return last == 63 ? UINT64_MAX : (UINT64_C (1) << (last + 1)) - 1;
}

int
cri_cap_from_name (const char *name)
{
  char buf[64];
  size_t o = 0;

  if (cri_empty (name) || strlen (name) > 40)
    return -1;
  /* The CRI spells them without "CAP_" ("NET_ADMIN"); accept both, any case. */
  if (strncasecmp (name, "CAP_", 4) != 0)
    o = (size_t)snprintf (buf, sizeof (buf), "CAP_");
  for (const char *p = name; *p; p++)
    buf[o++] = (char)toupper ((unsigned char)*p);
  buf[o] = '\0';
  return berth_capability_from_name (buf);
}

json_t *
cri_caps_json (uint64_t mask)
{
  json_t *arr = json_array ();

  for (int i = 0; i < 64; i++)
    if (mask & (UINT64_C (1) << i))
      {
        char *name = cap_to_name (i);
        char *up = cri_strdup (name);
        cap_free (name);
        for (char *p = up; *p; p++)
          *p = (char)toupper ((unsigned char)*p);
        json_array_append_new (arr, json_string (up));
        free (up);
      }
  return arr;
}

static bool
has_all (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (v[i] && strcasecmp (v[i], "ALL") == 0)
      return true;
  return false;
}

/* Applies one list ("ALL" entries skipped: the caller handled them). */
static int
apply_list (char **v, size_t n, bool add, uint64_t *mask, const char *field, berth_err *err)
{
  for (size_t i = 0; i < n; i++)
    {
      int cap;
      if (v[i] && strcasecmp (v[i], "ALL") == 0)
        continue;
      cap = cri_cap_from_name (v[i]);
      if (cap < 0)
        return berth_fail (err, 0, CRI_CFG SC "capabilities.%s[%zu]: unknown capability \"%s\"", field, i,
                           CRI_S (v[i]));
      if (add)
        *mask |= UINT64_C (1) << cap;
      else
        *mask &= ~(UINT64_C (1) << cap);
    }
  return 0;
}

/* containerd's order: add ALL, then drop ALL, then the single adds, then
 * the single drops.  So {add: ALL, drop: CHOWN} is everything but CHOWN and
 * {drop: ALL, add: NET_ADMIN} is NET_ADMIN alone. */
static int
capabilities (struct cri_build *b, uint64_t *bounding, uint64_t *ambient, berth_err *err)
{
  const Runtime__V1__Capability *c = b->sc->capabilities;
  uint64_t all = cri_all_caps (b->pctx);

  *bounding = 0;
  *ambient = 0;
  for (size_t i = 0; i < CRI_ARRAY_SIZE (default_caps); i++)
    *bounding |= UINT64_C (1) << berth_capability_from_name (default_caps[i]);
  if (b->privileged)
    {
      *bounding = all;
      return 0;
    }
  if (c == NULL)
    return 0;
  if (has_all (c->add_capabilities, c->n_add_capabilities))
    *bounding = all;
  if (has_all (c->drop_capabilities, c->n_drop_capabilities))
    *bounding = 0;
  if (apply_list (c->add_capabilities, c->n_add_capabilities, true, bounding, "add_capabilities", err) < 0
      || apply_list (c->add_ambient_capabilities, c->n_add_ambient_capabilities, true, ambient,
                     "add_ambient_capabilities", err)
             < 0)
    return -1;
  if (has_all (c->add_ambient_capabilities, c->n_add_ambient_capabilities))
    return berth_fail (err, 0, CRI_CFG SC "capabilities.add_ambient_capabilities: \"ALL\" is not allowed");
  *bounding |= *ambient;
  if (apply_list (c->drop_capabilities, c->n_drop_capabilities, false, bounding, "drop_capabilities", err) < 0)
    return -1;
  *ambient &= *bounding;
  return 0;
}

static void
set_paths (json_t *lx, const char *key, char **cfg, size_t n_cfg, const char *const *def, size_t n_def, bool privileged)
{
  if (privileged)
    json_object_set_new (lx, key, json_array ());
  else if (n_cfg > 0)
    json_object_set_new (lx, key, cri_strv_json ((const char *const *)cfg, n_cfg));
  else
    json_object_set_new (lx, key, cri_strv_json (def, n_def));
}

enum lsm_kind
{
  LSM_DEFAULT,
  LSM_UNCONFINED,
  LSM_LOCALHOST
};

static int
apparmor_choice (const Runtime__V1__LinuxContainerSecurityContext *sc, enum lsm_kind *kind, const char **name,
                 berth_err *err)
{
  const char *s = sc->apparmor_profile;

  *name = NULL;
  if (sc->apparmor != NULL)
    {
      switch (sc->apparmor->profile_type)
        {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
          *kind = LSM_DEFAULT;
          return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
          *kind = LSM_UNCONFINED;
          return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
          if (cri_empty (sc->apparmor->localhost_ref))
            return berth_fail (err, 0, CRI_CFG SC "apparmor.localhost_ref: must not be empty");
          *kind = LSM_LOCALHOST;
          *name = sc->apparmor->localhost_ref;
          return 0;
        default:
          return berth_fail (err, 0, CRI_CFG SC "apparmor.profile_type: unknown value %d",
                             (int)sc->apparmor->profile_type);
        }
    }
  if (cri_empty (s) || strcmp (s, "runtime/default") == 0)
    *kind = LSM_DEFAULT;
  else if (strcmp (s, "unconfined") == 0)
    *kind = LSM_UNCONFINED;
  else if (strncmp (s, "localhost/", 10) == 0 && s[10] != '\0')
    {
      *kind = LSM_LOCALHOST;
      *name = s + 10;
    }
  else
    return berth_fail (err, 0, CRI_CFG SC "apparmor_profile: unknown profile \"%s\"", s);
  return 0;
}

static int
apparmor (struct cri_build *b, berth_err *err)
{
  enum lsm_kind kind = LSM_DEFAULT;
  const char *name;
  const char *profile = NULL;

  if (apparmor_choice (b->sc, &kind, &name, err) < 0)
    return -1;
  if (!b->pctx->apparmor_enabled)
    {
      /* Nothing to confine with: fine unless a named profile was asked for. */
      if (kind == LSM_LOCALHOST)
        return berth_fail (err, 0,
                           CRI_CFG SC "apparmor: profile \"%s\" asked for, but AppArmor is not enabled on "
                                      "this host",
                           name);
      return 0;
    }
  if (kind == LSM_LOCALHOST)
    profile = name;
  else if (kind == LSM_DEFAULT && !b->privileged)
    profile = b->pctx->apparmor_default_profile ? b->pctx->apparmor_default_profile : "berth-default";
  if (profile)
    json_object_set_new (cri_obj (b->spec, "process"), "apparmorProfile", json_string (profile));
  return 0;
}

/* An SELinux label from the config's parts, with container defaults for
 * the parts left out.  Without SELinux on the host the options are
 * ignored, as containerd does (kubelets send them for every pod that names
 * them, whatever the node). */
static int
selinux (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__SELinuxOption *o = b->sc->selinux_options;
  cleanup_free char *label = NULL, *mount_label = NULL;

  if (o == NULL || !b->pctx->selinux_enabled || b->privileged)
    return 0;
  if (cri_empty (o->user) && cri_empty (o->role) && cri_empty (o->type) && cri_empty (o->level))
    return 0;
  label = cri_printf ("%s:%s:%s:%s", cri_empty (o->user) ? "system_u" : o->user,
                      cri_empty (o->role) ? "system_r" : o->role, cri_empty (o->type) ? "container_t" : o->type,
                      cri_empty (o->level) ? "s0" : o->level);
  mount_label = cri_printf ("system_u:object_r:container_file_t:%s", cri_empty (o->level) ? "s0" : o->level);
  json_object_set_new (cri_obj (b->spec, "process"), "selinuxLabel", json_string (label));
  json_object_set_new (cri_obj (b->spec, "linux"), "mountLabel", json_string (mount_label));
  return 0;
}

int
cri_step_security (struct cri_build *b, berth_err *err)
{
  json_t *process = cri_obj (b->spec, "process");
  json_t *lx = cri_obj (b->spec, "linux");
  uint64_t bounding, ambient;

  if (capabilities (b, &bounding, &ambient, err) < 0)
    return -1;
  b->caps = bounding;
  /* No inheritable set beyond what ambient needs (CVE-2022-24769): a
     file capability must not be able to regain what was dropped. */
  json_object_set_new (process, "capabilities",
                       json_pack ("{s:o, s:o, s:o, s:o, s:o}", "bounding", cri_caps_json (bounding), "effective",
                                  cri_caps_json (bounding), "permitted", cri_caps_json (bounding), "inheritable",
                                  cri_caps_json (ambient), "ambient", cri_caps_json (ambient)));
  json_object_set_new (process, "noNewPrivileges", json_boolean (b->sc->no_new_privs));
  if (b->sc->readonly_rootfs)
    json_object_set_new (cri_obj (b->spec, "root"), "readonly", json_true ());
  set_paths (lx, "maskedPaths", b->sc->masked_paths, b->sc->n_masked_paths, default_masked,
             CRI_ARRAY_SIZE (default_masked), b->privileged);
  set_paths (lx, "readonlyPaths", b->sc->readonly_paths, b->sc->n_readonly_paths, default_readonly,
             CRI_ARRAY_SIZE (default_readonly), b->privileged);
  if (apparmor (b, err) < 0 || selinux (b, err) < 0)
    return -1;
  return 0;
}

int
cri_step_seccomp (struct cri_build *b, berth_err *err)
{
  bool none = false;
  json_t *profile;

  /* Privileged means no seccomp, whatever the profile says (CRI). */
  if (b->privileged)
    return 0;
  profile = cri_seccomp_profile_for (b->sc->seccomp, b->sc->seccomp_profile_path, CRI_CFG SC, b->pctx,
                                     b->cctx->seccomp_localhost, b->caps, &none, err);
  if (profile == NULL)
    return none ? 0 : -1;
  json_object_set_new (cri_obj (b->spec, "linux"), "seccomp", profile);
  return 0;
}
