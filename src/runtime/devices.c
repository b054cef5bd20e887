/* /dev inside the container: the runtime-spec's default devices, the
 * config's linux.devices, and the standard links.  Nodes are made with
 * mknodat() in a directory fd resolved inside the rootfs; in a user
 * namespace (where mknod is refused) the host's node is bind-mounted. */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/mountfd.h"
#include "util/cleanup.h"
#include "util/path.h"

static const struct berth_device default_devices[] = {
  { .path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/zero", .type = 'c', .major = 1, .minor = 5, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/full", .type = 'c', .major = 1, .minor = 7, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/random", .type = 'c', .major = 1, .minor = 8, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/tty", .type = 'c', .major = 5, .minor = 0, .has_file_mode = true, .file_mode = 0666 },
};

static const struct
{
  const char *target, *link;
} default_links[] = {
  { "/proc/self/fd", "/dev/fd" },       { "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
  { "/proc/self/fd/2", "/dev/stderr" }, { "pts/ptmx", "/dev/ptmx" },
};

/* Split "/dev/x/y" into an fd of "/dev/x" (made if missing) and "y". */
static int
open_parent (int rootfd, const char *path, char **base, berth_err *err)
{
  cleanup_free char *copy = strdup (path);
  cleanup_free char *copy2 = strdup (path);
  int fd;

  *base = strdup (basename (copy));
  fd = safe_mkdir_p_in_root (rootfd, dirname (copy2), 0755, err);
  if (fd < 0)
    return -1;
  /* O_PATH fds cannot be used with mknodat: reopen as a directory. */
  {
    char proc[64];
    int dfd;
    snprintf (proc, sizeof (proc), "/proc/self/fd/%d", fd);
    dfd = open (proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close (fd);
    if (dfd < 0)
      return berth_fail (err, errno, "open parent of `%s`", path);
    return dfd;
  }
}

static int
bind_host_device (int rootfd, const struct berth_device *d, berth_err *err)
{
  cleanup_close int target = safe_create_file_in_root (rootfd, d->path, 0644, err);
  struct mountfd_bind b = { .userns_fd = -1, .source = d->path };

  if (target < 0)
    return -1;
  return mountfd_bind_onto (&b, target, d->path, err);
}

static int
make_device (int rootfd, const struct berth_device *d, bool in_userns, berth_err *err)
{
  cleanup_close int dfd = -1;
  cleanup_free char *base = NULL;
  mode_t type;

  if (in_userns)
    return bind_host_device (rootfd, d, err);
  switch (d->type)
    {
    case 'c':
    case 'u':
      type = S_IFCHR;
      break;
    case 'b':
      type = S_IFBLK;
      break;
    case 'p':
      type = S_IFIFO;
      break;
    default:
      return berth_fail (err, 0, "device `%s`: unknown type `%c`", d->path, d->type);
    }
  dfd = open_parent (rootfd, d->path, &base, err);
  if (dfd < 0)
    return -1;
  /* An image may ship its own node or a symlink there: replace it. */
  if (unlinkat (dfd, base, 0) < 0 && errno != ENOENT && errno != EISDIR)
    return berth_fail (err, errno, "remove existing `%s`", d->path);
  if (mknodat (dfd, base, type | (d->has_file_mode ? (d->file_mode & 07777) : 0666),
               makedev ((unsigned)d->major, (unsigned)d->minor))
      < 0)
    return berth_fail (err, errno, "mknod `%s` (%c %lld:%lld)", d->path, d->type, (long long)d->major,
                       (long long)d->minor);
  if ((d->has_uid || d->has_gid)
      && fchownat (dfd, base, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW)
             < 0)
    return berth_fail (err, errno, "chown `%s`", d->path);
  return 0;
}

static bool
spec_has_device (const struct berth_linux *lx, const char *path)
{
  for (size_t i = 0; lx && i < lx->n_devices; i++)
    if (strcmp (lx->devices[i].path, path) == 0)
      return true;
  return false;
}

int
devices_create (struct init_ctx *c, int rootfd, berth_err *err)
{
  const struct berth_linux *lx = c->spec->linux;
  bool in_userns = lx && lx->namespaces[BERTH_NS_USER].present;

  for (size_t i = 0; i < sizeof (default_devices) / sizeof (default_devices[0]); i++)
    if (!spec_has_device (lx, default_devices[i].path) && make_device (rootfd, &default_devices[i], in_userns, err) < 0)
      return berth_wrap (err, "default device");
  for (size_t i = 0; lx && i < lx->n_devices; i++)
    if (make_device (rootfd, &lx->devices[i], in_userns, err) < 0)
      return berth_wrap (err, "linux.devices[%zu]", i);
  for (size_t i = 0; i < sizeof (default_links) / sizeof (default_links[0]); i++)
    {
      cleanup_close int dfd = -1;
      cleanup_free char *base = NULL;
      dfd = open_parent (rootfd, default_links[i].link, &base, err);
      if (dfd < 0)
        return -1;
      if (symlinkat (default_links[i].target, dfd, base) < 0 && errno != EEXIST)
        return berth_fail (err, errno, "symlink `%s` -> `%s`", default_links[i].link, default_links[i].target);
    }
  return 0;
}

/* The pty becomes /dev/console, as runc does: the file must exist to be a
 * mount target.  Runs after pivot_root: paths are the container's. */
int
devices_bind_console (const char *pty_path, berth_err *err)
{
  cleanup_close int target = -1;
  struct mountfd_bind b = { .userns_fd = -1, .source = pty_path };

  target = open ("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0 && errno == ENOENT)
    {
      int fd = open ("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return berth_fail (err, errno, "create /dev/console");
      close (fd);
      target = open ("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
  if (target < 0)
    return berth_fail (err, errno, "open /dev/console");
  return mountfd_bind_onto (&b, target, "/dev/console", err);
}

/* The devices cgroup rules: the spec's own, then an allow rule for each
 * linux.devices node, then the nodes every container gets (as runc: mknod of
 * anything, the default devices, the console and ptys, and tun). */
static const struct berth_device_rule default_rules[] = {
  { .allow = true, .type = 'c', .major = -1, .minor = -1, .access = "m" },
  { .allow = true, .type = 'b', .major = -1, .minor = -1, .access = "m" },
  { .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 1, .minor = 5, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 1, .minor = 7, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 1, .minor = 8, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 1, .minor = 9, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 5, .minor = 0, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 5, .minor = 1, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 5, .minor = 2, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 136, .minor = -1, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 10, .minor = 200, .access = "rwm" },
};

struct berth_device_rule *
devices_cgroup_rules (const struct berth_linux *lx, size_t *n)
{
  size_t n_spec = (lx && lx->resources) ? lx->resources->n_devices : 0;
  size_t n_nodes = lx ? lx->n_devices : 0;
  size_t n_default = sizeof (default_rules) / sizeof (default_rules[0]);
  struct berth_device_rule *rules = calloc (n_spec + n_nodes + n_default, sizeof (*rules));
  size_t k = 0;

  for (size_t i = 0; i < n_spec; i++)
    rules[k++] = lx->resources->devices[i];
  for (size_t i = 0; i < n_nodes; i++)
    {
      const struct berth_device *d = &lx->devices[i];
      if (d->type == 'p')
        continue;
      rules[k++] = (struct berth_device_rule){
        .allow = true, .type = d->type == 'u' ? 'c' : d->type, .major = d->major, .minor = d->minor, .access = "rwm"
      };
    }
  for (size_t i = 0; i < n_default; i++)
    rules[k++] = default_rules[i];
  *n = k;
  return rules;
}
