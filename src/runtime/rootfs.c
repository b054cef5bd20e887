/* The container's filesystem view, set up by the init in its new mount
 * namespace:
 *
 *   1. "/" made rslave (or as rootfsPropagation says) so nothing we mount
 *      propagates to the host;
 *   2. the rootfs bind-mounted onto itself (pivot_root needs a mount point);
 *   3. each spec mount, its destination resolved inside the rootfs and
 *      mounted through the resolved fd (a symlink cannot send it outside);
 *   4. /dev nodes and links;
 *   5. pivot_root (or MS_MOVE + chroot with --no-pivot);
 *   6. after the console is set up: readonly root, masked and readonly paths.
 */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/copyup.h"
#include "runtime/mountfd.h"
#include "util/cleanup.h"
#include "util/path.h"

static bool
is_dir_path (const char *path)
{
  struct stat sb;
  return stat (path, &sb) == 0 && S_ISDIR (sb.st_mode);
}

static char *
bind_source_path (struct init_ctx *c, const char *source)
{
  char *out = NULL;
  if (source[0] == '/')
    return strdup (source);
  if (asprintf (&out, "%s/%s", c->bundle, source) < 0)
    return NULL;
  return out;
}

/* mkdir/creat the destination inside the rootfs and return an O_PATH fd of
 * it.  Bind mounts of a non-directory need a file as target. */
static int
make_target (int rootfd, const char *dest, bool want_dir, berth_err *err)
{
  int fd;
  if (want_dir)
    fd = safe_mkdir_p_in_root (rootfd, dest, 0755, err);
  else
    fd = safe_create_file_in_root (rootfd, dest, 0644, err);
  if (fd < 0)
    berth_wrap (err, "mount destination `%s`", dest);
  return fd;
}

static int mount_cgroup_v1_tree (const struct berth_cgroup *cg, int target_fd, const char *dest, unsigned long flags,
                                 berth_err *err);

/* proc and sysfs give the container power over the host (sysrq, uevent
 * helper ...): never over a symlink, which could put them somewhere the
 * masked and readonly paths do not cover (CVE-2019-16884 kin). */
static int
check_ordinary_dir (int rootfd, const struct berth_mount *m, size_t idx, berth_err *err)
{
  berth_err ignored = NULL;
  struct stat sb;
  cleanup_close int fd = safe_openat_in_root (rootfd, m->destination, O_PATH | O_NOFOLLOW, 0, &ignored);

  if (fd < 0)
    {
      berth_err_free (&ignored);
      return 0; /* missing: made as a directory */
    }
  if (fstat (fd, &sb) < 0)
    return berth_fail (err, errno, "mounts[%zu]: stat `%s`", idx, m->destination);
  if (!S_ISDIR (sb.st_mode))
    return berth_fail (err, 0, "mounts[%zu]: filesystem \"%s\" must be mounted on ordinary directory (`%s` is not one)",
                       idx, m->type, m->destination);
  return 0;
}

/* The new tmpfs is filled while still detached, so the container never sees
 * it half copied, and made read-only (if asked) only afterwards. */
static int
mount_tmpfs_copyup (const struct berth_mount *m, int target, berth_err *err)
{
  cleanup_close int mnt = mountfd_fs_create ("tmpfs", m->source, m->data, m->flags & ~MS_RDONLY, m->destination, err);

  if (mnt < 0 || copyup_tree (target, mnt, m->destination, err) < 0)
    return -1;
  if ((m->flags & MS_RDONLY) && mountfd_setattr (mnt, false, MOUNT_ATTR_RDONLY, 0, 0, m->destination, err) < 0)
    return -1;
  return mountfd_attach (mnt, m->propagation, target, m->destination, err);
}

