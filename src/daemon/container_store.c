/* The container table, the record form, the derived state, and recovery.
 *
 * The table is loaded on first use (any container RPC or the pod stop
 * hook), under one init lock: main.c's start-up belongs to the pod half,
 * and the first call of the kubelet comes before it can see anything.
 */
#include "daemon/containers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/pods.h"
#include "image/image.h"
#include "runtime/container.h"
#include "util/log.h"

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

int64_t
ctr_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "2024-05-06T07:08:09.123456789Z" -> ns; 0 when it does not parse. */
int64_t
ctr_parse_time (const char *s)
{
  struct tm tm = { 0 };
  const char *p;
  int64_t ns = 0, scale = 100000000;

  if (s == NULL || (p = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
    return 0;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
      ns += (*p - '0') * scale;
  return (int64_t)timegm (&tm) * 1000000000 + ns;
}

struct ctr *
ctr_new (void)
{
  struct ctr *c = calloc (1, sizeof (*c));
  pthread_mutex_init (&c->mu, NULL);
  c->labels = json_object ();
  c->annotations = json_object ();
  c->mounts = json_array ();
  return c;
}

void
ctr_free (struct ctr *c)
{
  if (c == NULL)
    return;
  pthread_mutex_destroy (&c->mu);
  free (c->name);
  free (c->meta_name);
  free (c->image);
  free (c->image_name);
  free (c->image_id);
  free (c->log_path);
  free (c->dir);
  json_decref (c->labels);
  json_decref (c->annotations);
  json_decref (c->mounts);
  free (c);
}

json_t *
ctr_to_json (const struct ctr *c)
{
  json_t *o = json_pack (
      "{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:O, s:O, s:O, s:I, s:I, "
      "s:{s:i, s:I, s:i}}",
      "id", c->id, "pod_id", c->pod_id, "name", c->name, "meta_name", c->meta_name, "meta_attempt",
      (json_int_t)c->meta_attempt, "image", c->image, "image_name", c->image_name, "image_id", c->image_id, "log_path",
      c->log_path, "dir", c->dir, "stop_signal", c->stop_signal, "labels", c->labels, "annotations", c->annotations,
      "mounts", c->mounts, "created_at", (json_int_t)c->created_at, "started_at", (json_int_t)c->started_at, "monitor",
      "pid", (int)c->mon.pid, "start_time", (json_int_t)c->mon.start_time, "init_pid", (int)c->mon.init_pid);
  if (o && c->exit_made_up)
    json_object_set_new (
        o, "made_exit",
        json_pack ("{s:i, s:I}", "exit_code", c->made_exit_code, "finished_at", (json_int_t)c->made_finished_at));
  return o;
}

static char *
str_dup (json_t *doc, const char *key)
{
  const char *s = json_string_value (json_object_get (doc, key));
  return strdup (s ? s : "");
}

static json_t *
obj_or (json_t *doc, const char *key, json_t *(*make) (void))
{
  json_t *v = json_object_get (doc, key);
  return v ? json_incref (v) : make ();
}

static struct ctr *
ctr_from_json (const char *id, json_t *doc, berth_err *err)
{
  struct ctr *c;
  json_t *mon = json_object_get (doc, "monitor"), *made = json_object_get (doc, "made_exit");
  const char *pod = json_string_value (json_object_get (doc, "pod_id"));

  if (strlen (id) != RECORD_ID_LEN || pod == NULL || strlen (pod) != RECORD_ID_LEN || !json_is_object (mon))
    return (berth_fail (err, 0, "container record %s: missing pod_id or monitor", id), NULL);
  c = ctr_new ();
  json_decref (c->labels);
  json_decref (c->annotations);
  json_decref (c->mounts);
  memcpy (c->id, id, RECORD_ID_LEN + 1);
  memcpy (c->pod_id, pod, RECORD_ID_LEN + 1);
  c->name = str_dup (doc, "name");
  c->meta_name = str_dup (doc, "meta_name");
  c->meta_attempt = json_integer_value (json_object_get (doc, "meta_attempt"));
  c->image = str_dup (doc, "image");
  c->image_name = str_dup (doc, "image_name");
  c->image_id = str_dup (doc, "image_id");
  c->log_path = str_dup (doc, "log_path");
  c->dir = str_dup (doc, "dir");
  c->stop_signal = json_integer_value (json_object_get (doc, "stop_signal"));
  c->labels = obj_or (doc, "labels", json_object);
  c->annotations = obj_or (doc, "annotations", json_object);
  c->mounts = obj_or (doc, "mounts", json_array);
  c->created_at = json_integer_value (json_object_get (doc, "created_at"));
  c->started_at = json_integer_value (json_object_get (doc, "started_at"));
  c->mon.pid = json_integer_value (json_object_get (mon, "pid"));
  c->mon.start_time = json_integer_value (json_object_get (mon, "start_time"));
  c->mon.init_pid = json_integer_value (json_object_get (mon, "init_pid"));
  if (json_is_object (made))
    {
      c->exit_made_up = true;
      c->made_exit_code = json_integer_value (json_object_get (made, "exit_code"));
      c->made_finished_at = json_integer_value (json_object_get (made, "finished_at"));
    }
  return c;
}

int
ctr_save (struct daemon *d, struct ctr *c, berth_err *err)
{
  json_t *doc = ctr_to_json (c);
  int ret;

  if (doc == NULL)
    return berth_fail (err, 0, "container %s: cannot encode its record", c->id);
  ret = record_write (&d->ctrs->records, c->id, doc, err);
  json_decref (doc);
  return ret;
}

char *
ctr_exit_path (const struct ctr *c)
{
  char *p;
  if (asprintf (&p, "%s/exit.json", c->dir) < 0)
    abort ();
  return p;
}

void
ctr_status (struct daemon *d, struct ctr *c, struct ctr_status *out)
{
  char *path = ctr_exit_path (c);
  struct monitor_exit e = { 0 };
  berth_err err = NULL;
  int r;

  (void)d;
  memset (out, 0, sizeof (*out));
  r = monitor_exit_read (path, &e, &err);
  free (path);
  if (r == 1)
    {
      out->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
      out->exit_code = e.exit_code;
      out->finished_at = ctr_parse_time (e.exited_at);
      out->reason = strdup (e.reason ? e.reason : "");
      out->oom_killed = e.oom_killed;
      monitor_exit_clear (&e);
      return;
    }
  if (r < 0)
    berth_err_free (&err);
  if (c->exit_made_up || (r == 0 && !monitor_alive (&c->mon)))
    {
      /* Checked again: the monitor may have written its file just now. */
      if (!c->exit_made_up)
        {
          path = ctr_exit_path (c);
          r = access (path, F_OK);
          free (path);
          if (r == 0)
            return ctr_status (d, c, out);
        }
      out->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
      out->exit_code = c->exit_made_up ? c->made_exit_code : 255;
      out->finished_at = c->exit_made_up ? c->made_finished_at : ctr_now_ns ();
      out->reason = strdup ("Unknown");
      return;
    }
  out->state = c->started_at ? RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING
                             : RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
}

void
ctr_settle (struct daemon *d, struct ctr *c)
{
  struct ctr_status s;
  berth_err err = NULL;
  char *path;
  bool has_file;

  if (c->exit_made_up || monitor_alive (&c->mon))
    return;
  path = ctr_exit_path (c);
  has_file = access (path, F_OK) == 0;
  free (path);
  if (has_file)
    return;
  ctr_status (d, c, &s);
  free (s.reason);
  c->exit_made_up = true;
  c->made_exit_code = 255;
  c->made_finished_at = ctr_now_ns ();
  berth_log (BERTH_LOG_WARNING, "container %s: its monitor is gone without an exit file: exit code 255", c->id);
  /* Nobody relays its output or records its exit any more: end it, so what
     ContainerStatus says (exited) is true.  Remove deletes the rest. */
  {
    struct berth_context bc = { .state_root = d->ctrs->runtime_root };
    if (berth_container_kill (&bc, c->id, SIGKILL, true, &err) < 0)
      berth_err_free (&err);
  }
  if (ctr_save (d, c, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "%s", err->msg);
      berth_err_free (&err);
    }
}

void
ctr_table_add (struct daemon *d, struct ctr *c)
{
  struct ctr_table *t = d->ctrs;

  pthread_mutex_lock (&t->mu);
  if (t->n == t->cap)
    {
      t->cap = t->cap ? 2 * t->cap : 16;
      t->v = realloc (t->v, t->cap * sizeof (*t->v));
    }
  c->refs = 1;
  t->v[t->n++] = c;
  pthread_mutex_unlock (&t->mu);
}

void
ctr_table_del (struct daemon *d, struct ctr *c)
{
  struct ctr_table *t = d->ctrs;

  pthread_mutex_lock (&t->mu);
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i] == c)
      {
        t->v[i] = t->v[--t->n];
        c->refs--; /* the table's reference */
        break;
      }
  pthread_mutex_unlock (&t->mu);
}

