/* Cgroup discovery, path resolution, persistence and value conversions.
 *
 * Discovery is a pure function of two texts so that v1, v2 and hybrid hosts
 * can be tested anywhere:
 *
 *   /proc/self/cgroup    "4:memory:/a/b"       which hierarchies the caller
 *                        "0::/"                is in (0: the cgroup2 one)
 *   /proc/self/mountinfo "... ROOT MOUNTPOINT ... - cgroup cgroup rw,memory"
 *                        where each one is mounted
 *
 * A v1 line is matched to the "cgroup" mount whose super options hold all
 * of its controllers (or its name=); the 0:: line to the "cgroup2" mount.
 * Hierarchies that are not mounted are left out.
 */
#include "runtime/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

struct cg_mount
{
  char *root;
  char *point;
  char *super; /* super options */
  bool v2;
};

static void
free_mounts (struct cg_mount *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (m[i].root);
      free (m[i].point);
      free (m[i].super);
    }
  free (m);
}

void
cg_unescape_mountinfo (char *s)
{
  char *w = s;

  for (char *r = s; *r != '\0'; r++)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7')
        {
          *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 3;
        }
      else
        *w++ = *r;
    }
  *w = '\0';
}

bool
cg_list_has (const char *list, const char *name)
{
  size_t len = strlen (name);

  if (list == NULL || len == 0)
    return false;
  for (const char *p = list; *p != '\0';)
    {
      const char *end = strchr (p, ',');
      size_t l = end ? (size_t)(end - p) : strlen (p);

      if (l == len && strncmp (p, name, len) == 0)
        return true;
      if (end == NULL)
        break;
      p = end + 1;
    }
  return false;
}

/* Split one mountinfo line; keeps cgroup and cgroup2 mounts only. */
static int
parse_mount_line (char *line, struct cg_mount *out)
{
  char *fields[32];
  size_t n = 0;
  char *save = NULL;
  size_t dash;

  for (char *tok = strtok_r (line, " ", &save); tok != NULL && n < 32; tok = strtok_r (NULL, " ", &save))
    fields[n++] = tok;
  for (dash = 6; dash < n; dash++)
    if (strcmp (fields[dash], "-") == 0)
      break;
  if (n < 5 || dash + 1 >= n)
    return 0;
  if (strcmp (fields[dash + 1], "cgroup") != 0 && strcmp (fields[dash + 1], "cgroup2") != 0)
    return 0;
  out->v2 = strcmp (fields[dash + 1], "cgroup2") == 0;
  out->root = strdup (fields[3]);
  out->point = strdup (fields[4]);
  out->super = strdup (dash + 3 < n ? fields[dash + 3] : "");
  if (out->root == NULL || out->point == NULL || out->super == NULL)
    abort ();
  cg_unescape_mountinfo (out->root);
  cg_unescape_mountinfo (out->point);
  return 1;
}

static int
parse_mounts (const char *mountinfo, struct cg_mount **out, size_t *n_out)
{
  cleanup_free char *copy = strdup (mountinfo);
  struct cg_mount *m = NULL;
  size_t n = 0;
  char *save = NULL;

  if (copy == NULL)
    abort ();
  for (char *line = strtok_r (copy, "\n", &save); line != NULL; line = strtok_r (NULL, "\n", &save))
    {
      struct cg_mount one = { 0 };

      if (parse_mount_line (line, &one) == 0)
        continue;
      m = realloc (m, (n + 1) * sizeof (*m));
      if (m == NULL)
        abort ();
      m[n++] = one;
    }
  *out = m;
  *n_out = n;
  return 0;
}

/* Whether every controller of a /proc/self/cgroup line is among the mount's
 * super options. */
static bool
mount_holds (const struct cg_mount *m, const char *controllers)
{
  cleanup_free char *copy = strdup (controllers);
  char *save = NULL;
  bool any = false;

  if (copy == NULL)
    abort ();
  for (char *c = strtok_r (copy, ",", &save); c != NULL; c = strtok_r (NULL, ",", &save))
    {
      if (!cg_list_has (m->super, c))
        return false;
      any = true;
    }
  return any;
}

