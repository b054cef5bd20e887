/* Small file-system helpers, all relative to a directory fd and never
 * following a symlink: they run over trees that images control. */
#include "image/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

static int
rm_dir_contents (int fd, berth_err *err)
{
  DIR *d = fdopendir (fd);
  struct dirent *de;
  int ret = 0;

  if (d == NULL)
    {
      close (fd);
      return berth_fail (err, errno, "opendir");
    }
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (rm_rf_at (dirfd (d), de->d_name, err) < 0)
        {
          ret = -1;
          break;
        }
    }
  closedir (d);
  return ret;
}

int
rm_rf_at (int dirfd, const char *name, berth_err *err)
{
  int fd;

  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return berth_fail (err, errno, "remove `%s`", name);
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "open `%s`", name);
  if (rm_dir_contents (fd, err) < 0)
    return berth_wrap (err, "remove `%s`", name);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove `%s`", name);
  return 0;
}

int
write_file_atomic_at (int dirfd, const char *name, const void *buf, size_t len, berth_err *err)
{
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;

  if (asprintf (&tmp, ".%s.tmp-%d", name, (int)getpid ()) < 0)
    abort ();
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return berth_fail (err, errno, "create `%s`", tmp);
  if (berth_write_all (fd, buf, len) < 0 || fsync (fd) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return berth_fail (err, e, "write `%s`", tmp);
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return berth_fail (err, e, "rename `%s` to `%s`", tmp, name);
    }
  /* The rename itself must survive a crash too. */
  fsync (dirfd);
  return 0;
}

int
mkdir_at (int dirfd, const char *name, mode_t mode, berth_err *err)
{
  if (mkdirat (dirfd, name, mode) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "mkdir `%s`", name);
  return 0;
}

uint64_t
tree_size_at (int parentfd, const char *name)
{
  struct stat st;
  uint64_t total = 0;
  int fd;
  DIR *d;
  struct dirent *de;

  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  total = (uint64_t)st.st_blocks * 512;
  if (!S_ISDIR (st.st_mode))
    return total;
  fd = openat (parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return total;
    }
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      total += tree_size_at (dirfd (d), de->d_name);
  closedir (d);
  return total;
}
