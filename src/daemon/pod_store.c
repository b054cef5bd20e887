/* The pod table: pods in memory, their records on disk, lookup by id or
 * prefix, the container half's hook, and recovery at start-up.
 *
 * Locking: the table lock guards the array, `refs` and nothing else; each
 * pod's own lock guards its fields.  pod_get takes a reference under the
 * table lock, so a pod stays allocated while a call uses it even if another
 * call removes it (that call sets `removed`, which the first then sees).
 */
#include "daemon/pod_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/log.h"

static pods_stop_hook_fn stop_hook;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;

void
pods_register_stop_hook (pods_stop_hook_fn fn)
{
  pthread_mutex_lock (&hook_mu);
  stop_hook = fn;
  pthread_mutex_unlock (&hook_mu);
}

pods_stop_hook_fn
pods_stop_hook (void)
{
  pods_stop_hook_fn fn;

  pthread_mutex_lock (&hook_mu);
  fn = stop_hook;
  pthread_mutex_unlock (&hook_mu);
  return fn;
}

const char *
pod_state_name (enum pod_state s)
{
  return s == POD_READY ? "ready" : s == POD_NOTREADY ? "notready" : "creating";
}

static enum pod_state
pod_state_from_name (const char *s)
{
  if (s && strcmp (s, "ready") == 0)
    return POD_READY;
  if (s && strcmp (s, "notready") == 0)
    return POD_NOTREADY;
  return POD_CREATING;
}

struct pod *
pod_new (void)
{
  struct pod *p = calloc (1, sizeof (*p));

  if (p == NULL)
    abort ();
  pthread_mutex_init (&p->mu, NULL);
  p->labels = json_object ();
  p->annotations = json_object ();
  p->extra_ips = json_array ();
  p->ports = json_array ();
  return p;
}

void
pod_free (struct pod *p)
{
  if (p == NULL)
    return;
  free (p->name);
  free (p->meta_name);
  free (p->meta_namespace);
  free (p->meta_uid);
  json_decref (p->labels);
  json_decref (p->annotations);
  free (p->runtime_handler);
  free (p->hostname);
  free (p->log_directory);
  free (p->cgroup_parent);
  free (p->pod_dir);
  free (p->ns_dir);
  free (p->netns);
  free (p->ipcns);
  free (p->utsns);
  free (p->shm);
  net_pause_free (&p->pause);
  berth_cgroup_free (p->cgroup);
  free (p->ip);
  json_decref (p->extra_ips);
  json_decref (p->ports);
  pthread_mutex_destroy (&p->mu);
  free (p);
}

/* ---- the record form ----------------------------------------------------- */

json_t *
pod_to_json (const struct pod *p)
{
  json_t *o = json_pack ("{s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:I}, s:O, s:O, s:s, s:s, s:s, s:s, s:b,"
                         " s:{s:i, s:i, s:i}, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:s, s:O, s:O}",
                         "id", p->id, "name", p->name, "state", pod_state_name (p->state), "created_at",
                         (json_int_t)p->created_at, "metadata", "name", p->meta_name, "namespace", p->meta_namespace,
                         "uid", p->meta_uid, "attempt", (json_int_t)p->meta_attempt, "labels", p->labels, "annotations",
                         p->annotations, "runtime_handler", p->runtime_handler, "hostname", p->hostname,
                         "log_directory", p->log_directory, "cgroup_parent", p->cgroup_parent, "privileged",
                         p->privileged, "namespace_options", "network", (int)p->net_mode, "pid", (int)p->pid_mode,
                         "ipc", (int)p->ipc_mode, "pod_dir", p->pod_dir, "ns_dir", p->ns_dir, "netns", p->netns,
                         "ipcns", p->ipcns, "utsns", p->utsns, "shm", p->shm, "cni", p->cni, "ip", p->ip ? p->ip : "",
                         "additional_ips", p->extra_ips, "port_mappings", p->ports);

  if (o == NULL)
    abort ();
  if (p->has_pause)
    json_object_set_new (
        o, "pause", json_pack ("{s:i, s:I}", "pid", (int)p->pause.pid, "start_time", (json_int_t)p->pause.start_time));
  if (p->cgroup)
    json_object_set_new (o, "cgroup", berth_cgroup_to_json (p->cgroup));
  return o;
}

