/* Tree copies (copyup.h): tmpcopyup, a runc mount option podman adds to
 * every --tmpfs (the image's files at the mount point are copied into the
 * new tmpfs, so a tmpfs /etc or /run keeps what the image put there), and
 * berthd's image volumes (a volume dir gets what the image has there).
 *
 * The source is the untrusted image: every step is relative to a directory
 * fd and never follows a symlink, so a link in the image cannot make us read
 * or write outside the two trees.  Only safe_copyup_from_root's start
 * follows symlinks, and then inside the root only (util/path.h).
 *
 * Hard links: a non-directory with more than one link is remembered by
 * (st_dev, st_ino) with its path in the copy (relative to the destination's
 * top); its next name in the tree is a linkat() of that path.  Every
 * directory on that path was made by this copy, in a tree nobody else sees
 * yet (a detached tmpfs, a new volume dir). */
#include "runtime/copyup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"

/* Deeper trees than this are an attack on our stack, not a real /tmp. */
#define COPYUP_MAX_DEPTH 128

struct link_seen
{
  dev_t dev;
  ino_t ino;
  char *path; /* of its first name in the copy, relative to dst_root */
};

struct copy_ctx
{
  const struct copyup_opts *o;
  int dst_root;
  void *links;        /* tsearch tree of struct link_seen */
  char dir[PATH_MAX]; /* the directory being copied, relative to dst_root ("" at the top) */
  size_t dir_len;     /* sizeof (dir): too long to name (its files are not linked, but copied) */
  int depth;
};

static int copy_dir_contents (int src, int dst, struct copy_ctx *c, berth_err *err);

/* "<op> `<what>`: <message>[: <strerror>]" */
static int __attribute__ ((format (printf, 4, 5)))
copy_fail (const struct copy_ctx *c, berth_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  berth_failv (err, errnum, fmt, ap);
  va_end (ap);
  return berth_wrap (err, "%s `%s`", c->o->op, c->o->what);
}

/* ---- hard links ---- */

static int
link_cmp (const void *a, const void *b)
{
  const struct link_seen *x = a, *y = b;

  if (x->dev != y->dev)
    return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino)
    return x->ino < y->ino ? -1 : 1;
  return 0;
}

static void
link_free (void *p)
{
  struct link_seen *l = p;

  free (l->path);
  free (l);
}

/* name in the directory being copied, relative to dst_root. */
static bool
rel_path (const struct copy_ctx *c, const char *name, char *buf, size_t size)
{
  int n;

  if (c->dir_len >= sizeof (c->dir))
    return false;
  n = c->dir_len ? snprintf (buf, size, "%s/%s", c->dir, name) : snprintf (buf, size, "%s", name);
  return n >= 0 && (size_t)n < size;
}

static const char *
link_find (const struct copy_ctx *c, const struct stat *sb)
{
  struct link_seen key = { .dev = sb->st_dev, .ino = sb->st_ino };
  struct link_seen **found = tfind (&key, &c->links, link_cmp);

  return found ? (*found)->path : NULL;
}

static void
link_remember (struct copy_ctx *c, const struct stat *sb, const char *name)
{
  char path[PATH_MAX];
  struct link_seen *l;

  if (!rel_path (c, name, path, sizeof (path)))
    return; /* its other names get copies of their own */
  l = malloc (sizeof (*l));
  if (l == NULL || (l->path = strdup (path)) == NULL)
    abort ();
  l->dev = sb->st_dev;
  l->ino = sb->st_ino;
  if (tsearch (l, &c->links, link_cmp) == NULL)
    abort ();
}

static size_t
push_dir (struct copy_ctx *c, const char *name)
{
  size_t saved = c->dir_len;
  int n;

  if (saved >= sizeof (c->dir))
    return saved;
  n = snprintf (c->dir + saved, sizeof (c->dir) - saved, "%s%s", saved ? "/" : "", name);
  c->dir_len = n < 0 || saved + (size_t)n >= sizeof (c->dir) ? sizeof (c->dir) : saved + (size_t)n;
  return saved;
}

static void
pop_dir (struct copy_ctx *c, size_t saved)
{
  c->dir_len = saved;
  if (saved < sizeof (c->dir))
    c->dir[saved] = '\0';
}

/* ---- attributes ---- */

static bool
xattr_skipped (const char *key)
{
  return strcmp (key, "security.selinux") == 0 || strncmp (key, "trusted.overlay.", 16) == 0;
}