static int
do_spec_mount (struct init_ctx *c, int rootfd, const struct berth_mount *m, size_t idx, berth_err *err)
{
  cleanup_close int target = -1;
  cleanup_free char *src = NULL;
  const char *type = m->type ? m->type : "";

  if (m->is_bind)
    {
      struct mountfd_bind b = { .userns_fd = -1 };
      src = bind_source_path (c, m->source ? m->source : "");
      if (src == NULL)
        return berth_fail (err, ENOMEM, "mounts[%zu]", idx);
      target = make_target (rootfd, m->destination, is_dir_path (src), err);
      if (target < 0)
        return -1;
      b.source = src;
      b.recursive = m->recursive_bind;
      b.attr_set = mountfd_attr_from_ms (m->flags);
      b.attr_clr = mountfd_attr_from_ms (m->clear_flags);
      b.rattr_set = m->attr_set;
      b.rattr_clr = m->attr_clr;
      b.propagation = m->propagation;
      if (c->idmap_fds && c->idmap_fds[idx] >= 0)
        {
          b.userns_fd = c->idmap_fds[idx];
          b.idmap_recursive = m->recursive_idmap;
        }
      if (mountfd_bind_onto (&b, target, m->destination, err) < 0)
        return berth_wrap (err, "mounts[%zu]", idx);
      return 0;
    }

  if (m->idmap)
    return berth_fail (err, 0, "mounts[%zu]: idmapped mounts are supported for bind mounts only", idx);
  if ((strcmp (type, "proc") == 0 || strcmp (type, "sysfs") == 0) && check_ordinary_dir (rootfd, m, idx, err) < 0)
    return -1;
  target = make_target (rootfd, m->destination, true, err);
  if (target < 0)
    return -1;
  if (strcmp (type, "cgroup") == 0)
    {
      if (mount_cgroup_v1_tree (c->cgroup, target, m->destination, m->flags, err) < 0)
        return berth_wrap (err, "mounts[%zu]", idx);
      return 0;
    }
  if (m->tmpcopyup && strcmp (type, "tmpfs") == 0)
    {
      if (mount_tmpfs_copyup (m, target, err) < 0)
        return berth_wrap (err, "mounts[%zu]", idx);
    }
  else if (mountfd_fs_onto (type, m->source, m->data, m->flags, m->propagation, target, m->destination, err) < 0)
    return berth_wrap (err, "mounts[%zu]", idx);
  if ((m->attr_set || m->attr_clr))
    {
      cleanup_close int top = safe_openat_in_root (rootfd, m->destination, O_PATH | O_DIRECTORY, 0, err);
      if (top < 0 || mountfd_setattr (top, true, m->attr_set, m->attr_clr, 0, m->destination, err) < 0)
        return berth_wrap (err, "mounts[%zu]", idx);
    }
  return 0;
}

/* Bind one hierarchy's container directory (src) under the tmpfs, named as
 * the host's mount point of the hierarchy. */
