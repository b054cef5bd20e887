/* "mounts": each entry's options split into what mount(2) and
 * mount_setattr(2) need (config.md, "Linux mount options"). */
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

enum opt_kind
{
  OPT_NONE,  /* recognised, nothing to do ("defaults") */
  OPT_SET,   /* MS_* to set */
  OPT_CLEAR, /* MS_* to clear */
  OPT_PROPAGATION,
  OPT_ATTR_SET, /* MOUNT_ATTR_* to set recursively */
  OPT_ATTR_CLR,
  OPT_ATTR_ATIME, /* recursive atime mode: an enum, not a bit */
  OPT_BIND,
  OPT_RBIND,
  OPT_IDMAP,
  OPT_RIDMAP,
  OPT_TMPCOPYUP,
};

struct mount_option
{
  const char *name;
  enum opt_kind kind;
  unsigned long value;
};

static const struct mount_option options[] = {
  { "async", OPT_CLEAR, MS_SYNCHRONOUS },
  { "atime", OPT_CLEAR, MS_NOATIME },
  { "bind", OPT_BIND, 0 },
  { "defaults", OPT_NONE, 0 },
  { "dev", OPT_CLEAR, MS_NODEV },
  { "diratime", OPT_CLEAR, MS_NODIRATIME },
  { "dirsync", OPT_SET, MS_DIRSYNC },
  { "exec", OPT_CLEAR, MS_NOEXEC },
  { "idmap", OPT_IDMAP, 0 },
  { "iversion", OPT_SET, MS_I_VERSION },
  { "lazytime", OPT_SET, MS_LAZYTIME },
  { "loud", OPT_CLEAR, MS_SILENT },
  { "mand", OPT_SET, MS_MANDLOCK },
  { "noatime", OPT_SET, MS_NOATIME },
  { "nodev", OPT_SET, MS_NODEV },
  { "nodiratime", OPT_SET, MS_NODIRATIME },
  { "noexec", OPT_SET, MS_NOEXEC },
  { "noiversion", OPT_CLEAR, MS_I_VERSION },
  { "nolazytime", OPT_CLEAR, MS_LAZYTIME },
  { "nomand", OPT_CLEAR, MS_MANDLOCK },
  { "norelatime", OPT_CLEAR, MS_RELATIME },
  { "nostrictatime", OPT_CLEAR, MS_STRICTATIME },
  { "nosuid", OPT_SET, MS_NOSUID },
  { "nosymfollow", OPT_SET, MS_NOSYMFOLLOW },
  { "private", OPT_PROPAGATION, MS_PRIVATE },
  { "ratime", OPT_ATTR_ATIME, MOUNT_ATTR_RELATIME },
  { "rbind", OPT_RBIND, 0 },
  { "rdev", OPT_ATTR_CLR, MOUNT_ATTR_NODEV },
  { "rdiratime", OPT_ATTR_CLR, MOUNT_ATTR_NODIRATIME },
  { "relatime", OPT_SET, MS_RELATIME },
  { "remount", OPT_SET, MS_REMOUNT },
  { "rexec", OPT_ATTR_CLR, MOUNT_ATTR_NOEXEC },
  { "ridmap", OPT_RIDMAP, 0 },
  { "rnoatime", OPT_ATTR_ATIME, MOUNT_ATTR_NOATIME },
  { "rnodev", OPT_ATTR_SET, MOUNT_ATTR_NODEV },
  { "rnodiratime", OPT_ATTR_SET, MOUNT_ATTR_NODIRATIME },
  { "rnoexec", OPT_ATTR_SET, MOUNT_ATTR_NOEXEC },
  { "rnorelatime", OPT_ATTR_ATIME, MOUNT_ATTR_STRICTATIME },
  { "rnostrictatime", OPT_ATTR_ATIME, MOUNT_ATTR_RELATIME },
  { "rnosuid", OPT_ATTR_SET, MOUNT_ATTR_NOSUID },
  { "rnosymfollow", OPT_ATTR_SET, MOUNT_ATTR_NOSYMFOLLOW },
  { "ro", OPT_SET, MS_RDONLY },
  { "rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC },
  { "rrelatime", OPT_ATTR_ATIME, MOUNT_ATTR_RELATIME },
  { "rro", OPT_ATTR_SET, MOUNT_ATTR_RDONLY },
  { "rrw", OPT_ATTR_CLR, MOUNT_ATTR_RDONLY },
  { "rshared", OPT_PROPAGATION, MS_SHARED | MS_REC },
  { "rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC },
  { "rstrictatime", OPT_ATTR_ATIME, MOUNT_ATTR_STRICTATIME },
  { "rsuid", OPT_ATTR_CLR, MOUNT_ATTR_NOSUID },
  { "rsymfollow", OPT_ATTR_CLR, MOUNT_ATTR_NOSYMFOLLOW },
  { "runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC },
  { "rw", OPT_CLEAR, MS_RDONLY },
  { "shared", OPT_PROPAGATION, MS_SHARED },
  { "silent", OPT_SET, MS_SILENT },
  { "slave", OPT_PROPAGATION, MS_SLAVE },
  { "strictatime", OPT_SET, MS_STRICTATIME },
  { "suid", OPT_CLEAR, MS_NOSUID },
  { "symfollow", OPT_CLEAR, MS_NOSYMFOLLOW },
  { "sync", OPT_SET, MS_SYNCHRONOUS },
  { "tmpcopyup", OPT_TMPCOPYUP, 0 },
  { "unbindable", OPT_PROPAGATION, MS_UNBINDABLE },
};

static const struct mount_option *
find_option (const char *name)
{
  size_t lo = 0, hi = ARRAY_SIZE (options);

  while (lo < hi)
    {
      size_t mid = (lo + hi) / 2;
      int c = strcmp (name, options[mid].name);
      if (c == 0)
        return &options[mid];
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}

static void
apply_option (struct berth_mount *m, const struct mount_option *o)
{
  /* Later options override earlier ones, as in mount(8). */
  switch (o->kind)
    {
    case OPT_NONE:
      break;
    case OPT_SET:
      m->flags |= o->value;
      m->clear_flags &= ~o->value;
      break;
    case OPT_CLEAR:
      m->clear_flags |= o->value;
      m->flags &= ~o->value;
      break;
    case OPT_PROPAGATION:
      m->propagation = o->value;
      break;
    case OPT_ATTR_SET:
      m->attr_set |= o->value;
      m->attr_clr &= ~o->value;
      break;
    case OPT_ATTR_CLR:
      m->attr_clr |= o->value;
      m->attr_set &= ~o->value;
      break;
    case OPT_ATTR_ATIME:
      /* mount_setattr(2): a new atime mode needs all of MOUNT_ATTR__ATIME in
       * attr_clr, and the mode (RELATIME is 0) in attr_set. */
      m->attr_clr |= MOUNT_ATTR__ATIME;
      m->attr_set = (m->attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | o->value;
      break;
    case OPT_BIND:
      m->is_bind = true;
      break;
    case OPT_RBIND:
      m->is_bind = true;
      m->recursive_bind = true;
      break;
    case OPT_IDMAP:
      m->idmap = true;
      break;
    case OPT_RIDMAP:
      m->idmap = true;
      m->recursive_idmap = true;
      break;
    case OPT_TMPCOPYUP:
      m->tmpcopyup = true;
      break;
    }
}

static void
append_data (char **data, const char *opt)
{
  char *r = NULL;

  if (*data == NULL)
    r = spec_xstrdup (opt);
  else if (asprintf (&r, "%s,%s", *data, opt) < 0)
    abort ();
  free (*data);
  *data = r;
}

int
spec_parse_mount_options (struct berth_mount *m, const char *path, berth_err *err)
{
  cleanup_free char *opath = spec_path_key (path, "options");

  if (m->type != NULL && strcmp (m->type, "bind") == 0)
    m->is_bind = true;
  /* First pass: is this a bind mount at all? "bind" may come last. */
  for (size_t i = 0; i < m->n_options; i++)
    {
      const struct mount_option *o = find_option (m->options[i]);
      if (o && (o->kind == OPT_BIND || o->kind == OPT_RBIND))
        m->is_bind = true;
    }
  for (size_t i = 0; i < m->n_options; i++)
    {
      const char *name = m->options[i];
      const struct mount_option *o = find_option (name);

      if (o != NULL)
        {
          apply_option (m, o);
          continue;
        }
      /* A bind mount takes no filesystem data: "key=value" options (which
         runc passes on and the kernel ignores for MS_BIND) are dropped;
         anything else unknown is a mistake and refused. */
      if (m->is_bind && strchr (name, '=') != NULL && name[0] != '=')
        continue;
      if (m->is_bind || *name == '\0')
        {
          cleanup_free char *p = spec_path_index (opath, i);
          return spec_fail (err, p, "unknown mount option \"%s\"", name);
        }
      append_data (&m->data, name);
    }
  return 0;
}

int
spec_parse_id_mappings (json_t *obj, const char *parent, const char *key, struct berth_id_mapping **out, size_t *n_out,
                        berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *arr = NULL;
  size_t n;
  int r;

  r = spec_get_array (obj, parent, key, 0, &arr, err);
  if (r <= 0)
    return r;
  path = spec_path_key (parent, key);
  n = json_array_size (arr);
  *out = spec_xcalloc (n, sizeof (**out));
  *n_out = n;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *p = spec_path_index (path, i);
      json_t *e = json_array_get (arr, i);
      struct berth_id_mapping *im = &(*out)[i];

      if (!json_is_object (e))
        return spec_fail (err, p, "expected object");
      if (spec_get_uint32 (e, p, "containerID", SPEC_REQUIRED, &im->container_id, err) < 0
          || spec_get_uint32 (e, p, "hostID", SPEC_REQUIRED, &im->host_id, err) < 0
          || spec_get_uint32 (e, p, "size", SPEC_REQUIRED, &im->size, err) < 0)
        return -1;
      if (im->size == 0 || (uint64_t)im->container_id + im->size > 4294967296ULL
          || (uint64_t)im->host_id + im->size > 4294967296ULL)
        return spec_fail (err, p, "size %u is zero or runs past the 32-bit id range", im->size);
      /* The kernel refuses overlapping ranges with a bare EINVAL: say which. */
      for (size_t k = 0; k < i; k++)
        {
          const struct berth_id_mapping *o = &(*out)[k];
          if (im->container_id < o->container_id + (uint64_t)o->size
              && o->container_id < im->container_id + (uint64_t)im->size)
            return spec_fail (err, p, "containerID range overlaps %s[%zu]", path, k);
          if (im->host_id < o->host_id + (uint64_t)o->size && o->host_id < im->host_id + (uint64_t)im->size)
            return spec_fail (err, p, "hostID range overlaps %s[%zu]", path, k);
        }
    }
  if (n > 340)
    return spec_fail (err, path, "%zu mappings; the kernel takes at most 340", n);
  return 1;
}

static int
parse_mount (json_t *e, const char *path, struct berth_mount *m, berth_err *err)
{
  cleanup_free char *dest = NULL;
  int has_uid, has_gid;

  if (!json_is_object (e))
    return spec_fail (err, path, "expected object");
  if (spec_get_string (e, path, "destination", SPEC_REQUIRED, &dest, err) < 0)
    return -1;
  if (*dest == '\0')
    {
      cleanup_free char *p = spec_path_key (path, "destination");
      return spec_fail (err, p, "must not be empty");
    }
  /* config.md: a relative destination is deprecated and means relative to "/". */
  if (*dest != '/')
    {
      if (asprintf (&m->destination, "/%s", dest) < 0)
        abort ();
    }
  else
    m->destination = steal_pointer (&dest);
  if (spec_get_string (e, path, "type", 0, &m->type, err) < 0
      || spec_get_string (e, path, "source", 0, &m->source, err) < 0
      || spec_get_strv (e, path, "options", 0, &m->options, &m->n_options, err) < 0)
    return -1;
  has_uid = spec_parse_id_mappings (e, path, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err);
  if (has_uid < 0)
    return -1;
  has_gid = spec_parse_id_mappings (e, path, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err);
  if (has_gid < 0)
    return -1;
  if (has_uid != has_gid)
    {
      cleanup_free char *p = spec_path_key (path, has_uid ? "gidMappings" : "uidMappings");
      return spec_fail (err, p, "required when %s is set", has_uid ? "uidMappings" : "gidMappings");
    }
  if (spec_parse_mount_options (m, path, err) < 0)
    return -1;
  /* Mappings without "idmap"/"ridmap" still ask for an idmapped mount. */
  if (has_uid > 0)
    m->idmap = true;
  return 0;
}

int
spec_parse_mounts (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *arr = NULL;
  size_t n;
  int r = spec_get_array (doc, "", "mounts", 0, &arr, err);

  if (r <= 0)
    return r;
  n = json_array_size (arr);
  spec->mounts = spec_xcalloc (n, sizeof (*spec->mounts));
  spec->n_mounts = n;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *p = spec_path_index ("mounts", i);
      if (parse_mount (json_array_get (arr, i), p, &spec->mounts[i], err) < 0)
        return -1;
    }
  return 0;
}

void
spec_mount_clear (struct berth_mount *m)
{
  free (m->destination);
  free (m->type);
  free (m->source);
  spec_strv_free (m->options);
  free (m->data);
  free (m->uid_mappings);
  free (m->gid_mappings);
  memset (m, 0, sizeof (*m));
}
