/* Resource writers for cgroup v1 controllers, following runc's choices
 * (write order, what is ignored on newer kernels, read-back checks). */
#include "runtime/cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* kernel-internal, but leaks to user space from cgroupfs */
#endif

static int
write_i64 (const char *dir, const char *file, int64_t v, berth_err *err)
{
  return cg_writef (dir, file, err, "%" PRId64, v);
}

static int
set_memory_limit (const char *dir, int64_t limit, berth_err *err)
{
  if (write_i64 (dir, "memory.limit_in_bytes", limit, err) < 0)
    {
      if ((*err)->errnum == EBUSY)
        cg_hint (err, "memory limit too low?");
      return -1;
    }
  return 0;
}

static int
set_swap_limit (const char *dir, int64_t swap, berth_err *err)
{
  if (write_i64 (dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
    {
      if ((*err)->errnum == EINVAL)
        cg_hint (err, "memory+swap limit must not be below the memory limit");
      return -1;
    }
  return 0;
}

static int
check_usage (const char *dir, const char *file, int64_t limit, berth_err *err)
{
  cleanup_free char *usage = NULL;

  if (cg_read (dir, file, &usage, err) < 0)
    return -1;
  if (strtoull (usage, NULL, 10) > (unsigned long long)limit)
    return berth_fail (err, 0, "memory.limit: new limit %" PRId64 " is below the current usage %s (checkBeforeUpdate)",
                       limit, usage);
  return 0;
}

/* The memory and memory+swap limits must be written in the order that
 * keeps limit <= memsw at every step (runc's setMemoryAndSwap). */
static int
memory_and_swap (const char *dir, const struct berth_resources *res, berth_err *err)
{
  int64_t limit = res->memory.has_limit ? res->memory.limit : 0;
  int64_t swap = res->memory.has_swap ? res->memory.swap : 0;
  bool memsw = cg_file_exists (dir, "memory.memsw.limit_in_bytes");

  if (res->memory.has_check_before_update && res->memory.check_before_update && limit > 0
      && check_usage (dir, "memory.usage_in_bytes", limit, err) < 0)
    return -1;
  if (limit == -1 && swap == 0 && memsw)
    swap = -1;
  if (swap != 0 && !memsw)
    {
      /* No swap accounting (swapaccount=0): fine when nothing would be limited. */
      if (swap != -1 && swap != limit)
        return berth_fail (err, 0,
                           "memory.swap: `memory.memsw.limit_in_bytes` is missing in `%s` (swap accounting off?)", dir);
      swap = 0;
    }
  if (limit != 0 && swap != 0)
    {
      cleanup_free char *cur = NULL;

      if (cg_read (dir, "memory.limit_in_bytes", &cur, err) < 0)
        return -1;
      if (swap == -1 || strtoll (cur, NULL, 10) < swap)
        return set_swap_limit (dir, swap, err) < 0 ? -1 : set_memory_limit (dir, limit, err);
    }
  if (limit != 0 && set_memory_limit (dir, limit, err) < 0)
    return -1;
  if (swap != 0 && set_swap_limit (dir, swap, err) < 0)
    return -1;
  return 0;
}

int
cg_v1_memory (const char *dir, const struct berth_resources *res, berth_err *err)
{
  if (memory_and_swap (dir, res, err) < 0)
    return -1;
  if (res->memory.has_reservation && res->memory.reservation != 0
      && write_i64 (dir, "memory.soft_limit_in_bytes", res->memory.reservation, err) < 0)
    return -1;
  /* Kernel memory limits are gone or refused on new kernels: runc ignores them. */
  if (res->memory.has_kernel && res->memory.kernel != 0 && cg_file_exists (dir, "memory.kmem.limit_in_bytes"))
    {
      berth_err local = NULL;

      if (write_i64 (dir, "memory.kmem.limit_in_bytes", res->memory.kernel, &local) < 0)
        {
          int e = local->errnum;

          if (e != EOPNOTSUPP && e != ENOTSUPP && e != EINVAL)
            {
              berth_err_move (err, &local);
              return -1;
            }
          berth_err_free (&local);
        }
    }
  if (res->memory.has_kernel_tcp && res->memory.kernel_tcp != 0
      && cg_file_exists (dir, "memory.kmem.tcp.limit_in_bytes")
      && write_i64 (dir, "memory.kmem.tcp.limit_in_bytes", res->memory.kernel_tcp, err) < 0)
    return -1;
  if (res->memory.has_swappiness)
    {
      if (res->memory.swappiness > 100)
        return berth_fail (err, 0, "memory.swappiness: %" PRIu64 " is not in 0..100", res->memory.swappiness);
      if (cg_writef (dir, "memory.swappiness", err, "%" PRIu64, res->memory.swappiness) < 0)
        return -1;
    }
  if (res->memory.has_disable_oom_killer && res->memory.disable_oom_killer
      && cg_write (dir, "memory.oom_control", "1", err) < 0)
    return -1;
  if (res->memory.has_use_hierarchy
      && cg_write (dir, "memory.use_hierarchy", res->memory.use_hierarchy ? "1" : "0", err) < 0)
    return -1;
  return 0;
}

/* The kernel clamps cpu.shares silently: read back, as runc does. */
static int
set_shares (const char *dir, uint64_t shares, berth_err *err)
{
  cleanup_free char *got = NULL;
  uint64_t v;

  if (cg_writef (dir, "cpu.shares", err, "%" PRIu64, shares) < 0 || cg_read (dir, "cpu.shares", &got, err) < 0)
    return -1;
  v = strtoull (got, NULL, 10);
  if (v != shares)
    return berth_fail (err, 0,
                       "write `%" PRIu64 "` to `%s/cpu.shares`: the kernel set %" PRIu64 " (the %s allowed cpu shares)",
                       shares, dir, v, shares > v ? "maximum" : "minimum");
  return 0;
}

int
cg_v1_cpu (const char *dir, const struct berth_resources *res, berth_err *err)
{
  int64_t quota = res->cpu.has_quota ? res->cpu.quota : 0;
  uint64_t period = res->cpu.has_period ? res->cpu.period : 0;
  bool period_pending = false, burst_pending = false;
  berth_err local = NULL;

  if (res->cpu.has_shares && res->cpu.shares != 0 && set_shares (dir, res->cpu.shares, err) < 0)
    return -1;
  /* A smaller period can be refused (EINVAL) until the quota is written:
   * retry after it, as runc does.  Same for the burst. */
  if (period != 0 && cg_writef (dir, "cpu.cfs_period_us", &local, "%" PRIu64, period) < 0)
    {
      if (local->errnum != EINVAL || quota == 0)
        {
          berth_err_move (err, &local);
          return -1;
        }
      berth_err_free (&local);
      period_pending = true;
    }
  if (res->cpu.has_burst && cg_writef (dir, "cpu.cfs_burst_us", &local, "%" PRIu64, res->cpu.burst) < 0)
    {
      if (local->errnum != EINVAL || quota == 0)
        {
          berth_err_move (err, &local);
          return -1;
        }
      berth_err_free (&local);
      burst_pending = true;
    }
  if (quota != 0 && write_i64 (dir, "cpu.cfs_quota_us", quota, err) < 0)
    return -1;
  if (period_pending && cg_writef (dir, "cpu.cfs_period_us", err, "%" PRIu64, period) < 0)
    return -1;
  if (burst_pending && cg_writef (dir, "cpu.cfs_burst_us", err, "%" PRIu64, res->cpu.burst) < 0)
    return -1;
  if (res->cpu.has_realtime_period && res->cpu.realtime_period != 0
      && cg_writef (dir, "cpu.rt_period_us", err, "%" PRIu64, res->cpu.realtime_period) < 0)
    return -1;
  if (res->cpu.has_realtime_runtime && res->cpu.realtime_runtime != 0
      && write_i64 (dir, "cpu.rt_runtime_us", res->cpu.realtime_runtime, err) < 0)
    return -1;
  if (res->cpu.has_idle && write_i64 (dir, "cpu.idle", res->cpu.idle, err) < 0)
    return -1;
  return 0;
}

int
cg_v1_cpuset (const char *dir, const struct berth_resources *res, berth_err *err)
{
  if (res->cpu.cpus != NULL && cg_write (dir, "cpuset.cpus", res->cpu.cpus, err) < 0)
    return -1;
  if (res->cpu.mems != NULL && cg_write (dir, "cpuset.mems", res->cpu.mems, err) < 0)
    return -1;
  return 0;
}

int
cg_v1_pids (const char *dir, const struct berth_resources *res, berth_err *err)
{
  if (res->pids.limit <= 0)
    return cg_write (dir, "pids.max", "max", err);
  return write_i64 (dir, "pids.max", res->pids.limit, err);
}

static int
write_devices (const char *dir, const char *file, const struct berth_throttle_device *d, size_t n, berth_err *err)
{
  for (size_t i = 0; i < n; i++)
    if (cg_writef (dir, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64, d[i].major, d[i].minor, d[i].rate) < 0)
      return -1;
  return 0;
}

int
cg_v1_blkio (const char *dir, const struct berth_resources *res, berth_err *err)
{
  /* CFQ's files, else BFQ's (kernels without CFQ). */
  bool cfq = cg_file_exists (dir, "blkio.weight") || !cg_file_exists (dir, "blkio.bfq.weight");
  const char *weight = cfq ? "blkio.weight" : "blkio.bfq.weight";
  const char *weight_device = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";

  if (res->block_io.has_weight && res->block_io.weight != 0
      && cg_writef (dir, weight, err, "%u", res->block_io.weight) < 0)
    return -1;
  if (res->block_io.has_leaf_weight && res->block_io.leaf_weight != 0
      && cg_writef (dir, "blkio.leaf_weight", err, "%u", res->block_io.leaf_weight) < 0)
    return -1;
  for (size_t i = 0; i < res->block_io.n_weight_device; i++)
    {
      const struct berth_weight_device *wd = &res->block_io.weight_device[i];

      if (wd->has_weight
          && cg_writef (dir, weight_device, err, "%" PRId64 ":%" PRId64 " %u", wd->major, wd->minor, wd->weight) < 0)
        return -1;
      if (wd->has_leaf_weight
          && cg_writef (dir, "blkio.leaf_weight_device", err, "%" PRId64 ":%" PRId64 " %u", wd->major, wd->minor,
                        wd->leaf_weight)
                 < 0)
        return -1;
    }
  if (write_devices (dir, "blkio.throttle.read_bps_device", res->block_io.throttle_read_bps,
                     res->block_io.n_throttle_read_bps, err)
          < 0
      || write_devices (dir, "blkio.throttle.write_bps_device", res->block_io.throttle_write_bps,
                        res->block_io.n_throttle_write_bps, err)
             < 0
      || write_devices (dir, "blkio.throttle.read_iops_device", res->block_io.throttle_read_iops,
                        res->block_io.n_throttle_read_iops, err)
             < 0
      || write_devices (dir, "blkio.throttle.write_iops_device", res->block_io.throttle_write_iops,
                        res->block_io.n_throttle_write_iops, err)
             < 0)
    return -1;
  return 0;
}

int
cg_v1_hugetlb (const char *dir, const struct berth_resources *res, berth_err *err)
{
  return cg_write_hugetlb (dir, res, "limit_in_bytes", err);
}

int
cg_v1_net_cls (const char *dir, const struct berth_resources *res, berth_err *err)
{
  return cg_writef (dir, "net_cls.classid", err, "%" PRIu32, res->network.class_id);
}

int
cg_v1_net_prio (const char *dir, const struct berth_resources *res, berth_err *err)
{
  for (size_t i = 0; i < res->network.n_priorities; i++)
    if (cg_writef (dir, "net_prio.ifpriomap", err, "%s %" PRIu32, res->network.priorities[i].name,
                   res->network.priorities[i].priority)
        < 0)
      return -1;
  return 0;
}

int
cg_rdma (const char *dir, const struct berth_resources *res, berth_err *err)
{
  for (size_t i = 0; i < res->n_rdma; i++)
    {
      const struct berth_rdma_limit *r = &res->rdma[i];
      char handles[16] = "max", objects[16] = "max";

      if (r->has_hca_handles)
        snprintf (handles, sizeof (handles), "%" PRIu32, r->hca_handles);
      if (r->has_hca_objects)
        snprintf (objects, sizeof (objects), "%" PRIu32, r->hca_objects);
      if (cg_writef (dir, "rdma.max", err, "%s hca_handle=%s hca_object=%s", r->device, handles, objects) < 0)
        return -1;
    }
  return 0;
}

static void
device_number (char *buf, size_t size, int64_t n)
{
  if (n < 0)
    snprintf (buf, size, "*");
  else
    snprintf (buf, size, "%" PRId64, n);
}

/* Deny everything, then apply the rules in order.  The caller lists the
 * default devices (null, zero, tty, ...) among the rules. */
int
cg_v1_devices (const char *dir, const struct berth_resources *res, berth_err *err)
{
  if (cg_write (dir, "devices.deny", "a", err) < 0)
    return -1;
  for (size_t i = 0; i < res->n_devices; i++)
    {
      const struct berth_device_rule *d = &res->devices[i];
      char major[24], minor[24];
      char type = d->type ? d->type : 'a';

      if (type != 'a' && type != 'c' && type != 'b')
        return berth_fail (err, 0, "devices[%zu]: invalid type `%c`", i, type);
      device_number (major, sizeof (major), d->major);
      device_number (minor, sizeof (minor), d->minor);
      if (cg_writef (dir, d->allow ? "devices.allow" : "devices.deny", err, "%c %s:%s %s", type, major, minor,
                     d->access && *d->access ? d->access : "rwm")
          < 0)
        return -1;
    }
  return 0;
}
