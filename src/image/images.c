/* Named images: lookup, list, inspect, remove. */
#include "image/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "util/cleanup.h"

void
berth_image_ref_clear (struct berth_image_ref *r)
{
  free (r->name);
  free (r->media_type);
  memset (r, 0, sizeof (*r));
}

static void
fill_ref (struct berth_image_ref *out, const char *name, json_t *entry)
{
  out->name = strdup (name);
  snprintf (out->digest, sizeof (out->digest), "%s", json_string_value (json_object_get (entry, "digest")));
  const char *mt = json_string_value (json_object_get (entry, "mediaType"));
  out->media_type = strdup (mt ? mt : MT_OCI_MANIFEST);
}

static bool
hex_prefix (const char *s)
{
  size_t n = strlen (s);

  if (n < 4 || n > 64)
    return false;
  for (; *s; s++)
    if (!isxdigit ((unsigned char)*s) || isupper ((unsigned char)*s))
      return false;
  return true;
}

/* The config digest of a manifest, read from the store; "" when unknown. */
static void
config_digest (struct berth_store *s, const char *manifest, char out[BERTH_DIGEST_LEN])
{
  struct manifest m;

  out[0] = '\0';
  if (manifest_load (s, manifest, &m, NULL) == 0)
    {
      strcpy (out, m.config.digest);
      manifest_clear (&m);
    }
}

int
berth_image_lookup (struct berth_store *s, const char *what, struct berth_image_ref *out, berth_err *err)
{
  json_t *doc = index_load (s, err), *images, *entry;
  const char *name, *prefix;
  cleanup_free char *with_tag = NULL;
  const char *found = NULL;
  json_t *found_entry = NULL;
  int matches = 0;

  memset (out, 0, sizeof (*out));
  if (doc == NULL)
    return -1;
  images = json_object_get (doc, "images");
  entry = json_object_get (images, what);
  if (entry == NULL && strchr (strrchr (what, '/') ? strrchr (what, '/') : what, ':') == NULL
      && strchr (what, '@') == NULL)
    {
      if (asprintf (&with_tag, "%s:latest", what) < 0)
        abort ();
      entry = json_object_get (images, with_tag);
      what = entry ? with_tag : what;
    }
  if (entry)
    {
      fill_ref (out, what, entry);
      json_decref (doc);
      return 0;
    }
  prefix = strncmp (what, "sha256:", 7) == 0 ? what + 7 : what;
  if (hex_prefix (prefix))
    {
      json_object_foreach (images, name, entry)
      {
        const char *d = json_string_value (json_object_get (entry, "digest"));
        char cfg[BERTH_DIGEST_LEN];
        if (d == NULL)
          continue;
        config_digest (s, d, cfg);
        if (strncmp (d + 7, prefix, strlen (prefix)) == 0
            || (cfg[0] && strncmp (cfg + 7, prefix, strlen (prefix)) == 0))
          {
            /* Several names for one manifest are one image. */
            if (found_entry == NULL || strcmp (d, json_string_value (json_object_get (found_entry, "digest"))) != 0)
              matches++;
            if (found == NULL)
              {
                found = name;
                found_entry = entry;
              }
          }
      }
      if (matches == 1)
        {
          fill_ref (out, found, found_entry);
          json_decref (doc);
          return 0;
        }
      if (matches > 1)
        {
          json_decref (doc);
          return berth_fail (err, 0, "image id prefix \"%s\" is ambiguous (%d images); give more digits", what,
                             matches);
        }
    }
  json_decref (doc);
  return berth_fail (err, 0, "no such image: %s", what);
}

static json_t *
summary (struct berth_store *s, const char *name, const char *digest, berth_err *err)
{
  struct manifest m;
  size_t len;
  char *cfg;
  struct berth_image_config c;
  int64_t size = 0;
  json_t *o;

  if (manifest_load (s, digest, &m, err) < 0)
    return NULL;
  cfg = blob_read (s, m.config.digest, BERTH_CONFIG_MAX, &len, err);
  if (cfg == NULL || berth_image_config_parse (cfg, len, &c, err) < 0)
    {
      free (cfg);
      manifest_clear (&m);
      return NULL;
    }
  free (cfg);
  for (size_t i = 0; i < m.n_layers; i++)
    size += m.layers[i].size;
  o = json_pack ("{s:s, s:s, s:s, s:s?, s:I, s:I}", "name", name, "digest", digest, "id", m.config.digest, "created",
                 c.created, "size", (json_int_t)size, "layers", (json_int_t)m.n_layers);
  berth_image_config_clear (&c);
  manifest_clear (&m);
  return o;
}

json_t *
berth_image_list (struct berth_store *s, berth_err *err)
{
  json_t *doc = index_load (s, err), *out, *entry;
  const char *name;

  if (doc == NULL)
    return NULL;
  out = json_array ();
  json_object_foreach (json_object_get (doc, "images"), name, entry)
  {
    json_t *o = summary (s, name, json_string_value (json_object_get (entry, "digest")), err);
    if (o == NULL)
      {
        json_decref (out);
        json_decref (doc);
        return (berth_wrap (err, "image %s", name), NULL);
      }
    json_array_append_new (out, o);
  }
  json_decref (doc);
  return out;
}

json_t *
berth_image_inspect (struct berth_store *s, const char *what, berth_err *err)
{
  struct berth_image_ref img;
  struct manifest m = { 0 };
  struct berth_image_config c = { 0 };
  char *cfg = NULL;
  size_t len;
  json_t *out = NULL, *layers;
  int64_t size = 0;

  if (berth_image_lookup (s, what, &img, err) < 0)
    return NULL;
  if (manifest_load (s, img.digest, &m, err) < 0)
    goto out;
  cfg = blob_read (s, m.config.digest, BERTH_CONFIG_MAX, &len, err);
  if (cfg == NULL || berth_image_config_parse (cfg, len, &c, err) < 0)
    goto out;
  size_t n_diff = 0;
  while (c.diff_ids && c.diff_ids[n_diff])
    n_diff++;
  layers = json_array ();
  for (size_t i = 0; i < m.n_layers; i++)
    {
      size += m.layers[i].size;
      json_array_append_new (layers, json_pack ("{s:s, s:s, s:I, s:s?}", "digest", m.layers[i].digest, "mediaType",
                                                m.layers[i].media_type, "size", (json_int_t)m.layers[i].size, "diffID",
                                                i < n_diff ? c.diff_ids[i] : NULL));
    }
  out = json_pack ("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:I, s:o, s:o}", "Name", img.name, "Digest", img.digest,
                   "MediaType", img.media_type, "Id", m.config.digest, "Os", c.os, "Architecture", c.architecture,
                   "Created", c.created, "Size", (json_int_t)size, "Layers", layers, "Config",
                   berth_image_config_to_json (&c));
out:
  free (cfg);
  berth_image_config_clear (&c);
  manifest_clear (&m);
  berth_image_ref_clear (&img);
  return out;
}

int
berth_image_remove (struct berth_store *s, const char *what, berth_err *err)
{
  struct berth_image_ref img;
  int ret;

  if (berth_image_lookup (s, what, &img, err) < 0)
    return -1;
  ret = index_remove (s, img.name, err);
  berth_image_ref_clear (&img);
  return ret;
}
