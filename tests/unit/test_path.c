/* Attacks on the rootfs resolver (CVE-2021-30465 and friends).
 *
 * Every case runs twice: with openat2(RESOLVE_IN_ROOT) and with the
 * userspace walk forced.  Each case gets a fresh tree:
 *
 *   BASE/sentinel          "OUTSIDE"   must never be opened or changed
 *   BASE/outside/                      must stay empty
 *   BASE/root/             the rootfs (rootfd is an O_PATH fd of it)
 *   BASE/root/sentinel     "inside"
 *   BASE/root/etc/hostname "inside-etc"
 *
 * inotify watches on the sentinel, BASE/outside and BASE itself prove at
 * teardown that nothing outside the root was opened or created.
 *
 * The whole run is chrooted into a scratch "host" directory, so a resolver
 * regression that does escape writes there, not into the real "/".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "util/path.h"

#include "test_resolver_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct tree
{
  char base[64];
  char root[96];
  int rootfd;
  int inotify;
};

static void
xsymlink (const struct tree *t, const char *target, const char *rel)
{
  char p[2 * PATH_MAX];
  snprintf (p, sizeof (p), "%s/%s", t->root, rel);
  assert_int_equal (symlink (target, p), 0);
}

static void
xwrite (const char *dir, const char *rel, const char *content)
{
  char p[2 * PATH_MAX];
  FILE *f;
  snprintf (p, sizeof (p), "%s/%s", dir, rel);
  f = fopen (p, "we");
  assert_non_null (f);
  fputs (content, f);
  fclose (f);
}

static void
xmkdir (const char *dir, const char *rel)
{
  char p[2 * PATH_MAX];
  snprintf (p, sizeof (p), "%s/%s", dir, rel);
  assert_int_equal (mkdir (p, 0755), 0);
}

static bool
exists_under (const char *dir, const char *rel)
{
  char p[2 * PATH_MAX];
  struct stat st;
  snprintf (p, sizeof (p), "%s/%s", dir, rel);
  return lstat (p, &st) == 0;
}

/* Reads what the fd holds; asserts it is a readable file. */
static void
assert_content (int fd, const char *expected)
{
  char buf[64] = { 0 };
  assert_true (fd >= 0);
  assert_int_equal (pread (fd, buf, sizeof (buf) - 1, 0), (ssize_t)strlen (expected));
  assert_string_equal (buf, expected);
}

