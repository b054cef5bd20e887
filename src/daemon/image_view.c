/* CRI's view of the image store (image_view.h). */
#include "daemon/image_view.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "util/cleanup.h"

static bool
has_tag_or_digest (const char *name)
{
  const char *last = strrchr (name, '/');

  return strchr (name, '@') != NULL || strchr (last ? last : name, ':') != NULL;
}

char *
image_name_with_tag (const char *name)
{
  char *out;

  if (has_tag_or_digest (name))
    return xstrdup (name);
  if (asprintf (&out, "%s:latest", name) < 0)
    abort ();
  return out;
}

/* "host/repo:tag" or "host/repo@d" -> "host/repo" */
static char *
repo_of (const char *name)
{
  const char *at = strchr (name, '@'), *last = strrchr (name, '/');
  const char *colon = strchr (last ? last : name, ':');

  if (at)
    return strndup (name, (size_t)(at - name));
  return colon ? strndup (name, (size_t)(colon - name)) : xstrdup (name);
}

static void
append_unique (json_t *arr, const char *s)
{
  size_t i;
  json_t *v;

  json_array_foreach (arr, i, v) if (strcmp (json_string_value (v), s) == 0) return;
  json_array_append_new (arr, json_string (s));
}

static struct cri_image *
group_for (struct cri_images *imgs, const char *id, const char *name)
{
  for (size_t i = 0; i < imgs->n; i++)
    if (strcmp (imgs->v[i].id, id) == 0)
      return &imgs->v[i];
  imgs->v = realloc (imgs->v, (imgs->n + 1) * sizeof (*imgs->v));
  struct cri_image *g = &imgs->v[imgs->n++];
  memset (g, 0, sizeof (*g));
  g->id = xstrdup (id);
  g->name = xstrdup (name);
  g->tags = json_array ();
  g->digests = json_array ();
  g->manifests = json_array ();
  g->names = json_array ();
  return g;
}

int
image_view_load (struct berth_store *s, struct cri_images *out, berth_err *err)
{
  json_t *list = berth_image_list (s, err), *e;
  size_t i;

  memset (out, 0, sizeof (*out));
  if (list == NULL)
    return -1;
  json_array_foreach (list, i, e)
  {
    const char *name = json_string_value (json_object_get (e, "name"));
    const char *digest = json_string_value (json_object_get (e, "digest"));
    const char *id = json_string_value (json_object_get (e, "id"));
    cleanup_free char *repo = NULL, *rd = NULL;
    if (name == NULL || digest == NULL || id == NULL)
      continue;
    struct cri_image *g = group_for (out, id, name);
    repo = repo_of (name);
    if (asprintf (&rd, "%s@%s", repo, digest) < 0)
      abort ();
    if (strchr (name, '@') == NULL)
      append_unique (g->tags, name);
    append_unique (g->digests, rd);
    append_unique (g->manifests, digest);
    append_unique (g->names, name);
    g->size = (uint64_t)json_integer_value (json_object_get (e, "size"));
  }
  json_decref (list);
  return 0;
}

void
image_view_clear (struct cri_images *imgs)
{
  for (size_t i = 0; i < imgs->n; i++)
    {
      free (imgs->v[i].id);
      free (imgs->v[i].name);
      json_decref (imgs->v[i].tags);
      json_decref (imgs->v[i].digests);
      json_decref (imgs->v[i].manifests);
      json_decref (imgs->v[i].names);
    }
  free (imgs->v);
  memset (imgs, 0, sizeof (*imgs));
}

static bool
in_array (json_t *arr, const char *s)
{
  size_t i;
  json_t *v;

  json_array_foreach (arr, i, v) if (strcmp (json_string_value (v), s) == 0) return true;
  return false;
}

static bool
is_hex64 (const char *s)
{
  size_t n = 0;

  for (; s[n]; n++)
    if (!isxdigit ((unsigned char)s[n]) || isupper ((unsigned char)s[n]))
      return false;
  return n == 64;
}

const struct cri_image *
image_view_find (const struct cri_images *imgs, const char *what)
{
  cleanup_free char *tagged = image_name_with_tag (what);
  cleanup_free char *full = NULL;

  if (what[0] == '\0')
    return NULL;
  if (is_hex64 (what) && asprintf (&full, "sha256:%s", what) < 0)
    abort ();
  for (size_t i = 0; i < imgs->n; i++)
    {
      const struct cri_image *g = &imgs->v[i];
      if (in_array (g->tags, tagged) || in_array (g->digests, what) || strcmp (g->id, what) == 0
          || in_array (g->manifests, what) || (full && strcmp (g->id, full) == 0))
        return g;
    }
  return NULL;
}

static json_t *
image_user (struct berth_store *s, const struct cri_image *img, berth_err *err)
{
  json_t *doc = berth_image_inspect (s, img->name, err);
  json_t *user;

  if (doc == NULL)
    return NULL;
  user = json_incref (json_object_get (json_object_get (doc, "Config"), "User"));
  json_decref (doc);
  return user ? user : json_string ("");
}

static char **
strv_of (json_t *arr, size_t *n)
{
  size_t i;
  json_t *v;
  char **out = malloc ((json_array_size (arr) + 1) * sizeof (char *));

  json_array_foreach (arr, i, v) out[i] = xstrdup (json_string_value (v));
  *n = json_array_size (arr);
  return out;
}

Runtime__V1__Image *
image_view_to_pb (struct berth_store *s, const struct cri_image *img, const char *pinned_name, berth_err *err)
{
  json_t *user = image_user (s, img, err);
  Runtime__V1__Image *m;
  const char *u;
  size_t ulen;

  if (user == NULL)
    return NULL;
  m = malloc (sizeof (*m));
  runtime__v1__image__init (m);
  m->id = xstrdup (img->id);
  m->repo_tags = strv_of (img->tags, &m->n_repo_tags);
  m->repo_digests = strv_of (img->digests, &m->n_repo_digests);
  m->size = img->size;
  m->pinned = pinned_name != NULL && in_array (img->tags, pinned_name);
  /* User is "user[:group]": a number becomes uid, a name username (the
     two are exclusive in CRI); none leaves both unset (root), as
     containerd does. */
  u = json_string_value (user);
  ulen = u ? strcspn (u, ":") : 0;
  if (ulen > 0)
    {
      bool numeric = true;
      for (size_t i = 0; i < ulen; i++)
        numeric = numeric && isdigit ((unsigned char)u[i]);
      if (numeric)
        {
          m->uid = malloc (sizeof (*m->uid));
          runtime__v1__int64_value__init (m->uid);
          m->uid->value = strtoll (u, NULL, 10);
        }
      else
        m->username = strndup (u, ulen);
    }
  json_decref (user);
  return m;
}
