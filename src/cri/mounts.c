/* mounts: the base mounts, the config's mounts, the image's Volumes and
 * the pod's shared files, as containerd arranges them:
 *  - a config mount wins over everything at the same destination;
 *  - the pod's /etc/hostname, /etc/hosts, /etc/resolv.conf and /dev/shm
 *    come unless the config mounts its own;
 *  - an image Volume gets a directory of its own under the container's dir
 *    unless a config mount covers that destination;
 *  - base mounts at a destination taken by one of the above go (all of
 *    /dev's when /dev itself is taken);
 *  - the added mounts are sorted by depth, so a parent is mounted before
 *    what goes inside it. */
#include <stdlib.h>
#include <string.h>

#include "cri/cri_internal.h"
#include "spec/spec.h"
#include "util/cleanup.h"

/* A mount requested through the CRI or added for it. */
struct cri_mount
{
  char *dest; /* cleaned */
  const char *source;
  bool readonly, rro;
  Runtime__V1__MountPropagation propagation;
  const Runtime__V1__Mount *from; /* NULL for the ones berth adds */
  size_t index;                   /* in config mounts[], for messages */
};

/* Lexical clean of an absolute path (Go's filepath.Clean): "//a/./b/../c/"
 * -> "/a/c".  Destinations are compared cleaned. */
static char *
clean_path (const char *p)
{
  size_t len = strlen (p);
  char *out = malloc (len + 2);
  size_t o = 0;

  if (out == NULL)
    abort ();
  out[o++] = '/';
  while (*p)
    {
      size_t n;
      while (*p == '/')
        p++;
      n = strcspn (p, "/");
      if (n == 0)
        break;
      if (n == 1 && p[0] == '.')
        ;
      else if (n == 2 && p[0] == '.' && p[1] == '.')
        {
          while (o > 1 && out[o - 1] != '/')
            o--;
          if (o > 1)
            o--;
        }
      else
        {
          if (o > 1)
            out[o++] = '/';
          memcpy (out + o, p, n);
          o += n;
        }
      p += n;
    }
  out[o] = '\0';
  return out;
}

static size_t
depth (const char *path)
{
  size_t n = 0;

  if (strcmp (path, "/") == 0)
    return 0;
  for (const char *p = path; *p; p++)
    n += *p == '/';
  return n;
}

static int
by_depth (const void *a, const void *b)
{
  const struct cri_mount *x = a, *y = b;
  size_t dx = depth (x->dest), dy = depth (y->dest);

  if (dx != dy)
    return dx < dy ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index; /* stable */
}

struct mount_list
{
  struct cri_mount *v;
  size_t n;
};

static void
list_clear (struct mount_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->v[i].dest);
  free (l->v);
}

static struct cri_mount *
list_add (struct mount_list *l, const char *dest, const char *source)
{
  struct cri_mount *m;

  l->v = realloc (l->v, (l->n + 1) * sizeof (*l->v));
  if (l->v == NULL)
    abort ();
  m = &l->v[l->n];
  memset (m, 0, sizeof (*m));
  m->dest = clean_path (dest);
  m->source = source;
  m->index = l->n++;
  return m;
}

static bool
list_has (const struct mount_list *l, const char *dest)
{
  cleanup_free char *d = clean_path (dest);

  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->v[i].dest, d) == 0)
      return true;
  return false;
}

static int
check_config_mount (const Runtime__V1__Mount *m, size_t i, berth_err *err)
{
  if (m == NULL || cri_empty (m->container_path))
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].container_path: must not be empty", i);
  if (m->container_path[0] != '/')
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].container_path: \"%s\" is not an absolute path", i,
                       m->container_path);
  if (m->image != NULL && !cri_empty (m->image->image))
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].image: image volume mounts are not supported", i);
  if (cri_empty (m->host_path))
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].host_path: must not be empty", i);
  if (m->propagation > RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL)
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].propagation: unknown value %d", i, (int)m->propagation);
  if (m->recursive_read_only && !m->readonly)
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].recursive_read_only: needs readonly", i);
  if (m->recursive_read_only && m->propagation != RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE)
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].recursive_read_only: needs propagation PROPAGATION_PRIVATE", i);
  if ((m->n_uidmappings == 0) != (m->n_gidmappings == 0))
    return berth_fail (err, 0, CRI_CFG "mounts[%zu].%s: required with %s", i,
                       m->n_uidmappings ? "gidMappings" : "uidMappings",
                       m->n_uidmappings ? "uidMappings" : "gidMappings");
  for (size_t j = 0; j < m->n_mount_options; j++)
    if (!berth_mount_option_known (CRI_S (m->mount_options[j])))
      return berth_fail (err, 0, CRI_CFG "mounts[%zu].mount_options[%zu]: unknown mount option \"%s\"", i, j,
                         CRI_S (m->mount_options[j]));
  return 0;
}