static void
assert_same_inode (int fd, const char *dir, const char *rel)
{
  char p[2 * PATH_MAX];
  struct stat a, b;
  snprintf (p, sizeof (p), "%s/%s", dir, rel);
  assert_int_equal (fstat (fd, &a), 0);
  assert_int_equal (lstat (p, &b), 0);
  assert_true (a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static int
setup_tree (void **state)
{
  struct tree *t = calloc (1, sizeof (*t));
  char p[2 * PATH_MAX];

  assert_non_null (t);
  strcpy (t->base, "/tmp/berth-path-XXXXXX");
  assert_non_null (mkdtemp (t->base));
  snprintf (t->root, sizeof (t->root), "%s/root", t->base);
  xwrite (t->base, "sentinel", "OUTSIDE");
  xmkdir (t->base, "outside");
  xmkdir (t->base, "root");
  xwrite (t->root, "sentinel", "inside");
  xmkdir (t->root, "etc");
  xwrite (t->root, "etc/hostname", "inside-etc");
  xwrite (t->root, "file", "a file");
  t->rootfd = open (t->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_true (t->rootfd >= 0);

  t->inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  assert_true (t->inotify >= 0);
  snprintf (p, sizeof (p), "%s/sentinel", t->base);
  assert_true (inotify_add_watch (t->inotify, p, IN_ALL_EVENTS) >= 0);
  snprintf (p, sizeof (p), "%s/outside", t->base);
  assert_true (inotify_add_watch (t->inotify, p, IN_ALL_EVENTS) >= 0);
  /* Opening BASE/root itself is fine; new names in BASE are not. */
  assert_true (inotify_add_watch (t->inotify, t->base, IN_CREATE | IN_MOVED_TO | IN_DELETE) >= 0);

  *state = t;
  return 0;
}

RESOLVER_SETUPS (setup_tree)

static int
teardown_tree (void **state)
{
  struct tree *t = *state;

  close (t->rootfd);
  /* Nothing outside the root was opened, read, written or created. */
  resolver_case_end (t->inotify, "outside the root", t->base);
  free (t);
  return 0;
}

static void
test_symlink_to_host_root_stays_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, dfd = -1;

  xsymlink (t, "/", "rootlink");
  fd = safe_openat_in_root (t->rootfd, "/rootlink/sentinel", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd, "inside");
  dfd = safe_openat_in_root (t->rootfd, "rootlink", O_PATH | O_DIRECTORY, 0, &err);
  assert_null (err);
  assert_same_inode (dfd, t->root, ".");
}

static void
test_symlink_to_etc_stays_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1;

  xsymlink (t, "/etc", "etclink");
  fd = safe_openat_in_root (t->rootfd, "etclink/hostname", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd, "inside-etc");
}

static void
test_relative_symlink_dotdot_escape_clamped (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, fd2 = -1;

  xmkdir (t->root, "a");
  xsymlink (t, "../../..", "a/up");
  /* On the host BASE/root/a/../../../sentinel would be /sentinel; inside
   * it is the root's own sentinel. */
  fd = safe_openat_in_root (t->rootfd, "a/up/sentinel", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd, "inside");
  xsymlink (t, "../sentinel", "a/parent_sentinel");
  xsymlink (t, "../../sentinel", "a/grandparent_sentinel");
  fd2 = safe_openat_in_root (t->rootfd, "a/grandparent_sentinel", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd2, "inside");
}

static void
test_absolute_symlink_chain_stays_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, fd2 = -1;
  cleanup_free char *resolved = NULL;

  xsymlink (t, "/l2", "l1");
  xsymlink (t, "/l3/../l4", "l2");
  xsymlink (t, "/etc", "l3");
  xsymlink (t, "/../../etc", "l4");
  fd = safe_openat_in_root (t->rootfd, "/l1/hostname", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd, "inside-etc");
  resolved = safe_resolve_in_root (t->rootfd, "/l1/hostname", &err);
  assert_null (err);
  assert_string_equal (resolved, "/etc/hostname");

  /* An absolute target restarts at the root, not at the link's dir. */
  xmkdir (t->root, "a");
  xmkdir (t->root, "a/etc");
  xwrite (t->root, "a/etc/hostname", "wrong-dir");
  xsymlink (t, "/etc", "a/abs");
  fd2 = safe_openat_in_root (t->rootfd, "a/abs/hostname", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd2, "inside-etc");
}

static void
test_dotdot_escape_clamped (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, fd2 = -1, dfd = -1;

  fd = safe_openat_in_root (t->rootfd, "../../../sentinel", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd, "inside");
  fd2 = safe_openat_in_root (t->rootfd, "/etc/../../../../etc/../sentinel", O_RDONLY, 0, &err);
  assert_null (err);
  assert_content (fd2, "inside");
  dfd = safe_openat_in_root (t->rootfd, "..", O_RDONLY | O_DIRECTORY, 0, &err);
  assert_null (err);
  assert_same_inode (dfd, t->root, ".");
}

static void
test_host_absolute_symlink_is_read_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  char target[PATH_MAX];
  int fd;

  /* A link naming the host path of the sentinel finds nothing inside. */
  snprintf (target, sizeof (target), "%s/sentinel", t->base);
  xsymlink (t, target, "hostpath");
  fd = safe_openat_in_root (t->rootfd, "hostpath", O_RDONLY, 0, &err);
  assert_int_equal (fd, -1);
  assert_non_null (err);
  assert_int_equal (err->errnum, ENOENT);
  berth_err_free (&err);
}

static void
test_symlink_loop_is_eloop (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  xsymlink (t, "loop2", "loop1");
  xsymlink (t, "/loop1", "loop2");
  xsymlink (t, "self/x", "self");
  assert_int_equal (safe_openat_in_root (t->rootfd, "loop1", O_RDONLY, 0, &err), -1);
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "self/y", O_PATH, 0, &err), -1);
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
  assert_null (safe_resolve_in_root (t->rootfd, "loop2", &err));
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
  assert_int_equal (safe_mkdir_p_in_root (t->rootfd, "loop1/sub", 0755, &err), -1);
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
}

