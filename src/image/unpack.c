/* Layer unpack: a tar (plain, gzip or zstd) into one empty directory.
 *
 * libarchive reads and decompresses; the writing is ours, relative to the
 * layer dir's fd, because archive_write_disk works on paths relative to the
 * process's cwd (global state a library shared by berthd's threads cannot
 * touch) and resolves every component with lstat.
 *
 * Safety: every entry's parent is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so no entry can land outside the layer dir: ".."
 * and absolute names are refused before that, and a symlink (planted by an
 * earlier entry) is never followed on the way.  The final component is
 * created with O_EXCL/O_NOFOLLOW or replaced (unlink first), so writing a
 * file over a symlink replaces the link, it does not write through it.  Tar
 * writers never emit entries below a symlink, so refusing them costs no
 * real image.
 *
 * Speed: the parent of consecutive entries is usually the same directory,
 * so its fd is cached; data blocks go to pwrite straight from libarchive's
 * buffer; directory times are set at the end (creating entries in a
 * directory changes its mtime), as GNU tar does.
 */
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"

#define READ_BUF (1024 * 1024)

struct deferred_dir
{
  char *path; /* relative, cleaned; "" is the layer root */
  struct timespec times[2];
};

struct unpack
{
  int rootfd;
  const char *what;
  /* source */
  int srcfd;
  char *buf;
  struct sha256 *md;
  uint64_t bytes;
  int read_errno;
  /* parent cache */
  char *cached_path;
  int cached_fd;
  /* directory times, applied last */
  struct deferred_dir *dirs;
  size_t n_dirs, cap_dirs;
  bool root_seen;
};

static ssize_t
read_cb (struct archive *a, void *user, const void **out)
{
  struct unpack *u = user;
  ssize_t n;

  do
    n = read (u->srcfd, u->buf, READ_BUF);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      u->read_errno = errno;
      archive_set_error (a, errno, "read layer");
      return -1;
    }
  if (u->md)
    sha256_update (u->md, u->buf, (size_t)n);
  u->bytes += (uint64_t)n;
  *out = u->buf;
  return n;
}

/* Cleans `name` into `out` (relative, no "." or empty components).  Refuses
 * absolute names and "..": the entry would land outside the layer. */
static int
clean_path (const char *what, const char *entry, const char *kind, const char *name, char **out, berth_err *err)
{
  size_t n = strlen (name);
  char *p = malloc (n + 1), *w = p;
  const char *r = name;

  if (name[0] == '/')
    {
      free (p);
      return berth_fail (err, 0, "%s: entry \"%s\": %s is an absolute path (entries must stay inside the layer)", what,
                         entry, kind);
    }
  while (*r)
    {
      const char *end = strchrnul (r, '/');
      size_t len = (size_t)(end - r);
      if (len == 2 && r[0] == '.' && r[1] == '.')
        {
          free (p);
          return berth_fail (err, 0, "%s: entry \"%s\": %s contains \"..\" (entries must stay inside the layer)", what,
                             entry, kind);
        }
      if (len > 0 && !(len == 1 && r[0] == '.'))
        {
          if (w != p)
            *w++ = '/';
          memcpy (w, r, len);
          w += len;
        }
      r = *end ? end + 1 : end;
    }
  *w = '\0';
  *out = p;
  return 0;
}

