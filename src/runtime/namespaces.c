#include "runtime/namespaces.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct
{
  int flag;
  const char *proc_name; /* name under /proc/PID/ns */
} ns_table[BERTH_NS_COUNT] = {
  [BERTH_NS_USER] = { CLONE_NEWUSER, "user" }, [BERTH_NS_PID] = { CLONE_NEWPID, "pid" },
  [BERTH_NS_NET] = { CLONE_NEWNET, "net" },    [BERTH_NS_IPC] = { CLONE_NEWIPC, "ipc" },
  [BERTH_NS_UTS] = { CLONE_NEWUTS, "uts" },    [BERTH_NS_CGROUP] = { CLONE_NEWCGROUP, "cgroup" },
  [BERTH_NS_TIME] = { CLONE_NEWTIME, "time" }, [BERTH_NS_MNT] = { CLONE_NEWNS, "mnt" },
};

int
ns_clone_flag (enum berth_ns_type type)
{
  return ns_table[type].flag;
}

void
ns_close_all (int fds[BERTH_NS_COUNT])
{
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    if (fds[i] >= 0)
      {
        close (fds[i]);
        fds[i] = -1;
      }
}

int
ns_open_paths (const struct berth_linux *lx, int fds[BERTH_NS_COUNT], berth_err *err)
{
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    fds[i] = -1;
  if (lx == NULL)
    return 0;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    {
      const char *path = lx->namespaces[i].path;
      if (!lx->namespaces[i].present || path == NULL)
        continue;
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          int e = errno;
          ns_close_all (fds);
          return berth_fail (err, e, "open %s namespace path `%s`", berth_ns_type_name (i), path);
        }
      /* Checked here, where the path is known, rather than failing setns()
         later in the child. */
      {
        int type = ioctl (fds[i], NS_GET_NSTYPE);
        if (type != ns_table[i].flag)
          {
            ns_close_all (fds);
            return berth_fail (err, EINVAL, "linux.namespaces: `%s` is not a %s namespace", path,
                               berth_ns_type_name (i));
          }
      }
    }
  return 0;
}

int
ns_join (int fds[BERTH_NS_COUNT], unsigned mask, berth_err *err)
{
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    {
      if (fds[i] < 0 || !(mask & (1u << i)))
        continue;
      if (setns (fds[i], ns_table[i].flag) < 0)
        return berth_fail (err, errno, "join %s namespace", berth_ns_type_name (i));
    }
  return 0;
}

static int write_map (pid_t pid, const char *file, const struct berth_id_mapping *m, size_t n, berth_err *err);

int
ns_userns_fd_with_maps (const struct berth_id_mapping *uids, size_t n_uids, const struct berth_id_mapping *gids,
                        size_t n_gids, const char *what, berth_err *err)
{
  int p[2];
  pid_t pid;
  char path[64];
  int fd = -1;
  char byte;

  if (n_uids == 0 || n_gids == 0)
    return berth_fail (err, 0, "%s: an idmapped mount needs uid and gid mappings", what);
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail (err, errno, "%s: pipe", what);
  pid = (pid_t)syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0)
    {
      /* Lives until the parent has the namespace fd (the pipe closes). */
      close (p[1]);
      if (read (p[0], &byte, 1) < 0)
        _exit (1);
      _exit (0);
    }
  close (p[0]);
  if (pid < 0)
    {
      close (p[1]);
      return berth_fail (err, errno, "%s: clone a user namespace", what);
    }
  if (write_map (pid, "uid_map", uids, n_uids, err) == 0 && write_map (pid, "gid_map", gids, n_gids, err) == 0)
    {
      snprintf (path, sizeof (path), "/proc/%d/ns/user", pid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        berth_fail (err, errno, "%s: open `%s`", what, path);
    }
  close (p[1]);
  waitpid (pid, NULL, 0);
  if (fd < 0)
    berth_wrap (err, "%s", what);
  return fd;
}