static char *
json_str_dup (json_t *o, const char *key)
{
  const char *s = json_string_value (json_object_get (o, key));
  return s ? strdup (s) : NULL;
}

static char *
json_str_dup0 (json_t *o, const char *key)
{
  char *s = json_str_dup (o, key);
  return s ? s : strdup ("");
}

struct pod *
pod_from_json (const char *id, json_t *doc, berth_err *err)
{
  struct pod *p = pod_new ();
  json_t *meta = json_object_get (doc, "metadata"), *nso = json_object_get (doc, "namespace_options"), *v;

  snprintf (p->id, sizeof (p->id), "%s", id);
  p->name = json_str_dup (doc, "name");
  p->pod_dir = json_str_dup (doc, "pod_dir");
  p->ns_dir = json_str_dup (doc, "ns_dir");
  if (p->name == NULL || p->pod_dir == NULL || p->ns_dir == NULL || !json_is_object (meta))
    {
      pod_free (p);
      berth_fail (err, 0, "pod record %s: name, pod_dir, ns_dir or metadata missing", id);
      return NULL;
    }
  p->state = pod_state_from_name (json_string_value (json_object_get (doc, "state")));
  p->created_at = json_integer_value (json_object_get (doc, "created_at"));
  p->meta_name = json_str_dup0 (meta, "name");
  p->meta_namespace = json_str_dup0 (meta, "namespace");
  p->meta_uid = json_str_dup0 (meta, "uid");
  p->meta_attempt = (uint32_t)json_integer_value (json_object_get (meta, "attempt"));
  if (json_is_object (v = json_object_get (doc, "labels")))
    json_object_update (p->labels, v);
  if (json_is_object (v = json_object_get (doc, "annotations")))
    json_object_update (p->annotations, v);
  p->runtime_handler = json_str_dup0 (doc, "runtime_handler");
  p->hostname = json_str_dup0 (doc, "hostname");
  p->log_directory = json_str_dup0 (doc, "log_directory");
  p->cgroup_parent = json_str_dup0 (doc, "cgroup_parent");
  p->privileged = json_is_true (json_object_get (doc, "privileged"));
  p->net_mode = json_integer_value (json_object_get (nso, "network"));
  p->pid_mode = json_integer_value (json_object_get (nso, "pid"));
  p->ipc_mode = json_integer_value (json_object_get (nso, "ipc"));
  p->netns = json_str_dup (doc, "netns");
  p->ipcns = json_str_dup (doc, "ipcns");
  p->utsns = json_str_dup (doc, "utsns");
  p->shm = json_str_dup (doc, "shm");
  p->cni = json_is_true (json_object_get (doc, "cni"));
  p->ip = json_str_dup0 (doc, "ip");
  if (json_is_array (v = json_object_get (doc, "additional_ips")))
    json_array_extend (p->extra_ips, v);
  if (json_is_array (v = json_object_get (doc, "port_mappings")))
    json_array_extend (p->ports, v);
  if (json_is_object (v = json_object_get (doc, "pause")))
    {
      p->has_pause = true;
      p->pause.pid = (pid_t)json_integer_value (json_object_get (v, "pid"));
      p->pause.start_time = (unsigned long long)json_integer_value (json_object_get (v, "start_time"));
      if (asprintf (&p->pause.pidns_path, "/proc/%d/ns/pid", (int)p->pause.pid) < 0)
        abort ();
    }
  if ((v = json_object_get (doc, "cgroup")) != NULL && !json_is_null (v))
    {
      p->cgroup = berth_cgroup_from_json (v, err);
      if (p->cgroup == NULL)
        {
          berth_wrap (err, "pod record %s: cgroup", id);
          pod_free (p);
          return NULL;
        }
    }
  return p;
}

int
pod_save (struct daemon *d, struct pod *p, berth_err *err)
{
  json_t *doc = pod_to_json (p);
  int ret = record_write (&d->pods->records, p->id, doc, err);

  json_decref (doc);
  return ret;
}

/* ---- the table ------------------------------------------------------------ */

