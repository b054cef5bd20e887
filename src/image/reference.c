/* Image references: host[:port]/repo[:tag][@sha256:...].
 *
 * The registry host is always written out: berth has no default registry,
 * so a bare "busybox" is refused rather than sent somewhere the user did
 * not name. */
#include "image/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
reference_clear (struct image_reference *r)
{
  free (r->host);
  free (r->repo);
  free (r->tag);
  free (r->digest);
  memset (r, 0, sizeof (*r));
}

static bool
repo_valid (const char *p)
{
  /* distribution-spec: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+(...)*)* */
  bool prev_alnum = false;

  if (*p == '\0')
    return false;
  for (; *p; p++)
    {
      if (islower ((unsigned char)*p) || isdigit ((unsigned char)*p))
        prev_alnum = true;
      else if (*p == '.' || *p == '_' || *p == '-' || *p == '/')
        {
          if (!prev_alnum && *p != '_' && *p != '-')
            return false;
          if (*p == '/' || *p == '.')
            prev_alnum = false;
        }
      else
        return false;
    }
  return prev_alnum;
}

static bool
tag_valid (const char *t)
{
  size_t n = strlen (t);

  if (n == 0 || n > 128 || !(isalnum ((unsigned char)t[0]) || t[0] == '_'))
    return false;
  for (; *t; t++)
    if (!(isalnum ((unsigned char)*t) || *t == '_' || *t == '.' || *t == '-'))
      return false;
  return true;
}

int
reference_parse (const char *s, struct image_reference *r, berth_err *err)
{
  const char *slash = strchr (s, '/');
  const char *at, *rest, *colon;

  memset (r, 0, sizeof (*r));
  if (slash == NULL || slash == s)
    return berth_fail (err, 0, "image reference \"%s\" names no registry (write HOST[:PORT]/REPOSITORY[:TAG])", s);
  r->host = strndup (s, (size_t)(slash - s));
  /* A first component without '.' or ':' is a repository path in docker's
     syntax; berth does not guess the registry it would go to. */
  if (strchr (r->host, '.') == NULL && strchr (r->host, ':') == NULL && strcmp (r->host, "localhost") != 0)
    {
      berth_fail (err, 0, "image reference \"%s\": \"%s\" is not a registry host (write HOST[:PORT]/REPOSITORY[:TAG])",
                  s, r->host);
      goto fail;
    }
  rest = slash + 1;
  at = strchr (rest, '@');
  if (at)
    {
      r->digest = strdup (at + 1);
      if (digest_check (r->digest, "image reference", err) < 0)
        goto fail;
    }
  else
    at = rest + strlen (rest);
  colon = memrchr (rest, ':', (size_t)(at - rest));
  if (colon)
    {
      r->tag = strndup (colon + 1, (size_t)(at - colon - 1));
      r->repo = strndup (rest, (size_t)(colon - rest));
      if (!tag_valid (r->tag))
        {
          berth_fail (err, 0, "image reference \"%s\": invalid tag \"%s\"", s, r->tag);
          goto fail;
        }
    }
  else
    {
      r->repo = strndup (rest, (size_t)(at - rest));
      if (r->digest == NULL)
        r->tag = strdup ("latest");
    }
  if (!repo_valid (r->repo))
    {
      berth_fail (err, 0, "image reference \"%s\": invalid repository name \"%s\"", s, r->repo);
      goto fail;
    }
  return 0;
fail:
  reference_clear (r);
  return -1;
}

char *
reference_name (const struct image_reference *r)
{
  char *out = NULL;

  if (r->tag)
    {
      if (asprintf (&out, "%s/%s:%s", r->host, r->repo, r->tag) < 0)
        abort ();
    }
  else if (asprintf (&out, "%s/%s@%s", r->host, r->repo, r->digest) < 0)
    abort ();
  return out;
}

bool
host_is_loopback (const char *host)
{
  char name[256];
  const char *end;
  struct in_addr a4;
  struct in6_addr a6;
  size_t n;

  /* Strip the port: "[::1]:5000", "127.0.0.1:5000", "localhost:5000". */
  if (host[0] == '[')
    {
      end = strchr (host, ']');
      if (end == NULL)
        return false;
      host++;
    }
  else
    {
      end = strchr (host, ':');
      if (end == NULL)
        end = host + strlen (host);
    }
  n = (size_t)(end - host);
  if (n >= sizeof (name))
    return false;
  memcpy (name, host, n);
  name[n] = '\0';
  if (strcmp (name, "localhost") == 0)
    return true;
  if (inet_pton (AF_INET, name, &a4) == 1)
    return (ntohl (a4.s_addr) >> 24) == 127;
  if (inet_pton (AF_INET6, name, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK (&a6);
  return false;
}
