/* "process": the container's init (config.json) or an exec'd process
 * (`berth exec --process FILE`, whose top level is this object). */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* Kernel bounds of /proc/PID/oom_score_adj (OOM_SCORE_ADJ_MIN/MAX). */
#define OOM_SCORE_ADJ_MIN (-1000)
#define OOM_SCORE_ADJ_MAX 1000

static int
parse_console_size (json_t *obj, const char *path, struct berth_process *p, berth_err *err)
{
  cleanup_free char *cpath = spec_path_key (path, "consoleSize");
  json_t *cs = NULL;
  uint32_t h = 0, w = 0;
  int r = spec_get_object (obj, path, "consoleSize", 0, &cs, err);

  if (r <= 0)
    return r;
  if (spec_get_uint32 (cs, cpath, "height", SPEC_REQUIRED, &h, err) < 0
      || spec_get_uint32 (cs, cpath, "width", SPEC_REQUIRED, &w, err) < 0)
    return -1;
  p->has_console_size = true;
  p->console_height = h;
  p->console_width = w;
  return 0;
}

static int
check_env (char **env, const char *path, berth_err *err)
{
  for (size_t i = 0; env[i]; i++)
    {
      const char *eq = strchr (env[i], '=');
      if (eq == NULL || eq == env[i])
        {
          cleanup_free char *p = spec_path_index (path, i);
          return spec_fail (err, p, "invalid environment variable \"%s\": %s", env[i],
                            eq == NULL ? "missing '='" : "empty name");
        }
    }
  return 0;
}

