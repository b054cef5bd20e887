/* "linux.resources": cgroup limits (config-linux.md, "Control groups"). */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* Stores a `has_*` flag from a getter's result; returns -1 on error. */
#define HAS(flag, call)                                                                                                \
  ({                                                                                                                   \
    int r_ = (call);                                                                                                   \
    if (r_ > 0)                                                                                                        \
      (flag) = true;                                                                                                   \
    r_ < 0 ? -1 : 0;                                                                                                   \
  })

static int
parse_device_rule (json_t *e, const char *path, struct berth_device_rule *d, berth_err *err)
{
  cleanup_free char *type = NULL;
  int r;

  if (!json_is_object (e))
    return spec_fail (err, path, "expected object");
  if (spec_get_bool (e, path, "allow", SPEC_REQUIRED, &d->allow, err) < 0)
    return -1;
  d->type = 'a';
  d->major = -1;
  d->minor = -1;
  r = spec_get_string (e, path, "type", 0, &type, err);
  if (r < 0)
    return -1;
  if (r > 0)
    {
      if (strlen (type) != 1 || strchr ("acb", type[0]) == NULL)
        {
          cleanup_free char *p = spec_path_key (path, "type");
          return spec_fail (err, p, "unknown device type \"%s\"", type);
        }
      d->type = type[0];
    }
  if (spec_get_range (e, path, "major", 0, -1, INT64_MAX, &d->major, err) < 0
      || spec_get_range (e, path, "minor", 0, -1, INT64_MAX, &d->minor, err) < 0
      || spec_get_string (e, path, "access", 0, &d->access, err) < 0)
    return -1;
  if (d->access != NULL && d->access[strspn (d->access, "rwm")] != '\0')
    {
      cleanup_free char *p = spec_path_key (path, "access");
      return spec_fail (err, p, "invalid access \"%s\" (a combination of r, w and m)", d->access);
    }
  return 0;
}