static int
write_map (pid_t pid, const char *file, const struct berth_id_mapping *m, size_t n, berth_err *err)
{
  char path[64];
  char buf[4096];
  size_t len = 0;
  cleanup_close int fd = -1;

  for (size_t i = 0; i < n; i++)
    {
      int w = snprintf (buf + len, sizeof (buf) - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
      if (w < 0 || (size_t)w >= sizeof (buf) - len)
        return berth_fail (err, 0, "linux.%s: too many mappings",
                           strcmp (file, "uid_map") ? "gidMappings" : "uidMappings");
      len += w;
    }
  snprintf (path, sizeof (path), "/proc/%d/%s", pid, file);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open `%s`", path);
  if (write (fd, buf, len) != (ssize_t)len)
    return berth_fail (err, errno, "write %s `%.*s`", file, (int)(len ? len - 1 : 0), buf);
  return 0;
}

int
ns_write_id_maps (pid_t pid, const struct berth_linux *lx, berth_err *err)
{
  if (lx->n_uid_mappings == 0 || lx->n_gid_mappings == 0)
    return berth_fail (err, 0, "linux.uidMappings and linux.gidMappings are required with a new user namespace");
  if (write_map (pid, "uid_map", lx->uid_mappings, lx->n_uid_mappings, err) < 0)
    return -1;
  return write_map (pid, "gid_map", lx->gid_mappings, lx->n_gid_mappings, err);
}

int
ns_open_of_pid (pid_t pid, int fds[BERTH_NS_COUNT], berth_err *err)
{
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    fds[i] = -1;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    {
      char path[64], self[64];
      struct stat theirs, ours;
      snprintf (path, sizeof (path), "/proc/%d/ns/%s", pid, ns_table[i].proc_name);
      snprintf (self, sizeof (self), "/proc/self/ns/%s", ns_table[i].proc_name);
      if (stat (path, &theirs) < 0)
        {
          if (errno == ENOENT && i == BERTH_NS_TIME)
            continue; /* kernel without time namespaces */
          int e = errno;
          ns_close_all (fds);
          return berth_fail (err, e, "stat `%s`", path);
        }
      /* Joining the namespace we are in is pointless, and for a user
         namespace an error (EINVAL). */
      if (stat (self, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
        continue;
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          int e = errno;
          ns_close_all (fds);
          return berth_fail (err, e, "open `%s`", path);
        }
    }
  return 0;
}

int
ns_loopback_up (berth_err *err)
{
  struct ifreq ifr = { 0 };
  cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (sock < 0)
    return berth_fail (err, errno, "socket");
  strcpy (ifr.ifr_name, "lo");
  if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0)
    return berth_fail (err, errno, "get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (sock, SIOCSIFFLAGS, &ifr) < 0)
    return berth_fail (err, errno, "bring lo up");
  return 0;
}

int
ns_time_offsets (const struct berth_linux *lx, char **out, berth_err *err)
{
  const char *clock;
  json_t *v;
  char *text = NULL;
  size_t len = 0;
  FILE *f;

  *out = NULL;
  if (lx == NULL || lx->time_offsets == NULL || json_object_size (lx->time_offsets) == 0)
    return 0;
  if (!lx->namespaces[BERTH_NS_TIME].present || lx->namespaces[BERTH_NS_TIME].path)
    return berth_fail (err, 0, "linux.timeOffsets: offsets need a new time namespace");
  f = open_memstream (&text, &len);
  json_object_foreach (lx->time_offsets, clock, v)
  {
    json_t *secs = json_object_get (v, "secs"), *nsecs = json_object_get (v, "nanosecs");
    if (strcmp (clock, "monotonic") != 0 && strcmp (clock, "boottime") != 0)
      {
        fclose (f);
        free (text);
        return berth_fail (err, 0, "linux.timeOffsets[\"%s\"]: unknown clock (monotonic or boottime)", clock);
      }
    if (!json_is_object (v) || (secs && !json_is_integer (secs)) || (nsecs && !json_is_integer (nsecs))
        || json_integer_value (nsecs) < 0 || json_integer_value (nsecs) > 999999999)
      {
        fclose (f);
        free (text);
        return berth_fail (err, 0, "linux.timeOffsets[\"%s\"]: expected {\"secs\": int64, \"nanosecs\": 0..999999999}",
                           clock);
      }
    fprintf (f, "%s %lld %lld\n", clock, (long long)json_integer_value (secs), (long long)json_integer_value (nsecs));
  }
  fclose (f);
  *out = text;
  return 0;
}
