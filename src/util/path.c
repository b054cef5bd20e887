/* Path resolution inside a rootfs; see path.h for the contract.
 *
 * Internal helpers return an fd (>= 0) or -errno; the public functions turn
 * that into one berth_err naming the path inside the rootfs, so every caller
 * sees the same message whichever resolver ran.
 *
 * The userspace walk keeps a stack of O_PATH fds, one per resolved
 * directory below the root.  A component is opened with O_NOFOLLOW relative
 * to the top of the stack, so the kernel never follows a symlink for us; a
 * symlink's text is spliced in front of what is left of the path (an
 * absolute target empties the stack first) and ".." pops the stack, never
 * below the root.  Nothing is ever looked up by a joined host path.
 */
#include "util/path.h"

#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static atomic_bool force_fallback;
static atomic_bool openat2_missing;

void
safe_path_force_fallback (bool on)
{
  atomic_store (&force_fallback, on);
}

static bool
use_openat2 (void)
{
  return !atomic_load (&force_fallback) && !atomic_load (&openat2_missing);
}

/* Whether an openat2 failure means "use the walk instead": ENOSYS on old
 * kernels, EPERM from seccomp profiles that predate openat2. */
static bool
openat2_unusable (int ret)
{
  if (ret == -ENOSYS)
    atomic_store (&openat2_missing, true);
  return ret == -ENOSYS || ret == -EPERM;
}