void
pod_table_add (struct daemon *d, struct pod *p)
{
  struct pod_table *t = d->pods;

  pthread_mutex_lock (&t->mu);
  if (t->n == t->cap)
    {
      t->cap = t->cap ? 2 * t->cap : 16;
      t->pods = realloc (t->pods, t->cap * sizeof (*t->pods));
      if (t->pods == NULL)
        abort ();
    }
  p->refs++; /* the table's own */
  t->pods[t->n++] = p;
  pthread_mutex_unlock (&t->mu);
}

struct pod *
pod_get (struct daemon *d, const char *id, berth_err *err)
{
  struct pod_table *t = d->pods;
  struct pod *found = NULL;
  size_t len = id ? strlen (id) : 0;
  int matches = 0;

  if (!record_id_valid (id))
    {
      berth_fail (err, 0, "\"%s\" is not a pod sandbox id (1 to 64 lower-case hex characters)", id ? id : "");
      (*err)->errnum = EINVAL;
      return NULL;
    }
  pthread_mutex_lock (&t->mu);
  for (size_t i = 0; i < t->n; i++)
    if (strncmp (t->pods[i]->id, id, len) == 0)
      {
        matches++;
        found = t->pods[i];
        if (len == RECORD_ID_LEN)
          break;
      }
  if (matches == 1)
    found->refs++;
  pthread_mutex_unlock (&t->mu);
  if (matches == 1)
    return found;
  if (matches == 0)
    berth_fail (err, 0, "pod sandbox \"%s\" not found", id);
  else
    berth_fail (err, 0, "pod sandbox id prefix \"%s\" is ambiguous: %d pods match", id, matches);
  /* errnum tells the kind; the message needs no strerror. */
  (*err)->errnum = matches == 0 ? ENOENT : EINVAL;
  return NULL;
}

void
pod_put (struct daemon *d, struct pod *p)
{
  bool last;

  pthread_mutex_lock (&d->pods->mu);
  last = --p->refs == 0;
  pthread_mutex_unlock (&d->pods->mu);
  if (last)
    pod_free (p);
}

void
pod_table_drop (struct daemon *d, struct pod *p)
{
  struct pod_table *t = d->pods;
  bool last = false;

  pthread_mutex_lock (&t->mu);
  for (size_t i = 0; i < t->n; i++)
    if (t->pods[i] == p)
      {
        t->pods[i] = t->pods[--t->n];
        last = --p->refs == 0;
        break;
      }
  pthread_mutex_unlock (&t->mu);
  if (last)
    pod_free (p);
}

struct pod **
pod_table_all (struct daemon *d, size_t *n)
{
  struct pod_table *t = d->pods;
  struct pod **out;

  pthread_mutex_lock (&t->mu);
  out = malloc ((t->n + 1) * sizeof (*out));
  if (out == NULL)
    abort ();
  for (size_t i = 0; i < t->n; i++)
    {
      out[i] = t->pods[i];
      out[i]->refs++;
    }
  *n = t->n;
  pthread_mutex_unlock (&t->mu);
  return out;
}

/* ---- pods.h ----------------------------------------------------------------- */

