/* Pod namespaces pinned on disk, as CRI-O's pinns does.
 *
 *   berthd                                  child (fork)
 *     socketpair ─────────────────────────▶  unshare(types)
 *                                            sethostname, lo up
 *     read status  ◀──────── {stage, errno}  write status
 *     mount --bind /proc/<child>/ns/<t>      read () blocks
 *                   onto <dir>/<t>
 *     close socket ──────────────────────▶   EOF: _exit (0)
 *     waitpid
 *
 * The bind mount of the nsfs file holds a reference to the namespace, so it
 * outlives the child: the netns exists and is persistent before CNI runs, and
 * no process has to stay behind for it.  The child runs only async-signal-safe
 * system calls, since berthd is multi-threaded when it forks.
 */
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "util/cleanup.h"
#include "util/file.h"

#define PIN_TYPES (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

static const struct
{
  unsigned flag;
  const char *name;
} ns_kinds[] = {
  { CLONE_NEWNET, "net" },
  { CLONE_NEWIPC, "ipc" },
  { CLONE_NEWUTS, "uts" },
};
#define N_KINDS (sizeof (ns_kinds) / sizeof (ns_kinds[0]))

/* Where the child failed, for the parent's message. */
enum pin_stage
{
  STAGE_OK = 0,
  STAGE_UNSHARE,
  STAGE_HOSTNAME,
  STAGE_LO,
};

struct pin_status
{
  int stage;
  int errnum;
};

static char **
kind_slot (struct pinned_ns *ns, unsigned flag)
{
  switch (flag)
    {
    case CLONE_NEWNET:
      return &ns->net_path;
    case CLONE_NEWIPC:
      return &ns->ipc_path;
    default:
      return &ns->uts_path;
    }
}

static int
do_lo_up (void)
{
  struct ifreq ifr;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int ret = -1;

  if (fd < 0)
    return -1;
  memset (&ifr, 0, sizeof (ifr));
  memcpy (ifr.ifr_name, "lo", 3);
  if (ioctl (fd, SIOCGIFFLAGS, &ifr) == 0)
    {
      ifr.ifr_flags |= IFF_UP;
      ret = ioctl (fd, SIOCSIFFLAGS, &ifr);
    }
  close (fd);
  return ret;
}

/* The child: async-signal-safe calls only. */
static void __attribute__ ((noreturn)) pin_child (int sock, unsigned types, const char *hostname)
{
  struct pin_status st = { STAGE_OK, 0 };
  char c;

  /* Hold nothing of berthd but our socket: a copy of another pin's socket,
     inherited from a fork in a sibling thread, would keep that pin waiting
     (and berthd's sockets open) for as long as we live. */
  if (sock != 3)
    {
      dup2 (sock, 3);
      sock = 3;
    }
  close_range (4, ~0U, 0);

  if (unshare ((int)types) < 0)
    st = (struct pin_status){ STAGE_UNSHARE, errno };
  else if ((types & CLONE_NEWUTS) && hostname != NULL && sethostname (hostname, strlen (hostname)) < 0)
    st = (struct pin_status){ STAGE_HOSTNAME, errno };
  else if ((types & CLONE_NEWNET) && do_lo_up () < 0)
    st = (struct pin_status){ STAGE_LO, errno };
  (void)berth_write_all (sock, &st, sizeof (st));
  /* Stay until the parent has bind-mounted our namespaces: it sends one
     byte (or goes away). */
  while (read (sock, &c, 1) < 0 && errno == EINTR)
    ;
  _exit (0);
}