static int
openat2_in_root (int rootfd, const char *path, int flags, mode_t mode)
{
  struct open_how how = {
    .flags = (uint64_t)(unsigned int)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  long fd;

  /* openat2 refuses a mode without O_CREAT or O_TMPFILE. */
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
    how.mode = mode;
  /* EAGAIN: a rename or mount raced with ".." resolution; try again. */
  for (int tries = 0; tries < 64; tries++)
    {
      fd = syscall (SYS_openat2, rootfd, path, &how, sizeof (how));
      if (fd >= 0)
        return (int)fd;
      if (errno != EAGAIN && errno != EINTR)
        break;
    }
  return -errno;
}

struct walk
{
  int rootfd;
  size_t depth;
  size_t cap;
  int *fds; /* fds[i]: O_PATH fd of names[i] inside fds[i - 1] (rootfd for 0) */
  char **names;
  char *rest; /* the path still to resolve, from rest + pos */
  size_t pos;
  unsigned links;
  char last[NAME_MAX + 1]; /* the final component opened, for the resolved path */
};

static int
walk_top (const struct walk *w)
{
  return w->depth > 0 ? w->fds[w->depth - 1] : w->rootfd;
}

static void
walk_pop (struct walk *w)
{
  w->depth--;
  close (w->fds[w->depth]);
  free (w->names[w->depth]);
}

static void
walk_pop_all (struct walk *w)
{
  while (w->depth > 0)
    walk_pop (w);
}

static void
walk_free (struct walk *w)
{
  walk_pop_all (w);
  free (w->fds);
  free (w->names);
  free (w->rest);
}

/* Takes ownership of fd. */
static int
walk_push (struct walk *w, int fd, const char *name)
{
  char *copy;

  if (w->depth == w->cap)
    {
      size_t cap = w->cap ? w->cap * 2 : 16;
      int *fds = realloc (w->fds, cap * sizeof (*fds));
      char **names;

      if (fds == NULL)
        goto nomem;
      w->fds = fds;
      names = realloc (w->names, cap * sizeof (*names));
      if (names == NULL)
        goto nomem;
      w->names = names;
      w->cap = cap;
    }
  copy = strdup (name);
  if (copy == NULL)
    goto nomem;
  w->fds[w->depth] = fd;
  w->names[w->depth] = copy;
  w->depth++;
  return 0;

nomem:
  close (fd);
  return -ENOMEM;
}

/* Copies the next component into name.  Returns its length, 0 when the
 * path is used up.  *last: nothing, not even a "/", follows it (a trailing
 * slash makes the component a directory to enter, as in open(2)). */
static int
walk_next (struct walk *w, char name[NAME_MAX + 1], bool *last)
{
  const char *p = w->rest + w->pos;
  size_t len;

  while (*p == '/')
    p++;
  len = strcspn (p, "/");
  w->pos = (size_t)(p - w->rest) + len;
  if (len == 0)
    return 0;
  if (len > NAME_MAX)
    return -ENAMETOOLONG;
  memcpy (name, p, len);
  name[len] = '\0';
  *last = p[len] == '\0';
  return (int)len;
}

/* Replaces the symlink just looked up (linkfd) by its target. */
static int
walk_follow (struct walk *w, int linkfd)
{
  char target[PATH_MAX];
  char *rest = NULL;
  ssize_t n;

  if (++w->links > SAFE_PATH_MAX_SYMLINKS)
    return -ELOOP;
  n = readlinkat (linkfd, "", target, sizeof (target));
  if (n < 0)
    return -errno;
  if ((size_t)n >= sizeof (target))
    return -ENAMETOOLONG;
  if (n == 0)
    return -ENOENT;
  target[n] = '\0';
  /* What follows the link starts with "/" or is empty, so the target's
   * last component keeps the link's "last" status. */
  if (asprintf (&rest, "%s%s", target, w->rest + w->pos) < 0)
    return -ENOMEM;
  free (w->rest);
  w->rest = rest;
  w->pos = 0;
  if (target[0] == '/')
    walk_pop_all (w);
  return 0;
}

/* Looks `name` up in the top directory without following it; with
 * make_dir, a missing one is created first.  Returns an O_PATH fd. */
static int
walk_lookup (struct walk *w, const char *name, bool make_dir, mode_t mode, struct stat *st)
{
  int fd = openat (walk_top (w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT && make_dir)
    {
      if (mkdirat (walk_top (w), name, mode) < 0 && errno != EEXIST)
        return -errno;
      fd = openat (walk_top (w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0)
    return -errno;
  if (fstat (fd, st) < 0)
    {
      int saved = errno;
      close (fd);
      return -saved;
    }
  return fd;
}

#define WALK_FOLLOWED INT_MAX

/* Opens the last component with the caller's flags, or follows it when it
 * is a symlink (then returns WALK_FOLLOWED). */
static int
walk_open_last (struct walk *w, const char *name, int flags, mode_t mode)
{
  cleanup_close int fd = -1;
  struct stat st;
  int ret;

  fd = walk_lookup (w, name, false, 0, &st);
  if (fd == -ENOENT && (flags & O_CREAT))
    goto open; /* created below, without following anything */
  if (fd < 0)
    return fd;
  if (S_ISLNK (st.st_mode) && !(flags & O_NOFOLLOW))
    {
      /* open(2) does not follow a trailing symlink with O_CREAT|O_EXCL. */
      if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return -EEXIST;
      ret = walk_follow (w, fd);
      return ret < 0 ? ret : WALK_FOLLOWED;
    }

open:
  ret = openat (walk_top (w), name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (ret < 0)
    return -errno;
  /* O_PATH|O_NOFOLLOW opens a symlink itself: one swapped in since the
   * lookup must not be handed out as the file asked for. */
  if ((flags & O_PATH) && !(flags & O_NOFOLLOW) && (fstat (ret, &st) < 0 || S_ISLNK (st.st_mode)))
    {
      close (ret);
      return -ELOOP;
    }
  snprintf (w->last, sizeof (w->last), "%s", name);
  return ret;
}

/* Resolves w->rest.  With make_dirs every component is a directory,
 * created when missing, and the result is an O_PATH fd of the last one;
 * otherwise the last component is opened with flags. */
static int
walk_run (struct walk *w, int flags, mode_t mode, bool make_dirs)
{
  char name[NAME_MAX + 1];
  bool last = false;
  int len;

  while ((len = walk_next (w, name, &last)) != 0)
    {
      cleanup_close int fd = -1;
      struct stat st;
      int ret;

      if (len < 0)
        return len;
      if (strcmp (name, ".") == 0)
        continue;
      if (strcmp (name, "..") == 0)
        {
          if (w->depth > 0)
            walk_pop (w);
          continue;
        }
      if (last && !make_dirs)
        {
          ret = walk_open_last (w, name, flags, mode);
          if (ret != WALK_FOLLOWED)
            return ret;
          continue;
        }
      fd = walk_lookup (w, name, make_dirs, mode, &st);
      if (fd < 0)
        return fd;
      if (S_ISLNK (st.st_mode))
        {
          ret = walk_follow (w, fd);
          if (ret < 0)
            return ret;
          continue;
        }
      if (!S_ISDIR (st.st_mode))
        return -ENOTDIR;
      ret = walk_push (w, steal_fd (&fd), name);
      if (ret < 0)
        return ret;
    }

  /* The path ended at a directory ("/", ".", "..", a trailing slash). */
  if (make_dirs)
    len = openat (walk_top (w), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  else
    len = openat (walk_top (w), ".", flags | O_CLOEXEC, mode);
  return len < 0 ? -errno : len;
}

static char *
walk_path (const struct walk *w)
{
  size_t size = 2 + strlen (w->last);
  char *path, *p;

  for (size_t i = 0; i < w->depth; i++)
    size += strlen (w->names[i]) + 1;
  path = p = malloc (size);
  if (path == NULL)
    return NULL;
  for (size_t i = 0; i < w->depth; i++)
    p += sprintf (p, "/%s", w->names[i]);
  if (w->last[0] != '\0')
    p += sprintf (p, "/%s", w->last);
  if (p == path)
    strcpy (p, "/");
  return path;
}

/* The userspace resolver.  *resolved, when asked for, gets the path of the
 * result relative to the root. */
static int
walk_in_root (int rootfd, const char *path, int flags, mode_t mode, bool make_dirs, char **resolved)
{
  struct walk w = { .rootfd = rootfd };
  int fd;

  if (path[0] == '\0')
    return -ENOENT; /* as open(2) and openat2 */
  w.rest = strdup (path);
  if (w.rest == NULL)
    return -ENOMEM;
  fd = walk_run (&w, flags, mode, make_dirs);
  if (fd >= 0 && resolved != NULL)
    {
      *resolved = walk_path (&w);
      if (*resolved == NULL)
        {
          close (fd);
          fd = -ENOMEM;
        }
    }
  walk_free (&w);
  return fd;
}

static int
open_in_root (int rootfd, const char *path, int flags, mode_t mode)
{
  if (use_openat2 ())
    {
      int fd = openat2_in_root (rootfd, path, flags, mode);
      if (fd >= 0 || !openat2_unusable (fd))
        return fd;
    }
  return walk_in_root (rootfd, path, flags, mode, false, NULL);
}

static int
mkdir_p_in_root (int rootfd, const char *path, mode_t mode)
{
  if (use_openat2 ())
    {
      /* Fast path: nothing to create. */
      int fd = openat2_in_root (rootfd, path, O_PATH | O_DIRECTORY, 0);
      if (fd >= 0 || (fd != -ENOENT && !openat2_unusable (fd)))
        return fd;
    }
  return walk_in_root (rootfd, path, 0, mode, true, NULL);
}

/* Messages show the path as it is seen inside the container. */
static int
fail_in_root (berth_err *err, int errnum, const char *verb, const char *path)
{
  return berth_fail (err, errnum, "%s \"%s%s\" in rootfs", verb, path[0] == '/' ? "" : "/", path);
}

int
safe_openat_in_root (int rootfd, const char *path, int flags, mode_t mode, berth_err *err)
{
  int fd = open_in_root (rootfd, path, flags, mode);

  if (fd < 0)
    return fail_in_root (err, -fd, "open", path);
  return fd;
}

int
safe_mkdir_p_in_root (int rootfd, const char *path, mode_t mode, berth_err *err)
{
  int fd = mkdir_p_in_root (rootfd, path, mode);

  if (fd < 0)
    return fail_in_root (err, -fd, "mkdir", path);
  return fd;
}

static int
create_parents (int rootfd, const char *path)
{
  cleanup_free char *parent = NULL;
  const char *slash = strrchr (path, '/');
  int fd;

  if (slash == NULL || slash == path)
    return 0;
  parent = strndup (path, (size_t)(slash - path));
  if (parent == NULL)
    return -ENOMEM;
  fd = mkdir_p_in_root (rootfd, parent, 0755);
  if (fd < 0)
    return fd;
  close (fd);
  return 0;
}

int
safe_create_file_in_root (int rootfd, const char *path, mode_t mode, berth_err *err)
{
  int ret, fd;

  ret = create_parents (rootfd, path);
  if (ret < 0)
    return fail_in_root (err, -ret, "mkdir parents of", path);
  fd = open_in_root (rootfd, path, O_PATH, 0);
  if (fd != -ENOENT)
    goto done;

  ret = open_in_root (rootfd, path, O_CREAT | O_EXCL | O_RDONLY | O_NOCTTY, mode);
  /* EEXIST: a racing creator, or `path` is a dangling symlink (O_EXCL does
   * not follow it); a plain O_CREAT then makes its target, inside the root. */
  if (ret == -EEXIST)
    ret = open_in_root (rootfd, path, O_CREAT | O_RDONLY | O_NOCTTY | O_NONBLOCK, mode);
  if (ret < 0)
    return fail_in_root (err, -ret, "create", path);
  close (ret);
  fd = open_in_root (rootfd, path, O_PATH, 0);

done:
  if (fd < 0)
    return fail_in_root (err, -fd, "open", path);
  return fd;
}

char *
safe_resolve_in_root (int rootfd, const char *path, berth_err *err)
{
  char *resolved = NULL;
  int fd;

  /* Always the walk: it knows the names it went through, where openat2
   * would need /proc to tell them. */
  fd = walk_in_root (rootfd, path, O_PATH, 0, false, &resolved);
  if (fd < 0)
    {
      fail_in_root (err, -fd, "resolve", path);
      return NULL;
    }
  close (fd);
  return resolved;
}