/* Extended attributes of `from` onto `to`, both fds of the object itself. */
static int
copy_xattrs (int from, int to, const char *name, const struct copy_ctx *c, berth_err *err)
{
  cleanup_free char *keys = NULL;
  cleanup_free char *val = NULL;
  ssize_t len = flistxattr (from, NULL, 0), vlen;
  size_t cap = 0;

  if (len < 0 && errno == EOPNOTSUPP)
    return 0;
  if (len > 0 && (keys = malloc (len)) == NULL)
    abort ();
  if (len > 0)
    len = flistxattr (from, keys, len);
  if (len < 0)
    return copy_fail (c, err, errno, "list xattrs of `%s`", name);
  for (char *k = keys; k && k < keys + len; k += strlen (k) + 1)
    {
      if (xattr_skipped (k))
        continue;
      vlen = fgetxattr (from, k, NULL, 0);
      if (vlen >= 0 && (size_t)vlen >= cap)
        {
          cap = vlen + 1;
          free (val);
          if ((val = malloc (cap)) == NULL)
            abort ();
        }
      if (vlen >= 0)
        vlen = fgetxattr (from, k, val, cap);
      if (vlen < 0 && errno == ENODATA)
        continue; /* gone meanwhile */
      if (vlen < 0)
        return copy_fail (c, err, errno, "read xattr %s of `%s`", k, name);
      if (fsetxattr (to, k, val, vlen, 0) < 0 && errno != EOPNOTSUPP)
        return copy_fail (c, err, errno, "set xattr %s of `%s`", k, name);
    }
  return 0;
}

/* Owner first: chown clears set-id bits, which the mode then restores, and
 * file capabilities, which the xattrs then restore.  xattr_src: an fd of
 * the source object (dst is then the copy's own fd, name ""), or -1. */
