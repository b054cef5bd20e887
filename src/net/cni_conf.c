/* CNI network configuration: the conf dir, .conflist and .conf files.
 *
 * As libcni and the CRI runtimes do: files ending in .conflist, .conf or
 * .json, sorted by name, the first that parses wins.  A .conf/.json file is
 * one plugin's config and becomes a list of one.  Errors name the file and
 * the field: `10-x.conflist: plugins[1].type: missing`.
 */
#include "net/cni_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

#define CONF_MAX_BYTES (1024 * 1024)

static const char *const supported_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };

bool
cni_version_supported (const char *v)
{
  for (size_t i = 0; i < sizeof (supported_versions) / sizeof (supported_versions[0]); i++)
    if (strcmp (v, supported_versions[i]) == 0)
      return true;
  return false;
}

int
cni_version_cmp (const char *a, const char *b)
{
  for (;;)
    {
      char *ea, *eb;
      long x = strtol (a, &ea, 10), y = strtol (b, &eb, 10);
      if (x != y)
        return x < y ? -1 : 1;
      if (*ea != '.' || *eb != '.')
        return (*ea == '.') - (*eb == '.');
      a = ea + 1;
      b = eb + 1;
    }
}

/* The spec's rule for network names, also what keeps them safe in paths:
   alphanumerics, '_', '.', '-', starting with an alphanumeric. */
static bool
valid_name (const char *s)
{
  if (s[0] == '\0' || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
          || *p == '-'))
      return false;
  return true;
}

/* A plugin type is a file name in CNI_PATH: never a path. */
static bool
valid_type (const char *s)
{
  return s[0] != '\0' && s[0] != '.' && strchr (s, '/') == NULL && strlen (s) < 256;
}

static const char *
get_string (json_t *obj, const char *key, const char *what, const char *field, bool required, berth_err *err)
{
  json_t *v = json_object_get (obj, key);
  if (v == NULL)
    {
      if (required)
        berth_fail (err, 0, "%s: %s: missing", what, field);
      return NULL;
    }
  if (!json_is_string (v))
    {
      berth_fail (err, 0, "%s: %s: expected string", what, field);
      return NULL;
    }
  return json_string_value (v);
}

int
cni_network_from_json (json_t *conf, const char *what, struct cni_network **out, berth_err *err)
{
  const char *name, *version;
  json_t *plugins, *plugin, *dc;
  struct cni_network *net;
  size_t i;

  if (!json_is_object (conf))
    return berth_fail (err, 0, "%s: expected a JSON object", what);
  name = get_string (conf, "name", what, "name", true, err);
  if (name == NULL)
    return -1;
  if (!valid_name (name))
    return berth_fail (err, 0, "%s: name: \"%s\" is not a valid network name (letters, digits, '_', '.', '-')", what,
                       name);
  version = get_string (conf, "cniVersion", what, "cniVersion", true, err);
  if (version == NULL)
    return -1;
  if (!cni_version_supported (version))
    return berth_fail (err, 0, "%s: cniVersion: \"%s\" is not supported (0.3.0 to 1.0.0)", what, version);
  dc = json_object_get (conf, "disableCheck");
  if (dc != NULL && !json_is_boolean (dc))
    return berth_fail (err, 0, "%s: disableCheck: expected boolean", what);
  plugins = json_object_get (conf, "plugins");
  if (!json_is_array (plugins))
    return berth_fail (err, 0, "%s: plugins: %s", what, plugins == NULL ? "missing" : "expected array");
  if (json_array_size (plugins) == 0)
    return berth_fail (err, 0, "%s: plugins: empty", what);
  json_array_foreach (plugins, i, plugin)
  {
    char field[64];
    const char *type;
    snprintf (field, sizeof (field), "plugins[%zu]", i);
    if (!json_is_object (plugin))
      return berth_fail (err, 0, "%s: %s: expected object", what, field);
    snprintf (field, sizeof (field), "plugins[%zu].type", i);
    type = get_string (plugin, "type", what, field, true, err);
    if (type == NULL)
      return -1;
    if (!valid_type (type))
      return berth_fail (err, 0, "%s: %s: \"%s\" is not a plugin name", what, field, type);
  }

  net = calloc (1, sizeof (*net));
  if (net == NULL)
    return berth_fail (err, ENOMEM, "%s", what);
  net->name = strdup (name);
  net->cni_version = strdup (version);
  net->disable_check = dc != NULL && json_is_true (dc);
  net->conf = json_incref (conf);
  *out = net;
  return 0;
}