static json_t *
id_mappings (Runtime__V1__IDMapping **v, size_t n)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, json_pack ("{s:I, s:I, s:I}", "containerID", (json_int_t)v[i]->container_id, "hostID",
                                           (json_int_t)v[i]->host_id, "size", (json_int_t)v[i]->length));
  return arr;
}

static json_t *
bind_json (const struct cri_mount *m)
{
  static const char *const prop[] = { "rprivate", "rslave", "rshared" };
  json_t *opts = json_array ();
  json_t *j;

  json_array_append_new (opts, json_string ("rbind"));
  json_array_append_new (opts, json_string (prop[m->propagation]));
  json_array_append_new (opts, json_string (m->readonly ? "ro" : "rw"));
  if (m->rro)
    json_array_append_new (opts, json_string ("rro"));
  for (size_t j2 = 0; m->from && j2 < m->from->n_mount_options; j2++)
    json_array_append_new (opts, json_string (m->from->mount_options[j2]));
  j = json_pack ("{s:s, s:s, s:s, s:o}", "destination", m->dest, "type", "bind", "source", m->source, "options", opts);
  if (m->from && m->from->n_uidmappings > 0)
    {
      json_object_set_new (j, "uidMappings", id_mappings (m->from->uidmappings, m->from->n_uidmappings));
      json_object_set_new (j, "gidMappings", id_mappings (m->from->gidmappings, m->from->n_gidmappings));
    }
  return j;
}

/* The pod's files and /dev/shm, unless the config mounts its own.  They
 * are read-only with a read-only rootfs, as in containerd. */
static void
add_pod_mounts (const struct cri_build *b, struct mount_list *cfg, struct mount_list *extra, char **owned)
{
  static const char *const files[] = { "/etc/hostname", "/etc/hosts", "/etc/resolv.conf" };
  bool ro = b->sc->readonly_rootfs;

  for (size_t i = 0; b->pctx->pod_dir && i < CRI_ARRAY_SIZE (files); i++)
    if (!list_has (cfg, files[i]))
      {
        owned[i] = cri_printf ("%s/%s", b->pctx->pod_dir, files[i] + 5);
        list_add (extra, files[i], owned[i])->readonly = ro;
      }
  if (!list_has (cfg, "/dev/shm"))
    {
      if (b->ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE)
        list_add (extra, "/dev/shm", "/dev/shm");
      else if (b->pctx->shm_path)
        list_add (extra, "/dev/shm", b->pctx->shm_path);
    }
}

/* <container_dir>/volumes/<n>: the index in the image's list keeps names
 * unique and deterministic whatever the destination looks like. */
static int
add_image_volumes (const struct cri_build *b, struct mount_list *cfg, struct mount_list *extra, char ***owned,
                   berth_err *err)
{
  size_t n = 0;

  while (b->image && b->image->volumes && b->image->volumes[n])
    n++;
  *owned = calloc (n + 1, sizeof (char *));
  if (*owned == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      const char *dest = b->image->volumes[i];
      if (cri_empty (dest) || list_has (cfg, dest))
        continue;
      if (cri_empty (b->cctx->container_dir))
        return berth_fail (err, 0, "image config: Volumes: \"%s\" needs a container directory", dest);
      (*owned)[i] = cri_printf ("%s/volumes/%zu", b->cctx->container_dir, i);
      /* clean_path makes a relative Volume relative to "/", as docker does. */
      list_add (extra, dest, (*owned)[i]);
    }
  return 0;
}