struct ctr *
ctr_get (struct daemon *d, const char *id, berth_err *err)
{
  struct ctr_table *t = ctrs (d);
  struct ctr *found = NULL;
  size_t len = strlen (id), hits = 0;

  if (!record_id_valid (id))
    return (berth_fail (err, EINVAL, "container_id: %s is not a container id", id), NULL);
  pthread_mutex_lock (&t->mu);
  for (size_t i = 0; i < t->n; i++)
    if (strncmp (t->v[i]->id, id, len) == 0)
      {
        hits++;
        found = t->v[i];
        if (len == RECORD_ID_LEN)
          break;
      }
  if (hits == 1)
    found->refs++;
  pthread_mutex_unlock (&t->mu);
  if (hits == 0)
    return (berth_fail (err, ENOENT, "container %s not found", id), NULL);
  if (hits > 1)
    return (berth_fail (err, EINVAL, "container_id: %s is ambiguous", id), NULL);
  return found;
}

void
ctr_put (struct daemon *d, struct ctr *c)
{
  bool last;

  pthread_mutex_lock (&d->ctrs->mu);
  last = --c->refs == 0;
  pthread_mutex_unlock (&d->ctrs->mu);
  if (last)
    ctr_free (c);
}

struct ctr **
ctr_all (struct daemon *d, const char *pod_id, size_t *n)
{
  struct ctr_table *t = ctrs (d);
  struct ctr **out;

  pthread_mutex_lock (&t->mu);
  out = malloc ((t->n + 1) * sizeof (*out));
  *n = 0;
  for (size_t i = 0; i < t->n; i++)
    if (pod_id == NULL || strcmp (t->v[i]->pod_id, pod_id) == 0)
      {
        t->v[i]->refs++;
        out[(*n)++] = t->v[i];
      }
  pthread_mutex_unlock (&t->mu);
  return out;
}