static int
parse_user (json_t *obj, const char *path, struct berth_user *u, berth_err *err)
{
  cleanup_free char *upath = spec_path_key (path, "user");
  json_t *uo = NULL, *gids = NULL;
  int64_t umask_value = 0;
  int r = spec_get_object (obj, path, "user", 0, &uo, err);

  if (r <= 0)
    return r;
  if (spec_get_uint32 (uo, upath, "uid", SPEC_REQUIRED, &u->uid, err) < 0
      || spec_get_uint32 (uo, upath, "gid", SPEC_REQUIRED, &u->gid, err) < 0)
    return -1;
  r = spec_get_range (uo, upath, "umask", 0, 0, 0777, &umask_value, err);
  if (r < 0)
    return -1;
  u->has_umask = r > 0;
  u->umask = (mode_t)umask_value;
  if (spec_get_string (uo, upath, "username", 0, &u->username, err) < 0)
    return -1;
  r = spec_get_array (uo, upath, "additionalGids", 0, &gids, err);
  if (r <= 0)
    return r;
  u->n_additional_gids = json_array_size (gids);
  u->additional_gids = spec_xcalloc (u->n_additional_gids, sizeof (uint32_t));
  for (size_t i = 0; i < u->n_additional_gids; i++)
    {
      cleanup_free char *gpath = spec_path_key (upath, "additionalGids");
      cleanup_free char *ep = spec_path_index (gpath, i);
      if (spec_value_uint32 (json_array_get (gids, i), ep, &u->additional_gids[i], err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_cap_set (json_t *caps, const char *path, const char *key, uint64_t *mask, berth_err *err)
{
  cleanup_free char *spath = NULL;
  json_t *arr = NULL;
  int r = spec_get_array (caps, path, key, 0, &arr, err);

  if (r <= 0)
    return r;
  spath = spec_path_key (path, key);
  for (size_t i = 0; i < json_array_size (arr); i++)
    {
      cleanup_free char *ep = spec_path_index (spath, i);
      json_t *e = json_array_get (arr, i);
      int cap;

      if (!json_is_string (e))
        return spec_fail (err, ep, "expected string");
      cap = berth_capability_from_name (json_string_value (e));
      if (cap < 0)
        return spec_fail (err, ep, "unknown capability \"%s\"", json_string_value (e));
      *mask |= UINT64_C (1) << cap;
    }
  return 0;
}

static int
parse_capabilities (json_t *obj, const char *path, struct berth_process *p, berth_err *err)
{
  cleanup_free char *cpath = spec_path_key (path, "capabilities");
  json_t *caps = NULL;
  int r = spec_get_object (obj, path, "capabilities", 0, &caps, err);

  if (r <= 0)
    return r;
  p->capabilities = spec_xcalloc (1, sizeof (*p->capabilities));
  if (parse_cap_set (caps, cpath, "bounding", &p->capabilities->bounding, err) < 0
      || parse_cap_set (caps, cpath, "effective", &p->capabilities->effective, err) < 0
      || parse_cap_set (caps, cpath, "inheritable", &p->capabilities->inheritable, err) < 0
      || parse_cap_set (caps, cpath, "permitted", &p->capabilities->permitted, err) < 0
      || parse_cap_set (caps, cpath, "ambient", &p->capabilities->ambient, err) < 0)
    return -1;
  return 0;
}

static int
parse_rlimits (json_t *obj, const char *path, struct berth_process *p, berth_err *err)
{
  cleanup_free char *rpath = spec_path_key (path, "rlimits");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "rlimits", 0, &arr, err);

  if (r <= 0)
    return r;
  p->n_rlimits = json_array_size (arr);
  p->rlimits = spec_xcalloc (p->n_rlimits, sizeof (*p->rlimits));
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      cleanup_free char *ep = spec_path_index (rpath, i);
      json_t *e = json_array_get (arr, i);
      struct berth_rlimit *rl = &p->rlimits[i];

      if (!json_is_object (e))
        return spec_fail (err, ep, "expected object");
      if (spec_get_string (e, ep, "type", SPEC_REQUIRED, &rl->type, err) < 0)
        return -1;
      rl->resource = berth_rlimit_from_name (rl->type);
      if (rl->resource < 0)
        {
          cleanup_free char *tp = spec_path_key (ep, "type");
          return spec_fail (err, tp, "unknown rlimit \"%s\"", rl->type);
        }
      for (size_t j = 0; j < i; j++)
        if (p->rlimits[j].resource == rl->resource)
          {
            cleanup_free char *tp = spec_path_key (ep, "type");
            return spec_fail (err, tp, "duplicate rlimit \"%s\"", rl->type);
          }
      if (spec_get_uint64 (e, ep, "soft", SPEC_REQUIRED, &rl->soft, err) < 0
          || spec_get_uint64 (e, ep, "hard", SPEC_REQUIRED, &rl->hard, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_args_cwd (json_t *obj, const char *path, struct berth_process *p, berth_err *err)
{
  if (spec_get_strv (obj, path, "args", SPEC_REQUIRED, &p->args, &p->n_args, err) < 0)
    return -1;
  if (p->n_args == 0)
    {
      cleanup_free char *ap = spec_path_key (path, "args");
      return spec_fail (err, ap, "must not be empty");
    }
  if (spec_get_string (obj, path, "cwd", SPEC_REQUIRED, &p->cwd, err) < 0)
    return -1;
  if (p->cwd[0] != '/')
    {
      cleanup_free char *cp = spec_path_key (path, "cwd");
      return spec_fail (err, cp, "must be an absolute path, got \"%s\"", p->cwd);
    }
  return 0;
}

int
spec_process_fill (json_t *obj, const char *path, struct berth_process *p, berth_err *err)
{
  cleanup_free char *env_path = spec_path_key (path, "env");
  int64_t oom = 0;
  int r;

  if (!json_is_object (obj))
    return spec_fail (err, path, "expected object");
  if (spec_get_bool (obj, path, "terminal", 0, &p->terminal, err) < 0 || parse_console_size (obj, path, p, err) < 0
      || parse_args_cwd (obj, path, p, err) < 0 || spec_get_strv (obj, path, "env", 0, &p->env, &p->n_env, err) < 0
      || check_env (p->env, env_path, err) < 0 || parse_user (obj, path, &p->user, err) < 0
      || parse_capabilities (obj, path, p, err) < 0 || parse_rlimits (obj, path, p, err) < 0
      || spec_get_bool (obj, path, "noNewPrivileges", 0, &p->no_new_privileges, err) < 0)
    return -1;
  r = spec_get_range (obj, path, "oomScoreAdj", 0, OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX, &oom, err);
  if (r < 0)
    return -1;
  p->has_oom_score_adj = r > 0;
  p->oom_score_adj = (int)oom;
  if (spec_get_string (obj, path, "apparmorProfile", 0, &p->apparmor_profile, err) < 0
      || spec_get_string (obj, path, "selinuxLabel", 0, &p->selinux_label, err) < 0
      || spec_get_raw (obj, path, "ioPriority", JSON_OBJECT, &p->io_priority, err) < 0
      || spec_get_raw (obj, path, "scheduler", JSON_OBJECT, &p->scheduler, err) < 0
      || spec_get_raw (obj, path, "execCPUAffinity", JSON_OBJECT, &p->exec_cpu_affinity, err) < 0)
    return -1;
  return 0;
}

struct berth_process *
berth_process_parse (json_t *obj, const char *path_prefix, berth_err *err)
{
  struct berth_process *p = spec_xcalloc (1, sizeof (*p));

  if (spec_process_fill (obj, path_prefix ? path_prefix : "", p, err) < 0)
    {
      berth_process_free (p);
      return NULL;
    }
  return p;
}

void
berth_process_free (struct berth_process *p)
{
  if (p == NULL)
    return;
  spec_strv_free (p->args);
  spec_strv_free (p->env);
  free (p->cwd);
  free (p->user.additional_gids);
  free (p->user.username);
  free (p->capabilities);
  for (size_t i = 0; i < p->n_rlimits; i++)
    free (p->rlimits[i].type);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  json_decref (p->io_priority);
  json_decref (p->scheduler);
  json_decref (p->exec_cpu_affinity);
  free (p);
}
