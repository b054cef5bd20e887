/* `exec`: a new process in a running container.  We join the init's pid
 * namespace ourselves (only children enter it), clone one child, and that
 * child joins the other namespaces (user first), applies the process'
 * attributes and execs.  Success is the sync socket closing on exec. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/create.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/signals.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/file.h"

struct exec_job
{
  struct init_ctx init;
  struct berth_seccomp *seccomp;
  const struct berth_state *st;
  int sync_parent;
  int tty_parent;
  pid_t pid;
};

/* The container's seccomp filter applies to exec'd processes too (as in
 * runc): compiled from the config copied at create. */
static int
load_container_seccomp (int dirfd, const char *id, struct berth_seccomp **out, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  json_t *doc, *seccomp;
  bool wanted;

  *out = NULL;
  if (fd < 0)
    return berth_fail (err, errno, "open config of `%s`", id);
  doc = berth_json_load_fd (fd, "config.json", err);
  if (doc == NULL)
    return berth_wrap (err, "container `%s`", id);
  /* `seccomp` is borrowed from doc: decide before doc is freed. */
  seccomp = json_object_get (json_object_get (doc, "linux"), "seccomp");
  wanted = seccomp != NULL && !json_is_null (seccomp);
  if (wanted)
    *out = berth_seccomp_compile (seccomp, err);
  json_decref (doc);
  return (wanted && *out == NULL) ? -1 : 0;
}

static int
send_to_seccomp_agent (struct exec_job *j, int notify_fd, berth_err *err)
{
  return berth_seccomp_forward_notify_fd (j->seccomp, notify_fd, j->st->id, "running", j->pid, j->st->bundle,
                                          j->st->annotations, err);
}

/* The init's root (/proc/PID/root): the chroot it lives in. */
static int
open_init_root (pid_t pid, berth_err *err)
{
  char path[64];
  int fd;

  snprintf (path, sizeof (path), "/proc/%d/root", pid);
  fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open the container's root `%s`", path);
  return fd;
}

static void
exec_job_free (struct exec_job *j)
{
  berth_seccomp_free (j->seccomp);
  if (j->init.root_fd >= 0)
    close (j->init.root_fd);
  init_ctx_close_fds (&j->init);
  if (j->sync_parent >= 0)
    close (j->sync_parent);
  if (j->tty_parent >= 0)
    close (j->tty_parent);
}

static int
exec_channels (struct exec_job *j, const struct berth_exec_options *o, berth_err *err)
{
  int min = 3 + (o->preserve_fds > 0 ? o->preserve_fds : 0);
  int sv[2];

  if (o->process->terminal && o->console_socket == NULL && o->detach)
    return berth_fail (err, 0, "cannot allocate tty if berth will detach without setting console socket");
  if (!o->process->terminal && o->console_socket)
    return berth_fail (err, 0, "cannot use console socket if berth will not detach or allocate tty");
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail (err, errno, "socketpair");
  j->sync_parent = move_fd_above (sv[0], min, err);
  j->init.sync_fd = move_fd_above (sv[1], min, err);
  if (o->process->terminal)
    {
      if (o->console_socket)
        j->init.console_fd = terminal_connect_console_socket (o->console_socket, err);
      else
        {
          if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return berth_fail (err, errno, "socketpair");
          j->tty_parent = sv[0];
          j->init.console_fd = sv[1];
        }
      if (j->init.console_fd < 0)
        return -1;
      j->init.console_fd = move_fd_above (j->init.console_fd, min, err);
    }
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    if (j->init.ns_fds[i] >= 0)
      j->init.ns_fds[i] = move_fd_above (j->init.ns_fds[i], min, err);
  if (j->init.root_fd >= 0)
    j->init.root_fd = move_fd_above (j->init.root_fd, min, err);
  return (j->sync_parent < 0 || j->init.sync_fd < 0) ? -1 : 0;
}

