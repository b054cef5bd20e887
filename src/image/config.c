/* The image config (image-spec config.md): what a container is created
 * from.  Unknown fields are ignored, wrong types refused naming the field. */
#include "image/internal.h"

#include <stdlib.h>
#include <string.h>

static void
strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

void
berth_image_config_clear (struct berth_image_config *c)
{
  free (c->os);
  free (c->architecture);
  free (c->created);
  strv_free (c->env);
  strv_free (c->entrypoint);
  strv_free (c->cmd);
  strv_free (c->volumes);
  strv_free (c->exposed_ports);
  strv_free (c->diff_ids);
  free (c->working_dir);
  free (c->user);
  free (c->stop_signal);
  json_decref (c->labels);
  memset (c, 0, sizeof (*c));
}

static int
get_string (json_t *obj, const char *key, const char *field, char **out, berth_err *err)
{
  json_t *v = json_object_get (obj, key);

  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_string (v))
    return berth_fail (err, 0, "image config: %s: expected string", field);
  *out = strdup (json_string_value (v));
  return 0;
}

static int
get_strv (json_t *obj, const char *key, const char *field, char ***out, berth_err *err)
{
  json_t *v = json_object_get (obj, key), *e;
  size_t i;

  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_array (v))
    return berth_fail (err, 0, "image config: %s: expected array of strings", field);
  *out = calloc (json_array_size (v) + 1, sizeof (char *));
  json_array_foreach (v, i, e)
  {
    if (!json_is_string (e))
      return berth_fail (err, 0, "image config: %s[%zu]: expected string", field, i);
    (*out)[i] = strdup (json_string_value (e));
  }
  return 0;
}

/* Volumes and ExposedPorts are objects used as sets: {"80/tcp": {}}. */
static int
get_keys (json_t *obj, const char *key, const char *field, char ***out, berth_err *err)
{
  json_t *v = json_object_get (obj, key), *e;
  const char *k;
  size_t i = 0;

  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_object (v))
    return berth_fail (err, 0, "image config: %s: expected object", field);
  *out = calloc (json_object_size (v) + 1, sizeof (char *));
  json_object_foreach (v, k, e) (*out)[i++] = strdup (k);
  return 0;
}

int
berth_image_config_parse (const char *buf, size_t len, struct berth_image_config *c, berth_err *err)
{
  json_error_t jerr;
  json_t *doc = json_loadb (buf, len, 0, &jerr);
  json_t *cfg, *labels, *rootfs;
  int ret = -1;

  memset (c, 0, sizeof (*c));
  if (doc == NULL)
    return berth_fail (err, 0, "image config: line %d: %s", jerr.line, jerr.text);
  if (!json_is_object (doc))
    {
      json_decref (doc);
      return berth_fail (err, 0, "image config: expected object");
    }
  if (get_string (doc, "os", "os", &c->os, err) < 0
      || get_string (doc, "architecture", "architecture", &c->architecture, err) < 0
      || get_string (doc, "created", "created", &c->created, err) < 0)
    goto out;
  rootfs = json_object_get (doc, "rootfs");
  if (rootfs && get_strv (rootfs, "diff_ids", "rootfs.diff_ids", &c->diff_ids, err) < 0)
    goto out;
  cfg = json_object_get (doc, "config");
  if (cfg == NULL || json_is_null (cfg))
    {
      ret = 0;
      goto out;
    }
  if (!json_is_object (cfg))
    {
      berth_fail (err, 0, "image config: config: expected object");
      goto out;
    }
  if (get_strv (cfg, "Env", "config.Env", &c->env, err) < 0
      || get_strv (cfg, "Entrypoint", "config.Entrypoint", &c->entrypoint, err) < 0
      || get_strv (cfg, "Cmd", "config.Cmd", &c->cmd, err) < 0
      || get_string (cfg, "WorkingDir", "config.WorkingDir", &c->working_dir, err) < 0
      || get_string (cfg, "User", "config.User", &c->user, err) < 0
      || get_string (cfg, "StopSignal", "config.StopSignal", &c->stop_signal, err) < 0
      || get_keys (cfg, "Volumes", "config.Volumes", &c->volumes, err) < 0
      || get_keys (cfg, "ExposedPorts", "config.ExposedPorts", &c->exposed_ports, err) < 0)
    goto out;
  labels = json_object_get (cfg, "Labels");
  if (labels && !json_is_null (labels))
    {
      const char *k;
      json_t *v;
      if (!json_is_object (labels))
        {
          berth_fail (err, 0, "image config: config.Labels: expected object");
          goto out;
        }
      json_object_foreach (labels, k, v) if (!json_is_string (v))
      {
        berth_fail (err, 0, "image config: config.Labels.%s: expected string", k);
        goto out;
      }
      c->labels = json_incref (labels);
    }
  ret = 0;
out:
  json_decref (doc);
  if (ret < 0)
    berth_image_config_clear (c);
  return ret;
}

static json_t *
strv_json (char **v)
{
  json_t *a;

  if (v == NULL)
    return json_null ();
  a = json_array ();
  for (; *v; v++)
    json_array_append_new (a, json_string (*v));
  return a;
}

static json_t *
set_json (char **v)
{
  json_t *o;

  if (v == NULL)
    return json_null ();
  o = json_object ();
  for (; *v; v++)
    json_object_set_new (o, *v, json_object ());
  return o;
}

static json_t *
str_json (const char *s)
{
  return s ? json_string (s) : json_null ();
}

json_t *
berth_image_config_to_json (const struct berth_image_config *c)
{
  return json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:O}", "Env", strv_json (c->env), "Entrypoint",
                    strv_json (c->entrypoint), "Cmd", strv_json (c->cmd), "WorkingDir", str_json (c->working_dir),
                    "User", str_json (c->user), "Volumes", set_json (c->volumes), "StopSignal",
                    str_json (c->stop_signal), "ExposedPorts", set_json (c->exposed_ports), "Labels",
                    c->labels ? c->labels : json_null ());
}