static int
set_attrs (int dst, const char *name, const struct stat *sb, int xattr_src, const struct copy_ctx *c, berth_err *err)
{
  struct timespec times[2] = { sb->st_atim, sb->st_mtim };
  int flags = name[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH;

  if (fchownat (dst, name, sb->st_uid, sb->st_gid, flags) < 0)
    return copy_fail (c, err, errno, "chown `%s`", name);
  if (!S_ISLNK (sb->st_mode))
    {
      int r = name[0] ? fchmodat (dst, name, sb->st_mode & 07777, 0) : fchmod (dst, sb->st_mode & 07777);
      if (r < 0)
        return copy_fail (c, err, errno, "chmod `%s`", name);
    }
  if (xattr_src >= 0 && (c->o->flags & COPYUP_XATTRS) && copy_xattrs (xattr_src, dst, name, c, err) < 0)
    return -1;
  if ((name[0] ? utimensat (dst, name, times, AT_SYMLINK_NOFOLLOW) : futimens (dst, times)) < 0)
    return copy_fail (c, err, errno, "times of `%s`", name);
  return 0;
}

/* ---- entries ---- */

static int
copy_file (int src, int dst, const char *name, const struct stat *sb, const struct copy_ctx *c, berth_err *err)
{
  cleanup_close int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  cleanup_close int out = -1;
  off_t left = sb->st_size;

  if (in < 0)
    return copy_fail (c, err, errno, "open `%s`", name);
  out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return copy_fail (c, err, errno, "create `%s`", name);
  while (left > 0)
    {
      ssize_t n = sendfile (out, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return copy_fail (c, err, errno, "copy `%s`", name);
      if (n == 0)
        break; /* shrank under us: copy what there is */
      left -= n;
    }
  return set_attrs (out, "", sb, in, c, err);
}

static int
copy_symlink (int src, int dst, const char *name, const struct stat *sb, const struct copy_ctx *c, berth_err *err)
{
  char target[PATH_MAX];
  ssize_t n = readlinkat (src, name, target, sizeof (target) - 1);

  if (n < 0)
    return copy_fail (c, err, errno, "readlink `%s`", name);
  target[n] = '\0';
  if (symlinkat (target, dst, name) < 0)
    return copy_fail (c, err, errno, "symlink `%s`", name);
  return set_attrs (dst, name, sb, -1, c, err);
}

static int
copy_subdir (int src, int dst, const char *name, const struct stat *sb, struct copy_ctx *c, berth_err *err)
{
  cleanup_close int from = -1;
  cleanup_close int to = -1;
  size_t saved;
  int r;

  if (c->depth >= COPYUP_MAX_DEPTH)
    return copy_fail (c, err, ELOOP, "directories nested deeper than %d at `%s`", COPYUP_MAX_DEPTH, name);
  from = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (from < 0)
    return copy_fail (c, err, errno, "open directory `%s`", name);
  if (mkdirat (dst, name, 0700) < 0)
    return copy_fail (c, err, errno, "mkdir `%s`", name);
  to = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (to < 0)
    return copy_fail (c, err, errno, "open directory `%s`", name);
  saved = push_dir (c, name);
  c->depth++;
  r = copy_dir_contents (from, to, c, err);
  c->depth--;
  pop_dir (c, saved);
  if (r < 0)
    return -1;
  return set_attrs (to, "", sb, from, c, err);
}

static int
copy_entry (int src, int dst, const char *name, struct copy_ctx *c, berth_err *err)
{
  const char *first;
  struct stat sb;
  int r;

  if (fstatat (src, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return copy_fail (c, err, errno, "stat `%s`", name);
  if (S_ISDIR (sb.st_mode))
    return copy_subdir (src, dst, name, &sb, c, err);
  if (sb.st_nlink > 1 && (first = link_find (c, &sb)) != NULL)
    {
      if (linkat (c->dst_root, first, dst, name, 0) < 0)
        return copy_fail (c, err, errno, "link `%s` to `%s`", name, first);
      return 0;
    }
  switch (sb.st_mode & S_IFMT)
    {
    case S_IFREG:
      r = copy_file (src, dst, name, &sb, c, err);
      break;
    case S_IFLNK:
      r = copy_symlink (src, dst, name, &sb, c, err);
      break;
    default: /* devices, fifos, sockets */
      if (mknodat (dst, name, sb.st_mode & S_IFMT, sb.st_rdev) < 0)
        return copy_fail (c, err, errno, "mknod `%s`", name);
      r = set_attrs (dst, name, &sb, -1, c, err);
      break;
    }
  if (r == 0 && sb.st_nlink > 1)
    link_remember (c, &sb, name);
  return r;
}

/* The dup is O_CLOEXEC: berthd copies volumes while other threads fork
 * and exec (CNI plugins, helpers). */
static int
copy_dir_contents (int src, int dst, struct copy_ctx *c, berth_err *err)
{
  int fd = fcntl (src, F_DUPFD_CLOEXEC, 0);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;
  int ret = 0;

  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return copy_fail (c, err, errno, "read directory");
    }
  while (ret == 0 && (errno = 0, de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ret = copy_entry (src, dst, de->d_name, c, err);
    }
  if (ret == 0 && errno != 0)
    ret = copy_fail (c, err, errno, "read directory");
  closedir (dir);
  return ret;
}

/* ---- entry points ---- */

int
copyup_tree_opts (int src_dir, int dst_dir, const struct copyup_opts *o, berth_err *err)
{
  struct copy_ctx c = { .o = o };
  cleanup_close int src = openat (src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int dst = openat (dst_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat sb;
  int ret;

  if (src < 0 || dst < 0)
    return copy_fail (&c, err, errno, "open");
  if (fstat (src, &sb) < 0)
    return copy_fail (&c, err, errno, "stat");
  c.dst_root = dst;
  ret = copy_dir_contents (src, dst, &c, err);
  tdestroy (c.links, link_free);
  if (ret < 0)
    return -1;
  /* The top takes the owner and mode of the directory it copies. */
  return set_attrs (dst, "", &sb, src, &c, err);
}

int
copyup_tree (int src_dir, int dst_dir, const char *what, berth_err *err)
{
  const struct copyup_opts o = { .op = "tmpcopyup", .what = what };

  return copyup_tree_opts (src_dir, dst_dir, &o, err);
}

int
safe_copyup_from_root (int rootfd, const char *path, int dst_dir, const struct copyup_opts *o, berth_err *err)
{
  berth_err e = NULL;
  cleanup_close int src = safe_openat_in_root (rootfd, path, O_RDONLY | O_DIRECTORY, 0, &e);

  if (src < 0 && e->errnum == ENOENT)
    {
      berth_err_free (&e);
      return 0;
    }
  if (src < 0)
    {
      berth_err_move (err, &e);
      return berth_wrap (err, "%s `%s`", o->op, o->what);
    }
  return copyup_tree_opts (src, dst_dir, o, err) < 0 ? -1 : 1;
}
