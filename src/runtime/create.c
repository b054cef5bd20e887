/* The parent side of `create` (the child side is init.c; the protocol
 * between them is drawn in sync.h).  Every step registers its undo: on any
 * failure the child is killed, the cgroup removed and the state dir deleted,
 * so a failed create leaves nothing behind. */
#include "runtime/create.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/netdev.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/passwd.h"
#include "util/log.h"

pid_t
clone_child (unsigned long flags, int *cgroup_fd)
{
  struct clone_args args = { 0 };
  pid_t pid;

  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (*cgroup_fd >= 0)
    {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t)*cgroup_fd;
    }
  pid = (pid_t)syscall (SYS_clone3, &args, sizeof (args));
  if (pid < 0 && *cgroup_fd >= 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL))
    {
      /* Kernels before 5.7: the child joins its cgroup itself. */
      close (*cgroup_fd);
      *cgroup_fd = -1;
      args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
      args.cgroup = 0;
      pid = (pid_t)syscall (SYS_clone3, &args, sizeof (args));
    }
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG))
    pid = (pid_t)syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  return pid;
}

int
move_fd_above (int fd, int min, berth_err *err)
{
  int nfd;
  if (fd < 0 || fd >= min)
    return fd;
  nfd = fcntl (fd, F_DUPFD_CLOEXEC, min);
  if (nfd < 0)
    return berth_fail (err, errno, "dup fd %d", fd);
  close (fd);
  return nfd;
}

int
write_pid_file (const char *path, pid_t pid, berth_err *err)
{
  cleanup_free char *tmp = NULL;
  char buf[32];
  int len = snprintf (buf, sizeof (buf), "%d", pid);
  cleanup_close int fd = -1;

  if (asprintf (&tmp, "%s.berth-tmp", path) < 0)
    return berth_fail (err, ENOMEM, "pid file");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return berth_fail (err, errno, "create pid file `%s`", tmp);
  if (write (fd, buf, len) != len)
    {
      unlink (tmp);
      return berth_fail (err, errno, "write pid file `%s`", tmp);
    }
  /* Engines watch for the pid file: it appears whole, by rename. */
  if (rename (tmp, path) < 0)
    {
      unlink (tmp);
      return berth_fail (err, errno, "rename pid file to `%s`", path);
    }
  return 0;
}