static int
openat2_beneath (int dirfd, const char *path, int flags)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  long fd = syscall (SYS_openat2, dirfd, path, &how, sizeof (how));

  if (fd < 0 && errno == ENOSYS)
    {
      /* Kernels before 5.6: one component at a time, never following a
         link ("..", absolute names were refused by clean_path). */
      char *copy = strdup (path), *save = NULL, *c;
      int cur = dup (dirfd);
      for (c = strtok_r (copy, "/", &save); c && cur >= 0; c = strtok_r (NULL, "/", &save))
        {
          int next = openat (cur, c, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
          if (next < 0 && errno == ENOTDIR)
            {
              struct stat st;
              if (fstatat (cur, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
                errno = ELOOP;
            }
          int e = errno;
          close (cur);
          errno = e;
          cur = next;
        }
      free (copy);
      return cur;
    }
  return (int)fd;
}

/* An O_PATH fd of the directory `parent` (relative, cleaned) inside the
 * layer, created (0755, root) when missing. */
static int
open_parent (struct unpack *u, const char *entry, const char *parent, berth_err *err)
{
  int fd;

  if (u->cached_path && strcmp (u->cached_path, parent) == 0)
    return u->cached_fd;
  fd = parent[0] ? openat2_beneath (u->rootfd, parent, O_PATH | O_DIRECTORY) : dup (u->rootfd);
  if (fd < 0 && errno == ENOENT)
    {
      /* Tars may leave out directory entries: make the missing ones. */
      char *copy = strdup (parent);
      for (char *slash = copy;; slash++)
        {
          slash = strchrnul (slash, '/');
          char saved = *slash;
          *slash = '\0';
          int pfd = openat2_beneath (u->rootfd, copy, O_PATH | O_DIRECTORY);
          if (pfd < 0 && errno == ENOENT)
            {
              if (mkdirat (u->rootfd, copy, 0755) < 0 && errno != EEXIST)
                {
                  int e = errno;
                  free (copy);
                  return berth_fail (err, e, "%s: entry \"%s\": mkdir \"%s\"", u->what, entry, parent);
                }
            }
          else if (pfd < 0)
            break;
          else
            close (pfd);
          *slash = saved;
          if (saved == '\0')
            break;
        }
      free (copy);
      fd = openat2_beneath (u->rootfd, parent, O_PATH | O_DIRECTORY);
    }
  if (fd < 0 && (errno == ELOOP || errno == EXDEV))
    return berth_fail (err, 0,
                       "%s: entry \"%s\": its parent \"%s\" is or goes through a symbolic link (refusing to "
                       "write through links)",
                       u->what, entry, parent);
  if (fd < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": open parent \"%s\"", u->what, entry, parent);
  if (u->cached_fd >= 0)
    close (u->cached_fd);
  free (u->cached_path);
  u->cached_fd = fd;
  u->cached_path = strdup (parent);
  return fd;
}

/* Anything already at parentfd/name goes, except a directory where a
 * directory is wanted (tar semantics: later entries win). */
static int
clear_spot (struct unpack *u, int parentfd, const char *name, const char *entry, bool want_dir, berth_err *err)
{
  struct stat st;

  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "%s: entry \"%s\": stat", u->what, entry);
  if (want_dir && S_ISDIR (st.st_mode))
    return 0;
  /* A directory replaced by a non-directory: a cached dir other than this
     entry's parent may be inside what is removed. */
  if (S_ISDIR (st.st_mode) && u->cached_fd >= 0 && u->cached_fd != parentfd)
    {
      close (u->cached_fd);
      u->cached_fd = -1;
      free (u->cached_path);
      u->cached_path = NULL;
    }
  if (rm_rf_at (parentfd, name, err) < 0)
    return berth_wrap (err, "%s: entry \"%s\"", u->what, entry);
  return 0;
}

/* xattrs from PAX headers.  trusted.overlay.* is never set: an image must
 * not forge overlayfs metadata (redirects, metacopy) that would let one
 * layer reach into another's files. */
static int
apply_xattrs (struct unpack *u, struct archive_entry *e, int fd, const char *entry, berth_err *err)
{
  const char *name;
  const void *value;
  size_t size;
  char path[64];

  if (archive_entry_xattr_reset (e) == 0)
    return 0;
  snprintf (path, sizeof (path), "/proc/self/fd/%d", fd);
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK)
    {
      if (strncmp (name, "trusted.overlay.", 16) == 0)
        continue;
      /* O_PATH fds cannot take fsetxattr; their /proc link can. */
      if (setxattr (path, name, value, size, 0) < 0 && errno != ENOTSUP)
        return berth_fail (err, errno, "%s: entry \"%s\": set xattr %s", u->what, entry, name);
    }
  return 0;
}

static void
entry_times (struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime (e);
  ts[1].tv_nsec = archive_entry_mtime_nsec (e);
  if (archive_entry_atime_is_set (e))
    {
      ts[0].tv_sec = archive_entry_atime (e);
      ts[0].tv_nsec = archive_entry_atime_nsec (e);
    }
  else
    ts[0] = ts[1];
}

static int
write_data (struct unpack *u, struct archive *a, int fd, const char *entry, berth_err *err)
{
  const void *block;
  size_t size;
  la_int64_t offset;
  int r;

  while ((r = archive_read_data_block (a, &block, &size, &offset)) == ARCHIVE_OK)
    {
      const char *p = block;
      while (size > 0)
        {
          ssize_t n = pwrite (fd, p, size, offset);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            return berth_fail (err, errno, "%s: entry \"%s\": write", u->what, entry);
          p += n;
          size -= (size_t)n;
          offset += n;
        }
    }
  if (r != ARCHIVE_EOF)
    return berth_fail (err, archive_errno (a) > 0 ? archive_errno (a) : 0, "%s: entry \"%s\": read: %s", u->what, entry,
                       archive_error_string (a));
  return 0;
}

