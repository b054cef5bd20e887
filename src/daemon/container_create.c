/* CreateContainer, as containerd's CRI plugin does it, in steps that are
 * each undone, in reverse, when a later one fails:
 *
 *   validate  ->  under the pod's lock (pods_with_pod): pod READY
 *   reserve the name            release
 *   resolve the image locally   -
 *   mkdir <state>/containers/<id>        rm -r
 *   unpack missing layers (berthd-pull)  -
 *   overlay rootfs (berth_image_mount)   berth_image_unmount
 *   /etc/passwd, /etc/group of the rootfs, the spec (cri_container_spec),
 *   config.json, image volume dirs filled
 *   from a read-only view of the rootfs  (in the dir)
 *   monitor_spawn (libberth create)      berth_container_delete + wait
 *   the record (state: created)          -
 *   the table, then the answer
 */
#include "daemon/containers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cri/cri.h"
#include "daemon/image_view.h"
#include "daemon/pods.h"
#include "runtime/container.h"
#include "runtime/copyup.h"
#include "runtime/mountfd.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"
#include "util/path.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define ETC_FILE_MAX (4 << 20) /* an image's /etc/passwd or /etc/group */
#define SECCOMP_FILE_MAX (1 << 20)

struct create_call
{
  const Runtime__V1__CreateContainerRequest *in;
  grpc_status_code code; /* out, on failure */
  char *id;              /* out */
  bool ran;              /* do_create ran: the pod was there */
};

