/* The host-side steps of a pod sandbox, in the order RunPodSandbox takes
 * them, and pod_teardown, which undoes them in reverse:
 *
 *   pod dir          <state>/pods/<id>             rmdir
 *   namespaces       net_pin_namespaces (pod_run)  net_unpin_namespaces
 *   files            hostname, resolv.conf, hosts  unlink
 *   shm              tmpfs on <pod dir>/shm        umount, rmdir
 *   sysctls          in the pinned namespaces      (go with them)
 *   pause + cgroup   only for a shared pid ns      net_stop_pause, destroy
 *   CNI ADD          cni_add                       cni_del (before unpin:
 *                                                  the bridge plugin finds
 *                                                  its rules through eth0)
 */
#include "daemon/pod_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cri/cri.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"

static const char *const pod_files[] = { "hostname", "hosts", "resolv.conf" };

struct cni_setup
pod_cni_setup (struct daemon *d)
{
  struct cni_setup s = { 0 };

  s.conf_dir = d->config.cni_conf_dir;
  s.bin_dirs = d->config.cni_bin_dir;
  s.cache_dir = d->pods->cni_cache;
  return s;
}

static char *
pod_path (const struct pod *p, const char *name)
{
  char *r;

  if (asprintf (&r, "%s/%s", p->pod_dir, name) < 0)
    abort ();
  return r;
}

/* The files are read by containers through read-only bind mounts; a
 * partial one is never seen because nothing mounts it before the RPC
 * answers. */
static int
write_pod_file (const struct pod *p, const char *name, const char *text, size_t len, berth_err *err)
{
  cleanup_free char *path = pod_path (p, name);
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

  if (fd < 0)
    return berth_fail (err, errno, "pod sandbox %s: create `%s`", p->id, path);
  if (berth_write_all (fd, text, len) < 0)
    return berth_fail (err, errno, "pod sandbox %s: write `%s`", p->id, path);
  return 0;
}

