/* The container init, from clone to execve (see sync.h for the protocol).
 *
 * Order matters throughout:
 *  - namespaces are joined before new ones are unshared (a new user
 *    namespace would take away the rights to join the host's);
 *  - the cgroup namespace is unshared only after the parent moved us into
 *    the container's cgroup, so that cgroup becomes its root;
 *  - oom_score_adj and rlimits are set while still privileged;
 *  - the executable is looked up before READY, so `create` reports a missing
 *    one, as runc does;
 *  - exec.fifo is opened through /proc/self/fd after pivot_root: the state
 *    dir is not visible from inside, and the open blocks until `start`. */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/namespaces.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"

static int
wait_for_go (struct init_ctx *c, berth_err *err)
{
  enum sync_type type;

  if (sync_recv (c->sync_fd, &type, NULL, err) < 0)
    return -1;
  if (type != SYNC_GO)
    _exit (1); /* the parent gave up and already reported why */
  /* Before any id changes: the cgroup files belong to the host's root. */
  if (c->cgroup && berth_cgroup_enter_self (c->cgroup, c->cgroup_v2_joined, err) < 0)
    return -1;
  return 0;
}

static int
become_root_in_userns (berth_err *err)
{
  /* Root of the new namespace, when mapped; otherwise keep the ids. */
  if (setresgid (0, 0, 0) < 0 && errno != EINVAL)
    return berth_fail (err, errno, "setgid 0 in the user namespace");
  if (setresuid (0, 0, 0) < 0 && errno != EINVAL)
    return berth_fail (err, errno, "setuid 0 in the user namespace");
  return 0;
}

/* A pid namespace made or joined after a joined user namespace, or a time
 * namespace with offsets: only children enter them.  The grandchild is made
 * our parent's child (CLONE_PARENT) so `run` can wait for it. */
