#include "runtime/sealed_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* kernels with vm.memfd_noexec want it said */
#endif

#define BERTH_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static int
make_memfd (void)
{
  int fd = memfd_create ("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) /* kernels before 6.3 know no MFD_EXEC */
    fd = memfd_create ("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return fd;
}

/* A binary nobody can write needs no copy: on a read-only mount, or marked
 * immutable (chattr +i: even root's writes fail).  Installing berth so saves
 * the copy and the re-exec on every create. */
static bool
exe_is_unwritable (int exe)
{
  struct statvfs vfs;
  int flags = 0;

  if (fstatvfs (exe, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
    return true;
  return ioctl (exe, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL);
}

/* A read-only bind mount of the binary alone, cloned with open_tree() and
 * never attached anywhere.  Run through it, /proc/self/exe names the same
 * file on a mount where every open for writing fails (EROFS; ETXTBSY while
 * it runs), as for a berth installed on a read-only mount, which
 * exe_is_unwritable() then sees after the exec.  No copy: the memfd costs
 * 0.15 ms for a 0.5 MB binary and 0.45 ms for the 1.8 MB static one, and
 * its pages are private to each run.  Detached, so no mount event reaches
 * systemd or any other mount-table watcher (runc 1.1's bind mounts, made in
 * a directory, caused such storms and were dropped for that).  Needs
 * CAP_SYS_ADMIN over the mount namespace: otherwise, or when the exec
 * fails, the caller falls back to the memfd copy. */
static void
maybe_exec_through_ro_bind (int exe, char **argv)
{
  cleanup_close int tree = open_tree (exe, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID };

  if (tree < 0 || mount_setattr (tree, "", AT_EMPTY_PATH, &attr, sizeof (attr)) < 0)
    return;
  syscall (SYS_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
}

int
berth_ensure_sealed_exe (char **argv, berth_err *err)
{
  cleanup_close int exe = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  cleanup_close int mfd = -1;
  struct stat sb;
  int seals;
  off_t off = 0;

  if (exe < 0)
    return berth_fail (err, errno, "open /proc/self/exe");
  seals = fcntl (exe, F_GET_SEALS);
  if ((seals >= 0 && (seals & BERTH_SEALS) == BERTH_SEALS) || exe_is_unwritable (exe))
    return 0;
  maybe_exec_through_ro_bind (exe, argv);
  if (fstat (exe, &sb) < 0)
    return berth_fail (err, errno, "stat /proc/self/exe");
  mfd = make_memfd ();
  if (mfd < 0)
    return berth_fail (err, errno, "memfd_create for a sealed copy of berth");
  while (off < sb.st_size)
    {
      ssize_t n = sendfile (mfd, exe, &off, sb.st_size - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return berth_fail (err, n < 0 ? errno : EIO, "copy berth into a sealed memfd");
    }
  if (fcntl (mfd, F_ADD_SEALS, BERTH_SEALS) < 0)
    return berth_fail (err, errno, "seal the copy of berth");
  /* execveat(AT_EMPTY_PATH) works on a close-on-exec fd for a binary. */
  syscall (SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  return berth_fail (err, errno, "re-execute berth from its sealed copy");
}
