/* linux.devices and their device-cgroup rules.  The host is read by the
 * daemon's cri_list_devices_fn (stat of a node, or a walk of a directory);
 * here its answer becomes nodes at the container paths plus one allow rule
 * each.  Privileged containers get every node under the host's /dev (less
 * what the base mounts provide) and no device restriction at all. */
#include <string.h>

#include "cri/cri_internal.h"

static bool
has_device (json_t *devices, const char *path)
{
  size_t i;
  json_t *d;

  json_array_foreach (devices, i,
                      d) if (strcmp (json_string_value (json_object_get (d, "path")), path) == 0) return true;
  return false;
}

static json_t *
node_json (const struct cri_host_device *d, const char *path)
{
  char type[2] = { d->type, '\0' };

  return json_pack ("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", path, "type", type, "major", (json_int_t)d->major,
                    "minor", (json_int_t)d->minor, "fileMode", (json_int_t)(d->mode & 07777), "uid", (json_int_t)d->uid,
                    "gid", (json_int_t)d->gid);
}

/* Paths a privileged container does not take from the host: mounted
 * anew by the base spec, or per-process (containerd skips the same). */
static bool
skip_host_path (const char *p)
{
  static const char *const skip[]
      = { "/dev/pts/", "/dev/shm/", "/dev/mqueue/", "/dev/fd/", "/dev/.lxc/", "/dev/.lxd-mounts/", "/dev/.udev/" };

  if (strcmp (p, "/dev/console") == 0 || strcmp (p, "/dev/ptmx") == 0)
    return true;
  for (size_t i = 0; i < CRI_ARRAY_SIZE (skip); i++)
    if (strncmp (p, skip[i], strlen (skip[i])) == 0)
      return true;
  return false;
}

static int
check_permissions (const char *p, size_t i, berth_err *err)
{
  if (strspn (p, "rwm") != strlen (p))
    return berth_fail (err, 0, CRI_CFG "devices[%zu].permissions: \"%s\" is not made of r, w and m", i, p);
  return 0;
}

static int
config_devices (struct cri_build *b, json_t *devices, json_t *rules, berth_err *err)
{
  for (size_t i = 0; i < b->c->n_devices; i++)
    {
      const Runtime__V1__Device *d = b->c->devices[i];
      const struct cri_host_device *nodes = NULL;
      size_t n = 0, hlen;
      berth_err lerr = NULL;
      const char *perm;

      if (d == NULL || cri_empty (d->host_path))
        return berth_fail (err, 0, CRI_CFG "devices[%zu].host_path: must not be empty", i);
      if (cri_empty (d->container_path) || d->container_path[0] != '/')
        return berth_fail (err, 0, CRI_CFG "devices[%zu].container_path: \"%s\" is not an absolute path", i,
                           CRI_S (d->container_path));
      perm = cri_empty (d->permissions) ? "rwm" : d->permissions;
      if (check_permissions (perm, i, err) < 0)
        return -1;
      if (b->cctx->list_devices == NULL)
        return berth_fail (err, 0, CRI_CFG "devices[%zu]: no way to look up host devices here", i);
      if (b->cctx->list_devices (b->cctx->list_devices_user, d->host_path, &nodes, &n, &lerr) < 0)
        {
          berth_err_move (err, &lerr);
          return berth_wrap (err, CRI_CFG "devices[%zu].host_path", i);
        }
      hlen = strlen (d->host_path);
      for (size_t k = 0; k < n; k++)
        {
          const struct cri_host_device *node = &nodes[k];
          char *path;
          char type[2] = { node->type, '\0' };

          if (node->type != 'c' && node->type != 'b')
            continue;
          /* A node found under a directory keeps its place below the
             container path: /dev/snd/pcm0 under /dev/snd -> <cpath>/pcm0. */
          if (strncmp (node->path, d->host_path, hlen) == 0 && node->path[hlen] == '/')
            path = cri_printf ("%s%s", d->container_path, node->path + hlen);
          else
            path = cri_strdup (d->container_path);
          if (!has_device (devices, path))
            json_array_append_new (devices, node_json (node, path));
          json_array_append_new (rules,
                                 json_pack ("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type, "major",
                                            (json_int_t)node->major, "minor", (json_int_t)node->minor, "access", perm));
          free (path);
        }
    }
  return 0;
}

static int
host_devices (struct cri_build *b, json_t *devices, berth_err *err)
{
  const struct cri_host_device *nodes = NULL;
  size_t n = 0;
  berth_err lerr = NULL;

  if (b->cctx->list_devices == NULL)
    return 0; /* no host nodes, but no restriction either */
  if (b->cctx->list_devices (b->cctx->list_devices_user, "/dev", &nodes, &n, &lerr) < 0)
    {
      berth_err_move (err, &lerr);
      return berth_wrap (err, "privileged container: host devices");
    }
  for (size_t k = 0; k < n; k++)
    if ((nodes[k].type == 'c' || nodes[k].type == 'b') && !skip_host_path (nodes[k].path)
        && !has_device (devices, nodes[k].path))
      json_array_append_new (devices, node_json (&nodes[k], nodes[k].path));
  return 0;
}

int
cri_step_devices (struct cri_build *b, berth_err *err)
{
  json_t *lx = cri_obj (b->spec, "linux");
  json_t *res = cri_obj (lx, "resources");
  json_t *devices = json_array ();
  json_t *rules = cri_arr (res, "devices");

  json_object_set_new (lx, "devices", devices);
  if (config_devices (b, devices, rules, err) < 0)
    return -1;
  if (b->privileged)
    {
      json_object_set_new (res, "devices", json_pack ("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
      if (host_devices (b, devices, err) < 0)
        return -1;
    }
  if (json_array_size (devices) == 0)
    json_object_del (lx, "devices");
  return 0;
}