static void
fork_again (struct init_ctx *c)
{
  berth_err err = NULL;
  pid_t pid;
  char buf[32];

  if (c->unshare_pid && unshare (CLONE_NEWPID) < 0)
    {
      berth_fail (&err, errno, "unshare pid namespace");
      sync_child_fail (c->sync_fd, &err);
    }
  if (c->time_offsets)
    {
      int fd = open ("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, c->time_offsets, strlen (c->time_offsets)) < 0)
        {
          berth_fail (&err, errno, "linux.timeOffsets: write /proc/self/timens_offsets");
          sync_child_fail (c->sync_fd, &err);
        }
      close (fd);
    }
  pid = (pid_t)syscall (SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    {
      berth_fail (&err, errno, "fork into the new pid namespace");
      sync_child_fail (c->sync_fd, &err);
    }
  if (pid == 0)
    return;
  snprintf (buf, sizeof (buf), "%d", pid);
  sync_send (c->sync_fd, SYNC_PID, buf, &err);
  _exit (0);
}

static int
enter_namespaces (struct init_ctx *c, berth_err *err)
{
  int flags = c->unshare_flags;
  bool user_joined = c->ns_fds[BERTH_NS_USER] >= 0;

  /* A joined user namespace first: it grants the rights for the rest. */
  if (ns_join (c->ns_fds, c->join_mask & (1u << BERTH_NS_USER), err) < 0)
    return -1;
  if ((c->new_userns || user_joined) && become_root_in_userns (err) < 0)
    return -1;
  if (ns_join (c->ns_fds, c->join_mask & ~((1u << BERTH_NS_USER) | (1u << BERTH_NS_MNT)), err) < 0)
    return -1;
  if (flags & CLONE_NEWUSER)
    return berth_fail (err, 0, "internal: user namespace must be created at clone");
  if ((flags & ~CLONE_NEWPID) && unshare (flags & ~CLONE_NEWPID) < 0)
    return berth_fail (err, errno, "unshare namespaces (flags 0x%x)", flags & ~CLONE_NEWPID);
  if (ns_join (c->ns_fds, c->join_mask & (1u << BERTH_NS_MNT), err) < 0)
    return -1;
  ns_close_all (c->ns_fds);
  if (c->spec->linux->namespaces[BERTH_NS_NET].present && c->spec->linux->namespaces[BERTH_NS_NET].path == NULL
      && ns_loopback_up (err) < 0)
    return -1;
  if (c->fork_again)
    fork_again (c);
  return 0;
}

static int
set_names_and_sysctls (struct init_ctx *c, berth_err *err)
{
  const struct berth_spec *s = c->spec;
  const struct berth_linux *lx = s->linux;

  if (s->hostname && sethostname (s->hostname, strlen (s->hostname)) < 0)
    return berth_fail (err, errno, "hostname: sethostname `%s`", s->hostname);
  if (s->domainname && setdomainname (s->domainname, strlen (s->domainname)) < 0)
    return berth_fail (err, errno, "domainname: setdomainname `%s`", s->domainname);
  for (size_t i = 0; lx && i < lx->n_sysctl; i++)
    {
      char path[512];
      cleanup_close int fd = -1;
      const char *k = lx->sysctl[i].key, *v = lx->sysctl[i].value;
      size_t len = snprintf (path, sizeof (path), "/proc/sys/%s", k);
      if (len >= sizeof (path) || strstr (k, ".."))
        return berth_fail (err, 0, "linux.sysctl: invalid key `%s`", k);
      for (char *p = path + 10; *p; p++)
        if (*p == '.')
          *p = '/';
      fd = open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0 || write (fd, v, strlen (v)) < 0)
        return berth_fail (err, errno, "linux.sysctl: set `%s` to `%s`", k, v);
    }
  return 0;
}

static int
setup_console (struct init_ctx *c, berth_err *err)
{
  cleanup_close int master = -1;
  char name[64] = "";

  if (c->console_fd < 0)
    return 0;
  if (terminal_setup_in_container (&master, err) < 0)
    return -1;
  if (ptsname_r (master, name, sizeof (name)) != 0)
    snprintf (name, sizeof (name), "/dev/console");
  if (c->process->has_console_size
      && terminal_set_size (master, c->process->console_height, c->process->console_width, err) < 0)
    return -1;
  if (devices_bind_console (name, err) < 0)
    return -1;
  if (terminal_send_master (c->console_fd, master, name, err) < 0)
    return -1;
  close (c->console_fd);
  c->console_fd = -1;
  return 0;
}

/* Ask the parent to run prestart and createRuntime hooks (runtime
 * namespace), then run createContainer hooks here (container namespaces,
 * before pivot_root: paths still resolve in the runtime's mount tree). */
static int
run_create_hooks (struct init_ctx *c, berth_err *err)
{
  unsigned want = (1u << BERTH_HOOK_PRESTART) | (1u << BERTH_HOOK_CREATE_RUNTIME) | (1u << BERTH_HOOK_CREATE_CONTAINER)
                  | (1u << BERTH_HOOK_START_CONTAINER);
  enum sync_type type;

  if (!(c->hooks & want))
    return 0;
  if (sync_send (c->sync_fd, SYNC_HOOKS, NULL, err) < 0 || sync_recv (c->sync_fd, &type, &c->state_json, err) < 0)
    return -1;
  if (type != SYNC_HOOKS_DONE)
    _exit (1); /* the parent failed and reports why */
  return hooks_run (c->spec, BERTH_HOOK_CREATE_CONTAINER, c->state_json, err);
}

/* The notify fd, if the filter has one, goes to the parent (which hands it
 * to the seccomp agent) in the same sendmsg. */
static int
load_seccomp (struct init_ctx *c, berth_err *err)
{
  int notify_fd = -1;
  int ret;

  if (c->seccomp == NULL)
    return 0;
  if (berth_seccomp_load (c->seccomp, &notify_fd, err) < 0)
    return -1;
  if (notify_fd < 0)
    return 0;
  ret = sync_send_fd (c->sync_fd, SYNC_SECCOMP_FD, notify_fd, err);
  close (notify_fd);
  return ret;
}

/* As late as possible, so few syscalls need allowing: with no_new_privs after
 * it is set, otherwise while CAP_SYS_ADMIN is still held (the kernel requires
 * one or the other). */
static int
apply_credentials_and_seccomp (struct init_ctx *c, berth_err *err)
{
  const struct berth_process *p = c->process;

  if (!p->no_new_privileges && load_seccomp (c, err) < 0)
    return -1;
  if (process_set_credentials_and_caps (p, true, err) < 0)
    return -1;
  if (p->no_new_privileges && load_seccomp (c, err) < 0)
    return -1;
  return 0;
}

/* chdir, then check the result is inside the container: a cwd through a
 * host fd (/proc/self/fd/N) would leave the process outside its root
 * (CVE-2024-21626).  getcwd() fails or does not start with "/" then. */
static int
enter_cwd (const char *cwd, const char *what, berth_err *err)
{
  char buf[4096];

  if (chdir (cwd ? cwd : "/") < 0)
    return berth_fail (err, errno, "%s: chdir `%s`", what, cwd);
  if (getcwd (buf, sizeof (buf)) == NULL && errno != ERANGE)
    return berth_fail (err, errno, "%s: `%s` is outside the container's root", what, cwd);
  if (buf[0] != '/')
    return berth_fail (err, 0, "%s: `%s` is outside the container's root", what, cwd);
  return 0;
}

static int
setup_container (struct init_ctx *c, char **exe, berth_err *err)
{
  const struct berth_process *p = c->process;

  if (enter_namespaces (c, err) < 0)
    return -1;
  if (process_set_oom_score_adj (p, err) < 0)
    return -1;
  if (rootfs_prepare (c, err) < 0)
    return -1;
  if (run_create_hooks (c, err) < 0)
    return -1;
  if (c->new_mntns)
    {
      if (rootfs_pivot (c, err) < 0)
        return -1;
    }
  /* In the host's mount namespace pivot_root would move everyone's root. */
  else if (chroot (c->rootfs) < 0 || chdir ("/") < 0)
    return berth_fail (err, errno, "chroot to `%s`", c->rootfs);
  if (set_names_and_sysctls (c, err) < 0)
    return -1;
  if (!c->no_new_keyring && process_join_session_keyring (c->id, err) < 0)
    return -1;
  if (setup_console (c, err) < 0)
    return -1;
  if (rootfs_finalize (c, err) < 0)
    return -1;
  if (process_set_rlimits (p, err) < 0)
    return -1;
  if (enter_cwd (p->cwd, "process.cwd", err) < 0)
    return -1;
  if (process_extras_apply (&c->extras, err) < 0)
    return -1;
  if (apply_credentials_and_seccomp (c, err) < 0)
    return -1;
  /* After the uid change: the cwd may be reachable only by the new user.
     Same path, root and fds as the checked chdir above, and seccomp may
     already forbid getcwd: a plain chdir. */
  if (chdir (p->cwd ? p->cwd : "/") < 0)
    return berth_fail (err, errno, "process.cwd: chdir `%s`", p->cwd);
  if (process_find_executable (p, exe, err) < 0)
    return -1;
  return process_prepare_fds (c->preserve_fds, err);
}

void
init_ctx_close_fds (struct init_ctx *c)
{
  ns_close_all (c->ns_fds);
  if (c->sync_fd >= 0)
    close (c->sync_fd);
  if (c->fifo_fd >= 0)
    close (c->fifo_fd);
  if (c->console_fd >= 0)
    close (c->console_fd);
  c->sync_fd = c->fifo_fd = c->console_fd = -1;
}

/* Until execve this process runs berth's own binary: not dumpable, so no
 * process in the container can open /proc/<pid>/exe (the host binary) or
 * our fds (CVE-2019-5736, CVE-2016-9962).  execve makes the user process
 * dumpable again as usual. */
static void
guard_runtime_binary (void)
{
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void
init_container_main (struct init_ctx *c)
{
  berth_err err = NULL;
  cleanup_free char *exe = NULL;
  char fifo_path[64];
  char **env;
  int fifo;

  guard_runtime_binary ();
  /* Nodes and files are made with the modes the spec gives. */
  umask (0);
  if (wait_for_go (c, &err) < 0 || setup_container (c, &exe, &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  env = process_exec_env (c->process);
  /* Checked now so that `create` fails, rather than the init after it. */
  snprintf (fifo_path, sizeof (fifo_path), "/proc/self/fd/%d", c->fifo_fd);
  if (access (fifo_path, F_OK) < 0)
    {
      berth_fail (&err, errno, "exec fifo unreachable through `%s` (is /proc mounted in the container?)", fifo_path);
      sync_child_fail (c->sync_fd, &err);
    }
  if (sync_send (c->sync_fd, SYNC_READY, NULL, &err) < 0)
    _exit (1);
  close (c->sync_fd);

  /* Blocks until `start` opens the fifo for reading. */
  fifo = open (fifo_path, O_WRONLY | O_CLOEXEC);
  if (fifo < 0)
    {
      fprintf (stderr, "open exec fifo: %s\n", strerror (errno));
      _exit (1);
    }
  if (write (fifo, "0", 1) != 1)
    _exit (1);
  close (c->fifo_fd);
  /* With startContainer or poststart hooks, `start` waits until the user
     process runs (runtime.md orders startContainer, the program, poststart):
     the fifo stays open until execve closes it, or carries the error. */
  if (!(c->hooks & ((1u << BERTH_HOOK_START_CONTAINER) | (1u << BERTH_HOOK_POSTSTART))))
    close (fifo);
  if ((c->hooks & (1u << BERTH_HOOK_START_CONTAINER))
      && hooks_run (c->spec, BERTH_HOOK_START_CONTAINER, c->state_json, &err) < 0)
    {
      /* A failure stops the container before the user process runs. */
      if (dprintf (fifo, "E%s", err->msg) < 0)
        fprintf (stderr, "%s\n", err->msg);
      _exit (1);
    }
  process_exec (c->process, exe, env, -1);
}

void
init_exec_main (struct init_ctx *c)
{
  berth_err err = NULL;
  cleanup_free char *exe = NULL;
  const struct berth_process *p = c->process;

  guard_runtime_binary ();
  umask (0);
  if (wait_for_go (c, &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  if (ns_join (c->ns_fds, c->join_mask, &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  ns_close_all (c->ns_fds);
  if (c->root_fd >= 0)
    {
      if (fchdir (c->root_fd) < 0 || chroot (".") < 0)
        {
          berth_fail (&err, errno, "chroot to the container's root");
          sync_child_fail (c->sync_fd, &err);
        }
      close (c->root_fd);
      c->root_fd = -1;
    }
  if (c->console_fd >= 0)
    {
      cleanup_close int master = -1;
      char name[64] = "";
      if (terminal_setup_in_container (&master, &err) < 0)
        sync_child_fail (c->sync_fd, &err);
      if (ptsname_r (master, name, sizeof (name)) != 0)
        snprintf (name, sizeof (name), "/dev/console");
      if (p->has_console_size && terminal_set_size (master, p->console_height, p->console_width, &err) < 0)
        sync_child_fail (c->sync_fd, &err);
      if (terminal_send_master (c->console_fd, master, name, &err) < 0)
        sync_child_fail (c->sync_fd, &err);
      close (c->console_fd);
    }
  if (process_set_rlimits (p, &err) < 0 || process_set_oom_score_adj (p, &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  if (enter_cwd (p->cwd, "cwd", &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  if (process_extras_apply (&c->extras, &err) < 0 || apply_credentials_and_seccomp (c, &err) < 0
      || process_find_executable (p, &exe, &err) < 0 || process_prepare_fds (c->preserve_fds, &err) < 0)
    sync_child_fail (c->sync_fd, &err);
  /* Success is the sync socket closing on exec. */
  process_exec (p, exe, process_exec_env (p), c->sync_fd);
}