/* The caller's cgroup below the mount's root ("/" when at its root). */
static char *
own_below_root (const char *own, const char *root)
{
  size_t len = strlen (root);
  const char *rest = own;
  char *r;

  if (strcmp (root, "/") != 0 && strncmp (own, root, len) == 0 && (own[len] == '/' || own[len] == '\0'))
    rest = own + len;
  if (*rest == '\0')
    rest = "/";
  r = strdup (rest);
  if (r == NULL)
    abort ();
  return r;
}

static char *
v2_list (const char *text)
{
  char *r = strdup (text ? text : "");

  if (r == NULL)
    abort ();
  for (char *p = r; *p != '\0'; p++)
    if (*p == ' ' || *p == '\n')
      *p = ',';
  while (*r != '\0' && r[strlen (r) - 1] == ',')
    r[strlen (r) - 1] = '\0';
  return r;
}

static const struct cg_mount *
pick_mount (const struct cg_mount *m, size_t n, bool v2, const char *controllers, const char *own)
{
  const struct cg_mount *first = NULL;

  for (size_t i = 0; i < n; i++)
    {
      size_t len = strlen (m[i].root);

      if (m[i].v2 != v2 || (!v2 && !mount_holds (&m[i], controllers)))
        continue;
      /* Prefer a mount of the part of the tree the caller is in. */
      if (strcmp (m[i].root, "/") == 0 || (strncmp (own, m[i].root, len) == 0 && (own[len] == '/' || own[len] == '\0')))
        return &m[i];
      if (first == NULL)
        first = &m[i];
    }
  return first;
}

int
cg_discover (struct berth_cgroup *cg, const char *mountinfo, const char *self_cgroup, const char *v2_controllers,
             berth_err *err)
{
  struct cg_mount *mounts = NULL;
  size_t n_mounts = 0;
  cleanup_free char *copy = strdup (self_cgroup);
  char *save = NULL;

  if (copy == NULL)
    abort ();
  parse_mounts (mountinfo, &mounts, &n_mounts);
  for (char *line = strtok_r (copy, "\n", &save); line != NULL; line = strtok_r (NULL, "\n", &save))
    {
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      const struct cg_mount *m;
      struct cg_hier *h;
      bool v2;

      if (c2 == NULL || c2[1] != '/')
        continue;
      *c1 = *c2 = '\0';
      v2 = strcmp (line, "0") == 0 && c1[1] == '\0';
      if (!v2 && c1[1] == '\0')
        continue;
      m = pick_mount (mounts, n_mounts, v2, c1 + 1, c2 + 1);
      if (m == NULL)
        continue;
      cg->h = realloc (cg->h, (cg->n + 1) * sizeof (*cg->h));
      if (cg->h == NULL)
        abort ();
      h = &cg->h[cg->n++];
      memset (h, 0, sizeof (*h));
      h->version = v2 ? 2 : 1;
      h->controllers = v2 ? v2_list (v2_controllers) : strdup (c1 + 1);
      h->mount = strdup (m->point);
      h->own = own_below_root (c2 + 1, m->root);
      if (h->controllers == NULL || h->mount == NULL)
        abort ();
    }
  free_mounts (mounts, n_mounts);
  if (cg->n == 0)
    return berth_fail (err, 0, "no mounted cgroup hierarchy found in /proc/self/mountinfo for /proc/self/cgroup");
  return 0;
}

/* Normalize a relative or absolute cgroup path to "a/b/c" (no leading or
 * trailing '/', no "." or empty components); ".." is refused. */
static int
normalize (const char *path, char **out, berth_err *err)
{
  cleanup_free char *copy = strdup (path);
  char *r = calloc (1, strlen (path) + 1);
  char *save = NULL;

  if (copy == NULL || r == NULL)
    abort ();
  for (char *c = strtok_r (copy, "/", &save); c != NULL; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          free (r);
          return berth_fail (err, 0, "linux.cgroupsPath: `%s`: `..` is not allowed", path);
        }
      if (*r != '\0')
        strcat (r, "/");
      strcat (r, c);
    }
  *out = r;
  return 0;
}

