/* The berthd config file: JSON (docs/berthd.md has every key).
 *
 *   {
 *     "cni": {"conf_dir": "/etc/cni/net.d", "bin_dir": "/usr/lib/cni"},
 *     "sandbox_image": "registry.example/pause:3.9",
 *     "default_runtime": "berth",
 *     "cgroup_driver": "cgroupfs",
 *     "restrict_oom_score_adj": true,
 *     "registries": {"registry.example": {"insecure": true, "mirror": "http://127.0.0.1:5000"}},
 *     "pull_helper": "/usr/sbin/berthd-pull"
 *   }
 *
 * Unknown keys are refused (a typo must not silently keep a default), and
 * every error names the key.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

static int
check_keys (json_t *obj, const char *where, const char *const *known, const char *path, berth_err *err)
{
  const char *key;
  json_t *v;

  json_object_foreach (obj, key, v)
  {
    bool ok = false;
    for (const char *const *k = known; *k; k++)
      ok = ok || strcmp (*k, key) == 0;
    if (!ok)
      return berth_fail (err, 0, "config `%s`: %s%s%s: unknown key", path, where, where[0] ? "." : "", key);
  }
  return 0;
}

/* A string at obj[key], kept in *out (replacing the default) when present. */
static int
get_string (json_t *obj, const char *key, const char *where, char **out, const char *path, berth_err *err)
{
  json_t *v = json_object_get (obj, key);

  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_string (v))
    return berth_fail (err, 0, "config `%s`: %s%s%s: expected string", path, where, where[0] ? "." : "", key);
  free (*out);
  *out = xstrdup (json_string_value (v));
  return 0;
}

static int
get_bool (json_t *obj, const char *key, const char *where, bool *out, const char *path, berth_err *err)
{
  json_t *v = json_object_get (obj, key);

  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_boolean (v))
    return berth_fail (err, 0, "config `%s`: %s%s%s: expected true or false", path, where, where[0] ? "." : "", key);
  *out = json_is_true (v);
  return 0;
}

/* "http://host[:port]" or "https://host[:port]", no path: pulls go to
 * <mirror>/v2/. */
static int
check_mirror (const char *m, const char *host, const char *path, berth_err *err)
{
  const char *rest;

  if (strncmp (m, "http://", 7) == 0)
    rest = m + 7;
  else if (strncmp (m, "https://", 8) == 0)
    rest = m + 8;
  else
    return berth_fail (err, 0, "config `%s`: registries.%s.mirror: \"%s\" is not an http:// or https:// URL", path,
                       host, m);
  if (rest[0] == '\0' || rest[strcspn (rest, "/")] != '\0')
    return berth_fail (err, 0, "config `%s`: registries.%s.mirror: \"%s\": expected scheme://host[:port] only", path,
                       host, m);
  return 0;
}

static int
parse_registries (json_t *regs, struct daemon_config *c, const char *path, berth_err *err)
{
  static const char *const keys[] = { "insecure", "mirror", NULL };
  const char *host;
  json_t *v;

  if (regs == NULL || json_is_null (regs))
    return 0;
  if (!json_is_object (regs))
    return berth_fail (err, 0, "config `%s`: registries: expected object of host: {insecure, mirror}", path);
  c->registries = calloc (json_object_size (regs) + 1, sizeof (*c->registries));
  json_object_foreach (regs, host, v)
  {
    cleanup_free char *where = NULL;
    struct registry_override *r = &c->registries[c->n_registries++];
    r->host = xstrdup (host);
    if (asprintf (&where, "registries.%s", host) < 0)
      abort ();
    if (host[0] == '\0' || strchr (host, '/'))
      return berth_fail (err, 0, "config `%s`: registries.\"%s\": expected a host[:port]", path, host);
    if (!json_is_object (v))
      return berth_fail (err, 0, "config `%s`: %s: expected object", path, where);
    if (check_keys (v, where, keys, path, err) < 0 || get_bool (v, "insecure", where, &r->insecure, path, err) < 0
        || get_string (v, "mirror", where, &r->mirror, path, err) < 0)
      return -1;
    if (r->mirror && check_mirror (r->mirror, host, path, err) < 0)
      return -1;
  }
  return 0;
}

