/* Which hierarchy applies which part of linux.resources.
 *
 * Each group of settings belongs to one controller.  A v1 hierarchy holding
 * that controller wins (hybrid hosts keep most controllers on v1); else the
 * v2 hierarchy applies it in v2 terms (on this kind of host, hugetlb may be
 * the only one there).  A setting whose controller no hierarchy has is an
 * error naming its JSON path.
 */
#include "runtime/cgroup_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cg_apply_fn) (const char *dir, const struct berth_resources *res, berth_err *err);

struct cg_ctl
{
  const char *v1;   /* controller name on v1; NULL: v1 has none */
  const char *v2;   /* controller name on v2; NULL: v2 has none */
  const char *json; /* for messages */
  bool (*wanted) (const struct berth_resources *res);
  cg_apply_fn apply_v1;
  cg_apply_fn apply_v2;
  bool v2_needs_no_controller; /* v2 applies it without a controller (devices: eBPF) */
};

static bool
want_memory (const struct berth_resources *r)
{
  return r->memory.present;
}

static bool
want_cpu (const struct berth_resources *r)
{
  return r->cpu.present
         && (r->cpu.has_shares || r->cpu.has_quota || r->cpu.has_period || r->cpu.has_burst
             || r->cpu.has_realtime_runtime || r->cpu.has_realtime_period || r->cpu.has_idle);
}

static bool
want_cpuset (const struct berth_resources *r)
{
  return r->cpu.present && (r->cpu.cpus != NULL || r->cpu.mems != NULL);
}

static bool
want_pids (const struct berth_resources *r)
{
  return r->pids.present;
}

static bool
want_blkio (const struct berth_resources *r)
{
  return r->block_io.present
         && (r->block_io.has_weight || r->block_io.has_leaf_weight || r->block_io.n_weight_device
             || r->block_io.n_throttle_read_bps || r->block_io.n_throttle_write_bps || r->block_io.n_throttle_read_iops
             || r->block_io.n_throttle_write_iops);
}

static bool
want_hugetlb (const struct berth_resources *r)
{
  return r->n_hugepage_limits > 0;
}

static bool
want_net_cls (const struct berth_resources *r)
{
  return r->network.present && r->network.has_class_id;
}

static bool
want_net_prio (const struct berth_resources *r)
{
  return r->network.present && r->network.n_priorities > 0;
}

static bool
want_rdma (const struct berth_resources *r)
{
  return r->n_rdma > 0;
}

static bool
want_devices (const struct berth_resources *r)
{
  return r->n_devices > 0;
}

static const struct cg_ctl ctls[] = {
  { "cpuset", "cpuset", "linux.resources.cpu", want_cpuset, cg_v1_cpuset, cg_v2_cpuset, false },
  { "memory", "memory", "linux.resources.memory", want_memory, cg_v1_memory, cg_v2_memory, false },
  { "cpu", "cpu", "linux.resources.cpu", want_cpu, cg_v1_cpu, cg_v2_cpu, false },
  { "pids", "pids", "linux.resources.pids", want_pids, cg_v1_pids, cg_v2_pids, false },
  { "blkio", "io", "linux.resources.blockIO", want_blkio, cg_v1_blkio, cg_v2_io, false },
  { "hugetlb", "hugetlb", "linux.resources.hugepageLimits", want_hugetlb, cg_v1_hugetlb, cg_v2_hugetlb, false },
  { "net_cls", NULL, "linux.resources.network.classID", want_net_cls, cg_v1_net_cls, NULL, false },
  { "net_prio", NULL, "linux.resources.network.priorities", want_net_prio, cg_v1_net_prio, NULL, false },
  { "rdma", "rdma", "linux.resources.rdma", want_rdma, cg_rdma, cg_rdma, false },
  { "devices", NULL, "linux.resources.devices", want_devices, cg_v1_devices, cg_v2_devices, true },
};

static int
apply_one (const struct berth_cgroup *cg, const struct cg_ctl *c, const struct berth_resources *res, berth_err *err)
{
  const struct cg_hier *h = cg_find (cg, c->v1);
  const struct cg_hier *v2 = cg_find_v2 (cg);

  if (h != NULL && h->version == 1)
    {
      if (c->apply_v1 (h->path, res, err) < 0)
        return berth_wrap (err, "%s", c->json);
      return 0;
    }
  if (v2 != NULL && c->apply_v2 != NULL && (c->v2_needs_no_controller || cg_list_has (v2->controllers, c->v2)))
    {
      if (c->apply_v2 (v2->path, res, err) < 0)
        {
          if ((*err)->errnum == ENOENT && !c->v2_needs_no_controller)
            {
              char *hint = NULL;

              if (asprintf (&hint, "is the `%s` controller enabled in the parent's cgroup.subtree_control?", c->v2) < 0)
                return -1;
              cg_hint (err, hint);
              free (hint);
            }
          return berth_wrap (err, "%s", c->json);
        }
      return 0;
    }
  return berth_fail (err, 0, "%s: no `%s` cgroup controller on this host", c->json, c->v1);
}

int
cg_apply_resources (const struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err)
{
  const struct cg_hier *v2 = cg_find_v2 (cg);

  for (size_t i = 0; i < sizeof (ctls) / sizeof (ctls[0]); i++)
    if (ctls[i].wanted (res) && apply_one (cg, &ctls[i], res, err) < 0)
      return -1;
  if (res->n_unified > 0)
    {
      if (v2 == NULL)
        return berth_fail (err, 0, "linux.resources.unified: needs a cgroup v2 hierarchy");
      if (cg_v2_unified (v2->path, res, err) < 0)
        return berth_wrap (err, "linux.resources.unified");
    }
  return 0;
}