int
cg_resolve_paths (struct berth_cgroup *cg, const char *cgroups_path, const char *id, berth_err *err)
{
  cleanup_free char *rel = NULL;
  bool absolute;

  if (cgroups_path == NULL || *cgroups_path == '\0')
    {
      if (id == NULL || *id == '\0' || strchr (id, '/') != NULL || strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
        return berth_fail (err, 0, "invalid container id `%s` for a cgroup name", id ? id : "");
      cgroups_path = id;
    }
  absolute = cgroups_path[0] == '/';
  if (normalize (cgroups_path, &rel, err) < 0)
    return -1;
  if (*rel == '\0')
    return berth_fail (err, 0, "linux.cgroupsPath: `%s` names the cgroup of %s", cgroups_path,
                       absolute ? "the hierarchy root" : "the caller");
  for (size_t i = 0; i < cg->n; i++)
    {
      struct cg_hier *h = &cg->h[i];
      const char *base = absolute || strcmp (h->own, "/") == 0 ? "" : h->own;
      const char *mount = strcmp (h->mount, "/") == 0 ? "" : h->mount;

      free (h->path);
      if (asprintf (&h->path, "%s%s/%s", mount, base, rel) < 0)
        abort ();
    }
  return 0;
}

struct berth_cgroup *
cg_resolve_text (const char *mountinfo, const char *self_cgroup, const char *v2_controllers, const char *cgroups_path,
                 const char *id, berth_err *err)
{
  struct berth_cgroup *cg = calloc (1, sizeof (*cg));

  if (cg == NULL)
    abort ();
  if (cg_discover (cg, mountinfo, self_cgroup, v2_controllers, err) < 0
      || cg_resolve_paths (cg, cgroups_path, id, err) < 0)
    {
      berth_cgroup_free (cg);
      return NULL;
    }
  return cg;
}

static char *
slurp (const char *path, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  size_t len;

  if (fd < 0)
    return (berth_fail (err, errno, "open `%s`", path), NULL);
  return berth_read_fd (fd, 16 * 1024 * 1024, &len, path, err);
}

struct berth_cgroup *
berth_cgroup_resolve (const char *cgroups_path, const char *id, berth_err *err)
{
  cleanup_free char *mountinfo = slurp ("/proc/self/mountinfo", err);
  cleanup_free char *self = mountinfo ? slurp ("/proc/self/cgroup", err) : NULL;
  cleanup_free char *v2ctl = NULL;
  struct berth_cgroup *cg;

  if (self == NULL)
    return NULL;
  cg = calloc (1, sizeof (*cg));
  if (cg == NULL)
    abort ();
  if (cg_discover (cg, mountinfo, self, NULL, err) < 0)
    goto fail;
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].version == 2)
      {
        berth_err ignored = NULL;

        /* A hybrid host's cgroup2 root may list nothing: that is fine. */
        if (cg_read (cg->h[i].mount, "cgroup.controllers", &v2ctl, &ignored) < 0)
          berth_err_free (&ignored);
        free (cg->h[i].controllers);
        cg->h[i].controllers = v2_list (v2ctl);
      }
  if (cg_resolve_paths (cg, cgroups_path, id, err) < 0)
    goto fail;
  return cg;

fail:
  berth_cgroup_free (cg);
  return NULL;
}

const struct cg_hier *
cg_find (const struct berth_cgroup *cg, const char *controller)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].version == 1 && cg_list_has (cg->h[i].controllers, controller))
      return &cg->h[i];
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].version == 2 && cg_list_has (cg->h[i].controllers, controller))
      return &cg->h[i];
  return NULL;
}

const struct cg_hier *
cg_find_v2 (const struct berth_cgroup *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].version == 2)
      return &cg->h[i];
  return NULL;
}

bool
cg_has_v1 (const struct berth_cgroup *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].version == 1)
      return true;
  return false;
}

