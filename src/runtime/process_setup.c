/* Attributes of the container process, applied by the init (or the exec
 * child) just before execve, in the order the kernel requires:
 * rlimits and oom_score_adj while still privileged, then the bounding set,
 * groups/gid/uid (keeping capabilities across the uid change), then the
 * capability sets, ambient last; no_new_privs after. */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/sync.h"
#include "util/cleanup.h"
#include "util/passwd.h"

int
process_set_rlimits (const struct berth_process *p, berth_err *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      if (setrlimit (p->rlimits[i].resource, &rl) < 0)
        return berth_fail (err, errno, "process.rlimits[%zu]: setrlimit %s (soft %llu, hard %llu)%s", i,
                           p->rlimits[i].type, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                           errno == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
    }
  return 0;
}

int
process_set_oom_score_adj (const struct berth_process *p, berth_err *err)
{
  char buf[32];
  cleanup_close int fd = -1;
  int len;

  if (!p->has_oom_score_adj)
    return 0;
  fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open /proc/self/oom_score_adj");
  len = snprintf (buf, sizeof (buf), "%d", p->oom_score_adj);
  if (write (fd, buf, len) != len)
    return berth_fail (err, errno, "process.oomScoreAdj: write %d%s", p->oom_score_adj,
                       errno == EACCES ? " (lowering it needs CAP_SYS_RESOURCE)" : "");
  return 0;
}

static int
last_cap (void)
{
  static int cached = -1;
  char buf[16];
  int fd;

  if (cached >= 0)
    return cached;
  cached = CAP_LAST_CAP;
  fd = open ("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      ssize_t n = read (fd, buf, sizeof (buf) - 1);
      if (n > 0)
        {
          buf[n] = '\0';
          cached = atoi (buf);
        }
      close (fd);
    }
  return cached;
}

static int
apply_caps (const struct berth_capabilities *caps, berth_err *err)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  uint64_t mask = last_cap () >= 63 ? ~0ULL : ((1ULL << (last_cap () + 1)) - 1);
  uint64_t eff = caps->effective & mask, prm = caps->permitted & mask, inh = caps->inheritable & mask;

  data[0].effective = (uint32_t)eff;
  data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)prm;
  data[1].permitted = (uint32_t)(prm >> 32);
  data[0].inheritable = (uint32_t)inh;
  data[1].inheritable = (uint32_t)(inh >> 32);
  if (syscall (SYS_capset, &hdr, data) < 0)
    return berth_fail (err, errno, "process.capabilities: capset");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return berth_fail (err, errno, "process.capabilities.ambient: clear");
  /* Like runc, an ambient capability that is not also permitted and
     inheritable is skipped (runc's default spec lists ambient capabilities
     but no inheritable ones since CVE-2022-29162). */
  for (int cap = 0; cap <= last_cap (); cap++)
    if ((caps->ambient & (1ULL << cap)) && (prm & inh & (1ULL << cap))
        && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return berth_fail (err, errno, "process.capabilities.ambient: raise capability %d", cap);
  return 0;
}

