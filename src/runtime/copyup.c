/* tmpcopyup (a runc mount option podman adds to every --tmpfs): the image's
 * files at the mount point are copied into the new tmpfs, so a tmpfs /etc
 * or /run keeps what the image put there.
 *
 * The source is the untrusted image: every step is relative to a directory
 * fd and never follows a symlink, so a link in the image cannot make us read
 * or write outside the two trees. */
#include "runtime/copyup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Deeper trees than this are an attack on our stack, not a real /tmp. */
#define COPYUP_MAX_DEPTH 128

static int copy_dir_contents (int src, int dst, const char *what, int depth, berth_err *err);

/* Owner first: chown clears set-id bits that the mode then restores. */
static int
set_attrs (int dst, const char *name, const struct stat *sb, const char *what, berth_err *err)
{
  struct timespec times[2] = { sb->st_atim, sb->st_mtim };
  int flags = name[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH;

  if (fchownat (dst, name, sb->st_uid, sb->st_gid, flags) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: chown `%s`", what, name);
  if (!S_ISLNK (sb->st_mode))
    {
      int r = name[0] ? fchmodat (dst, name, sb->st_mode & 07777, 0) : fchmod (dst, sb->st_mode & 07777);
      if (r < 0)
        return berth_fail (err, errno, "tmpcopyup `%s`: chmod `%s`", what, name);
    }
  if ((name[0] ? utimensat (dst, name, times, AT_SYMLINK_NOFOLLOW) : futimens (dst, times)) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: times of `%s`", what, name);
  return 0;
}

static int
copy_file (int src, int dst, const char *name, const struct stat *sb, const char *what, berth_err *err)
{
  cleanup_close int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  cleanup_close int out = -1;
  off_t left = sb->st_size;

  if (in < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: open `%s`", what, name);
  out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: create `%s`", what, name);
  while (left > 0)
    {
      ssize_t n = sendfile (out, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail (err, errno, "tmpcopyup `%s`: copy `%s`", what, name);
      if (n == 0)
        break; /* shrank under us: copy what there is */
      left -= n;
    }
  return set_attrs (out, "", sb, what, err);
}

static int
copy_symlink (int src, int dst, const char *name, const struct stat *sb, const char *what, berth_err *err)
{
  char target[PATH_MAX];
  ssize_t n = readlinkat (src, name, target, sizeof (target) - 1);

  if (n < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: readlink `%s`", what, name);
  target[n] = '\0';
  if (symlinkat (target, dst, name) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: symlink `%s`", what, name);
  return set_attrs (dst, name, sb, what, err);
}

static int
copy_subdir (int src, int dst, const char *name, const struct stat *sb, const char *what, int depth, berth_err *err)
{
  cleanup_close int from = -1;
  cleanup_close int to = -1;

  if (depth >= COPYUP_MAX_DEPTH)
    return berth_fail (err, ELOOP, "tmpcopyup `%s`: directories nested deeper than %d at `%s`", what,
                       COPYUP_MAX_DEPTH, name);
  from = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (from < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: open directory `%s`", what, name);
  if (mkdirat (dst, name, 0700) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: mkdir `%s`", what, name);
  to = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (to < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: open directory `%s`", what, name);
  if (copy_dir_contents (from, to, what, depth + 1, err) < 0)
    return -1;
  return set_attrs (to, "", sb, what, err);
}

static int
copy_entry (int src, int dst, const char *name, const char *what, int depth, berth_err *err)
{
  struct stat sb;

  if (fstatat (src, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: stat `%s`", what, name);
  switch (sb.st_mode & S_IFMT)
    {
    case S_IFDIR:
      return copy_subdir (src, dst, name, &sb, what, depth, err);
    case S_IFREG:
      return copy_file (src, dst, name, &sb, what, err);
    case S_IFLNK:
      return copy_symlink (src, dst, name, &sb, what, err);
    default: /* devices, fifos, sockets */
      if (mknodat (dst, name, sb.st_mode & S_IFMT, sb.st_rdev) < 0)
        return berth_fail (err, errno, "tmpcopyup `%s`: mknod `%s`", what, name);
      return set_attrs (dst, name, &sb, what, err);
    }
}

static int
copy_dir_contents (int src, int dst, const char *what, int depth, berth_err *err)
{
  int fd = dup (src);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;
  int ret = 0;

  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return berth_fail (err, errno, "tmpcopyup `%s`: read directory", what);
    }
  while (ret == 0 && (errno = 0, de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ret = copy_entry (src, dst, de->d_name, what, depth, err);
    }
  if (ret == 0 && errno != 0)
    ret = berth_fail (err, errno, "tmpcopyup `%s`: read directory", what);
  closedir (dir);
  return ret;
}

int
copyup_tree (int src_dir, int dst_dir, const char *what, berth_err *err)
{
  cleanup_close int src = openat (src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int dst = openat (dst_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat sb;

  if (src < 0 || dst < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: open", what);
  if (fstat (src, &sb) < 0)
    return berth_fail (err, errno, "tmpcopyup `%s`: stat", what);
  if (copy_dir_contents (src, dst, what, 0, err) < 0)
    return -1;
  /* The tmpfs root takes the owner and mode of the directory it covers. */
  return set_attrs (dst, "", &sb, what, err);
}
