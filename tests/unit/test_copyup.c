/* Tree copies (src/runtime/copyup.c): what tmpcopyup and berthd's image
 * volumes copy, and that a symlink in the image never leads the copy out of
 * the image's root.
 *
 * Each case gets a fresh tree:
 *
 *   BASE/outside/secret   "HOST"   must never be opened or copied
 *   BASE/root/            the image's root (rootfd is an O_PATH fd of it)
 *   BASE/dst/             the new volume dir (dstfd)
 *
 * An inotify watch on BASE/outside proves at teardown that nothing there was
 * even opened.  The safe_copyup_from_root cases run twice: with
 * openat2(RESOLVE_IN_ROOT) and with the userspace walk forced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/copyup.h"
#include "util/cleanup.h"
#include "util/path.h"

#include "test_resolver_util.h"

struct tree
{
  char base[64];
  char root[96];
  char dst[96];
  char outside[96];
  int rootfd;
  int dstfd;
  int inotify;
};

static const struct copyup_opts volume_opts = { .op = "image volume", .what = "/vol", .flags = COPYUP_XATTRS };

static void
at (const char *dir, const char *rel, char *p, size_t size)
{
  assert_true ((size_t)snprintf (p, size, "%s/%s", dir, rel) < size);
}

static void
xwrite (const char *dir, const char *rel, const char *content, mode_t mode)
{
  char p[2 * PATH_MAX];
  int fd;

  at (dir, rel, p, sizeof (p));
  fd = open (p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, content, strlen (content)), (ssize_t)strlen (content));
  assert_int_equal (fchmod (fd, mode), 0); /* past the umask */
  close (fd);
}

static void
xmkdir (const char *dir, const char *rel, mode_t mode)
{
  char p[2 * PATH_MAX];

  at (dir, rel, p, sizeof (p));
  assert_int_equal (mkdir (p, mode), 0);
  assert_int_equal (chmod (p, mode), 0);
}

static void
xsymlink (const char *dir, const char *target, const char *rel)
{
  char p[2 * PATH_MAX];

  at (dir, rel, p, sizeof (p));
  assert_int_equal (symlink (target, p), 0);
}

static void
xlink (const char *dir, const char *from, const char *to)
{
  char a[2 * PATH_MAX], b[2 * PATH_MAX];

  at (dir, from, a, sizeof (a));
  at (dir, to, b, sizeof (b));
  assert_int_equal (link (a, b), 0);
}

static struct stat
xlstat (const char *dir, const char *rel)
{
  char p[2 * PATH_MAX];
  struct stat sb;

  at (dir, rel, p, sizeof (p));
  assert_int_equal (lstat (p, &sb), 0);
  return sb;
}

static bool
exists (const char *dir, const char *rel)
{
  char p[2 * PATH_MAX];
  struct stat sb;

  at (dir, rel, p, sizeof (p));
  return lstat (p, &sb) == 0;
}