static int
validate (const Runtime__V1__CreateContainerRequest *in, struct rpc_status *st)
{
  const Runtime__V1__ContainerConfig *c = in->config;

  if (in->pod_sandbox_id == NULL || in->pod_sandbox_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "pod_sandbox_id: required");
  if (c == NULL)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config: required");
  if (c->metadata == NULL || c->metadata->name == NULL || c->metadata->name[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.metadata.name: required");
  if (c->image == NULL || c->image->image == NULL || c->image->image[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.image.image: required");
  if (in->sandbox_config == NULL)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "sandbox_config: required");
  for (size_t i = 0; i < c->n_mounts; i++)
    if (c->mounts[i]->container_path == NULL || c->mounts[i]->container_path[0] != '/')
      return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.mounts[%zu].container_path: must be absolute", i);
  return 0;
}

/* A pull unpacks every layer; an image another client put in the store
 * (`berthctl pull --no-unpack`, `berthctl import`) may lack some.  berthd
 * does not link the unpacker: its pull helper unpacks them. */
static int
ensure_unpacked (struct daemon *d, struct berth_store *s, const char *image_name, berth_err *err)
{
  struct pull_helper_request rq = { .image = image_name, .unpack_only = true };
  struct pull_helper_result res = { 0 };
  int r = berth_image_unpacked (s, image_name, err);

  if (r != 0)
    return r < 0 ? -1 : 0;
  r = pull_helper_run (d, &rq, &res, err);
  pull_helper_result_clear (&res);
  return r < 0 ? berth_wrap (err, "config.image.image: unpack %s", image_name) : 0;
}

/* The image config as cri/ wants it, through berth_image_inspect's "Config"
 * (the same fields as the blob's "config"). */
static int
image_config (struct berth_store *s, const char *name, struct berth_image_config *out, char **id, berth_err *err)
{
  json_t *insp = berth_image_inspect (s, name, err), *wrap;
  char *text;
  int ret;

  if (insp == NULL)
    return -1;
  wrap = json_pack ("{s:O}", "config", json_object_get (insp, "Config"));
  text = json_dumps (wrap, JSON_COMPACT);
  ret = berth_image_config_parse (text, strlen (text), out, err);
  *id = strdup (json_string_value (json_object_get (insp, "Id")) ?: "");
  free (text);
  json_decref (wrap);
  json_decref (insp);
  return ret;
}

/* A file of the image, read through the rootfs resolver (a symlink in the
 * image cannot send the read to the host).  NULL when the image has none. */
static char *
read_in_rootfs (const char *rootfs, const char *path, berth_err *err)
{
  int rootfd = open (rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;
  berth_err e = NULL;
  size_t len;
  char *buf;

  if (rootfd < 0)
    return (berth_fail (err, errno, "open `%s`", rootfs), NULL);
  fd = safe_openat_in_root (rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0, &e);
  close (rootfd);
  if (fd < 0)
    {
      berth_err_free (&e); /* no such file: the image has no users */
      return NULL;
    }
  buf = berth_read_fd (fd, ETC_FILE_MAX, &len, path, err);
  close (fd);
  return buf;
}

static int
read_int_file (const char *path, int dflt)
{
  FILE *f = fopen (path, "re");
  int v = dflt;
  if (f)
    {
      if (fscanf (f, "%d", &v) != 1)
        v = dflt;
      fclose (f);
    }
  return v;
}

static bool
cgroup_v2_host (void)
{
  struct statfs sf;
  return statfs ("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static json_t *
mounts_json (const Runtime__V1__ContainerConfig *c)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < c->n_mounts; i++)
    json_array_append_new (
        a, json_pack ("{s:s, s:s, s:b, s:b, s:i}", "container_path", c->mounts[i]->container_path, "host_path",
                      c->mounts[i]->host_path ?: "", "readonly", (int)c->mounts[i]->readonly, "selinux_relabel",
                      (int)c->mounts[i]->selinux_relabel, "propagation", (int)c->mounts[i]->propagation));
  return a;
}

static json_t *
map_json (size_t n, Runtime__V1__ContainerConfig__LabelsEntry **e)
{
  json_t *o = json_object ();
  for (size_t i = 0; i < n; i++)
    json_object_set_new (o, e[i]->key ?: "", json_string (e[i]->value ?: ""));
  return o;
}

static int
write_config (const char *dir, json_t *spec, berth_err *err)
{
  char *path;
  int ret = 0;

  if (asprintf (&path, "%s/config.json", dir) < 0)
    abort ();
  if (json_dump_file (spec, path, JSON_COMPACT) < 0)
    ret = berth_fail (err, errno, "write `%s`", path);
  free (path);
  return ret;
}

/* Image volumes (cri_image_volumes): a dir each under the container dir,
 * filled, when it is new, with what the image has at the volume's path, as
 * containerd's WithVolumes: owners, modes, times, xattrs, symlinks (copied,
 * never followed) and hard links kept; nothing there leaves it empty.  The
 * source is a detached read-only clone of the rootfs mount (nothing can
 * write to the image or to the container's upper dir through it), and the
 * volume's path is resolved inside it (safe_copyup_from_root): a symlink in
 * the image never leads the copy to the host. */
static int
make_volumes (json_t *spec, const struct cri_container_ctx *cctx, berth_err *err)
{
  json_t *vols = cri_image_volumes (spec, cctx), *v;
  cleanup_close int image = -1;
  size_t i;
  int ret = 0;
  char *vdir;

  if (json_array_size (vols) == 0)
    {
      json_decref (vols);
      return 0;
    }
  if (asprintf (&vdir, "%s/volumes", cctx->container_dir) < 0)
    abort ();
  mkdir (vdir, 0755);
  free (vdir);
  image = open_tree (AT_FDCWD, cctx->rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (image < 0)
    ret = berth_fail (err, errno, "image volumes: clone the mount of `%s`", cctx->rootfs);
  else
    ret = mountfd_setattr (image, false, MOUNT_ATTR_RDONLY, 0, 0, cctx->rootfs, err);
  json_array_foreach (vols, i, v)
  {
    const char *src = json_string_value (json_object_get (v, "source"));
    const char *dest = json_string_value (json_object_get (v, "destination"));
    const struct copyup_opts o = { .op = "image volume", .what = dest, .flags = COPYUP_XATTRS };
    cleanup_close int dst = -1;

    if (ret < 0 || src == NULL || dest == NULL)
      break;
    if (mkdir (src, 0755) < 0)
      {
        if (errno == EEXIST)
          continue; /* only a new volume is filled */
        ret = berth_fail (err, errno, "image volume `%s`", src);
        break;
      }
    dst = open (src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst < 0)
      ret = berth_fail (err, errno, "image volume `%s`", src);
    else if (safe_copyup_from_root (image, dest, dst, &o, err) < 0)
      ret = -1;
  }
  json_decref (vols);
  return ret;
}

/* berthd's bounding set (CapBnd): a privileged container gets every
 * capability berthd has, as containerd's WithAllCurrentCapabilities; asking
 * for more fails capset (root here lacks CAP_SYS_RESOURCE). */
static uint64_t
own_bounding_set (void)
{
  FILE *f = fopen ("/proc/self/status", "re");
  char line[256];
  unsigned long long v = ~0ull;

  if (f == NULL)
    return v;
  while (fgets (line, sizeof (line), f))
    if (sscanf (line, "CapBnd: %llx", &v) == 1)
      break;
  fclose (f);
  return v;
}

static void
clamp_capabilities (json_t *spec)
{
  json_t *caps = json_object_get (json_object_get (spec, "process"), "capabilities"), *set;
  uint64_t have = own_bounding_set ();
  const char *kind;

  json_object_foreach (caps, kind, set)
  {
    for (size_t i = 0; i < json_array_size (set);)
      {
        cap_value_t cv;
        const char *name = json_string_value (json_array_get (set, i));
        if (name && cap_from_name (name, &cv) == 0 && cv < 64 && !(have & (1ull << cv)))
          json_array_remove (set, i);
        else
          i++;
      }
  }
}

/* Privileged, or capabilities.add_capabilities holding "ALL": both mean
 * "every capability berthd has" (containerd's allCaps are its current
 * ones), so both are clamped to berthd's bounding set.  A single capability
 * asked by name is left as asked (capset fails if berthd lacks it). */
static bool
wants_all_capabilities (const Runtime__V1__ContainerConfig *c)
{
  const Runtime__V1__LinuxContainerSecurityContext *sc
      = c->linux && c->linux->security_context ? c->linux->security_context : NULL;

  if (sc == NULL)
    return false;
  if (sc->privileged)
    return true;
  for (size_t i = 0; sc->capabilities && i < sc->capabilities->n_add_capabilities; i++)
    if (sc->capabilities->add_capabilities[i] && strcasecmp (sc->capabilities->add_capabilities[i], "ALL") == 0)
      return true;
  return false;
}

/* Waits (5 s at most) for a monitor to end after its container was
 * deleted, so its exit file is not written into a dir being removed. */
static void
wait_monitor (const struct monitor_info *m)
{
  for (int i = 0; i < 500 && monitor_alive (m); i++)
    usleep (10000);
}

/* Steps 5 and 6: the image's users, a localhost seccomp profile, the spec
 * (cri_container_spec), config.json and the image volume dirs, all in
 * cctx->container_dir (which the caller removes on failure).  cctx comes
 * with id, rootfs, container_dir and image_name set. */
static int
write_bundle (struct daemon *d, const struct pod_info *pod, const Runtime__V1__CreateContainerRequest *in,
              const Runtime__V1__PodSandboxConfig *podcfg, const struct berth_image_config *icfg,
              struct cri_container_ctx *cctx, grpc_status_code *code, berth_err *err)
{
  const Runtime__V1__ContainerConfig *c = in->config;
  struct cri_pod_ctx pctx = { 0 };
  struct ctr_devices devs = { 0 };
  char hostname[256] = "";
  char *passwd = NULL, *group = NULL;
  json_t *spec = NULL, *seccomp = NULL;
  const char *sc_path;
  int ret = -1;

  passwd = read_in_rootfs (cctx->rootfs, "/etc/passwd", err);
  group = read_in_rootfs (cctx->rootfs, "/etc/group", err);
  if (*err)
    goto out;
  sc_path = cri_seccomp_localhost_path (c);
  if (sc_path == NULL)
    sc_path = cri_pod_seccomp_localhost_path (in->sandbox_config);
  if (sc_path)
    {
      int fd = open (sc_path, O_RDONLY | O_CLOEXEC);
      *code = GRPC_STATUS_INVALID_ARGUMENT;
      if (fd < 0)
        {
          berth_fail (err, errno, "seccomp profile localhost/%s", sc_path);
          goto out;
        }
      seccomp = berth_json_load_fd (fd, sc_path, err);
      close (fd);
      if (seccomp == NULL)
        goto out;
      *code = GRPC_STATUS_UNKNOWN;
    }

  gethostname (hostname, sizeof (hostname) - 1);
  pctx.sandbox_id = pod->id;
  pctx.pod_dir = pod->pod_dir;
  pctx.shm_path = pod->shm_path;
  pctx.netns_path = pod->netns_path;
  pctx.ipcns_path = pod->ipcns_path;
  pctx.utsns_path = pod->utsns_path;
  pctx.pidns_path = pod->pidns_path;
  pctx.cgroup_parent = pod->cgroup_parent && pod->cgroup_parent[0] ? pod->cgroup_parent : NULL;
  pctx.cgroup_v2 = cgroup_v2_host ();
  pctx.restrict_oom_score_adj = d->config.restrict_oom_score_adj;
  pctx.current_oom_score_adj = read_int_file ("/proc/self/oom_score_adj", 0);
  pctx.cap_last_cap = read_int_file ("/proc/sys/kernel/cap_last_cap", 0);
  pctx.host_hostname = hostname;
  cctx->passwd = passwd;
  cctx->group = group;
  cctx->seccomp_localhost = seccomp;
  cctx->list_devices = ctr_list_devices;
  cctx->list_devices_user = &devs;
  spec = cri_container_spec (c, podcfg, icfg, &pctx, cctx, err);
  ctr_devices_clear (&devs);
  if (spec == NULL)
    {
      *code = GRPC_STATUS_INVALID_ARGUMENT;
      goto out;
    }
  if (wants_all_capabilities (c))
    clamp_capabilities (spec);
  if (write_config (cctx->container_dir, spec, err) < 0 || make_volumes (spec, cctx, err) < 0)
    goto out;
  ret = 0;
out:
  /* What cctx borrowed goes with this call. */
  cctx->passwd = cctx->group = NULL;
  cctx->seccomp_localhost = NULL;
  cctx->list_devices_user = NULL;
  json_decref (spec);
  json_decref (seccomp);
  free (passwd);
  free (group);
  return ret;
}

/* The record of a container just made (step 8). */
static struct ctr *
new_ctr (const char *id, const char *pod_id, const char *name, const Runtime__V1__ContainerConfig *c,
         const char *image_name, const char *image_id, const char *log_path, const char *dir, int sig,
         const struct monitor_info *mi)
{
  struct ctr *ctr = ctr_new ();

  memcpy (ctr->id, id, RECORD_ID_LEN + 1);
  memcpy (ctr->pod_id, pod_id, RECORD_ID_LEN + 1);
  ctr->name = strdup (name);
  ctr->meta_name = strdup (c->metadata->name);
  ctr->meta_attempt = c->metadata->attempt;
  ctr->image = strdup (c->image->image);
  ctr->image_name = strdup (image_name);
  ctr->image_id = strdup (image_id);
  ctr->log_path = strdup (log_path ?: "");
  ctr->dir = strdup (dir);
  ctr->stop_signal = sig;
  json_decref (ctr->labels);
  json_decref (ctr->annotations);
  json_decref (ctr->mounts);
  ctr->labels = map_json (c->n_labels, c->labels);
  ctr->annotations = map_json (c->n_annotations, (Runtime__V1__ContainerConfig__LabelsEntry **)c->annotations);
  ctr->mounts = mounts_json (c);
  ctr->created_at = ctr_now_ns ();
  ctr->mon = *mi;
  return ctr;
}

static int
do_create (struct daemon *d, const struct pod_info *pod, void *user, berth_err *err)
{
  struct create_call *call = user;
  const Runtime__V1__CreateContainerRequest *in = call->in;
  const Runtime__V1__ContainerConfig *c = in->config;
  struct ctr_table *t = d->ctrs;
  struct berth_context bc = { .state_root = t->runtime_root };
  Runtime__V1__PodSandboxMetadata pmeta;
  Runtime__V1__PodSandboxConfig podcfg;
  struct berth_store *s = NULL;
  struct cri_images imgs = { 0 };
  struct berth_image_config icfg = { 0 };
  struct cri_container_ctx cctx = { 0 };
  struct monitor_opts mo = { 0 };
  struct monitor_info mi = { 0 };
  char id[RECORD_ID_LEN + 1] = "";
  char *name = NULL, *dir = NULL, *rootfs = NULL, *image_name = NULL, *image_id = NULL, *log_path = NULL,
       *exit_file = NULL, *stdin_fifo = NULL, *attach_socket = NULL;
  bool reserved = false, made_dir = false, mounted = false, spawned = false;
  struct ctr *ctr;
  int ret = -1, sig;
  grpc_status_code code = GRPC_STATUS_UNKNOWN;

  call->ran = true;
  if (!pod->ready)
    {
      code = GRPC_STATUS_FAILED_PRECONDITION;
      berth_fail (err, 0, "pod sandbox %s is not ready", pod->id);
      goto out;
    }
  /* The pod's own metadata names the container, not what the request says. */
  runtime__v1__pod_sandbox_metadata__init (&pmeta);
  pmeta.name = pod->meta_name;
  pmeta.namespace_ = pod->meta_namespace;
  pmeta.uid = pod->meta_uid;
  pmeta.attempt = pod->meta_attempt;
  podcfg = *in->sandbox_config;
  podcfg.metadata = &pmeta;
  podcfg.log_directory = pod->log_directory ?: "";
  if ((name = cri_container_name (c->metadata, &pmeta, err)) == NULL)
    {
      code = GRPC_STATUS_INVALID_ARGUMENT;
      goto out;
    }
  if (record_new_id (id, err) < 0)
    goto out;
  if (record_reserve_name (&t->records, name, id, err) < 0)
    {
      code = GRPC_STATUS_ALREADY_EXISTS;
      goto out;
    }
  reserved = true;

  if (cri_log_path (c, &podcfg, &log_path, err) < 0)
    {
      code = GRPC_STATUS_INVALID_ARGUMENT;
      goto out;
    }

  /* The image: pulled before, never here (as containerd). */
  if (berth_store_open (d->root, &s, err) < 0 || image_view_load (s, &imgs, err) < 0)
    goto out;
  const struct cri_image *img = image_view_find (&imgs, c->image->image);
  if (img == NULL)
    {
      code = GRPC_STATUS_NOT_FOUND;
      berth_fail (err, ENOENT, "config.image.image: image \"%s\" not found (pull it first)", c->image->image);
      goto out;
    }
  image_name = strdup (img->name);
  if (image_config (s, image_name, &icfg, &image_id, err) < 0)
    goto out;
  if ((sig = cri_stop_signal (c, &icfg, err)) < 0)
    {
      code = GRPC_STATUS_INVALID_ARGUMENT;
      goto out;
    }

  if (asprintf (&dir, "%s/%s", t->ctr_state, id) < 0 || asprintf (&rootfs, "%s/rootfs", dir) < 0
      || asprintf (&exit_file, "%s/exit.json", dir) < 0)
    abort ();
  if (mkdir (dir, 0711) < 0)
    {
      berth_fail (err, errno, "mkdir `%s`", dir);
      goto out;
    }
  made_dir = true;
  if (mkdir (rootfs, 0755) < 0)
    {
      berth_fail (err, errno, "mkdir `%s`", rootfs);
      goto out;
    }
  if (ensure_unpacked (d, s, image_name, err) < 0 || berth_image_mount (s, image_name, rootfs, id, err) < 0)
    goto out;
  mounted = true;
  /* The store's shared lock is not needed past the mount. */
  berth_store_close (s);
  s = NULL;
  cctx.id = id;
  cctx.rootfs = rootfs;
  cctx.container_dir = dir;
  cctx.image_name = image_name;
  if (write_bundle (d, pod, in, &podcfg, &icfg, &cctx, &code, err) < 0)
    goto out;

  if (c->stdin && asprintf (&stdin_fifo, "%s/stdin", dir) < 0)
    abort ();
  mo.id = id;
  mo.bundle = dir;
  mo.state_root = t->runtime_root;
  mo.log_path = log_path;
  mo.exit_file = exit_file;
  mo.tty = c->tty;
  mo.stdin_fifo = stdin_fifo;
  /* containerd closes stdin after the first attach only without a tty. */
  mo.stdin_once = c->stdin && c->stdin_once && !c->tty;
  if (asprintf (&attach_socket, "%s/attach", dir) < 0)
    abort ();
  mo.attach_socket = attach_socket; /* Attach (monitor_attach.c) */
  if (monitor_spawn (&mo, &mi, err) < 0)
    goto out;
  spawned = true;

  ctr = new_ctr (id, pod->id, name, c, image_name, image_id, log_path, dir, sig, &mi);
  /* On disk before the answer: a crash after this finds it. */
  if (ctr_save (d, ctr, err) < 0)
    {
      ctr_free (ctr);
      goto out;
    }
  ctr_table_add (d, ctr);
  call->id = strdup (id);
  berth_log (BERTH_LOG_INFO, "container %s (%s) created in pod sandbox %s", id, name, pod->id);
  ret = 0;

out:
  if (ret < 0)
    {
      berth_err e = NULL;
      berth_log (BERTH_LOG_DEBUG, "CreateContainer %s failed (%s): undoing", id, *err ? (*err)->msg : "?");
      if (spawned)
        {
          if (berth_container_delete (&bc, id, true, &e) < 0)
            berth_err_free (&e);
          wait_monitor (&mi);
        }
      if (mounted)
        {
          if (s == NULL && berth_store_open (d->root, &s, &e) < 0)
            berth_err_free (&e);
          if (s && berth_image_unmount (s, rootfs, false, &e) < 0)
            {
              berth_log (BERTH_LOG_WARNING, "container %s: %s", id, e->msg);
              berth_err_free (&e);
            }
        }
      if (made_dir && ctr_rm_tree (dir, &e) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "container %s: %s", id, e->msg);
          berth_err_free (&e);
        }
      if (reserved)
        record_release_name (&t->records, name, id);
      call->code = code;
    }
  berth_image_config_clear (&icfg);
  image_view_clear (&imgs);
  if (s)
    berth_store_close (s);
  free (name);
  free (dir);
  free (rootfs);
  free (image_name);
  free (image_id);
  free (log_path);
  free (exit_file);
  free (stdin_fifo);
  free (attach_socket);
  return ret;
}

static int
handle_create (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__CreateContainerRequest *in = (const Runtime__V1__CreateContainerRequest *)req;
  Runtime__V1__CreateContainerResponse *r;
  struct create_call call = { .in = in, .code = GRPC_STATUS_UNKNOWN };
  berth_err err = NULL;

  if (validate (in, st) < 0)
    return -1;
  ctrs (d);
  if (pods_with_pod (d, in->pod_sandbox_id, do_create, &call, &err) < 0)
    {
      grpc_status_code code = call.code;
      if (!call.ran && err && err->errnum == ENOENT)
        code = GRPC_STATUS_NOT_FOUND; /* no such pod */
      return rpc_fail_err (st, code, &err);
    }
  r = malloc (sizeof (*r));
  runtime__v1__create_container_response__init (r);
  r->container_id = call.id;
  *resp = &r->base;
  return 0;
}

const struct rpc_handler container_create_handlers[] = {
  { "CreateContainer", handle_create },
  { NULL, NULL },
};
