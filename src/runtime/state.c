#include "runtime/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

void
berth_state_free (struct berth_state *st)
{
  if (st == NULL)
    return;
  free (st->id);
  free (st->bundle);
  free (st->rootfs);
  free (st->created);
  free (st->owner);
  json_decref (st->annotations);
  berth_cgroup_free (st->cgroup);
  free (st);
}

static int
open_state_root (const char *state_root, bool create, berth_err *err)
{
  int fd = open (state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create)
    {
      /* Like runc: the root is private to root; parents are made as needed. */
      char *copy = strdup (state_root);
      for (char *p = copy + 1; p != NULL && *p; p++)
        if (*p == '/')
          {
            *p = '\0';
            mkdir (copy, 0711);
            *p = '/';
          }
      free (copy);
      if (mkdir (state_root, 0700) < 0 && errno != EEXIST)
        return berth_fail (err, errno, "mkdir state root `%s`", state_root);
      fd = open (state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
  if (fd < 0)
    return berth_fail (err, errno, "open state root `%s`", state_root);
  return fd;
}

int
berth_state_dir_create (const char *state_root, const char *id, berth_err *err)
{
  cleanup_close int rootfd = open_state_root (state_root, true, err);
  int fd;

  if (rootfd < 0)
    return -1;
  if (mkdirat (rootfd, id, 0711) < 0)
    {
      if (errno == EEXIST)
        return berth_fail (err, 0, "container with given ID already exists: %s", id);
      return berth_fail (err, errno, "mkdir state dir `%s/%s`", state_root, id);
    }
  fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return berth_fail (err, errno, "open state dir `%s/%s`", state_root, id);
  /* Held until the creating process exits: others wait instead of seeing a
     half-made container. */
  if (flock (fd, LOCK_EX) < 0)
    {
      close (fd);
      return berth_fail (err, errno, "lock state dir `%s/%s`", state_root, id);
    }
  return fd;
}

int
berth_state_dir_open (const char *state_root, const char *id, bool lock, berth_err *err)
{
  cleanup_close int rootfd = -1;
  int fd;

  if (berth_validate_id (id, err) < 0)
    return -1;
  rootfd = open (state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 && errno == ENOENT)
    return berth_fail (err, 0, "container does not exist");
  if (rootfd < 0)
    return berth_fail (err, errno, "open state root `%s`", state_root);
  fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return berth_fail (err, 0, "container does not exist");
  if (fd < 0)
    return berth_fail (err, errno, "open state dir `%s/%s`", state_root, id);
  if (lock && flock (fd, LOCK_EX) < 0)
    {
      close (fd);
      return berth_fail (err, errno, "lock state dir `%s/%s`", state_root, id);
    }
  return fd;
}

int
berth_state_dir_remove (const char *state_root, const char *id, berth_err *err)
{
  cleanup_close int rootfd = open (state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int dfd = -1;
  DIR *dir;
  struct dirent *de;

  if (rootfd < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "open state root `%s`", state_root);
  dfd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dfd < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "open state dir `%s/%s`", state_root, id);
  dir = fdopendir (dup (dfd));
  if (dir == NULL)
    return berth_fail (err, errno, "read state dir `%s/%s`", state_root, id);
  /* The state dir is flat: files only. */
  while ((de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (unlinkat (dfd, de->d_name, 0) < 0 && errno != ENOENT)
        {
          int e = errno;
          closedir (dir);
          return berth_fail (err, e, "remove `%s/%s/%s`", state_root, id, de->d_name);
        }
    }
  closedir (dir);
  if (unlinkat (rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove state dir `%s/%s`", state_root, id);
  return 0;
}

int
berth_write_file_new (int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", name);
  if (berth_write_all (fd, data, len) < 0)
    return berth_fail (err, errno, "write `%s`", name);
  return 0;
}

int
berth_write_file_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_err *err)
{
  char tmp[256];
  cleanup_close int fd = -1;

  snprintf (tmp, sizeof (tmp), ".%s.tmp", name);
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", tmp);
  if (berth_write_all (fd, data, len) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return berth_fail (err, e, "write `%s`", tmp);
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return berth_fail (err, e, "rename `%s` to `%s`", tmp, name);
    }
  return 0;
}

int
berth_state_save (int dirfd, const struct berth_state *st, berth_err *err)
{
  json_t *obj = json_object ();
  cleanup_free char *text = NULL;

  json_object_set_new (obj, "id", json_string (st->id));
  json_object_set_new (obj, "pid", json_integer (st->pid));
  json_object_set_new (obj, "pid_start", json_integer ((json_int_t)st->pid_start));
  json_object_set_new (obj, "bundle", json_string (st->bundle));
  json_object_set_new (obj, "rootfs", json_string (st->rootfs));
  json_object_set_new (obj, "created", json_string (st->created));
  json_object_set_new (obj, "owner", json_string (st->owner ? st->owner : ""));
  json_object_set (obj, "annotations", st->annotations ? st->annotations : json_object ());
  if (st->annotations == NULL)
    json_decref (json_object_get (obj, "annotations"));
  if (st->cgroup)
    json_object_set_new (obj, "cgroup", berth_cgroup_to_json (st->cgroup));
  json_object_set_new (obj, "new_pid_ns", json_boolean (st->new_pid_ns));
  if (st->creating)
    json_object_set_new (obj, "creating", json_true ());
  if (st->cgroup_pending)
    json_object_set_new (obj, "cgroup_pending", json_true ());
  if (st->hooks)
    json_object_set_new (obj, "hooks", json_integer (st->hooks));
  if (st->host_mounts.used)
    json_object_set_new (obj, "host_mounts",
                         json_pack ("{s:I, s:I}", "before", (json_int_t)st->host_mounts.before, "ours",
                                    (json_int_t)st->host_mounts.ours));
  text = json_dumps (obj, JSON_COMPACT);
  json_decref (obj);
  if (text == NULL)
    return berth_fail (err, ENOMEM, "serialize state");
  return berth_write_file_atomic (dirfd, "state.json", text, strlen (text), 0600, err);
}

static char *
dup_string_member (json_t *obj, const char *key)
{
  const char *s = json_string_value (json_object_get (obj, key));
  return strdup (s ? s : "");
}

struct berth_state *
berth_state_load (int dirfd, const char *id, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, "state.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *obj;
  struct berth_state *st;
  json_t *cg;

  if (fd < 0 && errno == ENOENT)
    return (berth_fail (err, 0, "container %s is being created (no state yet)", id), NULL);
  if (fd < 0)
    return (berth_fail (err, errno, "open state of `%s`", id), NULL);
  obj = berth_json_load_fd (fd, "state.json", err);
  if (obj == NULL)
    return (berth_wrap (err, "container `%s`", id), NULL);
  /* A pid <= 0 is only valid while creating (the init is not cloned yet). */
  if (!json_is_object (obj)
      || (json_integer_value (json_object_get (obj, "pid")) <= 0 && !json_is_true (json_object_get (obj, "creating"))))
    {
      /* A pid <= 0 would make kill signal a process group or everything. */
      json_decref (obj);
      return (berth_fail (err, 0, "state of `%s` is corrupt: no valid pid", id), NULL);
    }
  st = calloc (1, sizeof (*st));
  st->id = dup_string_member (obj, "id");
  st->pid = (pid_t)json_integer_value (json_object_get (obj, "pid"));
  st->pid_start = (unsigned long long)json_integer_value (json_object_get (obj, "pid_start"));
  st->bundle = dup_string_member (obj, "bundle");
  st->rootfs = dup_string_member (obj, "rootfs");
  st->created = dup_string_member (obj, "created");
  st->owner = dup_string_member (obj, "owner");
  st->annotations = json_incref (json_object_get (obj, "annotations"));
  if (st->annotations == NULL)
    st->annotations = json_object ();
  st->new_pid_ns = json_is_true (json_object_get (obj, "new_pid_ns"));
  st->creating = json_is_true (json_object_get (obj, "creating"));
  st->cgroup_pending = json_is_true (json_object_get (obj, "cgroup_pending"));
  st->hooks = (unsigned)json_integer_value (json_object_get (obj, "hooks"));
  {
    json_t *hm = json_object_get (obj, "host_mounts");
    st->host_mounts.used = json_is_object (hm);
    st->host_mounts.before = (unsigned long long)json_integer_value (json_object_get (hm, "before"));
    st->host_mounts.ours = (unsigned long long)json_integer_value (json_object_get (hm, "ours"));
  }
  cg = json_object_get (obj, "cgroup");
  if (cg != NULL)
    {
      st->cgroup = berth_cgroup_from_json (cg, err);
      if (st->cgroup == NULL)
        {
          json_decref (obj);
          berth_state_free (st);
          return NULL;
        }
    }
  json_decref (obj);
  return st;
}

enum berth_status
berth_state_status (int dirfd, const struct berth_state *st)
{
  struct stat sb;
  bool frozen = false;

  if (st->pid <= 0 || st->pid_start == 0 || berth_proc_start_time (st->pid) != st->pid_start)
    return BERTH_STATUS_STOPPED;
  if (st->creating)
    return BERTH_STATUS_CREATING;
  if (fstatat (dirfd, BERTH_EXEC_FIFO, &sb, AT_SYMLINK_NOFOLLOW) == 0)
    return BERTH_STATUS_CREATED;
  if (st->cgroup != NULL)
    {
      berth_err ignored = NULL;
      if (berth_cgroup_is_frozen (st->cgroup, &frozen, &ignored) < 0)
        berth_err_free (&ignored);
      if (frozen)
        return BERTH_STATUS_PAUSED;
    }
  return BERTH_STATUS_RUNNING;
}

char *
berth_now_rfc3339 (void)
{
  struct timespec ts;
  struct tm tm;
  char *out = NULL;

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  /* Not strftime: it loads the local time zone (three files read) for a
     UTC stamp. */
  if (asprintf (&out, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec)
      < 0)
    return NULL;
  return out;
}