static void
assert_file (const char *dir, const char *rel, const char *content)
{
  char p[2 * PATH_MAX], buf[256] = { 0 };
  cleanup_close int fd = -1;

  at (dir, rel, p, sizeof (p));
  fd = open (p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (read (fd, buf, sizeof (buf) - 1), (ssize_t)strlen (content));
  assert_string_equal (buf, content);
}

static void
assert_link_target (const char *dir, const char *rel, const char *target)
{
  char p[2 * PATH_MAX], buf[PATH_MAX] = { 0 };

  at (dir, rel, p, sizeof (p));
  assert_int_equal (readlink (p, buf, sizeof (buf) - 1), (ssize_t)strlen (target));
  assert_string_equal (buf, target);
}

static int
teardown_tree (void **state)
{
  struct tree *t = *state;

  close (t->rootfd);
  close (t->dstfd);
  resolver_case_end (t->inotify, "in the host's dir", t->base);
  free (t);
  return 0;
}

static int
setup_tree (void **state)
{
  struct tree *t = calloc (1, sizeof (*t));

  assert_non_null (t);
  strcpy (t->base, "/tmp/berth-copyup-XXXXXX");
  assert_non_null (mkdtemp (t->base));
  at (t->base, "root", t->root, sizeof (t->root));
  at (t->base, "dst", t->dst, sizeof (t->dst));
  at (t->base, "outside", t->outside, sizeof (t->outside));
  xmkdir (t->base, "root", 0755);
  xmkdir (t->base, "dst", 0755);
  xmkdir (t->base, "outside", 0700);
  xwrite (t->outside, "secret", "HOST", 0600);
  t->rootfd = open (t->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  t->dstfd = open (t->dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (t->rootfd >= 0 && t->dstfd >= 0);
  t->inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  assert_true (t->inotify >= 0);
  assert_true (inotify_add_watch (t->inotify, t->outside, IN_ALL_EVENTS) >= 0);
  *state = t;
  return 0;
}

RESOLVER_SETUPS (setup_tree)

/* ---- what is copied ---- */

static void
test_copy_keeps_content_owner_mode_times (void **state)
{
  struct tree *t = *state;
  struct timespec old[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
  char p[2 * PATH_MAX];
  berth_err err = NULL;
  struct stat sb;

  xmkdir (t->root, "vol", 0750);
  xwrite (t->root, "vol/file", "content\n", 0640);
  xwrite (t->root, "vol/suid", "#!/bin/sh\n", 04755);
  xmkdir (t->root, "vol/sub", 0700);
  xwrite (t->root, "vol/sub/deep", "deep\n", 0600);
  at (t->root, "vol/file", p, sizeof (p));
  assert_int_equal (utimensat (AT_FDCWD, p, old, 0), 0);
  if (geteuid () == 0)
    {
      at (t->root, "vol/suid", p, sizeof (p));
      assert_int_equal (chown (p, 1000, 1000), 0);
      assert_int_equal (chmod (p, 04755), 0); /* chown cleared the set-id bit */
      at (t->root, "vol/sub", p, sizeof (p));
      assert_int_equal (chown (p, 1001, 1002), 0);
      at (t->root, "vol", p, sizeof (p));
      assert_int_equal (chown (p, 33, 33), 0);
    }

  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), 1);
  assert_null (err);
  assert_file (t->dst, "file", "content\n");
  assert_file (t->dst, "sub/deep", "deep\n");
  sb = xlstat (t->dst, "file");
  assert_int_equal (sb.st_mode & 07777, 0640);
  assert_int_equal (sb.st_mtim.tv_sec, 1600000000);
  sb = xlstat (t->dst, "suid");
  assert_int_equal (sb.st_mode & 07777, 04755);
  /* The volume's own dir takes the image dir's owner and mode. */
  sb = xlstat (t->dst, ".");
  assert_int_equal (sb.st_mode & 07777, 0750);
  if (geteuid () == 0)
    {
      assert_true (sb.st_uid == 33 && sb.st_gid == 33);
      sb = xlstat (t->dst, "suid");
      assert_true (sb.st_uid == 1000 && sb.st_gid == 1000);
      sb = xlstat (t->dst, "sub");
      assert_true (sb.st_uid == 1001 && sb.st_gid == 1002);
    }
}

static void
test_copy_keeps_symlinks_unfollowed (void **state)
{
  struct tree *t = *state;
  char host_secret[2 * PATH_MAX];
  berth_err err = NULL;

  at (t->outside, "secret", host_secret, sizeof (host_secret));
  xmkdir (t->root, "vol", 0755);
  xsymlink (t->root, host_secret, "vol/abs");
  xsymlink (t->root, "../../outside/secret", "vol/rel");
  xsymlink (t->root, "../../outside", "vol/dir");

  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), 1);
  assert_null (err);
  /* Copied as links with the same text; what they point at is not read. */
  assert_true (S_ISLNK (xlstat (t->dst, "abs").st_mode));
  assert_link_target (t->dst, "abs", host_secret);
  assert_link_target (t->dst, "rel", "../../outside/secret");
  assert_true (S_ISLNK (xlstat (t->dst, "dir").st_mode));
}

static void
test_copy_keeps_hard_links (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  struct stat a, b, c;

  xmkdir (t->root, "vol", 0755);
  xmkdir (t->root, "vol/sub", 0755);
  xwrite (t->root, "vol/a", "linked\n", 0755);
  xlink (t->root, "vol/a", "vol/sub/b");
  xlink (t->root, "vol/a", "vol/c");
  /* Linked only with a name outside the volume: a plain copy. */
  xwrite (t->root, "vol/lonely", "lonely\n", 0644);
  xlink (t->root, "vol/lonely", "elsewhere");

  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), 1);
  assert_null (err);
  a = xlstat (t->dst, "a");
  b = xlstat (t->dst, "sub/b");
  c = xlstat (t->dst, "c");
  assert_int_equal (a.st_nlink, 3);
  assert_true (a.st_ino == b.st_ino && a.st_ino == c.st_ino);
  assert_file (t->dst, "sub/b", "linked\n");
  assert_int_equal (xlstat (t->dst, "lonely").st_nlink, 1);
  assert_file (t->dst, "lonely", "lonely\n");
}

static void
test_copy_keeps_xattrs_and_fifos (void **state)
{
  struct tree *t = *state;
  char p[2 * PATH_MAX], val[64] = { 0 };
  berth_err err = NULL;

  xmkdir (t->root, "vol", 0755);
  xwrite (t->root, "vol/file", "x", 0644);
  at (t->root, "vol/fifo", p, sizeof (p));
  assert_int_equal (mkfifo (p, 0620), 0);
  assert_int_equal (chmod (p, 0620), 0);
  at (t->root, "vol/file", p, sizeof (p));
  if (setxattr (p, "user.berth", "hello", 5, 0) < 0)
    skip (); /* no user xattrs on this filesystem */
  at (t->root, "vol", p, sizeof (p));
  assert_int_equal (setxattr (p, "user.dir", "top", 3, 0), 0);

  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), 1);
  assert_null (err);
  at (t->dst, "file", p, sizeof (p));
  assert_int_equal (getxattr (p, "user.berth", val, sizeof (val)), 5);
  assert_string_equal (val, "hello");
  assert_int_equal (getxattr (t->dst, "user.dir", val, sizeof (val)), 3);
  assert_true (S_ISFIFO (xlstat (t->dst, "fifo").st_mode));
  assert_int_equal (xlstat (t->dst, "fifo").st_mode & 07777, 0620);
}

