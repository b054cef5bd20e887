/* "linux": namespaces, id mappings, devices, cgroups and the rest of
 * config-linux.md except linux.resources (resources.c). */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static int
parse_namespaces (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err)
{
  cleanup_free char *npath = spec_path_key (path, "namespaces");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "namespaces", 0, &arr, err);

  if (r <= 0)
    return r;
  for (size_t i = 0; i < json_array_size (arr); i++)
    {
      cleanup_free char *ep = spec_path_index (npath, i);
      cleanup_free char *tp = spec_path_key (ep, "type");
      cleanup_free char *type = NULL;
      cleanup_free char *nspath = NULL;
      json_t *e = json_array_get (arr, i);
      int t;

      if (!json_is_object (e))
        return spec_fail (err, ep, "expected object");
      if (spec_get_string (e, ep, "type", SPEC_REQUIRED, &type, err) < 0)
        return -1;
      t = berth_ns_type_from_name (type);
      if (t < 0)
        return spec_fail (err, tp, "unknown namespace type \"%s\"", type);
      if (lx->namespaces[t].present)
        return spec_fail (err, tp, "duplicate namespace type \"%s\"", type);
      if (spec_get_string (e, ep, "path", 0, &nspath, err) < 0)
        return -1;
      if (nspath != NULL && nspath[0] != '/')
        {
          cleanup_free char *pp = spec_path_key (ep, "path");
          return spec_fail (err, pp, "must be an absolute path, got \"%s\"", nspath);
        }
      lx->namespaces[t].present = true;
      lx->namespaces[t].path = steal_pointer (&nspath);
    }
  return 0;
}

static int
parse_device (json_t *e, const char *path, struct berth_device *d, berth_err *err)
{
  cleanup_free char *type = NULL;
  uint32_t mode = 0;
  int r;

  if (!json_is_object (e))
    return spec_fail (err, path, "expected object");
  if (spec_get_string (e, path, "path", SPEC_REQUIRED, &d->path, err) < 0)
    return -1;
  if (d->path[0] != '/')
    {
      cleanup_free char *p = spec_path_key (path, "path");
      return spec_fail (err, p, "must be an absolute path, got \"%s\"", d->path);
    }
  if (spec_get_string (e, path, "type", SPEC_REQUIRED, &type, err) < 0)
    return -1;
  if (strlen (type) != 1 || strchr ("cbup", type[0]) == NULL)
    {
      cleanup_free char *p = spec_path_key (path, "type");
      return spec_fail (err, p, "unknown device type \"%s\"", type);
    }
  d->type = type[0];
  /* A fifo has no device numbers. */
  r = d->type == 'p' ? 0 : SPEC_REQUIRED;
  if (spec_get_range (e, path, "major", r, 0, 4095, &d->major, err) < 0
      || spec_get_range (e, path, "minor", r, 0, 1048575, &d->minor, err) < 0)
    return -1; /* the kernel's dev_t: 12 bits of major, 20 of minor */
  r = spec_get_uint32 (e, path, "fileMode", 0, &mode, err);
  if (r < 0)
    return -1;
  d->has_file_mode = r > 0;
  d->file_mode = (mode_t)(mode & 07777);
  if ((r = spec_get_uint32 (e, path, "uid", 0, &d->uid, err)) < 0)
    return -1;
  d->has_uid = r > 0;
  if ((r = spec_get_uint32 (e, path, "gid", 0, &d->gid, err)) < 0)
    return -1;
  d->has_gid = r > 0;
  return 0;
}

static int
parse_devices (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err)
{
  cleanup_free char *dpath = spec_path_key (path, "devices");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "devices", 0, &arr, err);

  if (r <= 0)
    return r;
  lx->n_devices = json_array_size (arr);
  lx->devices = spec_xcalloc (lx->n_devices, sizeof (*lx->devices));
  for (size_t i = 0; i < lx->n_devices; i++)
    {
      cleanup_free char *ep = spec_path_index (dpath, i);
      if (parse_device (json_array_get (arr, i), ep, &lx->devices[i], err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_rootfs_propagation (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err)
{
  cleanup_free char *value = NULL;
  int r = spec_get_string (obj, path, "rootfsPropagation", 0, &value, err);

  if (r <= 0)
    return r;
  lx->rootfs_propagation = spec_propagation_from_name (value);
  if (lx->rootfs_propagation == 0)
    {
      cleanup_free char *p = spec_path_key (path, "rootfsPropagation");
      return spec_fail (err, p, "unknown propagation \"%s\"", value);
    }
  return 0;
}

static int
parse_resources (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err)
{
  cleanup_free char *rpath = spec_path_key (path, "resources");
  json_t *res = NULL;
  int r = spec_get_object (obj, path, "resources", 0, &res, err);

  if (r <= 0)
    return r;
  lx->resources = spec_xcalloc (1, sizeof (*lx->resources));
  return spec_parse_resources (res, rpath, lx->resources, err);
}

int
spec_parse_linux (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err)
{
  if (parse_namespaces (obj, path, lx, err) < 0
      || spec_parse_id_mappings (obj, path, "uidMappings", &lx->uid_mappings, &lx->n_uid_mappings, err) < 0
      || spec_parse_id_mappings (obj, path, "gidMappings", &lx->gid_mappings, &lx->n_gid_mappings, err) < 0
      || parse_devices (obj, path, lx, err) < 0
      || spec_get_string (obj, path, "cgroupsPath", 0, &lx->cgroups_path, err) < 0
      || parse_resources (obj, path, lx, err) < 0 || parse_rootfs_propagation (obj, path, lx, err) < 0
      || spec_get_strv (obj, path, "maskedPaths", 0, &lx->masked_paths, &lx->n_masked_paths, err) < 0
      || spec_get_strv (obj, path, "readonlyPaths", 0, &lx->readonly_paths, &lx->n_readonly_paths, err) < 0
      || spec_get_string (obj, path, "mountLabel", 0, &lx->mount_label, err) < 0
      || spec_get_string_map (obj, path, "sysctl", &lx->sysctl, &lx->n_sysctl, err) < 0
      || spec_get_raw (obj, path, "seccomp", JSON_OBJECT, &lx->seccomp, err) < 0
      || spec_get_raw (obj, path, "personality", JSON_OBJECT, &lx->personality, err) < 0
      || spec_get_raw (obj, path, "intelRdt", JSON_OBJECT, &lx->intel_rdt, err) < 0
      || spec_get_raw (obj, path, "memoryPolicy", JSON_OBJECT, &lx->memory_policy, err) < 0
      || spec_get_raw (obj, path, "netDevices", JSON_OBJECT, &lx->net_devices, err) < 0
      || spec_get_raw (obj, path, "timeOffsets", JSON_OBJECT, &lx->time_offsets, err) < 0)
    return -1;
  return 0;
}

void
spec_linux_free (struct berth_linux *lx)
{
  if (lx == NULL)
    return;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    free (lx->namespaces[i].path);
  free (lx->uid_mappings);
  free (lx->gid_mappings);
  for (size_t i = 0; i < lx->n_devices; i++)
    free (lx->devices[i].path);
  free (lx->devices);
  free (lx->cgroups_path);
  spec_resources_free (lx->resources);
  spec_strv_free (lx->masked_paths);
  spec_strv_free (lx->readonly_paths);
  free (lx->mount_label);
  spec_key_values_free (lx->sysctl, lx->n_sysctl);
  json_decref (lx->seccomp);
  json_decref (lx->personality);
  json_decref (lx->intel_rdt);
  json_decref (lx->memory_policy);
  json_decref (lx->net_devices);
  json_decref (lx->time_offsets);
  free (lx);
}
