/* StartContainer, StopContainer, RemoveContainer, ContainerStatus,
 * ListContainers, UpdateContainerResources, ReopenContainerLog, ExecSync,
 * ContainerStats, ListContainerStats, and the pod stop hook.
 *
 * Ids: a full id or a unique prefix.  Unknown ids: NOT_FOUND, except
 * RemoveContainer, which succeeds (the CRI asks it to be idempotent).
 */
#include "daemon/containers.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/pods.h"
#include "image/image.h"
#include "runtime/container.h"
#include "util/log.h"

#define KILL_WAIT_S 10 /* after SIGKILL: the exit file comes once the output is drained (2 s at most) */

static int
fail_lookup (struct rpc_status *st, berth_err *err)
{
  return rpc_fail_err (st, (*err)->errnum == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT, err);
}

static bool
ended (struct ctr *c)
{
  char *path = ctr_exit_path (c);
  bool e = access (path, F_OK) == 0 || !monitor_alive (&c->mon);
  free (path);
  return e;
}

/* Polls from 1 ms up to 20 ms apart: a killed container usually ends
 * within a few ms, and a fixed 20 ms step made every StopContainer cost
 * at least that. */
static bool
wait_ended (struct ctr *c, int64_t ms)
{
  int64_t step = 1;

  for (int64_t waited = 0; !ended (c); waited += step, step = step < 20 ? step * 2 : 20)
    {
      if (waited >= ms)
        return false;
      usleep ((useconds_t)step * 1000);
    }
  return true;
}

static struct berth_context
bctx (struct daemon *d)
{
  struct berth_context bc = { .state_root = d->ctrs->runtime_root };
  return bc;
}

/* The stop signal, then SIGKILL to every process at the timeout (0: at
 * once), as containerd.  A created container gets SIGKILL: it never ran. */