static int
read_status (int sock, struct pin_status *st, berth_err *err)
{
  size_t off = 0;
  while (off < sizeof (*st))
    {
      ssize_t n = read (sock, (char *)st + off, sizeof (*st) - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail (err, errno, "pin namespaces: read from child");
      if (n == 0)
        return berth_fail (err, 0, "pin namespaces: child exited early");
      off += (size_t)n;
    }
  return 0;
}

/* Unmounts every mount stacked on `path` (a pin may have been done twice by
   hand); a path that is not a mount point or is missing is fine. */
static int
unmount_all (const char *path, berth_err *err)
{
  for (int i = 0; i < 16; i++)
    if (umount2 (path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
      {
        if (errno == EINVAL || errno == ENOENT)
          return 0;
        return berth_fail (err, errno, "unmount `%s`", path);
      }
  return berth_fail (err, EBUSY, "unmount `%s`", path);
}

static void
undo_pins (struct pinned_ns *ns)
{
  for (size_t i = 0; i < N_KINDS; i++)
    {
      char **slot = kind_slot (ns, ns_kinds[i].flag);
      if (*slot == NULL)
        continue;
      unmount_all (*slot, NULL);
      unlink (*slot);
      free (*slot);
      *slot = NULL;
    }
}

/* Creates <dir>/<name> (empty, exclusive) and bind-mounts the child's
   namespace onto it. */
static int
pin_one (const char *dir, const char *name, pid_t child, char **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  char src[64];
  int fd;

  if (asprintf (&path, "%s/%s", dir, name) < 0)
    return berth_fail (err, ENOMEM, "pin namespaces");
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", path);
  close (fd);
  snprintf (src, sizeof (src), "/proc/%d/ns/%s", (int)child, name);
  if (mount (src, path, "none", MS_BIND, NULL) < 0)
    {
      int e = errno;
      unlink (path);
      return berth_fail (err, e, "bind mount `%s` on `%s`", src, path);
    }
  *out = steal_pointer (&path);
  return 0;
}

int
net_pin_namespaces (const char *dir, unsigned types, const char *hostname, struct pinned_ns *out, berth_err *err)
{
  struct pinned_ns ns = { 0 };
  cleanup_close int sock = -1;
  cleanup_pid pid_t child = -1;
  struct pin_status st;
  bool made_dir = false;
  int sv[2];

  if (types == 0 || (types & ~PIN_TYPES) != 0)
    return berth_fail (err, EINVAL, "pin namespaces: types %#x: only net, ipc and uts can be pinned", types);
  if (hostname != NULL && (hostname[0] == '\0' || strlen (hostname) > HOST_NAME_MAX))
    return berth_fail (err, EINVAL, "pin namespaces: invalid hostname \"%s\"", hostname);
  if (mkdir (dir, 0700) == 0)
    made_dir = true;
  else if (errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s`", dir);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      berth_fail (err, errno, "pin namespaces: socketpair");
      goto fail;
    }
  child = fork ();
  if (child < 0)
    {
      berth_fail (err, errno, "pin namespaces: fork");
      close (sv[0]);
      close (sv[1]);
      goto fail;
    }
  if (child == 0)
    {
      close (sv[0]);
      pin_child (sv[1], types, hostname);
    }
  close (sv[1]);
  sock = sv[0];

  if (read_status (sock, &st, err) < 0)
    goto fail;
  switch (st.stage)
    {
    case STAGE_OK:
      break;
    case STAGE_UNSHARE:
      berth_fail (err, st.errnum, "pin namespaces: unshare");
      goto fail;
    case STAGE_HOSTNAME:
      berth_fail (err, st.errnum, "pin namespaces: sethostname \"%s\"", hostname);
      goto fail;
    default:
      berth_fail (err, st.errnum, "pin namespaces: bring up lo");
      goto fail;
    }

  ns.types = types;
  for (size_t i = 0; i < N_KINDS; i++)
    if ((types & ns_kinds[i].flag)
        && pin_one (dir, ns_kinds[i].name, child, kind_slot (&ns, ns_kinds[i].flag), err) < 0)
      goto fail;

  /* Release the child with a byte, not by closing: a child forked by
     another thread meanwhile may hold a copy of our end, and EOF would wait
     for it.  It exits and we reap it (no zombie left). */
  (void)berth_write_all (sock, "", 1);
  close (steal_fd (&sock));
  while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
    ;
  child = -1;
  *out = ns;
  return 0;

fail:
  undo_pins (&ns);
  if (made_dir)
    rmdir (dir);
  return -1;
}

int
net_unpin_namespaces (const char *dir, berth_err *err)
{
  int ret = 0;

  for (size_t i = 0; i < N_KINDS; i++)
    {
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s", dir, ns_kinds[i].name) < 0)
        return berth_fail (err, ENOMEM, "unpin namespaces");
      if (unmount_all (path, err) < 0)
        {
          ret = -1;
          continue;
        }
      if (unlink (path) < 0 && errno != ENOENT)
        ret = berth_fail (err, errno, "remove `%s`", path);
    }
  if (rmdir (dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
    ret = berth_fail (err, errno, "remove `%s`", dir);
  return ret;
}

bool
net_ns_path_is_pinned (const char *path)
{
  struct statfs sfs;
  return path != NULL && path[0] != '\0' && statfs (path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int
net_pinned_lookup (const char *dir, struct pinned_ns *out, berth_err *err)
{
  struct pinned_ns ns = { 0 };

  for (size_t i = 0; i < N_KINDS; i++)
    {
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s", dir, ns_kinds[i].name) < 0)
        {
          pinned_ns_free (&ns);
          return berth_fail (err, ENOMEM, "look up pinned namespaces");
        }
      if (!net_ns_path_is_pinned (path))
        continue;
      ns.types |= ns_kinds[i].flag;
      *kind_slot (&ns, ns_kinds[i].flag) = steal_pointer (&path);
    }
  *out = ns;
  return 0;
}

void
pinned_ns_free (struct pinned_ns *ns)
{
  if (ns == NULL)
    return;
  free (ns->net_path);
  free (ns->ipc_path);
  free (ns->uts_path);
  memset (ns, 0, sizeof (*ns));
}
