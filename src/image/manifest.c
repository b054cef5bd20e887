/* Image manifests and indexes (image-spec manifest.md, image-index.md) and
 * their Docker schema 2 twins.  Errors name the JSON field. */
#include "image/internal.h"

#include <stdlib.h>
#include <string.h>

bool
media_type_is_index (const char *mt)
{
  return mt && (strcmp (mt, MT_OCI_INDEX) == 0 || strcmp (mt, MT_DOCKER_LIST) == 0);
}

bool
media_type_is_manifest (const char *mt)
{
  return mt && (strcmp (mt, MT_OCI_MANIFEST) == 0 || strcmp (mt, MT_DOCKER_MANIFEST) == 0);
}

static bool
layer_media_type_known (const char *mt)
{
  static const char *const known[] = {
    MT_OCI_LAYER,
    MT_OCI_LAYER_GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    MT_DOCKER_LAYER,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (size_t i = 0; i < sizeof (known) / sizeof (known[0]); i++)
    if (strcmp (mt, known[i]) == 0)
      return true;
  return false;
}

void
descriptor_clear (struct descriptor *d)
{
  free (d->media_type);
  memset (d, 0, sizeof (*d));
}

void
manifest_clear (struct manifest *m)
{
  free (m->media_type);
  descriptor_clear (&m->config);
  for (size_t i = 0; i < m->n_layers; i++)
    descriptor_clear (&m->layers[i]);
  free (m->layers);
  memset (m, 0, sizeof (*m));
}

static int
descriptor_parse (json_t *j, const char *field, struct descriptor *d, berth_err *err)
{
  const char *mt, *dg;
  json_t *size;

  if (!json_is_object (j))
    return berth_fail (err, 0, "%s: expected object", field);
  mt = json_string_value (json_object_get (j, "mediaType"));
  dg = json_string_value (json_object_get (j, "digest"));
  size = json_object_get (j, "size");
  if (mt == NULL)
    return berth_fail (err, 0, "%s.mediaType: expected string", field);
  if (dg == NULL)
    return berth_fail (err, 0, "%s.digest: expected string", field);
  if (!json_is_integer (size) || json_integer_value (size) < 0)
    return berth_fail (err, 0, "%s.size: expected a non-negative integer", field);
  if (digest_check (dg, field, err) < 0)
    return -1;
  d->media_type = strdup (mt);
  strcpy (d->digest, dg);
  d->size = json_integer_value (size);
  return 0;
}

char *
manifest_sniff_media_type (const char *buf, size_t len)
{
  json_t *doc = json_loadb (buf, len, 0, NULL);
  const char *mt;
  char *out = NULL;

  if (doc == NULL)
    return NULL;
  mt = json_string_value (json_object_get (doc, "mediaType"));
  if (mt)
    out = strdup (mt);
  else if (json_is_array (json_object_get (doc, "manifests")))
    out = strdup (MT_OCI_INDEX);
  else if (json_is_object (json_object_get (doc, "config")))
    out = strdup (MT_OCI_MANIFEST);
  json_decref (doc);
  return out;
}

int
manifest_parse (const char *buf, size_t len, struct manifest *m, berth_err *err)
{
  json_error_t jerr;
  json_t *doc = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *layers, *v;
  const char *mt;
  size_t i;
  char field[64];

  memset (m, 0, sizeof (*m));
  if (doc == NULL)
    return berth_fail (err, 0, "manifest: line %d: %s", jerr.line, jerr.text);
  if (json_integer_value (json_object_get (doc, "schemaVersion")) != 2)
    {
      json_decref (doc);
      return berth_fail (err, 0, "manifest: schemaVersion: expected 2 (schema 1 manifests are not supported)");
    }
  mt = json_string_value (json_object_get (doc, "mediaType"));
  if (mt == NULL)
    mt = MT_OCI_MANIFEST;
  if (!media_type_is_manifest (mt))
    {
      json_decref (doc);
      return berth_fail (err, 0, "manifest: mediaType: unsupported \"%s\"", mt);
    }
  m->media_type = strdup (mt);
  if (descriptor_parse (json_object_get (doc, "config"), "manifest: config", &m->config, err) < 0)
    goto fail;
  layers = json_object_get (doc, "layers");
  if (!json_is_array (layers))
    {
      berth_fail (err, 0, "manifest: layers: expected array");
      goto fail;
    }
  m->layers = calloc (json_array_size (layers) + 1, sizeof (*m->layers));
  json_array_foreach (layers, i, v)
  {
    snprintf (field, sizeof (field), "manifest: layers[%zu]", i);
    if (descriptor_parse (v, field, &m->layers[i], err) < 0)
      goto fail;
    m->n_layers = i + 1;
    if (!layer_media_type_known (m->layers[i].media_type))
      {
        berth_fail (err, 0, "%s.mediaType: unsupported layer type \"%s\"", field, m->layers[i].media_type);
        goto fail;
      }
  }
  json_decref (doc);
  return 0;
fail:
  json_decref (doc);
  manifest_clear (m);
  return -1;
}

int
index_select_platform (const char *buf, size_t len, const char *os, const char *arch, const char *variant,
                       struct descriptor *out, berth_err *err)
{
  json_error_t jerr;
  json_t *doc = json_loadb (buf, len, 0, &jerr);
  json_t *list, *v;
  size_t i;
  char field[64];
  int ret = -1;

  memset (out, 0, sizeof (*out));
  if (doc == NULL)
    return berth_fail (err, 0, "image index: line %d: %s", jerr.line, jerr.text);
  list = json_object_get (doc, "manifests");
  if (!json_is_array (list))
    {
      json_decref (doc);
      return berth_fail (err, 0, "image index: manifests: expected array");
    }
  json_array_foreach (list, i, v)
  {
    json_t *p = json_object_get (v, "platform");
    const char *pos = json_string_value (json_object_get (p, "os"));
    const char *parch = json_string_value (json_object_get (p, "architecture"));
    const char *pvar = json_string_value (json_object_get (p, "variant"));

    if (pos == NULL || parch == NULL || strcmp (pos, os) != 0 || strcmp (parch, arch) != 0)
      continue;
    if (variant && (pvar == NULL || strcmp (pvar, variant) != 0))
      continue;
    snprintf (field, sizeof (field), "image index: manifests[%zu]", i);
    if (descriptor_parse (v, field, out, err) == 0)
      {
        if (!media_type_is_manifest (out->media_type))
          {
            berth_fail (err, 0, "%s.mediaType: unsupported \"%s\"", field, out->media_type);
            descriptor_clear (out);
          }
        else
          ret = 0;
      }
    break;
  }
  if (ret < 0 && (err == NULL || *err == NULL))
    berth_fail (err, 0, "image index has no manifest for platform %s/%s%s%s", os, arch, variant ? "/" : "",
                variant ? variant : "");
  json_decref (doc);
  return ret;
}

int
manifest_load (struct berth_store *s, const char *digest, struct manifest *m, berth_err *err)
{
  size_t len;
  char *buf = blob_read (s, digest, BERTH_MANIFEST_MAX, &len, err);
  int ret;

  if (buf == NULL)
    return -1;
  ret = manifest_parse (buf, len, m, err);
  free (buf);
  if (ret < 0)
    return berth_wrap (err, "manifest %s", digest);
  return 0;
}
