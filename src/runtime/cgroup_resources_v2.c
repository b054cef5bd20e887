/* Resource writers for the cgroup v2 hierarchy: the v1-style values of the
 * runtime spec converted as runc and crun convert them. */
#include "runtime/cgroup_internal.h"
#include "runtime/cgroup_devices_bpf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* -1 (or any negative) is "max". */
static int
write_limit (const char *dir, const char *file, int64_t v, berth_err *err)
{
  if (v < 0)
    return cg_write (dir, file, "max", err);
  return cg_writef (dir, file, err, "%" PRId64, v);
}

/* kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy have no
 * v2 counterpart and are ignored, as runc does. */
int
cg_v2_memory (const char *dir, const struct berth_resources *res, berth_err *err)
{
  int64_t limit = res->memory.has_limit ? res->memory.limit : 0;
  int64_t swap = res->memory.has_swap ? res->memory.swap : 0;
  bool write_swap;
  int64_t swap_max;

  if (cg_swap_to_v2 (swap, limit, &write_swap, &swap_max, err) < 0)
    return -1;
  if (res->memory.has_check_before_update && res->memory.check_before_update && limit > 0)
    {
      cleanup_free char *cur = NULL;

      if (cg_read (dir, "memory.current", &cur, err) < 0)
        return -1;
      if (strtoull (cur, NULL, 10) > (unsigned long long)limit)
        return berth_fail (err, 0,
                           "memory.limit: new limit %" PRId64 " is below the current usage %s (checkBeforeUpdate)",
                           limit, cur);
    }
  if (write_swap)
    {
      if (!cg_file_exists (dir, "memory.swap.max"))
        {
          /* No swap accounting: fine when swap would not be limited anyway. */
          if (swap_max > 0)
            return berth_fail (err, ENOENT, "memory.swap: `%s/memory.swap.max` is missing (swap accounting off?)", dir);
        }
      else if (write_limit (dir, "memory.swap.max", swap_max, err) < 0)
        return -1;
    }
  if (limit != 0 && write_limit (dir, "memory.max", limit, err) < 0)
    return -1;
  if (res->memory.has_reservation && res->memory.reservation != 0
      && write_limit (dir, "memory.low", res->memory.reservation, err) < 0)
    return -1;
  return 0;
}

int
cg_v2_cpu (const char *dir, const struct berth_resources *res, berth_err *err)
{
  int64_t quota = res->cpu.has_quota ? res->cpu.quota : 0;
  uint64_t period = res->cpu.has_period ? res->cpu.period : 0;
  bool burst_pending = false;

  if ((res->cpu.has_realtime_runtime && res->cpu.realtime_runtime != 0)
      || (res->cpu.has_realtime_period && res->cpu.realtime_period != 0))
    return berth_fail (err, 0, "realtimeRuntime and realtimePeriod are not supported on cgroup v2");
  if (res->cpu.has_idle && cg_writef (dir, "cpu.idle", err, "%" PRId64, res->cpu.idle) < 0)
    return -1;
  if (res->cpu.has_shares && res->cpu.shares != 0
      && cg_writef (dir, "cpu.weight", err, "%" PRIu64, cg_shares_to_weight (res->cpu.shares)) < 0)
    return -1;
  /* The burst must not exceed the quota: when both shrink the burst goes
   * first, when both grow the quota must; try one order, then the other. */
  if (res->cpu.has_burst)
    {
      berth_err local = NULL;

      if (cg_writef (dir, "cpu.max.burst", &local, "%" PRIu64, res->cpu.burst) < 0)
        {
          if (local->errnum != EINVAL || (quota == 0 && period == 0))
            {
              berth_err_move (err, &local);
              return -1;
            }
          berth_err_free (&local);
          burst_pending = true;
        }
    }
  if (quota != 0 || period != 0)
    {
      char value[64];
      int len;

      if (quota > 0)
        len = snprintf (value, sizeof (value), "%" PRId64, quota);
      else
        len = snprintf (value, sizeof (value), "max");
      if (period != 0)
        snprintf (value + len, sizeof (value) - (size_t)len, " %" PRIu64, period);
      if (cg_write (dir, "cpu.max", value, err) < 0)
        return -1;
    }
  if (burst_pending && cg_writef (dir, "cpu.max.burst", err, "%" PRIu64, res->cpu.burst) < 0)
    return -1;
  return 0;
}