/* ---- removal of a tree, never through a mount ---- */

static int
rm_at (int at, const char *name, dev_t dev)
{
  struct stat st;
  int fd, ret = 0;
  DIR *dir;
  struct dirent *e;

  if (fstatat (at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (at, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  if (st.st_dev != dev)
    return errno = EBUSY, -1; /* a mount still there: leave it, say so */
  fd = openat (at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  while ((e = readdir (dir)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..") && rm_at (dirfd (dir), e->d_name, dev) < 0)
      ret = -1;
  closedir (dir);
  if (unlinkat (at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    ret = -1;
  return ret;
}

int
ctr_rm_tree (const char *path, berth_err *err)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "stat `%s`", path);
  if (rm_at (AT_FDCWD, path, st.st_dev) < 0)
    return berth_fail (err, errno, "remove `%s`", path);
  return 0;
}

/* ---- recovery ---- */

static void
load_one (void *user, const char *id, json_t *doc)
{
  struct daemon *d = user;
  berth_err err = NULL;
  struct ctr *c = ctr_from_json (id, doc, &err);

  if (c == NULL)
    {
      berth_log (BERTH_LOG_WARNING, "%s", err->msg);
      berth_err_free (&err);
      return;
    }
  if (c->name[0] && record_reserve_name (&d->ctrs->records, c->name, c->id, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "container %s: %s", c->id, err->msg);
      berth_err_free (&err);
    }
  /* A monitor killed without its exit file: the container ended abnormally. */
  ctr_settle (d, c);
  ctr_table_add (d, c);
}

/* A dir under <state>/containers that no record names: a create that
 * berthd did not finish (it writes the record last).  Undone like a failed
 * create: the container, the overlay, the dir. */
static void
drop_orphans (struct daemon *d)
{
  struct ctr_table *t = d->ctrs;
  struct berth_context bc = { .state_root = t->runtime_root };
  struct berth_store *s = NULL;
  DIR *dp = opendir (t->ctr_state);
  struct dirent *e;
  berth_err err = NULL;

  if (dp == NULL)
    return;
  while ((e = readdir (dp)) != NULL)
    {
      bool known = false;
      char *path, *rootfs;

      if (strlen (e->d_name) != RECORD_ID_LEN)
        continue;
      for (size_t i = 0; i < t->n && !known; i++)
        known = strcmp (t->v[i]->id, e->d_name) == 0;
      if (known)
        continue;
      berth_log (BERTH_LOG_WARNING, "container %s: no record (create did not finish): removing it", e->d_name);
      if (berth_container_delete (&bc, e->d_name, true, &err) < 0)
        berth_err_free (&err);
      if (asprintf (&path, "%s/%s", t->ctr_state, e->d_name) < 0 || asprintf (&rootfs, "%s/rootfs", path) < 0)
        abort ();
      if (s == NULL && berth_store_open (d->root, &s, &err) < 0)
        berth_err_free (&err);
      if (s && berth_image_unmount (s, rootfs, false, &err) < 0)
        {
          /* Not the store's overlay (or its record of it is gone): detach
             whatever is there; GC takes an upper dir without mount.json. */
          berth_err_free (&err);
          if (umount2 (rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            berth_log (BERTH_LOG_WARNING, "container %s: umount `%s`: %s", e->d_name, rootfs, strerror (errno));
        }
      if (ctr_rm_tree (path, &err) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "%s", err->msg);
          berth_err_free (&err);
        }
      free (rootfs);
      free (path);
    }
  closedir (dp);
  if (s)
    berth_store_close (s);
}

static int
table_init (struct daemon *d, berth_err *err)
{
  struct ctr_table *t = calloc (1, sizeof (*t));
  char *rec;

  pthread_mutex_init (&t->mu, NULL);
  d->ctrs = t; /* even half made: calls then see an empty table */
  if (asprintf (&t->ctr_state, "%s/containers", d->state) < 0 || asprintf (&t->runtime_root, "%s/runtime", d->state) < 0
      || asprintf (&rec, "%s/container-records", d->root) < 0)
    abort ();
  mkdir (d->state, 0711);
  if ((mkdir (t->ctr_state, 0711) < 0 && errno != EEXIST) || (mkdir (t->runtime_root, 0711) < 0 && errno != EEXIST))
    {
      berth_fail (err, errno, "mkdir `%s`", t->ctr_state);
      free (rec);
      return -1;
    }
  if (record_store_init (&t->records, rec, "container", err) < 0)
    {
      free (rec);
      return -1;
    }
  free (rec);
  if (record_load_all (&t->records, load_one, d, err) < 0)
    return -1;
  drop_orphans (d);
  t->ready = true;
  return 0;
}

struct ctr_table *
ctrs (struct daemon *d)
{
  berth_err err = NULL;

  pthread_mutex_lock (&init_mu);
  if (d->ctrs == NULL || !d->ctrs->ready)
    {
      if (table_init (d, &err) < 0)
        {
          /* Serve an empty table rather than none; the log says why. */
          berth_log (BERTH_LOG_ERROR, "containers: %s", err->msg);
          berth_err_free (&err);
        }
      if (d->ctrs)
        d->ctrs->ready = true;
    }
  pthread_mutex_unlock (&init_mu);
  return d->ctrs;
}

void
ctrs_shutdown (struct daemon *d)
{
  struct ctr_table *t = d->ctrs;

  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n; i++)
    ctr_free (t->v[i]);
  free (t->v);
  record_store_clear (&t->records);
  free (t->ctr_state);
  free (t->runtime_root);
  pthread_mutex_destroy (&t->mu);
  free (t);
  d->ctrs = NULL;
}