static char *
read_file_limited (const char *path, size_t limit, size_t *len, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  char *buf;
  size_t off = 0;

  if (fd < 0)
    return (berth_fail (err, errno, "open `%s`", path), NULL);
  if (fstat (fd, &sb) < 0)
    return (berth_fail (err, errno, "stat `%s`", path), NULL);
  if (!S_ISREG (sb.st_mode))
    return (berth_fail (err, 0, "`%s` is not a regular file", path), NULL);
  if ((size_t)sb.st_size > limit)
    return (
        berth_fail (err, 0, "%s: config file too large (%lld bytes, limit %zu)", path, (long long)sb.st_size, limit),
        NULL);
  buf = malloc (sb.st_size + 1);
  while (off < (size_t)sb.st_size)
    {
      ssize_t n = read (fd, buf + off, sb.st_size - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      off += n;
    }
  buf[off] = '\0';
  *len = off;
  return buf;
}

static int
check_terminal_options (const struct berth_process *p, const char *console_socket, bool foreground, berth_err *err)
{
  if (p->terminal && console_socket == NULL && !foreground)
    return berth_fail (err, 0, "cannot allocate tty if berth will detach without setting console socket");
  if (!p->terminal && console_socket != NULL)
    return berth_fail (err, 0, "cannot use console socket if berth will not detach or allocate tty");
  return 0;
}

static char *
owner_name (void)
{
  char *name = passwd_field ("/etc/passwd", geteuid (), 0);
  return name ? name : strdup ("");
}

/* Everything the parent holds while the child is set up. */
struct create_job
{
  const struct berth_context *ctx;
  const struct berth_create_options *opts;
  struct init_ctx init;
  struct berth_spec *spec;
  struct berth_cgroup *cgroup;
  struct berth_seccomp *seccomp;
  struct netdev_list netdevs;
  bool cgroup_made;
  int dirfd;
  char *bundle;
  char *rootfs;
  char *config;
  size_t config_len;
  int sync_parent;
  int tty_parent; /* foreground terminal: our end of the console socketpair */
  pid_t pid;
  pid_t intermediate; /* joined userns + new pidns: the first child, which exits */
  struct host_mounts host_mounts;
  unsigned long long pid_start; /* of pid, read while it surely lives (before GO) */
  char *created; /* the state's creation time and owner, fixed at the first save */
  char *owner;
  int fifo_read; /* start_at_once: exec.fifo open for reading, or -1 */
};

static void
job_undo (struct create_job *j)
{
  berth_err ignored = NULL;

  if (j->pid > 0)
    {
      kill (j->pid, SIGKILL);
      waitpid (j->pid, NULL, 0);
    }
  if (j->intermediate > 0)
    {
      kill (j->intermediate, SIGKILL);
      waitpid (j->intermediate, NULL, 0);
    }
  if (host_mounts_release (&j->host_mounts, j->rootfs, &ignored) < 0)
    berth_err_free (&ignored);
  if (j->cgroup_made && berth_cgroup_destroy (j->cgroup, &ignored) < 0)
    berth_err_free (&ignored);
  if (j->dirfd >= 0 && berth_state_dir_remove (j->ctx->state_root, j->opts->id, &ignored) < 0)
    berth_err_free (&ignored);
}

static void
job_free (struct create_job *j)
{
  init_ctx_close_fds (&j->init);
  if (j->sync_parent >= 0)
    close (j->sync_parent);
  if (j->tty_parent >= 0)
    close (j->tty_parent);
  if (j->fifo_read >= 0)
    close (j->fifo_read);
  berth_seccomp_free (j->seccomp);
  netdev_list_free (&j->netdevs);
  free (j->init.time_offsets);
  for (size_t i = 0; i < j->init.n_idmap_fds; i++)
    if (j->init.idmap_fds[i] >= 0)
      close (j->init.idmap_fds[i]);
  free (j->init.idmap_fds);
  free (j->bundle);
  free (j->rootfs);
  free (j->config);
  free (j->created);
  free (j->owner);
  berth_cgroup_free (j->cgroup);
  berth_spec_free (j->spec);
}

static int
load_bundle (struct create_job *j, berth_err *err)
{
  const struct berth_create_options *o = j->opts;
  cleanup_free char *config_path = NULL;
  cleanup_free char *root = NULL;
  struct stat sb;

  j->bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (j->bundle == NULL)
    return berth_fail (err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
  if (o->config_path)
    config_path = strdup (o->config_path);
  else if (asprintf (&config_path, "%s/config.json", j->bundle) < 0)
    return berth_fail (err, ENOMEM, "config path");
  j->config = read_file_limited (config_path, 16 * 1024 * 1024, &j->config_len, err);
  if (j->config == NULL)
    return -1;
  j->spec = berth_spec_parse (j->config, j->config_len, config_path, err);
  if (j->spec == NULL)
    return -1;
  if (j->spec->process == NULL)
    return berth_fail (err, 0, "process: required to create a container");
  if (j->spec->root_path == NULL)
    return berth_fail (err, 0, "root.path: required to create a container");
  if (j->spec->root_path[0] == '/')
    root = strdup (j->spec->root_path);
  else if (asprintf (&root, "%s/%s", j->bundle, j->spec->root_path) < 0)
    return berth_fail (err, ENOMEM, "rootfs path");
  j->rootfs = realpath (root, NULL);
  if (j->rootfs == NULL)
    return berth_fail (err, errno, "root.path: rootfs `%s`", root);
  if (stat (j->rootfs, &sb) < 0)
    return berth_fail (err, errno, "root.path: rootfs `%s`", root);
  if (!S_ISDIR (sb.st_mode))
    return berth_fail (err, ENOTDIR, "root.path: rootfs `%s`", root);
  return 0;
}

/* A user namespace fd for each idmapped mount, made here where we are root
 * in the initial namespace; its own mappings, else the container's. */
static int
make_idmap_fds (struct create_job *j, berth_err *err)
{
  const struct berth_spec *s = j->spec;
  const struct berth_linux *lx = s->linux;

  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const struct berth_mount *m = &s->mounts[i];
      char what[32];
      bool own = m->n_uid_mappings > 0;
      if (!m->idmap)
        continue;
      if (j->init.idmap_fds == NULL)
        {
          j->init.idmap_fds = malloc (s->n_mounts * sizeof (int));
          j->init.n_idmap_fds = s->n_mounts;
          for (size_t k = 0; k < s->n_mounts; k++)
            j->init.idmap_fds[k] = -1;
        }
      snprintf (what, sizeof (what), "mounts[%zu]", i);
      j->init.idmap_fds[i] = ns_userns_fd_with_maps (
          own ? m->uid_mappings : lx->uid_mappings, own ? m->n_uid_mappings : lx->n_uid_mappings,
          own ? m->gid_mappings : lx->gid_mappings, own ? m->n_gid_mappings : lx->n_gid_mappings, what, err);
      if (j->init.idmap_fds[i] < 0)
        return -1;
    }
  return 0;
}

/* Decide which namespaces are created at clone, joined or unshared by the
 * child.  Fast path: clone creates them all and joins need no user ns. */
static unsigned long
plan_namespaces (struct create_job *j, bool *join_pid_in_parent)
{
  const struct berth_linux *lx = j->spec->linux;
  struct init_ctx *c = &j->init;
  unsigned long clone_flags = 0;
  bool join_user;

  *join_pid_in_parent = false;
  if (lx == NULL)
    return 0;
  join_user = c->ns_fds[BERTH_NS_USER] >= 0;
  for (int t = 0; t < BERTH_NS_COUNT; t++)
    {
      if (!lx->namespaces[t].present)
        continue;
      if (t == BERTH_NS_MNT)
        c->new_mntns = true; /* new or joined: the rootfs is set up in it (as runc) */
      if (c->ns_fds[t] >= 0)
        {
          /* Only children enter a joined pid ns: the parent enters it around
             clone, unless the user ns is joined too (the child must join
             that first, then fork once more). */
          if (t == BERTH_NS_PID && !join_user)
            *join_pid_in_parent = true;
          else
            c->join_mask |= 1u << t;
          if (t == BERTH_NS_PID && join_user)
            c->fork_again = true;
          continue;
        }
      /* The cgroup ns waits until we are in the container's cgroup. */
      if (t == BERTH_NS_CGROUP)
        c->unshare_flags |= CLONE_NEWCGROUP;
      else if (join_user)
        {
          /* New namespaces must belong to the joined user ns: the child makes
             them after joining it; a new pid ns needs one more fork. */
          if (t == BERTH_NS_PID)
            c->fork_again = c->unshare_pid = true;
          else
            c->unshare_flags |= ns_clone_flag (t);
        }
      else
        clone_flags |= ns_clone_flag (t);
      if (t == BERTH_NS_USER)
        c->new_userns = true;
    }
  if (c->time_offsets)
    {
      /* Offsets can only be written before a process enters the time ns:
         the child unshares it, writes them, and forks into it; a new pid ns
         moves to the child too (its init could not fork with CLONE_PARENT). */
      clone_flags &= ~(unsigned long)CLONE_NEWTIME;
      c->unshare_flags |= CLONE_NEWTIME;
      if (clone_flags & CLONE_NEWPID)
        {
          clone_flags &= ~(unsigned long)CLONE_NEWPID;
          c->unshare_pid = true;
        }
      c->fork_again = true;
    }
  return clone_flags;
}

static int
open_channels (struct create_job *j, bool foreground, berth_err *err)
{
  struct init_ctx *c = &j->init;
  int min = 3 + (j->opts->preserve_fds > 0 ? j->opts->preserve_fds : 0);
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail (err, errno, "socketpair");
  j->sync_parent = move_fd_above (sv[0], min, err);
  c->sync_fd = move_fd_above (sv[1], min, err);
  if (j->spec->process->terminal)
    {
      if (j->opts->console_socket)
        c->console_fd = terminal_connect_console_socket (j->opts->console_socket, err);
      else if (foreground)
        {
          if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return berth_fail (err, errno, "socketpair");
          j->tty_parent = sv[0];
          c->console_fd = sv[1];
        }
      if (c->console_fd < 0 && (j->opts->console_socket || foreground))
        return -1;
      c->console_fd = move_fd_above (c->console_fd, min, err);
    }
  if (c->fifo_fd >= 0)
    c->fifo_fd = move_fd_above (c->fifo_fd, min, err);
  return (j->sync_parent < 0 || c->sync_fd < 0 || (c->console_fd < 0 && c->console_fd != -1)) ? -1 : 0;
}

static int
spawn_init (struct create_job *j, berth_err *err)
{
  bool join_pid_in_parent;
  unsigned long flags = plan_namespaces (j, &join_pid_in_parent);
  cleanup_close int own_pidns = -1;
  cleanup_close int cgroup_fd = berth_cgroup_v2_dirfd (j->cgroup);
  int saved_errno;

  if (join_pid_in_parent)
    {
      own_pidns = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
      if (own_pidns < 0)
        return berth_fail (err, errno, "open /proc/self/ns/pid");
      if (setns (j->init.ns_fds[BERTH_NS_PID], CLONE_NEWPID) < 0)
        return berth_fail (err, errno, "join pid namespace `%s`", j->spec->linux->namespaces[BERTH_NS_PID].path);
    }
  j->init.cgroup = j->cgroup;
  j->pid = clone_child (flags, &cgroup_fd);
  saved_errno = errno;
  if (j->pid == 0)
    {
      j->init.cgroup_v2_joined = cgroup_fd >= 0;
      /* The state dir lock must stay with this process only: an init holding
         it would block `start` forever. */
      close (j->dirfd);
      close (j->sync_parent);
      if (j->tty_parent >= 0)
        close (j->tty_parent);
      init_container_main (&j->init);
    }
  if (join_pid_in_parent && setns (own_pidns, CLONE_NEWPID) < 0)
    return berth_fail (err, errno, "return to our pid namespace");
  if (j->pid < 0)
    {
      j->pid = 0;
      return berth_fail (err, saved_errno, "clone container init (flags 0x%lx)", flags);
    }
  /* Now, while the init waits for GO: once released (run opens the fifo
     early) it may exec, exit and be reaped before the state is saved. */
  j->pid_start = berth_proc_start_time (j->pid);
  if (j->init.extras.has_cpus_initial
      && sched_setaffinity (j->pid, sizeof (j->init.extras.cpus_initial), &j->init.extras.cpus_initial) < 0)
    return berth_fail (err, errno, "process.execCPUAffinity.initial: sched_setaffinity");
  /* Cgroup joined at clone time, or now. */
  if (j->init.new_userns && (flags & CLONE_NEWUSER) && ns_write_id_maps (j->pid, j->spec->linux, err) < 0)
    return -1;
  return 0;
}

/* prestart and createRuntime run here, in the runtime namespace, while the
 * child waits with its mounts done and before pivot_root. */
static int
run_parent_hooks (struct create_job *j, berth_err *err)
{
  /* "created": runtime.md's lifecycle runs these hooks (steps 3-5) after
     the environment is created (step 2). */
  cleanup_free char *state = hooks_state_json (j->opts->id, "created", j->pid, j->bundle, j->spec->annotations);

  if (hooks_run (j->spec, BERTH_HOOK_PRESTART, state, err) < 0
      || hooks_run (j->spec, BERTH_HOOK_CREATE_RUNTIME, state, err) < 0)
    return -1;
  return sync_send (j->sync_parent, SYNC_HOOKS_DONE, state, err);
}

/* The seccomp notify fd goes to linux.seccomp.listenerPath with the
 * container's state; we keep no copy. */
static int
send_to_seccomp_agent (struct create_job *j, int notify_fd, berth_err *err)
{
  return berth_seccomp_forward_notify_fd (j->seccomp, notify_fd, j->opts->id, "creating", j->pid, j->bundle,
                                          j->spec->annotations, err);
}

/* Wait for READY; ERROR carries the child's own message. */
static int
wait_for_init (struct create_job *j, berth_err *err)
{
  for (;;)
    {
      enum sync_type type;
      cleanup_free char *payload = NULL;

      int passed_fd = -1;
      if (sync_recv_fd (j->sync_parent, &type, &payload, &passed_fd, err) < 0)
        return -1;
      switch (type)
        {
        case SYNC_SECCOMP_FD:
          if (send_to_seccomp_agent (j, passed_fd, err) < 0)
            return -1;
          continue;
        case SYNC_READY:
          return 0;
        case SYNC_ERROR:
          return berth_fail (err, 0, "%s", payload);
        case SYNC_HOOKS:
          if (run_parent_hooks (j, err) < 0)
            return -1;
          continue;
        case SYNC_PID:
          j->intermediate = j->pid;
          j->pid = atoi (payload);
          j->pid_start = berth_proc_start_time (j->pid); /* alive: READY is not sent yet */
          waitpid (j->intermediate, NULL, 0);
          j->intermediate = 0;
          continue;
        default:
          {
            int status = 0;
            if (waitpid (j->pid, &status, WNOHANG) > 0)
              j->pid = 0;
            return berth_fail (err, 0, "container init exited before it was ready (status %d)",
                               WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
          }
        }
    }
}

/* The state as it stands, written when the init is ready (and, without a
 * mount namespace, once before the cgroup is made, for the host mount).  A
 * create killed before leaves config.json, from which delete --force finds
 * the cgroup; the init's pid need not be recorded: until GO the init exits
 * when our end of the sync socket closes, and from GO on it is in the
 * container's cgroup, where delete kills whatever it finds. */
static struct berth_state *
build_state (struct create_job *j, bool creating)
{
  struct berth_state *st = calloc (1, sizeof (*st));
  const struct berth_linux *lx = j->spec->linux;

  st->id = strdup (j->opts->id);
  st->pid = j->pid;
  st->pid_start = j->pid > 0 ? j->pid_start : 0;
  st->bundle = strdup (j->bundle);
  st->rootfs = strdup (j->rootfs);
  if (j->created == NULL)
    {
      j->created = berth_now_rfc3339 ();
      j->owner = owner_name ();
    }
  st->created = strdup (j->created);
  st->owner = strdup (j->owner);
  st->annotations = j->spec->annotations ? json_deep_copy (j->spec->annotations) : json_object ();
  st->cgroup = j->cgroup; /* borrowed until the final save */
  st->new_pid_ns = lx && lx->namespaces[BERTH_NS_PID].present;
  st->hooks = j->init.hooks;
  st->host_mounts = j->host_mounts;
  st->creating = creating;
  st->cgroup_pending = creating && !j->cgroup_made;
  return st;
}

static int
save_progress (struct create_job *j, berth_err *err)
{
  struct berth_state *st = build_state (j, true);
  int ret = berth_state_save (j->dirfd, st, err);

  st->cgroup = NULL;
  berth_state_free (st);
  return ret;
}

static int
save_state (struct create_job *j, struct berth_state **out, berth_err *err)
{
  struct berth_state *st = build_state (j, false);

  if (berth_state_save (j->dirfd, st, err) < 0)
    {
      st->cgroup = NULL;
      berth_state_free (st);
      return -1;
    }
  j->cgroup = NULL; /* owned by the state now */
  *out = st;
  return 0;
}

static int
create_steps (struct create_job *j, bool foreground, bool start_at_once, berth_err *err)
{
  const struct berth_create_options *o = j->opts;
  const struct berth_linux *lx;

  if (berth_validate_id (o->id, err) < 0 || load_bundle (j, err) < 0)
    return -1;
  lx = j->spec->linux;
  j->init.spec = j->spec;
  j->init.process = j->spec->process;
  j->init.bundle = j->bundle;
  j->init.rootfs = j->rootfs;
  j->init.hooks = hooks_mask (j->spec);
  if (check_terminal_options (j->spec->process, o->console_socket, foreground, err) < 0
      || validate_for_create (j->spec, j->ctx->systemd_cgroup, err) < 0
      || process_extras_parse (j->spec->process, lx, &j->init.extras, err) < 0
      || ns_time_offsets (lx, &j->init.time_offsets, err) < 0 || netdev_parse (lx, &j->netdevs, err) < 0)
    return -1;
  if (lx == NULL)
    return berth_fail (err, 0, "linux: required on Linux");
  if (lx->seccomp && (j->init.seccomp = j->seccomp = berth_seccomp_compile (lx->seccomp, err)) == NULL)
    return -1;
  /* No mount namespace: the host's is inherited (config-linux.md), and the
     mounts made there are detached at delete (host_mounts.h). */
  if (!lx->namespaces[BERTH_NS_MNT].present)
    {
      if (lx->rootfs_propagation)
        return berth_fail (err, 0, "linux.rootfsPropagation: needs a mount namespace (it would change the host's mounts)");
      if (host_mounts_begin (&j->host_mounts, j->rootfs, err) < 0)
        return berth_wrap (err, "root.path");
    }
  j->dirfd = berth_state_dir_create (j->ctx->state_root, o->id, err);
  if (j->dirfd < 0)
    return -1;
  /* Written in place, not by rename: nobody reads it before state.json
     exists, and a create killed while writing leaves a container that
     delete --force removes without it. */
  if (berth_write_file_new (j->dirfd, "config.json", j->config, j->config_len, 0600, err) < 0)
    return -1;
  if (mkfifoat (j->dirfd, BERTH_EXEC_FIFO, 0622) < 0)
    return berth_fail (err, errno, "mkfifo `%s/%s/%s`", j->ctx->state_root, o->id, BERTH_EXEC_FIFO);
  /* Writable by the container's user whoever it is (the umask would make it
     0600), owned by the container's root. */
  if (fchmodat (j->dirfd, BERTH_EXEC_FIFO, 0622, 0) < 0)
    return berth_fail (err, errno, "chmod `%s`", BERTH_EXEC_FIFO);
  if (lx->namespaces[BERTH_NS_USER].present)
    {
      uid_t uid = 0;
      gid_t gid = 0;
      for (size_t i = 0; i < lx->n_uid_mappings; i++)
        if (lx->uid_mappings[i].container_id == 0)
          uid = lx->uid_mappings[i].host_id;
      for (size_t i = 0; i < lx->n_gid_mappings; i++)
        if (lx->gid_mappings[i].container_id == 0)
          gid = lx->gid_mappings[i].host_id;
      if (fchownat (j->dirfd, BERTH_EXEC_FIFO, uid, gid, 0) < 0)
        return berth_fail (err, errno, "chown `%s`", BERTH_EXEC_FIFO);
    }
  j->init.fifo_fd = openat (j->dirfd, BERTH_EXEC_FIFO, O_PATH | O_CLOEXEC);
  if (j->init.fifo_fd < 0)
    return berth_fail (err, errno, "open `%s`", BERTH_EXEC_FIFO);
  if (ns_open_paths (lx, j->init.ns_fds, err) < 0 || make_idmap_fds (j, err) < 0)
    return -1;
  j->cgroup = berth_cgroup_resolve (lx->cgroups_path, o->id, err);
  if (j->cgroup == NULL)
    return -1;
  {
    /* Resources as given, with the device rules every container needs. */
    struct berth_resources res = lx->resources ? *lx->resources : (struct berth_resources){ 0 };
    cleanup_free struct berth_device_rule *rules = devices_cgroup_rules (lx, &res.n_devices);
    res.devices = rules;
    /* A create killed from here on leaves cgroups for delete --force to
       find: from config.json (berth_container_delete), or, for a rootfs
       bound in the host's mount table, from a first state.json that also
       names that mount.  The state proper is written once, when ready: on
       ext4 each new file and each replaced one costs a block allocation or
       a discard. */
    if ((j->host_mounts.used && save_progress (j, err) < 0) || berth_cgroup_create (j->cgroup, &res, err) < 0)
      return -1;
  }
  j->cgroup_made = true;
  if (open_channels (j, foreground, err) < 0)
    return -1;
  if (spawn_init (j, err) < 0)
    return -1;
  /* A reader on the fifo lets the init go straight on to its execve once
     ready; we save the state meanwhile and read its byte afterwards. */
  if (start_at_once && (j->fifo_read = openat (j->dirfd, BERTH_EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
    return berth_fail (err, errno, "open exec fifo of `%s`", o->id);
  /* The init's network namespace exists now; it waits for GO. */
  if (netdev_move_into (&j->netdevs, j->pid, err) < 0)
    return -1;
  close (j->init.sync_fd);
  j->init.sync_fd = -1;
  berth_log (BERTH_LOG_DEBUG, "container %s: init started as pid %d (unshared by the init: 0x%x)", o->id, j->pid,
             j->init.unshare_flags);
  if (sync_send (j->sync_parent, SYNC_GO, NULL, err) < 0)
    return -1;
  if (wait_for_init (j, err) < 0 || host_mounts_commit (&j->host_mounts, j->rootfs, err) < 0)
    return -1;
  berth_log (BERTH_LOG_DEBUG, "container %s: init ready, waiting for start", o->id);
  return 0;
}

int
create_container (const struct berth_context *ctx, const struct berth_create_options *opts, bool foreground,
                  bool start_at_once, struct created_container *out, berth_err *err)
{
  struct create_job j
      = { .ctx = ctx, .opts = opts, .dirfd = -1, .sync_parent = -1, .tty_parent = -1, .fifo_read = -1 };
  int ret;

  out->state = NULL;
  out->spec = NULL;
  out->dirfd = out->master_fd = out->fifo_fd = -1;
  j.init.id = opts->id;
  j.init.sync_fd = j.init.fifo_fd = j.init.console_fd = j.init.root_fd = -1;
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    j.init.ns_fds[i] = -1;
  j.init.no_pivot = opts->no_pivot;
  j.init.no_new_keyring = opts->no_new_keyring;
  j.init.preserve_fds = opts->preserve_fds;

  ret = create_steps (&j, foreground, start_at_once, err);
  if (ret == 0)
    {
      if (j.tty_parent >= 0)
        {
          out->master_fd = terminal_recv_fd (j.tty_parent, err);
          if (out->master_fd < 0)
            ret = -1;
        }
      else
        out->master_fd = -1;
    }
  if (ret == 0)
    ret = save_state (&j, &out->state, err);
  if (ret == 0 && opts->pid_file)
    ret = write_pid_file (opts->pid_file, j.pid, err);
  if (ret < 0)
    {
      if (out->master_fd >= 0)
        close (out->master_fd);
      if (out->state)
        {
          berth_state_free (out->state);
          out->state = NULL;
        }
      job_undo (&j);
      if (j.dirfd >= 0)
        close (j.dirfd);
      job_free (&j);
      return -1;
    }
  out->dirfd = j.dirfd;
  out->spec = j.spec;
  out->fifo_fd = j.fifo_read;
  j.spec = NULL;
  j.fifo_read = -1;
  job_free (&j);
  return 0;
}

void
created_container_release (struct created_container *cc)
{
  berth_state_free (cc->state);
  berth_spec_free (cc->spec);
  if (cc->dirfd >= 0)
    close (cc->dirfd);
  if (cc->master_fd >= 0)
    close (cc->master_fd);
  if (cc->fifo_fd >= 0)
    close (cc->fifo_fd);
  memset (cc, 0, sizeof (*cc));
  cc->dirfd = cc->master_fd = cc->fifo_fd = -1;
}

int
berth_container_create (const struct berth_context *ctx, const struct berth_create_options *opts, berth_err *err)
{
  struct created_container cc;

  if (create_container (ctx, opts, false, false, &cc, err) < 0)
    return -1;
  created_container_release (&cc);
  return 0;
}