/* tmpcopyup copies no xattrs (as runc and crun) and keeps its messages. */
static void
test_tmpcopyup_without_xattrs_and_its_messages (void **state)
{
  struct tree *t = *state;
  char p[2 * PATH_MAX], val[64];
  berth_err err = NULL;

  xwrite (t->root, "file", "x", 0644);
  at (t->root, "file", p, sizeof (p));
  if (setxattr (p, "user.berth", "hello", 5, 0) < 0)
    skip ();
  assert_int_equal (copyup_tree (t->rootfd, t->dstfd, "/tmp", &err), 0);
  assert_null (err);
  at (t->dst, "file", p, sizeof (p));
  assert_int_equal (getxattr (p, "user.berth", val, sizeof (val)), -1);
  /* A second copy meets the first: the error names the mount as before. */
  assert_int_equal (copyup_tree (t->rootfd, t->dstfd, "/tmp", &err), -1);
  assert_non_null (err);
  assert_int_equal (err->errnum, EEXIST);
  assert_string_equal (err->msg, "tmpcopyup `/tmp`: create `file`: file exists");
  berth_err_free (&err);
}

/* ---- where the copy starts ---- */

/* The image makes its volume path a symlink out of the rootfs (relative,
 * absolute to the host's dir, through a parent): the copy follows it inside
 * the root only, where there is nothing, and the host's dir is never even
 * opened. */
static void
test_image_volume_symlink_escape (void **state)
{
  struct tree *t = *state;
  const char *paths[] = { "/vol", "/abs", "/parent/outside", "/parent/outside/../outside" };
  berth_err err = NULL;

  xsymlink (t->root, "../../../../../../outside", "vol");
  xsymlink (t->root, t->outside, "abs");
  xsymlink (t->root, "../../../..", "parent");
  for (size_t i = 0; i < sizeof (paths) / sizeof (paths[0]); i++)
    {
      assert_int_equal (safe_copyup_from_root (t->rootfd, paths[i], t->dstfd, &volume_opts, &err), 0);
      assert_null (err);
      assert_false (exists (t->dst, "secret"));
    }
}

/* The same links, with an "outside" dir in the image: that one is copied. */
static void
test_image_volume_symlink_resolves_inside_root (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  xmkdir (t->root, "outside", 0711);
  xwrite (t->root, "outside/inside", "IMAGE", 0644);
  xsymlink (t->root, "../../../../../../outside", "vol");
  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), 1);
  assert_null (err);
  assert_file (t->dst, "inside", "IMAGE");
  assert_false (exists (t->dst, "secret"));
  assert_int_equal (xlstat (t->dst, ".").st_mode & 07777, 0711);
}

static void
test_missing_path_copies_nothing (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  assert_int_equal (safe_copyup_from_root (t->rootfd, "/no/such/dir", t->dstfd, &volume_opts, &err), 0);
  assert_null (err);
  assert_int_equal (xlstat (t->dst, ".").st_mode & 07777, 0755);
}

static void
test_file_path_is_enotdir (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  xwrite (t->root, "vol", "a file", 0644);
  assert_int_equal (safe_copyup_from_root (t->rootfd, "/vol", t->dstfd, &volume_opts, &err), -1);
  assert_non_null (err);
  assert_int_equal (err->errnum, ENOTDIR);
  assert_string_equal (err->msg, "image volume `/vol`: open \"/vol\" in rootfs: not a directory");
  berth_err_free (&err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_copy_keeps_content_owner_mode_times, setup_openat2, teardown_tree),
    cmocka_unit_test_setup_teardown (test_copy_keeps_symlinks_unfollowed, setup_openat2, teardown_tree),
    cmocka_unit_test_setup_teardown (test_copy_keeps_hard_links, setup_openat2, teardown_tree),
    cmocka_unit_test_setup_teardown (test_copy_keeps_xattrs_and_fifos, setup_openat2, teardown_tree),
    cmocka_unit_test_setup_teardown (test_tmpcopyup_without_xattrs_and_its_messages, setup_openat2, teardown_tree),
    BOTH_WAYS (test_image_volume_symlink_escape),
    BOTH_WAYS (test_image_volume_symlink_resolves_inside_root),
    BOTH_WAYS (test_missing_path_copies_nothing),
    BOTH_WAYS (test_file_path_is_enotdir),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
