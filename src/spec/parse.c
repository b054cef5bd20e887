/* config.json as a whole: load, JSON decode, and the top-level properties. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* Far above any real config (runc's default is 3 KiB, big CRI ones are a few
 * hundred KiB); a larger file is a mistake or an attack, not a config. */
#define SPEC_MAX_FILE_SIZE (16 * 1024 * 1024)

static int
parse_root (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *root = NULL;
  int r = spec_get_object (doc, "", "root", 0, &root, err);

  if (r <= 0)
    return r;
  if (spec_get_string (root, "root", "path", SPEC_REQUIRED, &spec->root_path, err) < 0
      || spec_get_bool (root, "root", "readonly", 0, &spec->root_readonly, err) < 0)
    return -1;
  if (spec->root_path[0] == '\0')
    return spec_fail (err, "root.path", "must not be empty");
  return 0;
}

static int
parse_annotations (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *ann = NULL, *v;
  const char *key;
  int r = spec_get_object (doc, "", "annotations", 0, &ann, err);

  if (r <= 0)
    return r;
  json_object_foreach (ann, key, v) if (!json_is_string (v))
  {
    cleanup_free char *p = spec_path_key ("annotations", key);
    return spec_fail (err, p, "expected string");
  }
  spec->annotations = ann;
  return 0;
}

static int
parse_process (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *obj = spec_member (doc, "process");

  if (obj == NULL)
    return 0;
  spec->process = berth_process_parse (obj, "process", err);
  return spec->process ? 0 : -1;
}

static int
parse_linux (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *obj = NULL;
  int r = spec_get_object (doc, "", "linux", 0, &obj, err);

  if (r <= 0)
    return r;
  spec->linux = spec_xcalloc (1, sizeof (*spec->linux));
  return spec_parse_linux (obj, "linux", spec->linux, err);
}

static int
parse_document (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  if (spec_get_string (doc, "", "ociVersion", SPEC_REQUIRED, &spec->oci_version, err) < 0
      || parse_root (doc, spec, err) < 0 || parse_process (doc, spec, err) < 0
      || spec_get_string (doc, "", "hostname", 0, &spec->hostname, err) < 0
      || spec_get_string (doc, "", "domainname", 0, &spec->domainname, err) < 0
      || spec_parse_mounts (doc, spec, err) < 0 || spec_parse_hooks (doc, spec, err) < 0
      || parse_linux (doc, spec, err) < 0 || parse_annotations (doc, spec, err) < 0)
    return -1;
  return 0;
}

struct berth_spec *
berth_spec_parse (const char *data, size_t len, const char *where, berth_err *err)
{
  struct berth_spec *spec;
  json_error_t jerr;
  json_t *doc;

  if (where == NULL)
    where = "config.json";
  /* Duplicate keys are refused: two readers of one document must not
   * disagree on which value counts.  NUL in strings stays refused. */
  doc = json_loadb (data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    {
      berth_fail (err, 0, "%s: invalid JSON at line %d, column %d: %s", where, jerr.line, jerr.column, jerr.text);
      return NULL;
    }
  if (!json_is_object (doc))
    {
      json_decref (doc);
      berth_fail (err, 0, "%s: expected a JSON object at the top level", where);
      return NULL;
    }
  spec = spec_xcalloc (1, sizeof (*spec));
  spec->raw = doc;
  if (parse_document (doc, spec, err) < 0)
    {
      berth_spec_free (spec);
      return NULL;
    }
  return spec;
}

/* Reads at most SPEC_MAX_FILE_SIZE + 1 bytes, so a fifo or a file growing
 * under us cannot exhaust memory either. */
static char *
read_bounded (int fd, const char *path, size_t *len, berth_err *err)
{
  cleanup_free char *buf = NULL;
  size_t size = 0, cap = 0;
  struct stat st;

  if (fstat (fd, &st) < 0)
    return berth_fail (err, errno, "stat %s", path), NULL;
  if (S_ISREG (st.st_mode) && st.st_size > SPEC_MAX_FILE_SIZE)
    return berth_fail (err, 0, "%s: config file too large (%lld bytes, limit %d)", path, (long long)st.st_size,
                       SPEC_MAX_FILE_SIZE),
           NULL;
  for (;;)
    {
      ssize_t n;

      if (size == cap)
        {
          char *nb;
          cap = cap ? cap * 2 : 64 * 1024;
          if (cap > SPEC_MAX_FILE_SIZE + 1)
            cap = SPEC_MAX_FILE_SIZE + 1;
          nb = realloc (buf, cap);
          if (nb == NULL)
            abort ();
          buf = nb;
        }
      n = read (fd, buf + size, cap - size);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail (err, errno, "read %s", path), NULL;
      if (n == 0)
        break;
      size += n;
      if (size > SPEC_MAX_FILE_SIZE)
        return berth_fail (err, 0, "%s: config file too large (more than %d bytes, limit %d)", path, SPEC_MAX_FILE_SIZE,
                           SPEC_MAX_FILE_SIZE),
               NULL;
    }
  *len = size;
  return steal_pointer (&buf);
}

struct berth_spec *
berth_spec_load (const char *path, berth_err *err)
{
  cleanup_close int fd = -1;
  cleanup_free char *data = NULL;
  size_t len = 0;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      berth_fail (err, errno, "open %s", path);
      return NULL;
    }
  data = read_bounded (fd, path, &len, err);
  if (data == NULL)
    return NULL;
  return berth_spec_parse (data, len, path, err);
}

bool
berth_spec_version_at_least (const struct berth_spec *spec, unsigned major, unsigned minor)
{
  unsigned ma, mi;

  if (spec->oci_version == NULL || sscanf (spec->oci_version, "%u.%u", &ma, &mi) != 2)
    return true;
  return ma != major ? ma > major : mi >= minor;
}