static int
do_regular (struct unpack *u, struct archive *a, struct archive_entry *e, int parentfd, const char *name,
            const char *entry, berth_err *err)
{
  cleanup_close int fd = -1;
  struct timespec ts[2];
  la_int64_t size = archive_entry_size (e);

  fd = openat (parentfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    {
      if (clear_spot (u, parentfd, name, entry, false, err) < 0)
        return -1;
      fd = openat (parentfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": create", u->what, entry);
  if (write_data (u, a, fd, entry, err) < 0)
    return -1;
  if (archive_entry_sparse_count (e) > 0 && ftruncate (fd, size) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": truncate", u->what, entry);
  /* chown first: it clears the setuid and setgid bits that chmod sets. */
  if (fchown (fd, (uid_t)archive_entry_uid (e), (gid_t)archive_entry_gid (e)) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chown", u->what, entry);
  if (fchmod (fd, archive_entry_perm (e) & 07777) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chmod", u->what, entry);
  if (apply_xattrs (u, e, fd, entry, err) < 0)
    return -1;
  entry_times (e, ts);
  if (futimens (fd, ts) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": set times", u->what, entry);
  return 0;
}

static int
defer_dir_times (struct unpack *u, const char *path, struct archive_entry *e)
{
  if (u->n_dirs == u->cap_dirs)
    {
      u->cap_dirs = u->cap_dirs ? u->cap_dirs * 2 : 256;
      u->dirs = realloc (u->dirs, u->cap_dirs * sizeof (*u->dirs));
      if (u->dirs == NULL)
        abort ();
    }
  u->dirs[u->n_dirs].path = strdup (path);
  entry_times (e, u->dirs[u->n_dirs].times);
  u->n_dirs++;
  return 0;
}

static int
do_dir (struct unpack *u, struct archive_entry *e, int parentfd, const char *name, const char *path, const char *entry,
        berth_err *err)
{
  cleanup_close int fd = -1;

  if (path[0] == '\0')
    {
      fd = openat (u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      u->root_seen = true;
    }
  else
    {
      if (mkdirat (parentfd, name, 0700) < 0 && errno == EEXIST)
        {
          if (clear_spot (u, parentfd, name, entry, true, err) < 0)
            return -1;
          if (mkdirat (parentfd, name, 0700) < 0 && errno != EEXIST)
            return berth_fail (err, errno, "%s: entry \"%s\": mkdir", u->what, entry);
        }
      fd = openat (parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": open directory", u->what, entry);
  if (fchown (fd, (uid_t)archive_entry_uid (e), (gid_t)archive_entry_gid (e)) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chown", u->what, entry);
  if (fchmod (fd, archive_entry_perm (e) & 07777) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chmod", u->what, entry);
  if (apply_xattrs (u, e, fd, entry, err) < 0)
    return -1;
  return defer_dir_times (u, path, e);
}

static int
do_symlink (struct unpack *u, struct archive_entry *e, int parentfd, const char *name, const char *entry,
            berth_err *err)
{
  const char *target = archive_entry_symlink (e);
  struct timespec ts[2];

  /* The target is kept as written: it is resolved inside the container's
     root at run time, and this code never follows it. */
  if (target == NULL)
    return berth_fail (err, 0, "%s: entry \"%s\": symbolic link without a target", u->what, entry);
  if (symlinkat (target, parentfd, name) < 0)
    {
      if (errno != EEXIST || clear_spot (u, parentfd, name, entry, false, err) < 0
          || symlinkat (target, parentfd, name) < 0)
        return berth_fail (err, errno, "%s: entry \"%s\": symlink", u->what, entry);
    }
  if (fchownat (parentfd, name, (uid_t)archive_entry_uid (e), (gid_t)archive_entry_gid (e), AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chown", u->what, entry);
  entry_times (e, ts);
  if (utimensat (parentfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": set times", u->what, entry);
  return 0;
}

static int
do_hardlink (struct unpack *u, struct archive_entry *e, int parentfd, const char *name, const char *entry,
             berth_err *err)
{
  cleanup_free char *target = NULL;
  cleanup_close int tparent = -1;
  const char *slash, *tname;

  if (clean_path (u->what, entry, "its hard link target", archive_entry_hardlink (e), &target, err) < 0)
    return -1;
  if (target[0] == '\0')
    return berth_fail (err, 0, "%s: entry \"%s\": hard link to the layer root", u->what, entry);
  slash = strrchr (target, '/');
  if (slash)
    {
      cleanup_free char *tp = strndup (target, (size_t)(slash - target));
      tparent = openat2_beneath (u->rootfd, tp, O_PATH | O_DIRECTORY);
      tname = slash + 1;
    }
  else
    {
      tparent = dup (u->rootfd);
      tname = target;
    }
  if (tparent < 0)
    return berth_fail (err, errno == ELOOP || errno == EXDEV ? 0 : errno,
                       "%s: entry \"%s\": hard link target \"%s\" %s", u->what, entry, target,
                       errno == ELOOP || errno == EXDEV ? "goes through a symbolic link" : "cannot be reached");
  /* linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it
     points at. */
  if (linkat (tparent, tname, parentfd, name, 0) < 0)
    {
      if (errno == EEXIST)
        {
          struct stat a, b;
          if (fstatat (tparent, tname, &a, AT_SYMLINK_NOFOLLOW) == 0
              && fstatat (parentfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return 0;
          if (clear_spot (u, parentfd, name, entry, false, err) == 0 && linkat (tparent, tname, parentfd, name, 0) == 0)
            return 0;
        }
      return berth_fail (err, errno, "%s: entry \"%s\": hard link to \"%s\"", u->what, entry, target);
    }
  return 0;
}

static int
do_node (struct unpack *u, struct archive_entry *e, int parentfd, const char *name, const char *entry, berth_err *err)
{
  mode_t type = archive_entry_filetype (e);
  dev_t dev = type == AE_IFIFO ? 0 : makedev (archive_entry_rdevmajor (e), archive_entry_rdevminor (e));
  struct timespec ts[2];

  if (mknodat (parentfd, name, type | 0600, dev) < 0)
    {
      if (errno != EEXIST || clear_spot (u, parentfd, name, entry, false, err) < 0
          || mknodat (parentfd, name, type | 0600, dev) < 0)
        return berth_fail (err, errno, "%s: entry \"%s\": mknod", u->what, entry);
    }
  if (fchownat (parentfd, name, (uid_t)archive_entry_uid (e), (gid_t)archive_entry_gid (e), AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chown", u->what, entry);
  if (fchmodat (parentfd, name, archive_entry_perm (e) & 07777, 0) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": chmod", u->what, entry);
  entry_times (e, ts);
  if (utimensat (parentfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail (err, errno, "%s: entry \"%s\": set times", u->what, entry);
  return 0;
}

static int
do_entry (struct unpack *u, struct archive *a, struct archive_entry *e, berth_err *err)
{
  const char *entry = archive_entry_pathname (e);
  cleanup_free char *path = NULL;
  char *slash;
  const char *name;
  int parentfd;

  if (entry == NULL)
    return berth_fail (err, 0, "%s: an entry has no name", u->what);
  if (clean_path (u->what, entry, "its name", entry, &path, err) < 0)
    return -1;
  if (path[0] == '\0')
    {
      if (archive_entry_filetype (e) != AE_IFDIR)
        return berth_fail (err, 0, "%s: entry \"%s\": the layer root must be a directory", u->what, entry);
      return do_dir (u, e, u->rootfd, ".", "", entry, err);
    }
  slash = strrchr (path, '/');
  if (slash)
    {
      *slash = '\0';
      name = slash + 1;
      parentfd = open_parent (u, entry, path, err);
    }
  else
    {
      name = path;
      parentfd = open_parent (u, entry, "", err);
    }
  if (parentfd < 0)
    return -1;

  if (strncmp (name, WHITEOUT_PREFIX, 4) == 0)
    {
      const char *hidden = name + 4;
      if (strcmp (name, WHITEOUT_OPAQUE) == 0)
        return whiteout_make_opaque (parentfd, err) < 0 ? berth_wrap (err, "%s: entry \"%s\"", u->what, entry) : 0;
      if (strncmp (hidden, WHITEOUT_PREFIX, 4) == 0)
        return 0; /* other AUFS metadata (.wh..wh.plnk and kin) */
      if (hidden[0] == '\0' || strcmp (hidden, ".") == 0 || strcmp (hidden, "..") == 0)
        return berth_fail (err, 0, "%s: entry \"%s\": whiteout of an invalid name", u->what, entry);
      if (clear_spot (u, parentfd, hidden, entry, false, err) < 0)
        return -1;
      return whiteout_make_at (parentfd, hidden, err) < 0 ? berth_wrap (err, "%s: entry \"%s\"", u->what, entry) : 0;
    }

  if (archive_entry_hardlink (e) != NULL)
    return do_hardlink (u, e, parentfd, name, entry, err);
  switch (archive_entry_filetype (e))
    {
    case AE_IFREG:
      return do_regular (u, a, e, parentfd, name, entry, err);
    case AE_IFDIR:
      if (slash)
        *slash = '/';
      return do_dir (u, e, parentfd, name, path, entry, err);
    case AE_IFLNK:
      return do_symlink (u, e, parentfd, name, entry, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return do_node (u, e, parentfd, name, entry, err);
    case AE_IFSOCK:
      return 0; /* sockets are not content */
    default:
      return berth_fail (err, 0, "%s: entry \"%s\": unsupported file type 0%o", u->what, entry,
                         (unsigned)archive_entry_filetype (e));
    }
}

static int
apply_dir_times (struct unpack *u, berth_err *err)
{
  /* Deepest first is not needed: utimensat on a dir does not touch its
     parent's mtime.  Reverse order keeps the last entry for a dir winning. */
  for (size_t i = u->n_dirs; i-- > 0;)
    {
      struct deferred_dir *d = &u->dirs[i];
      int fd = d->path[0] ? openat2_beneath (u->rootfd, d->path, O_PATH | O_DIRECTORY) : dup (u->rootfd);
      if (fd < 0)
        continue; /* replaced by a later entry */
      char proc[64];
      snprintf (proc, sizeof (proc), "/proc/self/fd/%d", fd);
      if (utimensat (AT_FDCWD, proc, d->times, 0) < 0)
        {
          int e = errno;
          close (fd);
          return berth_fail (err, e, "%s: set times of \"%s\"", u->what, d->path);
        }
      close (fd);
    }
  return 0;
}

int
berth_unpack_layer (int fd, int dirfd, const char *digest, const char *what, berth_err *err)
{
  struct unpack u = { .rootfd = dirfd, .srcfd = fd, .cached_fd = -1, .what = what ? what : "layer" };
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  int r, ret = -1;

  u.buf = malloc (READ_BUF);
  if (a == NULL || u.buf == NULL)
    abort ();
  if (digest)
    u.md = sha256_new ();
  archive_read_support_format_tar (a);
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_filter_none (a);
  if (archive_read_open (a, &u, NULL, read_cb, NULL) != ARCHIVE_OK)
    {
      berth_fail (err, u.read_errno, "%s: not a tar archive: %s", u.what, archive_error_string (a));
      goto out;
    }
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    if (do_entry (&u, a, e, err) < 0)
      goto out;
  if (r != ARCHIVE_EOF)
    {
      berth_fail (err, u.read_errno, "%s: corrupt archive after %llu bytes: %s", u.what, (unsigned long long)u.bytes,
                  archive_error_string (a));
      goto out;
    }
  if (u.md)
    {
      /* The tar ends before the blob does (padding): hash the rest too. */
      const void *dummy;
      while (read_cb (a, &u, &dummy) > 0)
        ;
      char got[BERTH_DIGEST_LEN];
      sha256_final (u.md, got);
      u.md = NULL;
      if (u.read_errno)
        {
          berth_fail (err, u.read_errno, "%s: read", u.what);
          goto out;
        }
      if (strcmp (got, digest) != 0)
        {
          berth_fail (err, 0, "%s: digest mismatch: expected %s, got %s", u.what, digest, got);
          goto out;
        }
    }
  if (apply_dir_times (&u, err) < 0)
    goto out;
  /* A layer without a "./" entry still needs a root others can enter. */
  if (!u.root_seen)
    {
      char proc[64];
      snprintf (proc, sizeof (proc), "/proc/self/fd/%d", dirfd);
      chmod (proc, 0755);
    }
  ret = 0;
out:
  archive_read_free (a);
  sha256_free (u.md);
  if (u.cached_fd >= 0)
    close (u.cached_fd);
  free (u.cached_path);
  for (size_t i = 0; i < u.n_dirs; i++)
    free (u.dirs[i].path);
  free (u.dirs);
  free (u.buf);
  return ret;
}