int
ctr_stop_locked (struct daemon *d, struct ctr *c, int64_t timeout_s, berth_err *err)
{
  struct berth_context bc = bctx (d);
  struct ctr_status s;
  berth_err e = NULL;

  ctr_status (d, c, &s);
  free (s.reason);
  if (s.state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
    {
      ctr_settle (d, c);
      return 0;
    }
  if (s.state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING && timeout_s > 0)
    {
      if (berth_container_kill (&bc, c->id, c->stop_signal, false, &e) < 0)
        berth_err_free (&e); /* it may have ended just now */
      if (wait_ended (c, timeout_s * 1000))
        return 0;
      berth_log (BERTH_LOG_INFO, "container %s: still running %lld s after signal %d: SIGKILL", c->id,
                 (long long)timeout_s, c->stop_signal);
    }
  if (berth_container_kill (&bc, c->id, SIGKILL, true, &e) < 0)
    berth_err_free (&e);
  if (!wait_ended (c, KILL_WAIT_S * 1000))
    return berth_fail (err, 0, "container %s: still running %d s after SIGKILL", c->id, KILL_WAIT_S);
  return 0;
}

static bool
is_mountpoint (const char *path)
{
  struct stat a, b;
  char *parent;
  bool r;

  if (asprintf (&parent, "%s/..", path) < 0)
    abort ();
  r = stat (path, &a) == 0 && stat (parent, &b) == 0 && a.st_dev != b.st_dev;
  free (parent);
  return r;
}

/* Everything create made, in reverse: the container (libberth's state dir
 * and cgroup), the overlay, the dir, the record, the name.  The log file
 * stays: it is the kubelet's. */
int
ctr_remove_locked (struct daemon *d, struct ctr *c, berth_err *err)
{
  struct berth_context bc = bctx (d);
  struct berth_container_info *info = NULL;
  struct berth_store *s = NULL;
  berth_err e = NULL;
  char *rootfs;

  if (c->removed)
    return 0;
  if (ctr_stop_locked (d, c, 0, err) < 0)
    return -1;
  if (berth_container_state (&bc, c->id, &info, &e) == 0)
    {
      berth_container_info_free (info);
      if (berth_container_delete (&bc, c->id, true, err) < 0)
        return berth_wrap (err, "container %s: delete", c->id);
    }
  else
    berth_err_free (&e); /* deleted already (a retry, or recovery) */
  for (int i = 0; i < 500 && monitor_alive (&c->mon); i++)
    usleep (10000);
  if (asprintf (&rootfs, "%s/rootfs", c->dir) < 0)
    abort ();
  if (is_mountpoint (rootfs))
    {
      if (berth_store_open (d->root, &s, err) < 0 || berth_image_unmount (s, rootfs, false, err) < 0)
        {
          if (s)
            berth_store_close (s);
          free (rootfs);
          return berth_wrap (err, "container %s: unmount its rootfs", c->id);
        }
      berth_store_close (s);
    }
  free (rootfs);
  if (ctr_rm_tree (c->dir, err) < 0 || record_remove (&d->ctrs->records, c->id, err) < 0)
    return berth_wrap (err, "container %s", c->id);
  record_release_name (&d->ctrs->records, c->name, c->id);
  c->removed = true;
  ctr_table_del (d, c);
  berth_log (BERTH_LOG_INFO, "container %s removed", c->id);
  return 0;
}

/* ---- Start, Stop, Remove ---- */

static int
handle_start (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__StartContainerRequest *in = (const Runtime__V1__StartContainerRequest *)req;
  Runtime__V1__StartContainerResponse *r;
  berth_err err = NULL;
  struct ctr *c;
  struct ctr_status s;
  int ret = 0;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  pthread_mutex_lock (&c->mu);
  ctr_status (d, c, &s);
  free (s.reason);
  if (c->removed || s.state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED)
    ret = rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "container %s is not in created state", c->id);
  else
    {
      struct berth_context bc = bctx (d);
      /* started_at on disk first: a crash after start must not show CREATED. */
      c->started_at = ctr_now_ns ();
      if (ctr_save (d, c, &err) < 0 || berth_container_start (&bc, c->id, &err) < 0)
        {
          berth_err e = NULL;
          c->started_at = 0;
          if (ctr_save (d, c, &e) < 0)
            berth_err_free (&e);
          ret = rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
        }
    }
  pthread_mutex_unlock (&c->mu);
  ctr_put (d, c);
  if (ret < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__start_container_response__init (r);
  *resp = &r->base;
  return 0;
}

static int
handle_stop (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__StopContainerRequest *in = (const Runtime__V1__StopContainerRequest *)req;
  Runtime__V1__StopContainerResponse *r;
  berth_err err = NULL;
  struct ctr *c;
  int ret = 0;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if (in->timeout < 0)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "timeout: must not be negative");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  pthread_mutex_lock (&c->mu);
  if (!c->removed && ctr_stop_locked (d, c, in->timeout, &err) < 0)
    ret = rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
  pthread_mutex_unlock (&c->mu);
  ctr_put (d, c);
  if (ret < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__stop_container_response__init (r);
  *resp = &r->base;
  return 0;
}

static int
handle_remove (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__RemoveContainerRequest *in = (const Runtime__V1__RemoveContainerRequest *)req;
  Runtime__V1__RemoveContainerResponse *r;
  berth_err err = NULL;
  struct ctr *c;
  int ret = 0;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  c = ctr_get (d, in->container_id, &err);
  if (c == NULL && err->errnum != ENOENT)
    return fail_lookup (st, &err);
  berth_err_free (&err);
  if (c)
    {
      pthread_mutex_lock (&c->mu);
      if (ctr_remove_locked (d, c, &err) < 0)
        ret = rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
      pthread_mutex_unlock (&c->mu);
      ctr_put (d, c);
    }
  if (ret < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__remove_container_response__init (r);
  *resp = &r->base;
  return 0;
}

/* ---- Status and List ---- */

static Runtime__V1__ContainerMetadata *
metadata (const struct ctr *c)
{
  Runtime__V1__ContainerMetadata *m = malloc (sizeof (*m));
  runtime__v1__container_metadata__init (m);
  m->name = pb_str (c->meta_name);
  m->attempt = c->meta_attempt;
  return m;
}

static Runtime__V1__ImageSpec *
image_spec (const struct ctr *c)
{
  Runtime__V1__ImageSpec *i = malloc (sizeof (*i));
  runtime__v1__image_spec__init (i);
  i->image = pb_str (c->image);
  return i;
}

static Runtime__V1__ContainerStatus *
container_status (struct daemon *d, struct ctr *c)
{
  Runtime__V1__ContainerStatus *s = malloc (sizeof (*s));
  struct ctr_status cs;
  size_t i;
  json_t *m;

  ctr_status (d, c, &cs);
  runtime__v1__container_status__init (s);
  s->id = pb_str (c->id);
  s->metadata = metadata (c);
  s->state = cs.state;
  s->created_at = c->created_at;
  s->started_at = c->started_at;
  if (cs.state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
    {
      s->finished_at = cs.finished_at;
      s->exit_code = cs.exit_code;
      s->reason = pb_str (cs.reason);
    }
  free (cs.reason);
  s->image = image_spec (c);
  s->image_ref = pb_str (c->image_id);
  s->image_id = pb_str (c->image_id);
  s->log_path = pb_str (c->log_path);
  FILL_MAP (c->labels, s->n_labels, s->labels, Runtime__V1__ContainerStatus__LabelsEntry,
            runtime__v1__container_status__labels_entry__init);
  FILL_MAP (c->annotations, s->n_annotations, s->annotations, Runtime__V1__ContainerStatus__AnnotationsEntry,
            runtime__v1__container_status__annotations_entry__init);
  s->n_mounts = json_array_size (c->mounts);
  s->mounts = s->n_mounts ? malloc (s->n_mounts * sizeof (*s->mounts)) : NULL;
  json_array_foreach (c->mounts, i, m)
  {
    Runtime__V1__Mount *pm = malloc (sizeof (*pm));
    runtime__v1__mount__init (pm);
    pm->container_path = pb_str (json_string_value (json_object_get (m, "container_path")));
    pm->host_path = pb_str (json_string_value (json_object_get (m, "host_path")));
    pm->readonly = json_is_true (json_object_get (m, "readonly"));
    pm->selinux_relabel = json_is_true (json_object_get (m, "selinux_relabel"));
    pm->propagation = json_integer_value (json_object_get (m, "propagation"));
    s->mounts[i] = pm;
  }
  return s;
}

static char *
verbose_info (struct daemon *d, struct ctr *c)
{
  json_t *doc = ctr_to_json (c);
  struct berth_context bc = bctx (d);
  struct berth_container_info *info = NULL;
  berth_err e = NULL;
  char *out;

  json_object_set_new (doc, "monitor_alive", json_boolean (monitor_alive (&c->mon)));
  if (berth_container_state (&bc, c->id, &info, &e) == 0)
    {
      json_object_set_new (doc, "runtime_state", berth_container_info_to_json (info));
      berth_container_info_free (info);
    }
  else
    berth_err_free (&e);
  out = json_dumps (doc, JSON_COMPACT);
  json_decref (doc);
  return out;
}

static int
handle_status (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ContainerStatusRequest *in = (const Runtime__V1__ContainerStatusRequest *)req;
  Runtime__V1__ContainerStatusResponse *r;
  berth_err err = NULL;
  struct ctr *c;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  r = malloc (sizeof (*r));
  runtime__v1__container_status_response__init (r);
  pthread_mutex_lock (&c->mu);
  r->status = container_status (d, c);
  if (in->verbose)
    {
      Runtime__V1__ContainerStatusResponse__InfoEntry *e = malloc (sizeof (*e));
      runtime__v1__container_status_response__info_entry__init (e);
      e->key = xstrdup ("info");
      e->value = verbose_info (d, c);
      r->n_info = 1;
      r->info = malloc (sizeof (*r->info));
      r->info[0] = e;
    }
  pthread_mutex_unlock (&c->mu);
  ctr_put (d, c);
  *resp = &r->base;
  return 0;
}

static bool
matches (struct daemon *d, struct ctr *c, const Runtime__V1__ContainerFilter *f, Runtime__V1__ContainerState *state)
{
  struct ctr_status s;

  ctr_status (d, c, &s);
  free (s.reason);
  *state = s.state;
  if (f == NULL)
    return true;
  if (f->id && f->id[0] && strncmp (c->id, f->id, strlen (f->id)) != 0)
    return false;
  if (f->pod_sandbox_id && f->pod_sandbox_id[0] && strncmp (c->pod_id, f->pod_sandbox_id, strlen (f->pod_sandbox_id)))
    return false;
  if (f->state && f->state->state != s.state)
    return false;
  for (size_t i = 0; i < f->n_label_selector; i++)
    {
      const char *v = json_string_value (json_object_get (c->labels, f->label_selector[i]->key));
      if (v == NULL || strcmp (v, f->label_selector[i]->value ?: "") != 0)
        return false;
    }
  return true;
}

static int
handle_list (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ListContainersRequest *in = (const Runtime__V1__ListContainersRequest *)req;
  Runtime__V1__ListContainersResponse *r;
  size_t n;
  struct ctr **all = ctr_all (d, NULL, &n);

  (void)st;
  r = malloc (sizeof (*r));
  runtime__v1__list_containers_response__init (r);
  r->containers = n ? malloc (n * sizeof (*r->containers)) : NULL;
  for (size_t i = 0; i < n; i++)
    {
      Runtime__V1__ContainerState state;
      struct ctr *c = all[i];

      if (!c->removed && matches (d, c, in->filter, &state))
        {
          Runtime__V1__Container *it = malloc (sizeof (*it));
          runtime__v1__container__init (it);
          it->id = pb_str (c->id);
          it->pod_sandbox_id = pb_str (c->pod_id);
          it->metadata = metadata (c);
          it->image = image_spec (c);
          it->image_ref = pb_str (c->image_id);
          it->image_id = pb_str (c->image_id);
          it->state = state;
          it->created_at = c->created_at;
          FILL_MAP (c->labels, it->n_labels, it->labels, Runtime__V1__Container__LabelsEntry,
                    runtime__v1__container__labels_entry__init);
          FILL_MAP (c->annotations, it->n_annotations, it->annotations, Runtime__V1__Container__AnnotationsEntry,
                    runtime__v1__container__annotations_entry__init);
          r->containers[r->n_containers++] = it;
        }
      ctr_put (d, c);
    }
  free (all);
  *resp = &r->base;
  return 0;
}

/* ---- ContainerStats, ListContainerStats ---- */

/* The cgroup dir of `pid` for `controller`: v1 (a hierarchy whose
 * controller list holds it, under /sys/fs/cgroup/<list>), else v2 ("0::",
 * under /sys/fs/cgroup or, on a hybrid host, /sys/fs/cgroup/unified).
 * malloc'd, or NULL. */
static char *
cgroup_dir (pid_t pid, const char *controller, bool *v2)
{
  char path[64], line[4096], *out = NULL, *unified = NULL;
  FILE *f;

  snprintf (path, sizeof (path), "/proc/%d/cgroup", (int)pid);
  if ((f = fopen (path, "re")) == NULL)
    return NULL;
  while (out == NULL && fgets (line, sizeof (line), f))
    {
      char *ctrls = strchr (line, ':'), *cg;
      if (ctrls == NULL || (cg = strchr (++ctrls, ':')) == NULL)
        continue;
      *cg++ = '\0';
      cg[strcspn (cg, "\n")] = '\0';
      if (*ctrls == '\0')
        {
          free (unified);
          if (asprintf (&unified, "%s%s",
                        access ("/sys/fs/cgroup/unified", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup", cg)
              < 0)
            unified = NULL;
          continue;
        }
      {
        char copy[256], *save = NULL;
        snprintf (copy, sizeof (copy), "%s", ctrls);
        for (char *t = strtok_r (copy, ",", &save); t && out == NULL; t = strtok_r (NULL, ",", &save))
          if (strcmp (t, controller) == 0 && asprintf (&out, "/sys/fs/cgroup/%s%s", ctrls, cg) < 0)
            out = NULL;
      }
    }
  fclose (f);
  *v2 = out == NULL && unified != NULL;
  if (out == NULL)
    return unified;
  free (unified);
  return out;
}

/* The first number in <dir>/<file>, or after "<key> " in it. */
static bool
read_u64 (const char *dir, const char *file, const char *key, uint64_t *v)
{
  char path[4096], line[256];
  size_t klen = key ? strlen (key) : 0;
  bool ok = false;
  FILE *f;

  snprintf (path, sizeof (path), "%s/%s", dir, file);
  if ((f = fopen (path, "re")) == NULL)
    return false;
  while (!ok && fgets (line, sizeof (line), f))
    if (key == NULL || (strncmp (line, key, klen) == 0 && line[klen] == ' '))
      ok = sscanf (line + (key ? klen + 1 : 0), "%" SCNu64, v) == 1;
  fclose (f);
  return ok;
}

static Runtime__V1__UInt64Value *
u64 (uint64_t v)
{
  Runtime__V1__UInt64Value *x = malloc (sizeof (*x));
  runtime__v1__uint64_value__init (x);
  x->value = v;
  return x;
}

/* Stats from the cgroup of the container's init: cpu usage (cpuacct.usage,
 * or usage_usec of cpu.stat) and memory (usage, working set = usage less
 * inactive file pages, as the kubelet counts it; rss).  A container with
 * no process (exited) has attributes only.  Called with c->mu held. */
static Runtime__V1__ContainerStats *
container_stats (struct daemon *d, struct ctr *c)
{
  Runtime__V1__ContainerStats *s = malloc (sizeof (*s));
  Runtime__V1__ContainerAttributes *a = malloc (sizeof (*a));
  struct ctr_status st;
  char *dir;
  bool v2 = false;
  uint64_t v, inactive = 0;

  runtime__v1__container_stats__init (s);
  runtime__v1__container_attributes__init (a);
  a->id = pb_str (c->id);
  a->metadata = metadata (c);
  FILL_MAP (c->labels, a->n_labels, a->labels, Runtime__V1__ContainerAttributes__LabelsEntry,
            runtime__v1__container_attributes__labels_entry__init);
  FILL_MAP (c->annotations, a->n_annotations, a->annotations, Runtime__V1__ContainerAttributes__AnnotationsEntry,
            runtime__v1__container_attributes__annotations_entry__init);
  s->attributes = a;
  ctr_status (d, c, &st);
  free (st.reason);
  if (st.state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED || c->mon.init_pid <= 0)
    return s;
  if ((dir = cgroup_dir (c->mon.init_pid, "cpuacct", &v2)) != NULL)
    {
      bool ok = v2 ? read_u64 (dir, "cpu.stat", "usage_usec", &v) : read_u64 (dir, "cpuacct.usage", NULL, &v);
      if (ok)
        {
          s->cpu = malloc (sizeof (*s->cpu));
          runtime__v1__cpu_usage__init (s->cpu);
          s->cpu->timestamp = ctr_now_ns ();
          s->cpu->usage_core_nano_seconds = u64 (v2 ? v * 1000 : v);
        }
      free (dir);
    }
  if ((dir = cgroup_dir (c->mon.init_pid, "memory", &v2)) != NULL)
    {
      if (read_u64 (dir, v2 ? "memory.current" : "memory.usage_in_bytes", NULL, &v))
        {
          uint64_t rss;
          read_u64 (dir, "memory.stat", v2 ? "inactive_file" : "total_inactive_file", &inactive);
          s->memory = malloc (sizeof (*s->memory));
          runtime__v1__memory_usage__init (s->memory);
          s->memory->timestamp = ctr_now_ns ();
          s->memory->usage_bytes = u64 (v);
          s->memory->working_set_bytes = u64 (v > inactive ? v - inactive : 0);
          if (read_u64 (dir, "memory.stat", v2 ? "anon" : "total_rss", &rss))
            s->memory->rss_bytes = u64 (rss);
        }
      free (dir);
    }
  return s;
}

static int
handle_stats (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ContainerStatsRequest *in = (const Runtime__V1__ContainerStatsRequest *)req;
  Runtime__V1__ContainerStatsResponse *r;
  berth_err err = NULL;
  struct ctr *c;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  r = malloc (sizeof (*r));
  runtime__v1__container_stats_response__init (r);
  pthread_mutex_lock (&c->mu);
  r->stats = container_stats (d, c);
  pthread_mutex_unlock (&c->mu);
  ctr_put (d, c);
  *resp = &r->base;
  return 0;
}

static int
handle_list_stats (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ListContainerStatsRequest *in = (const Runtime__V1__ListContainerStatsRequest *)req;
  const Runtime__V1__ContainerStatsFilter *f = in->filter;
  Runtime__V1__ListContainerStatsResponse *r;
  size_t n;
  struct ctr **all = ctr_all (d, NULL, &n);

  (void)st;
  r = malloc (sizeof (*r));
  runtime__v1__list_container_stats_response__init (r);
  r->stats = n ? malloc (n * sizeof (*r->stats)) : NULL;
  for (size_t i = 0; i < n; i++)
    {
      struct ctr *c = all[i];
      bool want = !c->removed;

      if (want && f && f->id && f->id[0] && strncmp (c->id, f->id, strlen (f->id)) != 0)
        want = false;
      if (want && f && f->pod_sandbox_id && f->pod_sandbox_id[0]
          && strncmp (c->pod_id, f->pod_sandbox_id, strlen (f->pod_sandbox_id)) != 0)
        want = false;
      for (size_t j = 0; want && f && j < f->n_label_selector; j++)
        {
          const char *v = json_string_value (json_object_get (c->labels, f->label_selector[j]->key));
          want = v != NULL && strcmp (v, f->label_selector[j]->value ?: "") == 0;
        }
      if (want)
        {
          pthread_mutex_lock (&c->mu);
          if (!c->removed)
            r->stats[r->n_stats++] = container_stats (d, c);
          pthread_mutex_unlock (&c->mu);
        }
      ctr_put (d, c);
    }
  free (all);
  *resp = &r->base;
  return 0;
}

/* ---- Update, Reopen, ExecSync ---- */

/* CRI's LinuxContainerResources as an OCI linux.resources object; zero
 * fields mean "unchanged" (libberth merges). */
static json_t *
resources_json (const Runtime__V1__LinuxContainerResources *l)
{
  json_t *res = json_object (), *cpu = json_object (), *mem = json_object ();

  if (l->cpu_shares)
    json_object_set_new (cpu, "shares", json_integer (l->cpu_shares));
  if (l->cpu_quota)
    json_object_set_new (cpu, "quota", json_integer (l->cpu_quota));
  if (l->cpu_period)
    json_object_set_new (cpu, "period", json_integer (l->cpu_period));
  if (l->cpuset_cpus && l->cpuset_cpus[0])
    json_object_set_new (cpu, "cpus", json_string (l->cpuset_cpus));
  if (l->cpuset_mems && l->cpuset_mems[0])
    json_object_set_new (cpu, "mems", json_string (l->cpuset_mems));
  if (l->memory_limit_in_bytes)
    json_object_set_new (mem, "limit", json_integer (l->memory_limit_in_bytes));
  if (l->memory_swap_limit_in_bytes)
    json_object_set_new (mem, "swap", json_integer (l->memory_swap_limit_in_bytes));
  if (json_object_size (cpu))
    json_object_set (res, "cpu", cpu);
  if (json_object_size (mem))
    json_object_set (res, "memory", mem);
  json_decref (cpu);
  json_decref (mem);
  if (l->n_hugepage_limits)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < l->n_hugepage_limits; i++)
        json_array_append_new (a, json_pack ("{s:s, s:I}", "pageSize", l->hugepage_limits[i]->page_size ?: "", "limit",
                                             (json_int_t)l->hugepage_limits[i]->limit));
      json_object_set_new (res, "hugepageLimits", a);
    }
  if (l->n_unified)
    {
      json_t *u = json_object ();
      for (size_t i = 0; i < l->n_unified; i++)
        json_object_set_new (u, l->unified[i]->key ?: "", json_string (l->unified[i]->value ?: ""));
      json_object_set_new (res, "unified", u);
    }
  return res;
}

static int
handle_update (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__UpdateContainerResourcesRequest *in = (const Runtime__V1__UpdateContainerResourcesRequest *)req;
  Runtime__V1__UpdateContainerResourcesResponse *r;
  struct berth_update_options uo = { 0 };
  berth_err err = NULL;
  struct ctr *c;
  int ret = 0;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if (in->linux && (in->linux->memory_limit_in_bytes < 0 || in->linux->cpu_shares < 0))
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                     "linux: memory_limit_in_bytes and cpu_shares must not be negative");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  pthread_mutex_lock (&c->mu);
  if (in->linux)
    {
      struct berth_context bc = bctx (d);
      uo.resources = resources_json (in->linux);
      if (berth_container_update (&bc, c->id, &uo, &err) < 0)
        ret = rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
      json_decref (uo.resources);
    }
  pthread_mutex_unlock (&c->mu);
  ctr_put (d, c);
  if (ret < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__update_container_resources_response__init (r);
  *resp = &r->base;
  return 0;
}

static int
handle_reopen (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ReopenContainerLogRequest *in = (const Runtime__V1__ReopenContainerLogRequest *)req;
  Runtime__V1__ReopenContainerLogResponse *r;
  berth_err err = NULL;
  struct ctr *c;
  int ret = 0;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  if (c->log_path[0] == '\0')
    ret = rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "container %s has no log path", c->id);
  /* By its exit record, not only its monitor: the monitor outlives the
     container by the moments it takes to write that record. */
  else if (ended (c))
    ret = rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "container %s is not running", c->id);
  else if (monitor_reopen_log (&c->mon, c->log_path, &err) < 0)
    ret = rpc_fail_err (st, GRPC_STATUS_FAILED_PRECONDITION, &err);
  ctr_put (d, c);
  if (ret < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__reopen_container_log_response__init (r);
  *resp = &r->base;
  return 0;
}

static int
handle_exec_sync (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ExecSyncRequest *in = (const Runtime__V1__ExecSyncRequest *)req;
  Runtime__V1__ExecSyncResponse *r;
  struct monitor_exec_opts eo = { 0 };
  struct monitor_exec_result res = { 0 };
  struct ctr_status s;
  berth_err err = NULL;
  struct ctr *c;
  char **argv;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if (in->n_cmd == 0 || in->cmd[0][0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "cmd: required");
  if (in->timeout < 0)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "timeout: must not be negative");
  if ((c = ctr_get (d, in->container_id, &err)) == NULL)
    return fail_lookup (st, &err);
  ctr_status (d, c, &s);
  free (s.reason);
  if (s.state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING)
    {
      ctr_put (d, c);
      return rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "container %s is not running", in->container_id);
    }
  argv = calloc (in->n_cmd + 1, sizeof (*argv));
  memcpy (argv, in->cmd, in->n_cmd * sizeof (*argv));
  eo.state_root = d->ctrs->runtime_root;
  eo.id = c->id;
  eo.argv = argv;
  eo.timeout_s = in->timeout > 0 ? (unsigned)in->timeout : 0;
  int ret = monitor_exec_sync (&eo, &res, &err);
  free (argv);
  ctr_put (d, c);
  if (ret < 0)
    return rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
  r = malloc (sizeof (*r));
  runtime__v1__exec_sync_response__init (r);
  r->exit_code = res.exit_code;
  /* The buffers move into the message (freed with it). */
  r->stdout.data = (uint8_t *)res.out;
  r->stdout.len = res.out_len;
  r->stderr.data = (uint8_t *)res.err;
  r->stderr.len = res.err_len;
  res.out = res.err = NULL;
  monitor_exec_result_clear (&res);
  if (r->stdout.len == 0)
    {
      free (r->stdout.data);
      r->stdout.data = NULL;
    }
  if (r->stderr.len == 0)
    {
      free (r->stderr.data);
      r->stderr.data = NULL;
    }
  *resp = &r->base;
  return 0;
}

/* ---- the pod's stop hook ---- */

/* StopPodSandbox: every container of the pod killed at once (the kubelet
 * stopped them gracefully before, as containerd assumes); Remove also
 * removes them.  Under the pod's lock. */
static int
stop_hook (struct daemon *d, const char *pod_id, bool remove, berth_err *err)
{
  size_t n;
  struct ctr **all = ctr_all (d, pod_id, &n);
  int ret = 0;

  for (size_t i = 0; i < n; i++)
    {
      pthread_mutex_lock (&all[i]->mu);
      if (ret == 0 && !all[i]->removed)
        ret = remove ? ctr_remove_locked (d, all[i], err) : ctr_stop_locked (d, all[i], 0, err);
      pthread_mutex_unlock (&all[i]->mu);
      ctr_put (d, all[i]);
    }
  free (all);
  return ret;
}

/* Registered before main() runs: a StopPodSandbox may come before any
 * container call (ctr_all then loads the table). */
__attribute__ ((constructor)) static void
register_hook (void)
{
  pods_register_stop_hook (stop_hook);
}

const struct rpc_handler container_service_handlers[] = {
  { "StartContainer", handle_start },
  { "StopContainer", handle_stop },
  { "RemoveContainer", handle_remove },
  { "ContainerStatus", handle_status },
  { "ListContainers", handle_list },
  { "UpdateContainerResources", handle_update },
  { "ReopenContainerLog", handle_reopen },
  { "ExecSync", handle_exec_sync },
  { "ContainerStats", handle_stats },
  { "ListContainerStats", handle_list_stats },
  { NULL, NULL },
};