static char *
dup_or_null (const char *s)
{
  char *r;

  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

void
pod_fill_info (const struct pod *p, struct pod_info *o)
{
  memset (o, 0, sizeof (*o));
  snprintf (o->id, sizeof (o->id), "%s", p->id);
  o->name = dup_or_null (p->name);
  o->meta_name = dup_or_null (p->meta_name);
  o->meta_namespace = dup_or_null (p->meta_namespace);
  o->meta_uid = dup_or_null (p->meta_uid);
  o->meta_attempt = p->meta_attempt;
  o->ready = p->state == POD_READY;
  o->created_at = p->created_at;
  o->pod_dir = dup_or_null (p->pod_dir);
  o->shm_path = dup_or_null (p->shm);
  o->netns_path = dup_or_null (p->netns);
  o->ipcns_path = dup_or_null (p->ipcns);
  o->utsns_path = dup_or_null (p->utsns);
  o->pidns_path = p->has_pause ? dup_or_null (p->pause.pidns_path) : NULL;
  o->hostname = dup_or_null (p->hostname);
  o->cgroup_parent = dup_or_null (p->cgroup_parent);
  o->log_directory = dup_or_null (p->log_directory);
  o->runtime_handler = dup_or_null (p->runtime_handler);
  o->ip = dup_or_null (p->ip ? p->ip : "");
  o->privileged = p->privileged;
  o->net_mode = p->net_mode;
  o->pid_mode = p->pid_mode;
  o->ipc_mode = p->ipc_mode;
}

void
pod_info_free (struct pod_info *o)
{
  char **strs[] = { &o->name,     &o->meta_name,     &o->meta_namespace, &o->meta_uid,        &o->pod_dir,
                    &o->shm_path, &o->netns_path,    &o->ipcns_path,     &o->utsns_path,      &o->pidns_path,
                    &o->hostname, &o->cgroup_parent, &o->log_directory,  &o->runtime_handler, &o->ip };

  for (size_t i = 0; i < sizeof (strs) / sizeof (strs[0]); i++)
    {
      free (*strs[i]);
      *strs[i] = NULL;
    }
}

int
pods_with_pod (struct daemon *d, const char *id, pods_fn fn, void *user, berth_err *err)
{
  struct pod *p = pod_get (d, id, err);
  struct pod_info info;
  int ret;

  if (p == NULL)
    return -1;
  pthread_mutex_lock (&p->mu);
  if (p->removed)
    {
      ret = berth_fail (err, 0, "pod sandbox \"%s\" not found", id);
      (*err)->errnum = ENOENT;
    }
  else
    {
      pod_fill_info (p, &info);
      ret = fn (d, &info, user, err);
      pod_info_free (&info);
    }
  pthread_mutex_unlock (&p->mu);
  pod_put (d, p);
  return ret;
}

static int
copy_info (struct daemon *d, const struct pod_info *pod, void *user, berth_err *err)
{
  struct pod_info *out = user;
  const struct pod_info *in = pod;

  (void)d;
  (void)err;
  *out = *in;
  /* Deep copy: the caller's snapshot outlives the lock. */
  out->name = dup_or_null (in->name);
  out->meta_name = dup_or_null (in->meta_name);
  out->meta_namespace = dup_or_null (in->meta_namespace);
  out->meta_uid = dup_or_null (in->meta_uid);
  out->pod_dir = dup_or_null (in->pod_dir);
  out->shm_path = dup_or_null (in->shm_path);
  out->netns_path = dup_or_null (in->netns_path);
  out->ipcns_path = dup_or_null (in->ipcns_path);
  out->utsns_path = dup_or_null (in->utsns_path);
  out->pidns_path = dup_or_null (in->pidns_path);
  out->hostname = dup_or_null (in->hostname);
  out->cgroup_parent = dup_or_null (in->cgroup_parent);
  out->log_directory = dup_or_null (in->log_directory);
  out->runtime_handler = dup_or_null (in->runtime_handler);
  out->ip = dup_or_null (in->ip);
  return 0;
}

int
pods_lookup (struct daemon *d, const char *id, struct pod_info *out, berth_err *err)
{
  return pods_with_pod (d, id, copy_info, out, err);
}

/* ---- start-up --------------------------------------------------------------- */

static char *
path_join (const char *a, const char *b)
{
  char *p;

  if (asprintf (&p, "%s/%s", a, b) < 0)
    abort ();
  return p;
}

/* A ready pod whose namespaces or pause went away (reboot, someone
 * unmounted them, the pause was killed) is NOTREADY: the kubelet then stops
 * it, which releases the rest, and makes a new one. */
static bool
pod_still_whole (struct pod *p)
{
  if ((p->netns && !net_ns_path_is_pinned (p->netns)) || (p->ipcns && !net_ns_path_is_pinned (p->ipcns))
      || (p->utsns && !net_ns_path_is_pinned (p->utsns)))
    return false;
  return !p->has_pause || net_pause_alive (&p->pause);
}

static void
recover_one (void *user, const char *id, json_t *doc)
{
  struct daemon *d = user;
  berth_err err = NULL;
  struct pod *p = pod_from_json (id, doc, &err);

  if (p == NULL)
    {
      berth_log (BERTH_LOG_WARNING, "recovery: %s: skipped", err->msg);
      berth_err_free (&err);
      return;
    }
  if (p->state == POD_CREATING)
    {
      /* berthd died inside RunPodSandbox: the kubelet got no id, so nobody
         will ever stop this pod.  Undo it. */
      berth_log (BERTH_LOG_INFO, "recovery: pod sandbox %s (%s) was never finished: removing it", p->id, p->name);
      /* It may have died inside CNI ADD, which the record does not show:
         DEL is idempotent, so run it anyway. */
      p->cni = p->net_mode != RUNTIME__V1__NAMESPACE_MODE__NODE;
      if (pod_teardown (d, p, true, &err) < 0 && p->cni)
        {
          /* A DEL that fails (no CNI config any more) must not keep the
             namespaces and mounts forever: go on without it. */
          berth_log (BERTH_LOG_WARNING, "recovery: pod sandbox %s: %s", p->id, err->msg);
          berth_err_free (&err);
          p->cni = false;
          pod_teardown (d, p, true, &err);
        }
      if (err == NULL)
        record_remove (&d->pods->records, p->id, &err);
      if (err)
        {
          /* The record stays (creating): the next start tries again. */
          berth_log (BERTH_LOG_WARNING, "recovery: pod sandbox %s: %s", p->id, err->msg);
          berth_err_free (&err);
        }
      pod_free (p);
      return;
    }
  if (record_reserve_name (&d->pods->records, p->name, p->id, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "recovery: pod sandbox %s: %s: skipped", p->id, err->msg);
      berth_err_free (&err);
      pod_free (p);
      return;
    }
  if (p->state == POD_READY && !pod_still_whole (p))
    {
      berth_log (BERTH_LOG_INFO, "recovery: pod sandbox %s lost its namespaces or pause process: NOTREADY", p->id);
      p->state = POD_NOTREADY;
      if (pod_save (d, p, &err) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "recovery: %s", err->msg);
          berth_err_free (&err);
        }
    }
  pod_table_add (d, p);
}