uint64_t
cg_shares_to_weight (uint64_t shares)
{
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t
cg_blkio_to_io_weight (uint64_t weight)
{
  if (weight == 0)
    return 0;
  if (weight < 10)
    weight = 10;
  if (weight > 1000)
    weight = 1000;
  return 1 + ((weight - 10) * 9999) / 990;
}

int
cg_swap_to_v2 (int64_t swap, int64_t limit, bool *write, int64_t *out, berth_err *err)
{
  *write = false;
  *out = 0;
  /* Memory unlimited and swap unset: both unlimited, as on v1. */
  if (limit == -1 && swap == 0)
    {
      *write = true;
      *out = -1;
      return 0;
    }
  if (swap == 0)
    return 0;
  if (swap == -1)
    {
      *write = true;
      *out = -1;
      return 0;
    }
  if (limit == 0 || limit == -1)
    return berth_fail (err, 0, "linux.resources.memory.swap: cannot limit swap without a memory limit");
  if (limit < 0 || swap < 0)
    return berth_fail (err, 0, "linux.resources.memory: invalid memory (%lld) or swap (%lld) value", (long long)limit,
                       (long long)swap);
  if (swap < limit)
    return berth_fail (err, 0, "linux.resources.memory.swap: memory+swap limit (%lld) must be >= memory limit (%lld)",
                       (long long)swap, (long long)limit);
  *write = true;
  *out = swap - limit;
  return 0;
}

size_t
berth_cgroup_count (const struct berth_cgroup *cg)
{
  return cg->n;
}

void
berth_cgroup_hierarchy (const struct berth_cgroup *cg, size_t i, const char **mount, const char **path,
                        int *version)
{
  *mount = cg->h[i].mount;
  *path = cg->h[i].path;
  *version = cg->h[i].version;
}

json_t *
berth_cgroup_to_json (const struct berth_cgroup *cg)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < cg->n; i++)
    {
      const struct cg_hier *h = &cg->h[i];

      json_array_append_new (arr, json_pack ("{s:i, s:s, s:s, s:s, s:s, s:i}", "version", h->version, "controllers",
                                             h->controllers, "mount", h->mount, "own", h->own, "path",
                                             h->path ? h->path : "", "created", (int)h->created));
    }
  return json_pack ("{s:o}", "hierarchies", arr);
}

static bool
has_dotdot (const char *path)
{
  for (const char *p = strstr (path, "/.."); p != NULL; p = strstr (p + 1, "/.."))
    if (p[3] == '/' || p[3] == '\0')
      return true;
  return false;
}

struct berth_cgroup *
berth_cgroup_from_json (json_t *obj, berth_err *err)
{
  struct berth_cgroup *cg = calloc (1, sizeof (*cg));
  json_t *arr = json_object_get (obj, "hierarchies");
  size_t i;
  json_t *v;

  if (cg == NULL)
    abort ();
  if (!json_is_array (arr))
    goto bad;
  cg->h = calloc (json_array_size (arr) + 1, sizeof (*cg->h));
  if (cg->h == NULL)
    abort ();
  json_array_foreach (arr, i, v)
  {
    struct cg_hier *h = &cg->h[i];
    const char *ctl, *mount, *own, *path;
    int version, created;

    if (json_unpack (v, "{s:i, s:s, s:s, s:s, s:s, s:i}", "version", &version, "controllers", &ctl, "mount", &mount,
                     "own", &own, "path", &path, "created", &created)
            < 0
        || (version != 1 && version != 2) || created < 0 || path[0] != '/' || strncmp (path, mount, strlen (mount)) != 0
        || has_dotdot (path))
      goto bad;
    cg->n++;
    h->version = version;
    h->created = (unsigned)created;
    h->controllers = strdup (ctl);
    h->mount = strdup (mount);
    h->own = strdup (own);
    h->path = strdup (path);
    if (h->controllers == NULL || h->mount == NULL || h->own == NULL || h->path == NULL)
      abort ();
  }
  return cg;

bad:
  berth_cgroup_free (cg);
  berth_fail (err, 0, "state.json: malformed `cgroup` object");
  return NULL;
}

void
berth_cgroup_free (struct berth_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n; i++)
    {
      free (cg->h[i].controllers);
      free (cg->h[i].mount);
      free (cg->h[i].own);
      free (cg->h[i].path);
    }
  free (cg->h);
  free (cg);
}
