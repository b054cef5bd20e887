/* update: change the resources of a created, running or paused container.
 *
 * As runc does, the changes are merged into the container's current
 * resources and the whole result is applied (some settings depend on others:
 * memory+swap must stay >= memory, quota goes with period), devices
 * excepted.  The merged resources replace linux.resources in the state
 * dir's copy of config.json, so the next update merges with them.
 *
 * What merges is what runc's update merges; the rest of the object given is
 * ignored, as runc ignores it:
 *   memory   limit, reservation, swap, checkBeforeUpdate
 *   cpu      shares, quota, burst, period, realtimeRuntime, realtimePeriod,
 *            cpus, mems, idle
 *   blockIO  weight
 *   pids     limit
 *   unified  (replaced whole)
 * A zero (or "") means "unchanged" for the values whose writers skip zero,
 * as in runc; a memory limit of -1 without a swap value also lifts swap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/file.h"

struct merge_key
{
  const char *group;
  const char *key;
  bool zero_is_unset;
};

static const struct merge_key merge_keys[] = {
  { "memory", "limit", true },
  { "memory", "reservation", true },
  { "memory", "swap", true },
  { "memory", "checkBeforeUpdate", false },
  { "cpu", "shares", true },
  { "cpu", "quota", true },
  { "cpu", "burst", false },
  { "cpu", "period", true },
  { "cpu", "realtimeRuntime", true },
  { "cpu", "realtimePeriod", true },
  { "cpu", "cpus", true },
  { "cpu", "mems", true },
  { "cpu", "idle", false },
  { "blockIO", "weight", true },
  { "pids", "limit", true },
};

static bool
is_unset (json_t *v, bool zero_is_unset)
{
  if (v == NULL || json_is_null (v))
    return true;
  if (!zero_is_unset)
    return false;
  return (json_is_integer (v) && json_integer_value (v) == 0) || (json_is_string (v) && json_string_length (v) == 0);
}

/* Set current[group][key] = v, making the group object as needed. */
static void
set_member (json_t *current, const char *group, const char *key, json_t *v)
{
  json_t *g = json_object_get (current, group);

  if (!json_is_object (g))
    {
      g = json_object ();
      json_object_set_new (current, group, g);
    }
  json_object_set (g, key, v);
}

json_t *
berth_resources_merge (json_t *current, json_t *changes)
{
  json_t *merged = json_is_object (current) ? json_deep_copy (current) : json_object ();
  json_t *limit = json_object_get (json_object_get (changes, "memory"), "limit");
  json_t *swap = json_object_get (json_object_get (changes, "memory"), "swap");

  for (size_t i = 0; i < sizeof (merge_keys) / sizeof (merge_keys[0]); i++)
    {
      json_t *v = json_object_get (json_object_get (changes, merge_keys[i].group), merge_keys[i].key);
      if (!is_unset (v, merge_keys[i].zero_is_unset))
        set_member (merged, merge_keys[i].group, merge_keys[i].key, v);
    }
  /* v1 compatibility, as runc: "memory unlimited" lifts the swap limit too. */
  if (json_is_integer (limit) && json_integer_value (limit) == -1 && is_unset (swap, false))
    {
      json_t *unlimited = json_integer (-1);
      set_member (merged, "memory", "swap", unlimited);
      json_decref (unlimited);
    }
  if (json_is_object (json_object_get (changes, "unified")))
    json_object_set (merged, "unified", json_object_get (changes, "unified"));
  return merged;
}

/* The state dir's config.json, parsed. */
static json_t *
load_config (int dirfd, const char *id, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *doc;

  if (fd < 0)
    return berth_fail (err, errno, "open config of `%s`", id), NULL;
  doc = berth_json_load_fd (fd, "config.json", err);
  if (doc == NULL)
    return berth_wrap (err, "container `%s`", id), NULL;
  if (!json_is_object (doc))
    {
      json_decref (doc);
      return berth_fail (err, 0, "config of `%s` is corrupt: not an object", id), NULL;
    }
  return doc;
}