static int
exec_spawn (struct exec_job *j, const struct berth_state *st, berth_err *err)
{
  cleanup_close int own_pidns = -1;
  cleanup_close int cgroup_fd = st->cgroup ? berth_cgroup_v2_dirfd (st->cgroup) : -1;
  int saved_errno;
  enum sync_type type;
  cleanup_free char *payload = NULL;

  if (j->init.ns_fds[BERTH_NS_PID] >= 0)
    {
      own_pidns = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
      if (own_pidns < 0 || setns (j->init.ns_fds[BERTH_NS_PID], CLONE_NEWPID) < 0)
        return berth_fail (err, errno, "join the pid namespace of `%s`", st->id);
    }
  j->init.cgroup = st->cgroup;
  j->pid = clone_child (0, &cgroup_fd);
  saved_errno = errno;
  if (j->pid == 0)
    {
      j->init.cgroup_v2_joined = cgroup_fd >= 0;
      close (j->sync_parent);
      if (j->tty_parent >= 0)
        close (j->tty_parent);
      init_exec_main (&j->init);
    }
  if (own_pidns >= 0 && setns (own_pidns, CLONE_NEWPID) < 0)
    return berth_fail (err, errno, "return to our pid namespace");
  if (j->pid < 0)
    return berth_fail (err, saved_errno, "clone exec process");
  close (j->init.sync_fd);
  j->init.sync_fd = -1;
  if (j->init.console_fd >= 0)
    {
      close (j->init.console_fd);
      j->init.console_fd = -1;
    }
  if (sync_send (j->sync_parent, SYNC_GO, NULL, err) < 0)
    return -1;
  for (;;)
    {
      int passed_fd = -1;
      free (payload);
      payload = NULL;
      if (sync_recv_fd (j->sync_parent, &type, &payload, &passed_fd, err) < 0)
        return -1;
      if (type == SYNC_SECCOMP_FD)
        {
          if (send_to_seccomp_agent (j, passed_fd, err) < 0)
            return -1;
          continue;
        }
      if (type == SYNC_ERROR)
        return berth_fail (err, 0, "%s", payload);
      return 0; /* EOF: the process exec'd */
    }
}

int
berth_container_exec (const struct berth_context *ctx, const char *id, const struct berth_exec_options *opts,
                      int *exit_status, berth_err *err)
{
  cleanup_close int dirfd = -1;
  struct berth_state *st = NULL;
  struct exec_job j = { .sync_parent = -1, .tty_parent = -1 };
  enum berth_status status;
  int master = -1;
  int ret = -1;

  *exit_status = 0;
  j.init.sync_fd = j.init.console_fd = j.init.fifo_fd = j.init.root_fd = -1;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    j.init.ns_fds[i] = -1;
  dirfd = berth_state_dir_open (ctx->state_root, id, false, err);
  if (dirfd < 0 || (st = berth_state_load (dirfd, id, err)) == NULL)
    return -1;
  status = berth_state_status (dirfd, st);
  if (status == BERTH_STATUS_STOPPED)
    {
      berth_state_free (st);
      return berth_fail (err, 0, "cannot exec in a stopped container");
    }
  if (status == BERTH_STATUS_PAUSED)
    {
      berth_state_free (st);
      return berth_fail (err, 0, "cannot exec in a paused container");
    }
  j.init.id = id;
  j.init.process = opts->process;
  j.st = st;
  if (process_extras_parse (opts->process, NULL, &j.init.extras, err) < 0
      || load_container_seccomp (dirfd, id, &j.seccomp, err) < 0)
    {
      berth_seccomp_free (j.seccomp);
      berth_state_free (st);
      return -1;
    }
  j.init.seccomp = j.seccomp;
  /* Nothing of the host may be open when the child chdir()s into the
     container (CVE-2024-21626: --cwd /proc/self/fd/N). */
  close (dirfd);
  dirfd = -1;
  j.init.preserve_fds = opts->preserve_fds;
  if (ns_open_of_pid (st->pid, j.init.ns_fds, err) < 0)
    goto out;
  /* Without a mount namespace of its own the container is only a chroot:
     joining the (host's) mount namespace would leave the process at the
     host's root. */
  if (st->host_mounts.used && (j.init.root_fd = open_init_root (st->pid, err)) < 0)
    goto out;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    if (i != BERTH_NS_PID && j.init.ns_fds[i] >= 0)
      j.init.join_mask |= 1u << i;
  if (exec_channels (&j, opts, err) < 0 || exec_spawn (&j, st, err) < 0)
    goto out;
  if (j.tty_parent >= 0 && (master = terminal_recv_fd (j.tty_parent, err)) < 0)
    goto out;
  if (opts->pid_file && write_pid_file (opts->pid_file, j.pid, err) < 0)
    goto out;
  if (opts->detach)
    ret = 0;
  else if (master >= 0)
    ret = terminal_relay (master, j.pid, exit_status, err);
  else
    ret = process_wait_forwarding_signals (j.pid, exit_status, err);
  j.pid = 0;
out:
  if (ret < 0 && j.pid > 0)
    {
      kill (j.pid, SIGKILL);
      waitpid (j.pid, NULL, 0);
    }
  if (master >= 0)
    close (master);
  exec_job_free (&j);
  berth_state_free (st);
  return ret;
}