int
pod_write_files (struct pod *p, const Runtime__V1__PodSandboxConfig *cfg, berth_err *err)
{
  cleanup_free char *hostname = NULL, *resolv = NULL, *host_resolv = NULL;
  size_t len = 0;

  if (asprintf (&hostname, "%s\n", p->hostname) < 0)
    abort ();
  if (write_pod_file (p, "hostname", hostname, strlen (hostname), err) < 0)
    return -1;
  if (cri_resolv_conf_text (cfg->dns_config, &resolv, err) < 0)
    return -1;
  if (resolv == NULL)
    {
      /* No DNS config: the node's resolver, as containerd and the kubelet's
         "Default" DNS policy do. */
      cleanup_close int fd = open ("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
      if (fd >= 0)
        host_resolv = berth_read_fd (fd, 1 << 20, &len, "/etc/resolv.conf", err);
      if (fd >= 0 && host_resolv == NULL)
        return -1;
    }
  if (write_pod_file (p, "resolv.conf",
                      resolv        ? resolv
                      : host_resolv ? host_resolv
                                    : "",
                      resolv ? strlen (resolv) : len, err)
      < 0)
    return -1;
  return pod_write_hosts (p, err);
}

int
pod_write_hosts (struct pod *p, berth_err *err)
{
  cleanup_free char *hosts = cri_hosts_text (p->hostname, p->ip);

  return write_pod_file (p, "hosts", hosts, strlen (hosts), err);
}

int
pod_mount_shm (struct pod *p, berth_err *err)
{
  cleanup_free char *path = pod_path (p, "shm");
  char opts[64];

  if (mkdir (path, 0755) < 0 && errno != EEXIST)
    return berth_fail (err, errno, "pod sandbox %s: mkdir `%s`", p->id, path);
  snprintf (opts, sizeof (opts), "mode=1777,size=%llu", POD_SHM_SIZE);
  if (mount ("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
    {
      int e = errno;
      rmdir (path);
      return berth_fail (err, e, "pod sandbox %s: mount tmpfs on `%s`", p->id, path);
    }
  p->shm = steal_pointer (&path);
  return 0;
}

/* ---- sysctls ------------------------------------------------------------ */

struct sysctl_error
{
  int index; /* -1: setns */
  int errnum;
};

/* The child joins every pinned namespace and writes /proc/sys: the net and
 * ipc entries there belong to the namespaces of the task that opens them.
 * Async-signal-safe only (berthd has threads). */
static void __attribute__ ((noreturn))
sysctl_child (int wfd, const int *nsfds, size_t n_ns, char **paths, char **values, size_t n)
{
  struct sysctl_error e = { -1, 0 };

  for (size_t i = 0; i < n_ns; i++)
    if (setns (nsfds[i], 0) < 0)
      {
        e.errnum = errno;
        goto fail;
      }
  for (size_t i = 0; i < n; i++)
    {
      int fd = open (paths[i], O_WRONLY | O_CLOEXEC);
      if (fd < 0 || berth_write_all (fd, values[i], strlen (values[i])) < 0)
        {
          e.index = (int)i;
          e.errnum = errno;
          goto fail;
        }
      close (fd);
    }
  _exit (0);
fail:
  berth_write_all (wfd, &e, sizeof (e));
  _exit (1);
}

int
pod_apply_sysctls (struct pod *p, const Runtime__V1__PodSandboxConfig *cfg, berth_err *err)
{
  size_t n = cfg->linux ? cfg->linux->n_sysctls : 0, n_ns = 0;
  cleanup_strv char **paths = NULL;
  cleanup_strv char **values = NULL;
  int nsfds[3] = { -1, -1, -1 }, pipefd[2], status, ret = 0;
  const char *ns_paths[3] = { p->netns, p->ipcns, p->utsns };
  struct sysctl_error e;
  pid_t pid;
  ssize_t got;

  if (n == 0)
    return 0;
  paths = calloc (n + 1, sizeof (*paths));
  values = calloc (n + 1, sizeof (*values));
  if (paths == NULL || values == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      const char *key = cfg->linux->sysctls[i]->key;
      /* "net.ipv4.ip_forward" -> /proc/sys/net/ipv4/ip_forward; a key with
         '/' is already a path (an interface name may hold a dot). */
      if (asprintf (&paths[i], "/proc/sys/%s", key) < 0)
        abort ();
      if (strchr (key, '/') == NULL)
        for (char *c = paths[i] + 10; *c; c++)
          if (*c == '.')
            *c = '/';
      values[i] = strdup (cfg->linux->sysctls[i]->value ? cfg->linux->sysctls[i]->value : "");
    }
  for (size_t i = 0; i < 3; i++)
    if (ns_paths[i] && (nsfds[n_ns++] = open (ns_paths[i], O_RDONLY | O_CLOEXEC)) < 0)
      {
        ret = berth_fail (err, errno, "pod sandbox %s: sysctls: open `%s`", p->id, ns_paths[i]);
        goto out;
      }
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    {
      ret = berth_fail (err, errno, "pod sandbox %s: sysctls: pipe", p->id);
      goto out;
    }
  pid = fork ();
  if (pid == 0)
    {
      close (pipefd[0]);
      sysctl_child (pipefd[1], nsfds, n_ns, paths, values, n);
    }
  close (pipefd[1]);
  if (pid < 0)
    {
      close (pipefd[0]);
      ret = berth_fail (err, errno, "pod sandbox %s: sysctls: fork", p->id);
      goto out;
    }
  do
    got = read (pipefd[0], &e, sizeof (e));
  while (got < 0 && errno == EINTR);
  close (pipefd[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (got == (ssize_t)sizeof (e))
    ret = e.index < 0 ? berth_fail (err, e.errnum, "pod sandbox %s: sysctls: join the pod's namespaces", p->id)
                      : berth_fail (err, e.errnum, "config.linux.sysctls[\"%s\"]: write \"%s\" to `%s`",
                                    cfg->linux->sysctls[e.index]->key, values[e.index], paths[e.index]);
  else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    ret = berth_fail (err, 0, "pod sandbox %s: sysctls: child died (status %#x)", p->id, status);
out:
  for (size_t i = 0; i < 3; i++)
    if (nsfds[i] >= 0)
      close (nsfds[i]);
  return ret;
}

/* ---- pause and its cgroup ------------------------------------------------ */

int
pod_start_pause (struct daemon *d, struct pod *p, berth_err *err)
{
  struct pinned_ns ns = { 0 };
  cleanup_free char *cg_path = NULL;

  (void)d;
  /* The pause gets the cgroup a container of the pod would get:
     <cgroup_parent>/<id>, else <id> under berthd's own cgroup. */
  if (p->cgroup_parent[0] != '\0')
    {
      size_t len = strlen (p->cgroup_parent);
      while (len > 1 && p->cgroup_parent[len - 1] == '/')
        len--;
      if (asprintf (&cg_path, "%.*s/%s", (int)len, p->cgroup_parent, p->id) < 0)
        abort ();
    }
  p->cgroup = berth_cgroup_resolve (cg_path, p->id, err);
  if (p->cgroup == NULL)
    return berth_wrap (err, "config.linux.cgroup_parent \"%s\"", p->cgroup_parent);
  if (berth_cgroup_create (p->cgroup, NULL, err) < 0)
    {
      berth_cgroup_free (p->cgroup);
      p->cgroup = NULL;
      return berth_wrap (err, "pod sandbox %s: cgroup", p->id);
    }
  ns.net_path = p->netns;
  ns.ipc_path = p->ipcns;
  ns.uts_path = p->utsns;
  if (net_start_pause (&ns, &p->pause, err) < 0)
    return berth_wrap (err, "pod sandbox %s", p->id);
  p->has_pause = true;
  if (berth_cgroup_enter (p->cgroup, p->pause.pid, err) < 0)
    return berth_wrap (err, "pod sandbox %s: move the pause process into its cgroup", p->id);
  return 0;
}

/* ---- CNI ------------------------------------------------------------------ */

static void
fill_cni_pod (const struct pod *p, struct cni_pod *cp, struct cni_port_mapping *ports)
{
  size_t i;
  json_t *m;

  memset (cp, 0, sizeof (*cp));
  cp->id = p->id;
  cp->netns = p->netns;
  cp->name = p->meta_name;
  cp->namespace_ = p->meta_namespace;
  cp->uid = p->meta_uid;
  json_array_foreach (p->ports, i, m)
  {
    ports[i].host_port = (int)json_integer_value (json_object_get (m, "host_port"));
    ports[i].container_port = (int)json_integer_value (json_object_get (m, "container_port"));
    ports[i].protocol = json_string_value (json_object_get (m, "protocol"));
    ports[i].host_ip = json_string_value (json_object_get (m, "host_ip"));
  }
  cp->ports = ports;
  cp->n_ports = json_array_size (p->ports);
}

int
pod_cni_add (struct daemon *d, struct pod *p, berth_err *err)
{
  struct cni_setup setup = pod_cni_setup (d);
  struct cni_port_mapping ports[json_array_size (p->ports) + 1];
  struct cni_result *r = NULL;
  struct cni_pod cp;
  const char *ip4, *ip6;

  fill_cni_pod (p, &cp, ports);
  if (cni_add (&setup, &cp, &r, err) < 0)
    return berth_wrap (err, "pod sandbox %s: set up the network", p->id);
  p->cni = true;
  ip4 = cni_result_pod_ip (r, "eth0", 4);
  ip6 = cni_result_pod_ip (r, "eth0", 6);
  free (p->ip);
  p->ip = strdup (ip4 ? ip4 : ip6 ? ip6 : "");
  if (ip4 && ip6)
    json_array_append_new (p->extra_ips, json_string (ip6));
  cni_result_free (r);
  return 0;
}

/* ---- teardown ---------------------------------------------------------- */

static void
keep_first (berth_err *first, berth_err *e)
{
  if (*first == NULL)
    berth_err_move (first, e);
  else
    {
      berth_log (BERTH_LOG_WARNING, "%s", (*e)->msg);
      berth_err_free (e);
    }
}

static int
unmount_shm (const char *path, berth_err *err)
{
  if (umount2 (path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return berth_fail (err, errno, "umount `%s`", path);
  if (rmdir (path) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove `%s`", path);
  return 0;
}

int
pod_teardown (struct daemon *d, struct pod *p, bool files, berth_err *err)
{
  berth_err first = NULL, e = NULL;

  if (p->cni)
    {
      struct cni_setup setup = pod_cni_setup (d);
      struct cni_port_mapping ports[json_array_size (p->ports) + 1];
      struct cni_pod cp;

      fill_cni_pod (p, &cp, ports);
      if (cni_del (&setup, &cp, &e) < 0)
        keep_first (&first, &e);
      else
        p->cni = false;
    }
  if (p->has_pause)
    {
      if (net_stop_pause (&p->pause, 10000, &e) < 0)
        keep_first (&first, &e);
      else
        {
          p->has_pause = false;
          net_pause_free (&p->pause);
        }
    }
  if (p->cgroup && !p->has_pause)
    {
      if (berth_cgroup_destroy (p->cgroup, &e) < 0)
        keep_first (&first, &e);
      else
        {
          berth_cgroup_free (p->cgroup);
          p->cgroup = NULL;
        }
    }
  if (p->shm)
    {
      if (unmount_shm (p->shm, &e) < 0)
        keep_first (&first, &e);
      else
        {
          free (p->shm);
          p->shm = NULL;
        }
    }
  /* After CNI DEL: a netns gone first would leave the bridge plugin's
     masquerade chain behind (docs/net.md). */
  if (p->cni)
    ; /* keep the namespace for a later DEL */
  else if (net_unpin_namespaces (p->ns_dir, &e) < 0)
    keep_first (&first, &e);
  else
    {
      free (p->netns);
      free (p->ipcns);
      free (p->utsns);
      p->netns = p->ipcns = p->utsns = NULL;
    }
  if (files && first == NULL)
    {
      for (size_t i = 0; i < sizeof (pod_files) / sizeof (pod_files[0]); i++)
        {
          cleanup_free char *path = pod_path (p, pod_files[i]);
          if (unlink (path) < 0 && errno != ENOENT && berth_fail (&e, errno, "remove `%s`", path) < 0)
            keep_first (&first, &e);
        }
      if (rmdir (p->pod_dir) < 0 && errno != ENOENT && berth_fail (&e, errno, "remove `%s`", p->pod_dir) < 0)
        keep_first (&first, &e);
    }
  if (first)
    {
      berth_err_move (err, &first);
      return berth_wrap (err, "pod sandbox %s", p->id);
    }
  return 0;
}

void
pod_dir_cleanup (const char *pod_dir)
{
  cleanup_free char *ns = NULL, *shm = NULL;
  berth_err e = NULL;

  if (asprintf (&ns, "%s/ns", pod_dir) < 0 || asprintf (&shm, "%s/shm", pod_dir) < 0)
    abort ();
  if (net_unpin_namespaces (ns, &e) < 0 || unmount_shm (shm, &e) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "recovery: %s", e->msg);
      berth_err_free (&e);
      return;
    }
  for (size_t i = 0; i < sizeof (pod_files) / sizeof (pod_files[0]); i++)
    {
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s", pod_dir, pod_files[i]) < 0)
        abort ();
      unlink (path);
    }
  if (rmdir (pod_dir) < 0 && errno != ENOENT)
    berth_log (BERTH_LOG_WARNING, "recovery: remove `%s`: %s", pod_dir, strerror (errno));
}