static void
test_dangling_symlink_ocreat_creates_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  char target[PATH_MAX], inside[PATH_MAX];
  cleanup_close int fd = -1, fd2 = -1;

  /* On the host this link names BASE/created. */
  xsymlink (t, "../created", "dangle");
  fd = safe_openat_in_root (t->rootfd, "dangle", O_CREAT | O_WRONLY, 0644, &err);
  assert_null (err);
  assert_true (fd >= 0);
  assert_true (exists_under (t->root, "created"));
  assert_false (exists_under (t->base, "created"));

  /* On the host this one names BASE/outside/created_abs, a dir that
   * exists there; its twin inside the root exists too. */
  snprintf (target, sizeof (target), "%s/outside/created_abs", t->base);
  xsymlink (t, target, "dangle_abs");
  snprintf (inside, sizeof (inside), "%s%s", t->root, t->base);
  for (char *p = inside + strlen (t->root) + 1; (p = strchr (p, '/')) != NULL; p++)
    {
      *p = '\0';
      assert_int_equal (mkdir (inside, 0755), 0);
      *p = '/';
    }
  assert_int_equal (mkdir (inside, 0755), 0);
  xmkdir (inside, "outside");
  fd2 = safe_openat_in_root (t->rootfd, "/dangle_abs", O_CREAT | O_RDWR, 0600, &err);
  assert_null (err);
  assert_true (fd2 >= 0);
  snprintf (inside, sizeof (inside), "%s%s/outside", t->root, t->base);
  assert_true (exists_under (inside, "created_abs"));
  assert_false (exists_under (t->base, "outside/created_abs"));
}

static void
test_ocreat_excl_on_dangling_symlink_is_eexist (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  xsymlink (t, "../created", "dangle");
  assert_int_equal (safe_openat_in_root (t->rootfd, "dangle", O_CREAT | O_EXCL | O_WRONLY, 0644, &err), -1);
  assert_int_equal (err->errnum, EEXIST);
  berth_err_free (&err);
  assert_false (exists_under (t->root, "created"));
}

static void
test_onofollow_opens_last_symlink_itself (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1;
  struct stat st;

  xsymlink (t, "/etc", "etclink");
  fd = safe_openat_in_root (t->rootfd, "etclink", O_PATH | O_NOFOLLOW, 0, &err);
  assert_null (err);
  assert_int_equal (fstat (fd, &st), 0);
  assert_true (S_ISLNK (st.st_mode));
  assert_int_equal (safe_openat_in_root (t->rootfd, "etclink", O_RDONLY | O_NOFOLLOW, 0, &err), -1);
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
}

static void
test_deep_directories (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  char path[PATH_MAX] = "";
  cleanup_close int dfd = -1, fd = -1;
  cleanup_free char *resolved = NULL;

  for (int i = 0; i < 200; i++)
    snprintf (path + strlen (path), sizeof (path) - strlen (path), "/d%d", i);
  dfd = safe_mkdir_p_in_root (t->rootfd, path, 0755, &err);
  assert_null (err);
  assert_true (dfd >= 0);
  assert_int_equal (fcntl (dfd, F_GETFL) & O_PATH, O_PATH);
  strcat (path, "/leaf");
  fd = safe_openat_in_root (t->rootfd, path, O_CREAT | O_WRONLY, 0644, &err);
  assert_null (err);
  assert_int_equal (write (fd, "deep", 4), 4);
  resolved = safe_resolve_in_root (t->rootfd, path, &err);
  assert_null (err);
  assert_string_equal (resolved, path);
}

static void
test_mkdir_p_through_escaping_symlink_creates_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  char target[PATH_MAX], inside[PATH_MAX];
  cleanup_close int fd = -1, fd2 = -1;

  /* Host path of BASE/outside: a dangling link inside the root. */
  snprintf (target, sizeof (target), "%s/outside", t->base);
  xsymlink (t, target, "escape");
  fd = safe_mkdir_p_in_root (t->rootfd, "escape/newdir/sub", 0755, &err);
  assert_null (err);
  assert_true (fd >= 0);
  snprintf (inside, sizeof (inside), "%s%s/outside/newdir", t->root, t->base);
  assert_same_inode (fd, inside, "sub");
  assert_false (exists_under (t->base, "outside/newdir"));

  xsymlink (t, "../../..", "up");
  fd2 = safe_mkdir_p_in_root (t->rootfd, "up/x/../y", 0755, &err);
  assert_null (err);
  assert_same_inode (fd2, t->root, "y");
  assert_true (exists_under (t->root, "x"));
  assert_false (exists_under (t->base, "y"));
}

static void
test_mkdir_p_existing_and_root (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, fd2 = -1;

  fd = safe_mkdir_p_in_root (t->rootfd, "/etc", 0755, &err);
  assert_null (err);
  assert_same_inode (fd, t->root, "etc");
  fd2 = safe_mkdir_p_in_root (t->rootfd, "/", 0755, &err);
  assert_null (err);
  assert_same_inode (fd2, t->root, ".");
}