int
cg_v2_cpuset (const char *dir, const struct berth_resources *res, berth_err *err)
{
  if (res->cpu.cpus != NULL && cg_write (dir, "cpuset.cpus", res->cpu.cpus, err) < 0)
    return -1;
  if (res->cpu.mems != NULL && cg_write (dir, "cpuset.mems", res->cpu.mems, err) < 0)
    return -1;
  return 0;
}

int
cg_v2_pids (const char *dir, const struct berth_resources *res, berth_err *err)
{
  return write_limit (dir, "pids.max", res->pids.limit <= 0 ? -1 : res->pids.limit, err);
}

static int
write_io_max (const char *dir, const char *key, const struct berth_throttle_device *d, size_t n, berth_err *err)
{
  for (size_t i = 0; i < n; i++)
    {
      int r;

      if (d[i].rate == 0)
        r = cg_writef (dir, "io.max", err, "%" PRId64 ":%" PRId64 " %s=max", d[i].major, d[i].minor, key);
      else
        r = cg_writef (dir, "io.max", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, d[i].major, d[i].minor, key,
                       d[i].rate);
      if (r < 0)
        return -1;
    }
  return 0;
}

/* BFQ takes blkio weights as they are (1..1000); io.weight (1..10000) gets
 * them converted.  leafWeight has no v2 counterpart. */
int
cg_v2_io (const char *dir, const struct berth_resources *res, berth_err *err)
{
  bool bfq = cg_file_exists (dir, "io.bfq.weight");

  if (res->block_io.has_weight && res->block_io.weight != 0)
    {
      int r = bfq ? cg_writef (dir, "io.bfq.weight", err, "%u", res->block_io.weight)
                  : cg_writef (dir, "io.weight", err, "%" PRIu64, cg_blkio_to_io_weight (res->block_io.weight));
      if (r < 0)
        return -1;
    }
  for (size_t i = 0; i < res->block_io.n_weight_device; i++)
    {
      const struct berth_weight_device *wd = &res->block_io.weight_device[i];
      int r;

      if (!wd->has_weight)
        continue;
      if (bfq)
        r = cg_writef (dir, "io.bfq.weight", err, "%" PRId64 ":%" PRId64 " %u", wd->major, wd->minor, wd->weight);
      else
        r = cg_writef (dir, "io.weight", err, "%" PRId64 ":%" PRId64 " %" PRIu64, wd->major, wd->minor,
                       cg_blkio_to_io_weight (wd->weight));
      if (r < 0)
        return -1;
    }
  if (write_io_max (dir, "rbps", res->block_io.throttle_read_bps, res->block_io.n_throttle_read_bps, err) < 0
      || write_io_max (dir, "wbps", res->block_io.throttle_write_bps, res->block_io.n_throttle_write_bps, err) < 0
      || write_io_max (dir, "riops", res->block_io.throttle_read_iops, res->block_io.n_throttle_read_iops, err) < 0
      || write_io_max (dir, "wiops", res->block_io.throttle_write_iops, res->block_io.n_throttle_write_iops, err) < 0)
    return -1;
  return 0;
}

int
cg_v2_hugetlb (const char *dir, const struct berth_resources *res, berth_err *err)
{
  return cg_write_hugetlb (dir, res, "max", err);
}

/* v2 has no devices files: the rules become a BPF_PROG_TYPE_CGROUP_DEVICE
 * program attached to the directory (cgroup_devices_bpf.c), replacing the
 * one an earlier call attached. */
int
cg_v2_devices (const char *dir, const struct berth_resources *res, berth_err *err)
{
  return cg_devices_bpf_apply (dir, res->devices, res->n_devices, err);
}

int
cg_v2_unified (const char *dir, const struct berth_resources *res, berth_err *err)
{
  for (size_t i = 0; i < res->n_unified; i++)
    {
      const struct berth_key_value *kv = &res->unified[i];

      if (kv->key[0] == '\0' || kv->key[0] == '.' || strchr (kv->key, '/') != NULL)
        return berth_fail (err, 0, "`%s`: not a cgroup file name", kv->key);
      if (!cg_file_exists (dir, kv->key))
        return berth_fail (err, ENOENT, "`%s`: no such file in `%s` (controller not enabled?)", kv->key, dir);
      if (cg_write (dir, kv->key, kv->value, err) < 0)
        return -1;
    }
  return 0;
}