/* A single plugin's config (.conf) as a list of one, as libcni does. */
static json_t *
list_from_single (json_t *conf, const char *what, berth_err *err)
{
  json_t *name = json_object_get (conf, "name"), *version = json_object_get (conf, "cniVersion");
  json_t *list;

  if (json_object_get (conf, "plugins") != NULL)
    return (berth_fail (err, 0, "%s: a .conf file holds one plugin; a list of plugins goes in a .conflist", what),
            NULL);
  if (json_object_get (conf, "type") == NULL)
    return (berth_fail (err, 0, "%s: type: missing", what), NULL);
  list = json_object ();
  if (name != NULL)
    json_object_set (list, "name", name);
  if (version != NULL)
    json_object_set (list, "cniVersion", version);
  json_object_set_new (list, "plugins", json_pack ("[O]", conf));
  return list;
}

static int
parse_doc (const char *text, size_t len, const char *what, bool single, struct cni_network **out, berth_err *err)
{
  json_error_t jerr;
  json_t *doc = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  int ret;

  if (doc == NULL)
    return berth_fail (err, 0, "%s: line %d: %s", what, jerr.line, jerr.text);
  if (single && json_is_object (doc))
    {
      json_t *list = list_from_single (doc, what, err);
      json_decref (doc);
      if (list == NULL)
        return -1;
      doc = list;
    }
  ret = cni_network_from_json (doc, what, out, err);
  json_decref (doc);
  return ret;
}

int
cni_network_parse (const char *text, size_t len, const char *what, struct cni_network **out, berth_err *err)
{
  json_error_t jerr;
  json_t *doc = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  bool single;

  if (doc == NULL)
    return berth_fail (err, 0, "%s: line %d: %s", what, jerr.line, jerr.text);
  single = json_is_object (doc) && json_object_get (doc, "plugins") == NULL;
  json_decref (doc);
  return parse_doc (text, len, what, single, out, err);
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n > m && strcmp (s + n - m, suffix) == 0;
}

static int
conf_filter (const struct dirent *d)
{
  return d->d_name[0] != '.'
         && (has_suffix (d->d_name, ".conflist") || has_suffix (d->d_name, ".conf") || has_suffix (d->d_name, ".json"));
}

/* Byte order, not the locale's: the same choice on every host. */
static int
conf_compare (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

static int
load_file (const char *dir, const char *name, struct cni_network **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_free char *text = NULL;
  cleanup_close int fd = -1;
  struct stat st;
  size_t len;

  if (asprintf (&path, "%s/%s", dir, name) < 0)
    return berth_fail (err, ENOMEM, "%s", name);
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return berth_fail (err, errno, "open `%s`", path);
  if (fstat (fd, &st) < 0)
    return berth_fail (err, errno, "stat `%s`", path);
  if (!S_ISREG (st.st_mode))
    return berth_fail (err, 0, "`%s`: not a regular file", path);
  text = berth_read_fd (fd, CONF_MAX_BYTES, &len, path, err);
  if (text == NULL)
    return -1;
  if (parse_doc (text, len, path, !has_suffix (name, ".conflist"), out, err) < 0)
    return -1;
  (*out)->path = steal_pointer (&path);
  return 0;
}

int
cni_network_load_dir (const char *conf_dir, struct cni_network **out, berth_err *err)
{
  struct dirent **names = NULL;
  berth_err last = NULL;
  int n, ret = -1;

  if (conf_dir == NULL)
    conf_dir = CNI_DEFAULT_CONF_DIR;
  n = scandir (conf_dir, &names, conf_filter, conf_compare);
  if (n < 0)
    return berth_fail (err, errno, "CNI config dir `%s`", conf_dir);
  for (int i = 0; i < n; i++)
    {
      if (ret < 0)
        {
          berth_err e = NULL;
          if (load_file (conf_dir, names[i]->d_name, out, &e) == 0)
            ret = 0;
          else
            berth_err_move (&last, &e);
        }
      free (names[i]);
    }
  free (names);
  if (ret == 0)
    {
      berth_err_free (&last);
      return 0;
    }
  if (last != NULL)
    {
      berth_err_move (err, &last);
      return berth_wrap (err, "no valid CNI config in `%s`", conf_dir);
    }
  return berth_fail (err, ENOENT, "no CNI config (*.conflist, *.conf, *.json) in `%s`", conf_dir);
}

void
cni_network_free (struct cni_network *net)
{
  if (net == NULL)
    return;
  free (net->path);
  free (net->name);
  free (net->cni_version);
  json_decref (net->conf);
  free (net);
}