static void
test_file_as_directory_is_enotdir (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  assert_int_equal (safe_mkdir_p_in_root (t->rootfd, "file/sub", 0755, &err), -1);
  assert_int_equal (err->errnum, ENOTDIR);
  berth_err_free (&err);
  assert_int_equal (safe_mkdir_p_in_root (t->rootfd, "file", 0755, &err), -1);
  assert_int_equal (err->errnum, ENOTDIR);
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "file/x", O_RDONLY, 0, &err), -1);
  assert_int_equal (err->errnum, ENOTDIR);
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "file", O_RDONLY | O_DIRECTORY, 0, &err), -1);
  assert_int_equal (err->errnum, ENOTDIR);
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "file/", O_RDONLY, 0, &err), -1);
  assert_int_equal (err->errnum, ENOTDIR);
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "etc/", O_CREAT | O_WRONLY, 0644, &err), -1);
  assert_int_equal (err->errnum, EISDIR);
  berth_err_free (&err);
}

static void
test_create_file_through_dangling_symlink_stays_inside (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, fd2 = -1;
  struct stat st;

  xsymlink (t, "../../bind-target", "target");
  fd = safe_create_file_in_root (t->rootfd, "/target", 0644, &err);
  assert_null (err);
  assert_int_equal (fcntl (fd, F_GETFL) & O_PATH, O_PATH);
  assert_same_inode (fd, t->root, "bind-target");
  assert_false (exists_under (t->base, "bind-target"));

  xsymlink (t, "/", "r");
  fd2 = safe_create_file_in_root (t->rootfd, "r/new/dirs/../../../r/file2", 0600, &err);
  assert_null (err);
  assert_int_equal (fstat (fd2, &st), 0);
  assert_true (S_ISREG (st.st_mode));
  assert_same_inode (fd2, t->root, "file2");
  assert_true (exists_under (t->root, "new/dirs"));
}

static void
test_create_file_keeps_existing (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int fd = -1, rfd = -1, dfd = -1;

  fd = safe_create_file_in_root (t->rootfd, "etc/hostname", 0600, &err);
  assert_null (err);
  assert_same_inode (fd, t->root, "etc/hostname");
  rfd = safe_openat_in_root (t->rootfd, "etc/hostname", O_RDONLY, 0, &err);
  assert_content (rfd, "inside-etc");
  dfd = safe_create_file_in_root (t->rootfd, "etc", 0600, &err);
  assert_null (err);
  assert_same_inode (dfd, t->root, "etc");
}

static void
test_resolve_returns_path_inside_root (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_free char *a = NULL, *b = NULL, *c = NULL;

  xsymlink (t, "/", "rootlink");
  xsymlink (t, "../etc", "rel");
  a = safe_resolve_in_root (t->rootfd, "rootlink/etc/../etc/./hostname", &err);
  assert_null (err);
  assert_string_equal (a, "/etc/hostname");
  b = safe_resolve_in_root (t->rootfd, "../rootlink/..", &err);
  assert_null (err);
  assert_string_equal (b, "/");
  c = safe_resolve_in_root (t->rootfd, "rel/", &err);
  assert_null (err);
  assert_string_equal (c, "/etc");
  assert_null (safe_resolve_in_root (t->rootfd, "etc/nope", &err));
  assert_string_equal (err->msg, "resolve \"/etc/nope\" in rootfs: no such file or directory");
  berth_err_free (&err);
}

static void
test_error_names_path_inside_rootfs (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;

  assert_int_equal (safe_openat_in_root (t->rootfd, "/etc/foo", O_RDONLY, 0, &err), -1);
  assert_string_equal (err->msg, "open \"/etc/foo\" in rootfs: no such file or directory");
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "etc/foo", O_RDONLY, 0, &err), -1);
  assert_string_equal (err->msg, "open \"/etc/foo\" in rootfs: no such file or directory");
  berth_err_free (&err);
  assert_int_equal (safe_mkdir_p_in_root (t->rootfd, "/file/x", 0755, &err), -1);
  assert_string_equal (err->msg, "mkdir \"/file/x\" in rootfs: not a directory");
  berth_err_free (&err);
  assert_int_equal (safe_openat_in_root (t->rootfd, "", O_RDONLY, 0, &err), -1);
  assert_int_equal (err->errnum, ENOENT);
  berth_err_free (&err);
}

static void
test_returned_fds_are_cloexec (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  cleanup_close int a = -1, b = -1, c = -1;

  a = safe_openat_in_root (t->rootfd, "etc/hostname", O_RDONLY, 0, &err);
  b = safe_mkdir_p_in_root (t->rootfd, "new/dir", 0755, &err);
  c = safe_create_file_in_root (t->rootfd, "new/file", 0644, &err);
  assert_null (err);
  assert_true (fcntl (a, F_GETFD) & FD_CLOEXEC);
  assert_true (fcntl (b, F_GETFD) & FD_CLOEXEC);
  assert_true (fcntl (c, F_GETFD) & FD_CLOEXEC);
}