static int
parse (json_t *doc, struct daemon_config *c, const char *path, berth_err *err)
{
  static const char *const keys[] = { "cni",           "sandbox_image",          "default_runtime",
                                      "cgroup_driver", "restrict_oom_score_adj", "registries",
                                      "pull_helper",   "stream_server_address",  NULL };
  static const char *const cni_keys[] = { "conf_dir", "bin_dir", NULL };
  json_t *cni;

  if (!json_is_object (doc))
    return berth_fail (err, 0, "config `%s`: expected a JSON object", path);
  if (check_keys (doc, "", keys, path, err) < 0)
    return -1;
  cni = json_object_get (doc, "cni");
  if (cni && !json_is_object (cni))
    return berth_fail (err, 0, "config `%s`: cni: expected object", path);
  if (cni
      && (check_keys (cni, "cni", cni_keys, path, err) < 0
          || get_string (cni, "conf_dir", "cni", &c->cni_conf_dir, path, err) < 0
          || get_string (cni, "bin_dir", "cni", &c->cni_bin_dir, path, err) < 0))
    return -1;
  if (get_string (doc, "sandbox_image", "", &c->sandbox_image, path, err) < 0
      || get_string (doc, "default_runtime", "", &c->default_runtime, path, err) < 0
      || get_string (doc, "cgroup_driver", "", &c->cgroup_driver, path, err) < 0
      || get_bool (doc, "restrict_oom_score_adj", "", &c->restrict_oom_score_adj, path, err) < 0
      || get_string (doc, "pull_helper", "", &c->pull_helper, path, err) < 0
      || get_string (doc, "stream_server_address", "", &c->stream_server_address, path, err) < 0
      || parse_registries (json_object_get (doc, "registries"), c, path, err) < 0)
    return -1;
  /* Only cgroupfs: berthd manages cgroups itself; "systemd" would need
     transient units through D-Bus, which berth does not do. */
  if (strcmp (c->cgroup_driver, "cgroupfs") != 0)
    return berth_fail (err, 0, "config `%s`: cgroup_driver: \"%s\" is not supported (only \"cgroupfs\")", path,
                       c->cgroup_driver);
  if (c->cni_conf_dir[0] != '/' || c->cni_bin_dir[0] != '/')
    return berth_fail (err, 0, "config `%s`: cni.%s: expected an absolute path", path,
                       c->cni_conf_dir[0] != '/' ? "conf_dir" : "bin_dir");
  if (c->default_runtime[0] == '\0')
    return berth_fail (err, 0, "config `%s`: default_runtime: expected a non-empty name", path);
  if (c->pull_helper && c->pull_helper[0] != '/')
    return berth_fail (err, 0, "config `%s`: pull_helper: expected an absolute path", path);
  return 0;
}

int
daemon_config_load (const char *path, bool must_exist, struct daemon_config *c, berth_err *err)
{
  cleanup_close int fd = -1;
  json_t *doc;
  int ret;

  memset (c, 0, sizeof (*c));
  c->cni_conf_dir = xstrdup ("/etc/cni/net.d");
  c->cni_bin_dir = xstrdup ("/usr/lib/cni");
  c->default_runtime = xstrdup ("berth");
  c->cgroup_driver = xstrdup ("cgroupfs");
  c->stream_server_address = xstrdup ("127.0.0.1:0");
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && !must_exist)
    return 0;
  if (fd < 0)
    return berth_fail (err, errno, "open config `%s`", path);
  doc = berth_json_load_fd (fd, path, err);
  if (doc == NULL)
    return -1;
  ret = parse (doc, c, path, err);
  json_decref (doc);
  return ret;
}

void
daemon_config_clear (struct daemon_config *c)
{
  free (c->cni_conf_dir);
  free (c->cni_bin_dir);
  free (c->sandbox_image);
  free (c->default_runtime);
  free (c->cgroup_driver);
  free (c->pull_helper);
  free (c->stream_server_address);
  for (size_t i = 0; i < c->n_registries; i++)
    {
      free (c->registries[i].host);
      free (c->registries[i].mirror);
    }
  free (c->registries);
  memset (c, 0, sizeof (*c));
}

const struct registry_override *
daemon_config_registry (const struct daemon_config *c, const char *host)
{
  for (size_t i = 0; i < c->n_registries; i++)
    if (strcmp (c->registries[i].host, host) == 0)
      return &c->registries[i];
  return NULL;
}