/* Pod dirs in <state>/pods that no record names: a RunPodSandbox that died
 * before its first record write, or a record removed by hand. */
static void
remove_stray_dirs (struct daemon *d)
{
  DIR *dp = opendir (d->pods->pods_state);
  struct dirent *de;

  if (dp == NULL)
    return;
  while ((de = readdir (dp)))
    {
      bool known = false;

      if (de->d_name[0] == '.')
        continue;
      pthread_mutex_lock (&d->pods->mu);
      for (size_t i = 0; i < d->pods->n && !known; i++)
        known = strcmp (d->pods->pods[i]->id, de->d_name) == 0;
      pthread_mutex_unlock (&d->pods->mu);
      if (!known)
        {
          cleanup_free char *dir = path_join (d->pods->pods_state, de->d_name);
          berth_log (BERTH_LOG_INFO, "recovery: %s belongs to no pod sandbox: removing it", dir);
          pod_dir_cleanup (dir);
        }
    }
  closedir (dp);
}

int
pods_init (struct daemon *d, berth_err *err)
{
  struct pod_table *t = calloc (1, sizeof (*t));
  cleanup_free char *records = path_join (d->root, "pods");

  if (t == NULL)
    abort ();
  pthread_mutex_init (&t->mu, NULL);
  t->pods_state = path_join (d->state, "pods");
  t->cni_cache = path_join (d->root, "cni");
  d->pods = t;
  if (mkdir (t->pods_state, 0711) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s`", t->pods_state);
  if (mkdir (t->cni_cache, 0700) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s`", t->cni_cache);
  if (record_store_init (&t->records, records, "pod sandbox", err) < 0
      || record_load_all (&t->records, recover_one, d, err) < 0)
    return -1;
  remove_stray_dirs (d);
  berth_log (BERTH_LOG_DEBUG, "recovery: %zu pod sandboxes", t->n);
  return 0;
}

void
pods_shutdown (struct daemon *d)
{
  struct pod_table *t = d->pods;

  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n; i++)
    pod_free (t->pods[i]);
  free (t->pods);
  record_store_clear (&t->records);
  free (t->pods_state);
  free (t->cni_cache);
  pthread_mutex_destroy (&t->mu);
  free (t);
  d->pods = NULL;
}