static int
parse_device_rules (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *dpath = spec_path_key (path, "devices");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "devices", 0, &arr, err);

  if (r <= 0)
    return r;
  res->n_devices = json_array_size (arr);
  res->devices = spec_xcalloc (res->n_devices, sizeof (*res->devices));
  for (size_t i = 0; i < res->n_devices; i++)
    {
      cleanup_free char *ep = spec_path_index (dpath, i);
      if (parse_device_rule (json_array_get (arr, i), ep, &res->devices[i], err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_memory (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *p = spec_path_key (path, "memory");
  json_t *o = NULL;
  int r = spec_get_object (obj, path, "memory", 0, &o, err);

  if (r <= 0)
    return r;
  res->memory.present = true;
  if (HAS (res->memory.has_limit, spec_get_int64 (o, p, "limit", 0, &res->memory.limit, err)) < 0
      || HAS (res->memory.has_reservation, spec_get_int64 (o, p, "reservation", 0, &res->memory.reservation, err)) < 0
      || HAS (res->memory.has_swap, spec_get_int64 (o, p, "swap", 0, &res->memory.swap, err)) < 0
      || HAS (res->memory.has_kernel, spec_get_int64 (o, p, "kernel", 0, &res->memory.kernel, err)) < 0
      || HAS (res->memory.has_kernel_tcp, spec_get_int64 (o, p, "kernelTCP", 0, &res->memory.kernel_tcp, err)) < 0
      || HAS (res->memory.has_swappiness, spec_get_uint64 (o, p, "swappiness", 0, &res->memory.swappiness, err)) < 0
      || HAS (res->memory.has_disable_oom_killer,
              spec_get_bool (o, p, "disableOOMKiller", 0, &res->memory.disable_oom_killer, err))
             < 0
      || HAS (res->memory.has_use_hierarchy, spec_get_bool (o, p, "useHierarchy", 0, &res->memory.use_hierarchy, err))
             < 0
      || HAS (res->memory.has_check_before_update,
              spec_get_bool (o, p, "checkBeforeUpdate", 0, &res->memory.check_before_update, err))
             < 0)
    return -1;
  return 0;
}

static int
parse_cpu (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *p = spec_path_key (path, "cpu");
  json_t *o = NULL;
  int r = spec_get_object (obj, path, "cpu", 0, &o, err);

  if (r <= 0)
    return r;
  res->cpu.present = true;
  if (HAS (res->cpu.has_shares, spec_get_uint64 (o, p, "shares", 0, &res->cpu.shares, err)) < 0
      || HAS (res->cpu.has_quota, spec_get_int64 (o, p, "quota", 0, &res->cpu.quota, err)) < 0
      || HAS (res->cpu.has_burst, spec_get_uint64 (o, p, "burst", 0, &res->cpu.burst, err)) < 0
      || HAS (res->cpu.has_period, spec_get_uint64 (o, p, "period", 0, &res->cpu.period, err)) < 0
      || HAS (res->cpu.has_realtime_runtime,
              spec_get_int64 (o, p, "realtimeRuntime", 0, &res->cpu.realtime_runtime, err))
             < 0
      || HAS (res->cpu.has_realtime_period, spec_get_uint64 (o, p, "realtimePeriod", 0, &res->cpu.realtime_period, err))
             < 0
      || spec_get_string (o, p, "cpus", 0, &res->cpu.cpus, err) < 0
      || spec_get_string (o, p, "mems", 0, &res->cpu.mems, err) < 0
      || HAS (res->cpu.has_idle, spec_get_int64 (o, p, "idle", 0, &res->cpu.idle, err)) < 0)
    return -1;
  return 0;
}

static int
parse_pids (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *p = spec_path_key (path, "pids");
  json_t *o = NULL;
  int r = spec_get_object (obj, path, "pids", 0, &o, err);

  if (r <= 0)
    return r;
  res->pids.present = true;
  return spec_get_int64 (o, p, "limit", 0, &res->pids.limit, err) < 0 ? -1 : 0;
}

/* One element of weightDevice or throttle*Device: major and minor are required. */
static int
parse_major_minor (json_t *e, const char *path, int64_t *major, int64_t *minor, berth_err *err)
{
  if (!json_is_object (e))
    return spec_fail (err, path, "expected object");
  if (spec_get_int64 (e, path, "major", SPEC_REQUIRED, major, err) < 0
      || spec_get_int64 (e, path, "minor", SPEC_REQUIRED, minor, err) < 0)
    return -1;
  return 0;
}

static int
parse_throttle (json_t *obj, const char *path, const char *key, struct berth_throttle_device **out, size_t *n_out,
                berth_err *err)
{
  cleanup_free char *tpath = spec_path_key (path, key);
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, key, 0, &arr, err);

  if (r <= 0)
    return r;
  *n_out = json_array_size (arr);
  *out = spec_xcalloc (*n_out, sizeof (**out));
  for (size_t i = 0; i < *n_out; i++)
    {
      cleanup_free char *ep = spec_path_index (tpath, i);
      json_t *e = json_array_get (arr, i);
      struct berth_throttle_device *t = &(*out)[i];

      if (parse_major_minor (e, ep, &t->major, &t->minor, err) < 0
          || spec_get_uint64 (e, ep, "rate", SPEC_REQUIRED, &t->rate, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_weight_devices (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *wpath = spec_path_key (path, "weightDevice");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "weightDevice", 0, &arr, err);

  if (r <= 0)
    return r;
  res->block_io.n_weight_device = json_array_size (arr);
  res->block_io.weight_device = spec_xcalloc (res->block_io.n_weight_device, sizeof (struct berth_weight_device));
  for (size_t i = 0; i < res->block_io.n_weight_device; i++)
    {
      cleanup_free char *ep = spec_path_index (wpath, i);
      json_t *e = json_array_get (arr, i);
      struct berth_weight_device *w = &res->block_io.weight_device[i];

      if (parse_major_minor (e, ep, &w->major, &w->minor, err) < 0
          || HAS (w->has_weight, spec_get_uint16 (e, ep, "weight", 0, &w->weight, err)) < 0
          || HAS (w->has_leaf_weight, spec_get_uint16 (e, ep, "leafWeight", 0, &w->leaf_weight, err)) < 0)
        return -1;
    }
  return 0;
}

static int
parse_block_io (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *p = spec_path_key (path, "blockIO");
  json_t *o = NULL;
  int r = spec_get_object (obj, path, "blockIO", 0, &o, err);

  if (r <= 0)
    return r;
  res->block_io.present = true;
  if (HAS (res->block_io.has_weight, spec_get_uint16 (o, p, "weight", 0, &res->block_io.weight, err)) < 0
      || HAS (res->block_io.has_leaf_weight, spec_get_uint16 (o, p, "leafWeight", 0, &res->block_io.leaf_weight, err))
             < 0
      || parse_weight_devices (o, p, res, err) < 0
      || parse_throttle (o, p, "throttleReadBpsDevice", &res->block_io.throttle_read_bps,
                         &res->block_io.n_throttle_read_bps, err)
             < 0
      || parse_throttle (o, p, "throttleWriteBpsDevice", &res->block_io.throttle_write_bps,
                         &res->block_io.n_throttle_write_bps, err)
             < 0
      || parse_throttle (o, p, "throttleReadIOPSDevice", &res->block_io.throttle_read_iops,
                         &res->block_io.n_throttle_read_iops, err)
             < 0
      || parse_throttle (o, p, "throttleWriteIOPSDevice", &res->block_io.throttle_write_iops,
                         &res->block_io.n_throttle_write_iops, err)
             < 0)
    return -1;
  return 0;
}

static int
parse_hugepages (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *hpath = spec_path_key (path, "hugepageLimits");
  json_t *arr = NULL;
  int r = spec_get_array (obj, path, "hugepageLimits", 0, &arr, err);

  if (r <= 0)
    return r;
  res->n_hugepage_limits = json_array_size (arr);
  res->hugepage_limits = spec_xcalloc (res->n_hugepage_limits, sizeof (*res->hugepage_limits));
  for (size_t i = 0; i < res->n_hugepage_limits; i++)
    {
      cleanup_free char *ep = spec_path_index (hpath, i);
      json_t *e = json_array_get (arr, i);
      struct berth_hugepage_limit *h = &res->hugepage_limits[i];

      if (!json_is_object (e))
        return spec_fail (err, ep, "expected object");
      if (spec_get_string (e, ep, "pageSize", SPEC_REQUIRED, &h->page_size, err) < 0
          || spec_get_uint64 (e, ep, "limit", SPEC_REQUIRED, &h->limit, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_network (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *p = spec_path_key (path, "network");
  cleanup_free char *ppath = spec_path_key (p, "priorities");
  json_t *o = NULL, *arr = NULL;
  int r = spec_get_object (obj, path, "network", 0, &o, err);

  if (r <= 0)
    return r;
  res->network.present = true;
  if (HAS (res->network.has_class_id, spec_get_uint32 (o, p, "classID", 0, &res->network.class_id, err)) < 0)
    return -1;
  r = spec_get_array (o, p, "priorities", 0, &arr, err);
  if (r <= 0)
    return r;
  res->network.n_priorities = json_array_size (arr);
  res->network.priorities = spec_xcalloc (res->network.n_priorities, sizeof (struct berth_net_priority));
  for (size_t i = 0; i < res->network.n_priorities; i++)
    {
      cleanup_free char *ep = spec_path_index (ppath, i);
      json_t *e = json_array_get (arr, i);
      struct berth_net_priority *np = &res->network.priorities[i];

      if (!json_is_object (e))
        return spec_fail (err, ep, "expected object");
      if (spec_get_string (e, ep, "name", SPEC_REQUIRED, &np->name, err) < 0
          || spec_get_uint32 (e, ep, "priority", SPEC_REQUIRED, &np->priority, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_rdma (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  cleanup_free char *rpath = spec_path_key (path, "rdma");
  json_t *o = NULL, *v;
  const char *dev;
  size_t i = 0;
  int r = spec_get_object (obj, path, "rdma", 0, &o, err);

  if (r <= 0)
    return r;
  res->rdma = spec_xcalloc (json_object_size (o), sizeof (*res->rdma));
  json_object_foreach (o, dev, v)
  {
    cleanup_free char *ep = spec_path_key (rpath, dev);
    struct berth_rdma_limit *l = &res->rdma[i];

    res->n_rdma = ++i;
    l->device = spec_xstrdup (dev);
    if (!json_is_object (v))
      return spec_fail (err, ep, "expected object");
    if (HAS (l->has_hca_handles, spec_get_uint32 (v, ep, "hcaHandles", 0, &l->hca_handles, err)) < 0
        || HAS (l->has_hca_objects, spec_get_uint32 (v, ep, "hcaObjects", 0, &l->hca_objects, err)) < 0)
      return -1;
    if (!l->has_hca_handles && !l->has_hca_objects)
      return spec_fail (err, ep, "at least one of hcaHandles and hcaObjects is required");
  }
  return 0;
}

int
spec_parse_resources (json_t *obj, const char *path, struct berth_resources *res, berth_err *err)
{
  if (parse_device_rules (obj, path, res, err) < 0 || parse_memory (obj, path, res, err) < 0
      || parse_cpu (obj, path, res, err) < 0 || parse_pids (obj, path, res, err) < 0
      || parse_block_io (obj, path, res, err) < 0 || parse_hugepages (obj, path, res, err) < 0
      || parse_network (obj, path, res, err) < 0 || parse_rdma (obj, path, res, err) < 0
      || spec_get_string_map (obj, path, "unified", &res->unified, &res->n_unified, err) < 0)
    return -1;
  return 0;
}

void
spec_resources_free (struct berth_resources *res)
{
  if (res == NULL)
    return;
  for (size_t i = 0; i < res->n_devices; i++)
    free (res->devices[i].access);
  free (res->devices);
  free (res->cpu.cpus);
  free (res->cpu.mems);
  free (res->block_io.weight_device);
  free (res->block_io.throttle_read_bps);
  free (res->block_io.throttle_write_bps);
  free (res->block_io.throttle_read_iops);
  free (res->block_io.throttle_write_iops);
  for (size_t i = 0; i < res->n_hugepage_limits; i++)
    free (res->hugepage_limits[i].page_size);
  free (res->hugepage_limits);
  for (size_t i = 0; i < res->network.n_priorities; i++)
    free (res->network.priorities[i].name);
  free (res->network.priorities);
  for (size_t i = 0; i < res->n_rdma; i++)
    free (res->rdma[i].device);
  free (res->rdma);
  spec_key_values_free (res->unified, res->n_unified);
  free (res);
}