/* Drops the base mounts a CRI mount replaces. */
static void
drop_replaced (json_t *mounts, const struct mount_list *all)
{
  bool dev_taken = list_has (all, "/dev");

  for (size_t i = json_array_size (mounts); i-- > 0;)
    {
      const char *d = json_string_value (json_object_get (json_array_get (mounts, i), "destination"));
      if (d == NULL)
        continue;
      if (list_has (all, d) || (dev_taken && strncmp (d, "/dev/", 5) == 0))
        json_array_remove (mounts, i);
    }
}

/* Privileged containers get /sys and /sys/fs/cgroup read-write. */
static void
make_sys_writable (json_t *mounts)
{
  size_t i;
  json_t *m;

  json_array_foreach (mounts, i, m)
  {
    const char *type = json_string_value (json_object_get (m, "type"));
    json_t *opts = json_object_get (m, "options");
    if (type == NULL || (strcmp (type, "sysfs") != 0 && strcmp (type, "cgroup") != 0))
      continue;
    for (size_t k = json_array_size (opts); k-- > 0;)
      if (strcmp (json_string_value (json_array_get (opts, k)), "ro") == 0)
        json_array_set_new (opts, k, json_string ("rw"));
  }
}

int
cri_step_mounts (struct cri_build *b, berth_err *err)
{
  struct mount_list cfg = { 0 }, all = { 0 };
  char *pod_files[3] = { NULL, NULL, NULL };
  char **volumes = NULL;
  json_t *mounts = cri_arr (b->spec, "mounts");
  const char *root_prop = NULL;
  int r = 0;

  for (size_t i = 0; i < b->c->n_mounts; i++)
    {
      const Runtime__V1__Mount *m = b->c->mounts[i];
      struct cri_mount *cm;

      if (check_config_mount (m, i, err) < 0)
        {
          r = -1;
          goto out;
        }
      cm = list_add (&cfg, m->container_path, m->host_path);
      cm->readonly = m->readonly;
      cm->rro = m->recursive_read_only;
      cm->propagation = m->propagation;
      cm->from = m;
      if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL)
        root_prop = "rshared";
      else if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER && root_prop == NULL)
        root_prop = "rslave";
    }
  add_pod_mounts (b, &cfg, &all, pod_files);
  if (add_image_volumes (b, &cfg, &all, &volumes, err) < 0)
    {
      r = -1;
      goto out;
    }
  for (size_t i = 0; i < cfg.n; i++)
    {
      struct cri_mount *m = list_add (&all, "/", cfg.v[i].source);
      char *dest = m->dest;
      size_t index = m->index;
      *m = cfg.v[i];
      m->dest = cri_strdup (cfg.v[i].dest);
      m->index = index;
      free (dest);
    }
  qsort (all.v, all.n, sizeof (*all.v), by_depth);
  drop_replaced (mounts, &all);
  for (size_t i = 0; i < all.n; i++)
    json_array_append_new (mounts, bind_json (&all.v[i]));
  if (b->privileged)
    make_sys_writable (mounts);
  /* A slave or shared mount inside a private root would receive nothing. */
  if (root_prop)
    json_object_set_new (cri_obj (b->spec, "linux"), "rootfsPropagation", json_string (root_prop));
out:
  for (size_t i = 0; i < 3; i++)
    free (pod_files[i]);
  if (volumes)
    {
      size_t n = 0;
      while (b->image && b->image->volumes && b->image->volumes[n])
        n++;
      for (size_t i = 0; i < n; i++)
        free (volumes[i]);
      free (volumes);
    }
  list_clear (&cfg);
  list_clear (&all);
  return r;
}

json_t *
cri_image_volumes (json_t *spec, const struct cri_container_ctx *cctx)
{
  json_t *out = json_array ();
  cleanup_free char *prefix = NULL;
  size_t i, len;
  json_t *m;

  if (cctx == NULL || cri_empty (cctx->container_dir))
    return out;
  prefix = cri_printf ("%s/volumes/", cctx->container_dir);
  len = strlen (prefix);
  json_array_foreach (json_object_get (spec, "mounts"), i, m)
  {
    const char *src = json_string_value (json_object_get (m, "source"));
    if (src && strncmp (src, prefix, len) == 0)
      json_array_append_new (
          out, json_pack ("{s:s, s:O}", "source", src, "destination", json_object_get (m, "destination")));
  }
  return out;
}
