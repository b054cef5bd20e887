/* linux.resources and process.oomScoreAdj from LinuxContainerResources.
 * A zero means "not specified" in the CRI, so only non-zero values are
 * written (and the node's defaults apply to the rest). */
#include <string.h>

#include "cri/cri_internal.h"

#define RES "linux.resources."

/* "2MB", "1GB", "64KB": digits, an optional unit prefix, "B". */
static bool
valid_page_size (const char *s)
{
  size_t digits = strspn (s, "0123456789");

  if (digits == 0)
    return false;
  s += digits;
  if (*s && strchr ("KMGTPE", *s))
    s++;
  return strcmp (s, "B") == 0;
}

static int
oom_score_adj (struct cri_build *b, const Runtime__V1__LinuxContainerResources *r, berth_err *err)
{
  int64_t v = r->oom_score_adj;

  if (v < -1000 || v > 1000)
    return berth_fail (err, 0, CRI_CFG RES "oom_score_adj: %lld is outside -1000..1000", (long long)v);
  /* Lowering it needs CAP_SYS_RESOURCE, which berthd may lack (a
     rootless or nested node): ask for no less than berthd has itself. */
  if (b->pctx->restrict_oom_score_adj && v < b->pctx->current_oom_score_adj)
    v = b->pctx->current_oom_score_adj;
  json_object_set_new (cri_obj (b->spec, "process"), "oomScoreAdj", json_integer (v));
  return 0;
}

int
cri_step_resources (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__LinuxContainerResources *r = b->c->linux ? b->c->linux->resources : NULL;
  json_t *res, *cpu, *mem;

  if (r == NULL)
    return 0;
  if (r->cpu_period < 0)
    return berth_fail (err, 0, CRI_CFG RES "cpu_period: %lld is negative", (long long)r->cpu_period);
  if (r->cpu_shares < 0)
    return berth_fail (err, 0, CRI_CFG RES "cpu_shares: %lld is negative", (long long)r->cpu_shares);
  if (r->memory_limit_in_bytes < 0)
    return berth_fail (err, 0, CRI_CFG RES "memory_limit_in_bytes: %lld is negative",
                       (long long)r->memory_limit_in_bytes);
  if (r->memory_swap_limit_in_bytes < -1)
    return berth_fail (err, 0, CRI_CFG RES "memory_swap_limit_in_bytes: %lld is below -1 (unlimited)",
                       (long long)r->memory_swap_limit_in_bytes);
  res = cri_obj (cri_obj (b->spec, "linux"), "resources");
  cpu = json_object ();
  if (r->cpu_period)
    json_object_set_new (cpu, "period", json_integer (r->cpu_period));
  /* -1 is "no quota" to the kernel; pass it as given. */
  if (r->cpu_quota)
    json_object_set_new (cpu, "quota", json_integer (r->cpu_quota));
  if (r->cpu_shares)
    json_object_set_new (cpu, "shares", json_integer (r->cpu_shares));
  if (!cri_empty (r->cpuset_cpus))
    json_object_set_new (cpu, "cpus", json_string (r->cpuset_cpus));
  if (!cri_empty (r->cpuset_mems))
    json_object_set_new (cpu, "mems", json_string (r->cpuset_mems));
  if (json_object_size (cpu))
    json_object_set_new (res, "cpu", cpu);
  else
    json_decref (cpu);
  mem = json_object ();
  if (r->memory_limit_in_bytes)
    json_object_set_new (mem, "limit", json_integer (r->memory_limit_in_bytes));
  if (r->memory_swap_limit_in_bytes)
    json_object_set_new (mem, "swap", json_integer (r->memory_swap_limit_in_bytes));
  if (json_object_size (mem))
    json_object_set_new (res, "memory", mem);
  else
    json_decref (mem);
  if (r->n_hugepage_limits > 0)
    {
      json_t *hp = json_array ();
      json_object_set_new (res, "hugepageLimits", hp);
      for (size_t i = 0; i < r->n_hugepage_limits; i++)
        {
          const Runtime__V1__HugepageLimit *h = r->hugepage_limits[i];
          if (h == NULL || !valid_page_size (CRI_S (h->page_size)))
            return berth_fail (err, 0, CRI_CFG RES "hugepage_limits[%zu].page_size: \"%s\" is not a size such as 2MB",
                               i, h ? CRI_S (h->page_size) : "");
          if (h->limit > INT64_MAX)
            return berth_fail (err, 0, CRI_CFG RES "hugepage_limits[%zu].limit: too large", i);
          json_array_append_new (hp, json_pack ("{s:s, s:I}", "pageSize", h->page_size, "limit", (json_int_t)h->limit));
        }
    }
  if (r->n_unified > 0)
    {
      json_t *u = json_object ();
      json_object_set_new (res, "unified", u);
      for (size_t i = 0; i < r->n_unified; i++)
        {
          const char *k = r->unified[i]->key;
          /* A key names a file of the container's cgroup directory. */
          if (cri_empty (k) || strchr (k, '/') != NULL || k[0] == '.')
            return berth_fail (err, 0, CRI_CFG RES "unified[\"%s\"]: not a cgroup file name", CRI_S (k));
          json_object_set_new (u, k, json_string (CRI_S (r->unified[i]->value)));
        }
    }
  return oom_score_adj (b, r, err);
}