static int
save_config (int dirfd, json_t *doc, berth_err *err)
{
  cleanup_free char *text = json_dumps (doc, JSON_COMPACT);

  if (text == NULL)
    return berth_fail (err, ENOMEM, "encode config.json");
  return berth_write_file_atomic (dirfd, "config.json", text, strlen (text), 0600, err);
}

static bool
resctrl_mounted (void)
{
  struct stat st;
  /* runc finds resctrl in mountinfo; its info dir only exists once mounted. */
  return stat ("/sys/fs/resctrl/info", &st) == 0;
}

static int
check_intel_rdt (const struct berth_update_options *opts, berth_err *err)
{
  bool l3 = opts->l3_cache_schema != NULL && opts->l3_cache_schema[0] != '\0';
  bool mb = opts->mem_bw_schema != NULL && opts->mem_bw_schema[0] != '\0';
  struct stat st;

  if (l3 && (!resctrl_mounted () || stat ("/sys/fs/resctrl/info/L3", &st) < 0))
    return berth_fail (err, 0, "Intel RDT/CAT: l3 cache schema is not enabled");
  if (mb && (!resctrl_mounted () || stat ("/sys/fs/resctrl/info/MB", &st) < 0))
    return berth_fail (err, 0, "Intel RDT/MBA: memory bandwidth schema is not enabled");
  if (l3 || mb)
    return berth_fail (err, ENOTSUP, "Intel RDT: updating schemas");
  return 0;
}

/* Apply everything merged but the device rules (runc's SkipDevices: an
 * engine's plugin may have added device access the config does not list). */
static int
apply (const struct berth_state *st, json_t *merged, berth_err *err)
{
  struct berth_resources *res = berth_resources_parse (merged, "linux.resources", err);
  int ret;

  if (res == NULL)
    return -1;
  for (size_t i = 0; i < res->n_devices; i++)
    free (res->devices[i].access);
  free (res->devices);
  res->devices = NULL;
  res->n_devices = 0;
  ret = berth_cgroup_update (st->cgroup, res, err);
  berth_resources_free (res);
  return ret;
}

int
berth_container_update (const struct berth_context *ctx, const char *id, const struct berth_update_options *opts,
                        berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = NULL;
  struct berth_resources *check = NULL;
  json_t *doc = NULL, *merged = NULL, *linux_obj;
  int ret = -1;

  /* The changes alone must be a valid resources object. */
  if (opts->resources != NULL)
    {
      check = berth_resources_parse (opts->resources, "", err);
      if (check == NULL)
        return -1;
      berth_resources_free (check);
    }
  dirfd = berth_state_dir_open (ctx->state_root, id, true, err);
  if (dirfd < 0)
    return -1;
  st = berth_state_load (dirfd, id, err);
  if (st == NULL)
    return -1;
  if (berth_state_status (dirfd, st) == BERTH_STATUS_STOPPED)
    {
      berth_fail (err, 0, "container not running");
      goto out;
    }
  if (st->cgroup == NULL)
    {
      berth_fail (err, 0, "container %s has no cgroup", id);
      goto out;
    }
  doc = load_config (dirfd, id, err);
  if (doc == NULL)
    goto out;
  linux_obj = json_object_get (doc, "linux");
  if (!json_is_object (linux_obj))
    {
      linux_obj = json_object ();
      json_object_set_new (doc, "linux", linux_obj);
    }
  merged = berth_resources_merge (json_object_get (linux_obj, "resources"), opts->resources);
  if (check_intel_rdt (opts, err) < 0 || apply (st, merged, err) < 0)
    goto out;
  json_object_set (linux_obj, "resources", merged);
  ret = save_config (dirfd, doc, err);
out:
  json_decref (merged);
  json_decref (doc);
  berth_state_free (st);
  return ret;
}