static void
test_symlink_limit_is_eloop (void **state)
{
  struct tree *t = *state;
  berth_err err = NULL;
  char name[32], target[32];

  /* A chain longer than any resolver follows. */
  for (int i = 0; i < 300; i++)
    {
      snprintf (name, sizeof (name), "c%d", i);
      snprintf (target, sizeof (target), "c%d", i + 1);
      xsymlink (t, target, name);
    }
  assert_int_equal (safe_openat_in_root (t->rootfd, "c0", O_PATH, 0, &err), -1);
  assert_int_equal (err->errnum, ELOOP);
  berth_err_free (&err);
}

static int
write_file (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : write (fd, text, strlen (text));
  if (fd >= 0)
    close (fd);
  return n == (ssize_t)strlen (text) ? 0 : -1;
}

/* Unprivileged runs: chroot needs CAP_SYS_CHROOT, so map ourselves to root
 * in a new user namespace. */
static int
become_root_in_userns (void)
{
  char map[64];
  uid_t uid = geteuid ();
  gid_t gid = getegid ();

  if (unshare (CLONE_NEWUSER) < 0)
    return -1;
  snprintf (map, sizeof (map), "0 %u 1", (unsigned)uid);
  if (write_file ("/proc/self/uid_map", map) < 0 || write_file ("/proc/self/setgroups", "deny") < 0)
    return -1;
  snprintf (map, sizeof (map), "0 %u 1", (unsigned)gid);
  return write_file ("/proc/self/gid_map", map);
}

/* chroot into a fresh directory; *host_root keeps the way back. */
static int
enter_jail (char jail[64], int *host_root)
{
  char tmp[96];

  strcpy (jail, "/tmp/berth-path-jail-XXXXXX");
  if (mkdtemp (jail) == NULL)
    return -1;
  snprintf (tmp, sizeof (tmp), "%s/tmp", jail);
  if (mkdir (tmp, 01777) < 0)
    return -1;
  *host_root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*host_root < 0)
    return -1;
  if (geteuid () != 0 && become_root_in_userns () < 0)
    return -1;
  if (chroot (jail) < 0 || chdir ("/") < 0)
    return -1;
  return 0;
}

static void
leave_jail (const char *jail, int host_root)
{
  if (fchdir (host_root) == 0 && chroot (".") == 0 && chdir ("/") == 0)
    rm_tree (jail);
  close (host_root);
}

int
main (void)
{
  char jail[64];
  int host_root = -1;
  int failed;

  const struct CMUnitTest tests[] = {
    BOTH_WAYS (test_symlink_to_host_root_stays_inside),
    BOTH_WAYS (test_symlink_to_etc_stays_inside),
    BOTH_WAYS (test_relative_symlink_dotdot_escape_clamped),
    BOTH_WAYS (test_absolute_symlink_chain_stays_inside),
    BOTH_WAYS (test_dotdot_escape_clamped),
    BOTH_WAYS (test_host_absolute_symlink_is_read_inside),
    BOTH_WAYS (test_symlink_loop_is_eloop),
    BOTH_WAYS (test_dangling_symlink_ocreat_creates_inside),
    BOTH_WAYS (test_ocreat_excl_on_dangling_symlink_is_eexist),
    BOTH_WAYS (test_onofollow_opens_last_symlink_itself),
    BOTH_WAYS (test_deep_directories),
    BOTH_WAYS (test_mkdir_p_through_escaping_symlink_creates_inside),
    BOTH_WAYS (test_mkdir_p_existing_and_root),
    BOTH_WAYS (test_file_as_directory_is_enotdir),
    BOTH_WAYS (test_create_file_through_dangling_symlink_stays_inside),
    BOTH_WAYS (test_create_file_keeps_existing),
    BOTH_WAYS (test_resolve_returns_path_inside_root),
    BOTH_WAYS (test_error_names_path_inside_rootfs),
    BOTH_WAYS (test_returned_fds_are_cloexec),
    BOTH_WAYS (test_symlink_limit_is_eloop),
  };

  if (enter_jail (jail, &host_root) < 0)
    {
      fprintf (stderr, "cannot chroot into a scratch dir (%s): not running\n", strerror (errno));
      return 1;
    }
  failed = cmocka_run_group_tests (tests, NULL, NULL);
  leave_jail (jail, host_root);
  return failed;
}
