/* berthd-pull: PullImage's work in a process of its own.
 *
 *   berthd-pull --root DIR [--registries-conf FILE] [--mirror URL] IMAGE
 *   berthd-pull --root DIR --unpack IMAGE
 *
 * berthd runs it once per PullImage (and once per CreateContainer of an
 * image whose layers are not all unpacked): the HTTP, TLS, gzip and tar
 * parsing of what a registry sends happens here, not in the daemon, and
 * libcurl and libarchive never enter berthd's address space.  The protocol
 * (credentials on stdin, one JSON answer on stdout) is drawn in
 * pull_helper.c, berthd's side.
 *
 * It confines itself first (pull_confine.h).
 *
 * Exit status: 0 with {"name", "digest", "id"} on stdout; 1 with
 * {"error": "..."} on stdout (the pull or unpack failed); 2 for a usage
 * error (text on stderr: berthd always calls it right).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/pull_confine.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/file.h"

/* Credentials are a few KiB at most (a bearer token); anything past this is
 * not from berthd. */
#define MAX_STDIN (1024 * 1024)

struct creds
{
  char *buf; /* stdin as read, wiped at the end */
  size_t len;
  json_t *doc;
};

static void
creds_clear (struct creds *c)
{
  if (c->buf)
    explicit_bzero (c->buf, c->len);
  free (c->buf);
  /* jansson's copies of the strings are freed unwiped: this process ends
     right after. */
  json_decref (c->doc);
}

/* stdin: empty (anonymous), or {"username", "password", "registry_token"},
 * each optional. */
static int
read_creds (struct creds *c, struct berth_pull_opts *o, berth_err *err)
{
  static const char *const keys[] = { "username", "password", "registry_token" };
  json_error_t je;
  const char *key;
  json_t *v;

  c->buf = berth_read_fd (0, MAX_STDIN, &c->len, "stdin", err);
  if (c->buf == NULL)
    return -1;
  if (c->len == 0)
    return 0;
  c->doc = json_loadb (c->buf, c->len, JSON_REJECT_DUPLICATES, &je);
  if (c->doc == NULL || !json_is_object (c->doc))
    return berth_fail (err, 0, "stdin: expected a JSON object of credentials");
  json_object_foreach (c->doc, key, v)
  {
    size_t i;
    for (i = 0; i < sizeof (keys) / sizeof (keys[0]) && strcmp (key, keys[i]) != 0; i++)
      ;
    if (i == sizeof (keys) / sizeof (keys[0]))
      return berth_fail (err, 0, "stdin: %s: unknown key", key);
    if (!json_is_string (v))
      return berth_fail (err, 0, "stdin: %s: expected string", key);
  }
  o->username = json_string_value (json_object_get (c->doc, "username"));
  o->password = json_string_value (json_object_get (c->doc, "password"));
  o->registry_token = json_string_value (json_object_get (c->doc, "registry_token"));
  return 0;
}

/* The answer for berthd: the image's stored name, manifest digest and id. */
static json_t *
answer (struct berth_store *s, const struct berth_image_ref *img, berth_err *err)
{
  json_t *doc = berth_image_inspect (s, img->digest, err), *out;

  if (doc == NULL)
    return NULL;
  out = json_pack ("{s:s, s:s, s:s?}", "name", img->name, "digest", img->digest, "id",
                   json_string_value (json_object_get (doc, "Id")));
  json_decref (doc);
  return out;
}

static int
usage (const char *why)
{
  fprintf (stderr,
           "berthd-pull: %s\n"
           "usage: berthd-pull --root DIR [--registries-conf FILE] [--mirror URL] IMAGE\n"
           "       berthd-pull --root DIR --unpack IMAGE\n"
           "berthd runs this for PullImage; credentials come as JSON on stdin.\n",
           why);
  return 2;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "registries-conf", required_argument, NULL, 'c' },
    { "mirror", required_argument, NULL, 'm' },
    { "unpack", no_argument, NULL, 'u' },
    { NULL, 0, NULL, 0 },
  };
  struct berth_pull_opts o = { 0 };
  struct berth_image_ref img = { 0 };
  struct creds creds = { 0 };
  struct berth_store *s = NULL;
  const char *root = NULL;
  bool unpack_only = false;
  berth_err err = NULL;
  json_t *out = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        root = optarg;
        break;
      case 'c':
        o.registries_conf = optarg;
        break;
      case 'm':
        o.endpoint = optarg;
        break;
      case 'u':
        unpack_only = true;
        break;
      default:
        return usage ("unknown option");
      }
  if (root == NULL)
    return usage ("--root: required");
  if (argc - optind != 1)
    return usage ("expected one IMAGE");

  if (pull_confine (&err) == 0 && berth_store_open (root, &s, &err) == 0)
    {
      if (unpack_only)
        {
          if (berth_image_lookup (s, argv[optind], &img, &err) == 0 && berth_image_unpack (s, &img, &err) == 0)
            out = answer (s, &img, &err);
        }
      else if (read_creds (&creds, &o, &err) == 0 && berth_pull (s, argv[optind], &o, &img, &err) == 0)
        out = answer (s, &img, &err);
    }
  creds_clear (&creds);
  if (out == NULL)
    out = json_pack ("{s:s}", "error", err ? err->msg : "unknown error");
  if (json_dumpf (out, stdout, JSON_COMPACT) < 0 || fflush (stdout) != 0)
    return 3; /* berthd is gone */
  json_decref (out);
  berth_image_ref_clear (&img);
  berth_store_close (s);
  c = err ? 1 : 0;
  berth_err_free (&err);
  return c;
}