static int
bind_hierarchy (int tmpfs, const char *mount, const char *src, const char *dest, unsigned long flags, berth_err *err)
{
  const char *base = strrchr (mount, '/');
  cleanup_close int sub = -1;
  struct mountfd_bind b = { .userns_fd = -1, .source = src };

  if (base == NULL || base[1] == '\0')
    return 0;
  base++;
  if (mkdirat (tmpfs, base, 0755) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s/%s`", dest, base);
  sub = openat (tmpfs, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0)
    return berth_fail (err, errno, "open `%s/%s`", dest, base);
  b.attr_set = mountfd_attr_from_ms (flags | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  return mountfd_bind_onto (&b, sub, dest, err);
}

/* "cgroup" mounts: cgroup2 where the host is unified; on v1 and hybrid hosts
 * a tmpfs with one bind per host hierarchy (as runc does without a cgroup
 * namespace; cgroup v1 cannot be mounted from a user namespace, a bind works
 * everywhere).  The hierarchies are the container's cgroup as the parent
 * resolved it: no mount table to read and parse again here. */
static int
mount_cgroup_v1_tree (const struct berth_cgroup *cg, int target_fd, const char *dest, unsigned long flags,
                      berth_err *err)
{
  cleanup_close int tmpfs = -1;
  size_t n = berth_cgroup_count (cg);
  bool v1 = false;
  const char *mount, *path;
  int version;

  for (size_t i = 0; i < n; i++)
    {
      berth_cgroup_hierarchy (cg, i, &mount, &path, &version);
      v1 |= version == 1;
    }
  if (!v1)
    return mountfd_fs_onto ("cgroup2", "cgroup", NULL, flags, 0, target_fd, dest, err);
  /* Populated through the new tmpfs' own fd, then made read-only as asked. */
  tmpfs = mountfd_fs_attach ("tmpfs", "tmpfs", "mode=755", flags & ~MS_RDONLY, 0, target_fd, dest, err);
  if (tmpfs < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      berth_cgroup_hierarchy (cg, i, &mount, &path, &version);
      if (bind_hierarchy (tmpfs, mount, path, dest, flags, err) < 0)
        return -1;
    }
  return (flags & MS_RDONLY) ? mountfd_setattr (tmpfs, false, MOUNT_ATTR_RDONLY, 0, 0, dest, err) : 0;
}

/* The mount point of the mount that holds `path` (a resolved path): the
 * longest mount point in mountinfo that is `path` or a parent of it. */
static char *
mount_point_of (const char *path)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char *line = NULL, *best = NULL;
  size_t cap = 0, best_len = 0;

  while (f && getline (&line, &cap, f) > 0)
    {
      char mp[PATH_MAX], *o = mp;
      const char *p;
      size_t len;
      if (sscanf (line, "%*s %*s %*s %*s %4095s", mp) != 1)
        continue;
      /* mountinfo escapes space, tab, newline and backslash as \ooo. */
      for (p = mp; *p; p++)
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3])
          {
            *o++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
            p += 3;
          }
        else
          *o++ = *p;
      *o = '\0';
      len = strlen (mp);
      if ((len == 1 || (strncmp (path, mp, len) == 0 && (path[len] == '/' || path[len] == '\0'))) && len >= best_len)
        {
          free (best);
          best = strdup (mp);
          best_len = len;
        }
    }
  free (line);
  if (f)
    fclose (f);
  return best;
}

static int
set_root_propagation (struct init_ctx *c, berth_err *err)
{
  unsigned long prop = MS_SLAVE | MS_REC;
  const struct berth_linux *lx = c->spec->linux;

  if (lx && lx->rootfs_propagation)
    prop = lx->rootfs_propagation;
  if (prop & MS_SHARED)
    {
      /* Shared, as runc does: "/" stays a peer of the host's mounts, so a
         bind mount asked rshared (CRI's Bidirectional) sends what the
         container mounts under it back to the host.  The mount holding the
         rootfs is made private first, so the rootfs bind and everything
         mounted in it (proc, dev, ...) stay in the container. */
      cleanup_free char *real = realpath (c->rootfs, NULL);
      cleanup_free char *mp = real ? mount_point_of (real) : NULL;
      if (mount (NULL, "/", NULL, MS_SHARED | MS_REC, NULL) < 0)
        return berth_fail (err, errno, "set propagation of `/`");
      if (mp == NULL || mount (NULL, mp, NULL, MS_PRIVATE, NULL) < 0)
        return berth_fail (err, mp ? errno : ENOENT, "make the mount holding rootfs `%s` private", c->rootfs);
      return 0;
    }
  /* Otherwise never let our mounts reach the host: slave (default) or as
     asked.  unbindable is applied to the new "/" after pivot_root
     (rootfs_finalize): an unbindable rootfs could not be bind-mounted onto
     itself. */
  if (mount (NULL, "/", NULL, (prop & MS_UNBINDABLE) ? MS_SLAVE | MS_REC : prop | MS_REC, NULL) < 0)
    return berth_fail (err, errno, "set propagation of `/`");
  return 0;
}

static int
make_rootfs_mount_point (struct init_ctx *c, berth_err *err)
{
  /* Without a mount namespace of its own (host_mounts.h) the host's
     propagation is not ours to change; the rootfs still gets a bind of its
     own, so root.readonly and the mounts below sit on a mount that the
     parent can detach at delete. */
  if (c->new_mntns && set_root_propagation (c, err) < 0)
    return -1;
  if (mount (c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berth_fail (err, errno, "bind mount rootfs `%s` onto itself", c->rootfs);
  return 0;
}

int
rootfs_prepare (struct init_ctx *c, berth_err *err)
{
  cleanup_close int rootfd = -1;
  const struct berth_spec *s = c->spec;

  if (make_rootfs_mount_point (c, err) < 0)
    return -1;
  rootfd = open (c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail (err, errno, "open rootfs `%s`", c->rootfs);
  for (size_t i = 0; i < s->n_mounts; i++)
    if (do_spec_mount (c, rootfd, &s->mounts[i], i, err) < 0)
      return -1;
  if (devices_create (c, rootfd, err) < 0)
    return -1;
  /* runc creates the cwd when missing. */
  if (c->process && c->process->cwd)
    {
      int fd = safe_mkdir_p_in_root (rootfd, c->process->cwd, 0755, err);
      if (fd < 0)
        return berth_wrap (err, "process.cwd");
      close (fd);
    }
  return 0;
}

int
rootfs_pivot (struct init_ctx *c, berth_err *err)
{
  if (chdir (c->rootfs) < 0)
    return berth_fail (err, errno, "chdir to rootfs `%s`", c->rootfs);
  if (c->no_pivot)
    {
      /* For ramdisk hosts, where pivot_root is impossible. */
      if (mount (c->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return berth_fail (err, errno, "move rootfs `%s` to `/`", c->rootfs);
      if (chroot (".") < 0)
        return berth_fail (err, errno, "chroot to rootfs `%s`", c->rootfs);
    }
  else
    {
      /* pivot_root(".", ".") stacks the old root on top of the new one.
         "." must name the old root for the next two calls (after the pivot
         the cwd is still the new root): it is made slave so the lazy unmount
         cannot propagate to the host, then detached. */
      cleanup_close int oldroot = open ("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (oldroot < 0)
        return berth_fail (err, errno, "open old root");
      if (syscall (SYS_pivot_root, ".", ".") < 0)
        return berth_fail (err, errno, "pivot_root to `%s`", c->rootfs);
      if (fchdir (oldroot) < 0)
        return berth_fail (err, errno, "chdir to old root");
      if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return berth_fail (err, errno, "make old root slave");
      if (umount2 (".", MNT_DETACH) < 0)
        return berth_fail (err, errno, "unmount old root");
    }
  if (chdir ("/") < 0)
    return berth_fail (err, errno, "chdir to `/`");
  return 0;
}

static int
mask_path (const char *path, berth_err *err)
{
  cleanup_close int fd = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;

  if (fd < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "linux.maskedPaths: open `%s`", path);
  if (fstat (fd, &sb) < 0)
    return berth_fail (err, errno, "linux.maskedPaths: stat `%s`", path);
  if (S_ISDIR (sb.st_mode))
    return mountfd_fs_onto ("tmpfs", "tmpfs", NULL, MS_RDONLY, 0, fd, path, err) < 0
               ? berth_wrap (err, "linux.maskedPaths")
               : 0;
  {
    struct mountfd_bind b = { .userns_fd = -1, .source = "/dev/null", .attr_set = MOUNT_ATTR_RDONLY };
    if (mountfd_bind_onto (&b, fd, path, err) < 0)
      return berth_wrap (err, "linux.maskedPaths");
  }
  return 0;
}

static int
readonly_path (const char *path, berth_err *err)
{
  cleanup_close int fd = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct mountfd_bind b = { .userns_fd = -1, .source = NULL, .recursive = true, .rattr_set = MOUNT_ATTR_RDONLY };

  if (fd < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "linux.readonlyPaths: open `%s`", path);
  b.source_fd = fd;
  if (mountfd_bind_onto (&b, fd, path, err) < 0)
    return berth_wrap (err, "linux.readonlyPaths");
  return 0;
}

int
rootfs_finalize (struct init_ctx *c, berth_err *err)
{
  const struct berth_linux *lx = c->spec->linux;

  if (lx)
    {
      for (size_t i = 0; i < lx->n_masked_paths; i++)
        if (mask_path (lx->masked_paths[i], err) < 0)
          return -1;
      for (size_t i = 0; i < lx->n_readonly_paths; i++)
        if (readonly_path (lx->readonly_paths[i], err) < 0)
          return -1;
      if (lx->rootfs_propagation && c->new_mntns
          && mount (NULL, "/", NULL,
                    lx->rootfs_propagation & (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE | MS_REC), NULL)
                 < 0)
        return berth_fail (err, errno, "linux.rootfsPropagation: set propagation of `/`");
    }
  if (c->spec->root_readonly)
    {
      cleanup_close int fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0 || mountfd_setattr (fd, false, MOUNT_ATTR_RDONLY, 0, 0, "/", err) < 0)
        return berth_wrap (err, "root.readonly");
    }
  return 0;
}