int
process_set_credentials_and_caps (const struct berth_process *p, bool setgroups_allowed, berth_err *err)
{
  static const struct berth_capabilities none = { 0 };
  const struct berth_capabilities *caps = p->capabilities ? p->capabilities : &none;
  const struct berth_user *u = &p->user;

  for (int cap = 0; cap <= last_cap (); cap++)
    if (!(caps->bounding & (1ULL << cap)) && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return berth_fail (err, errno, "process.capabilities.bounding: drop capability %d", cap);
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return berth_fail (err, errno, "prctl PR_SET_KEEPCAPS");
  if (setgroups_allowed)
    {
      gid_t *groups = NULL;
      if (u->n_additional_gids)
        {
          groups = calloc (u->n_additional_gids, sizeof (gid_t));
          for (size_t i = 0; i < u->n_additional_gids; i++)
            groups[i] = u->additional_gids[i];
        }
      if (setgroups (u->n_additional_gids, groups) < 0)
        {
          free (groups);
          return berth_fail (err, errno, "process.user.additionalGids: setgroups");
        }
      free (groups);
    }
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return berth_fail (err, errno, "process.user.gid: setgid %u", u->gid);
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return berth_fail (err, errno, "process.user.uid: setuid %u", u->uid);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return berth_fail (err, errno, "prctl PR_SET_KEEPCAPS");
  if (apply_caps (caps, err) < 0)
    return -1;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_fail (err, errno, "process.noNewPrivileges");
  if (u->has_umask)
    umask (u->umask);
  else
    umask (0022);
  return 0;
}

static const char *
env_lookup (char **env, const char *name)
{
  size_t len = strlen (name);
  for (char **e = env; e && *e; e++)
    if (strncmp (*e, name, len) == 0 && (*e)[len] == '=')
      return *e + len + 1;
  return NULL;
}

/* Messages follow runc's (Go's exec.LookPath): engines map "executable file
 * not found" and "no such file or directory" to 127, "permission denied" to 126. */
int
process_find_executable (const struct berth_process *p, char **path_out, berth_err *err)
{
  const char *name = p->args[0];
  const char *path_env;
  cleanup_free char *copy = NULL;
  char *save = NULL;
  struct stat sb;

  if (strchr (name, '/'))
    {
      if (stat (name, &sb) < 0)
        return berth_fail (err, 0, "exec: \"%s\": stat %s: %s", name, name,
                           errno == ENOENT ? "no such file or directory" : strerror (errno));
      if (S_ISDIR (sb.st_mode) || !(sb.st_mode & 0111))
        return berth_fail (err, 0, "exec: \"%s\": permission denied", name);
      *path_out = strdup (name);
      return 0;
    }
  path_env = env_lookup (p->env, "PATH");
  if (path_env == NULL)
    path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  copy = strdup (path_env);
  for (char *dir = strtok_r (copy, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      char *candidate = NULL;
      if (asprintf (&candidate, "%s/%s", *dir ? dir : ".", name) < 0)
        return berth_fail (err, ENOMEM, "exec");
      if (stat (candidate, &sb) == 0 && S_ISREG (sb.st_mode) && (sb.st_mode & 0111))
        {
          *path_out = candidate;
          return 0;
        }
      free (candidate);
    }
  return berth_fail (err, 0, "exec: \"%s\": executable file not found in $PATH", name);
}

/* Everything above stdio and the preserved fds is closed on exec: no fd of
 * the runtime reaches the container (CVE-2024-21626). */
int
process_prepare_fds (int preserve_fds, berth_err *err)
{
  for (int fd = 3; fd < 3 + preserve_fds; fd++)
    {
      int flags = fcntl (fd, F_GETFD);
      if (flags >= 0 && fcntl (fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        return berth_fail (err, errno, "preserve fd %d", fd);
    }
  if (syscall (SYS_close_range, 3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    {
      /* Kernels before 5.11: mark each open fd. */
      for (int fd = 3 + preserve_fds; fd < 65536; fd++)
        {
          int flags = fcntl (fd, F_GETFD);
          if (flags >= 0)
            fcntl (fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
  return 0;
}

int
process_join_session_keyring (const char *id, berth_err *err)
{
  char name[300];

  snprintf (name, sizeof (name), "_ses.%s", id);
  if (syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0) < 0 && errno != ENOSYS)
    return berth_fail (err, errno, "join session keyring `%s`", name);
  return 0;
}

char **
process_exec_env (const struct berth_process *p)
{
  size_t n = p->n_env;
  char **env;
  char *home;

  if (env_lookup (p->env, "HOME") != NULL)
    return p->env;
  env = calloc (n + 2, sizeof (char *));
  for (size_t i = 0; i < n; i++)
    env[i] = p->env[i];
  home = passwd_field ("/etc/passwd", p->user.uid, 5);
  if (asprintf (&env[n], "HOME=%s", home && *home ? home : "/") < 0)
    env[n] = NULL;
  free (home);
  return env;
}

void
process_exec (const struct berth_process *p, const char *path, char **envp, int sync_fd)
{
  berth_err err = NULL;

  execve (path, p->args, envp ? envp : (char *[]){ NULL });
  berth_fail (&err, 0, "exec: \"%s\": %s", p->args[0],
              errno == ENOENT   ? "no such file or directory"
              : errno == EACCES ? "permission denied"
                                : strerror (errno));
  if (sync_fd >= 0)
    sync_child_fail (sync_fd, &err);
  fprintf (stderr, "%s\n", err->msg);
  _exit (127);
}
