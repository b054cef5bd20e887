/* The OCI distribution API over libcurl: GET /v2/<repo>/manifests/<ref>
 * and /v2/<repo>/blobs/<digest> (distribution-spec "pull").
 *
 * Plain HTTP only for registries on loopback addresses (as docker does)
 * and for those listed in the registries config file
 * ({"insecure-registries": ["host:port"]}); HTTPS with certificate checks
 * otherwise. */
#include "image/registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

static int
host_is_insecure (const char *conf, const char *host, berth_err *err)
{
  cleanup_close int fd = -1;
  json_t *doc, *list, *v;
  size_t i;
  bool found = false;

  if (conf == NULL)
    return 0;
  fd = open (conf, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return berth_fail (err, errno, "open registries config `%s`", conf);
  doc = berth_json_load_fd (fd, conf, err);
  if (doc == NULL)
    return -1;
  list = json_object_get (doc, "insecure-registries");
  if (list && !json_is_array (list))
    {
      json_decref (doc);
      return berth_fail (err, 0, "registries config `%s`: insecure-registries: expected array of strings", conf);
    }
  json_array_foreach (list, i, v) if (json_is_string (v) && strcmp (json_string_value (v), host) == 0) found = true;
  json_decref (doc);
  return found ? 1 : 0;
}

int
registry_init (struct registry *r, const struct image_reference *ref, const struct berth_pull_opts *o, berth_err *err)
{
  int insecure;

  memset (r, 0, sizeof (*r));
  insecure = host_is_insecure (o->registries_conf, ref->host, err);
  if (insecure < 0)
    return -1;
  r->host = strdup (ref->host);
  r->repo = strdup (ref->repo);
  r->auth_file = o->auth_file;
  r->ca_file = o->ca_file;
  if (o->endpoint)
    {
      /* A mirror: its URL says http or https itself. */
      size_t n = strlen (o->endpoint);
      while (n > 0 && o->endpoint[n - 1] == '/')
        n--;
      if (asprintf (&r->base, "%.*s/v2/", (int)n, o->endpoint) < 0)
        abort ();
    }
  else
    {
      const char *scheme = insecure || host_is_loopback (ref->host) ? "http" : "https";
      if (asprintf (&r->base, "%s://%s/v2/", scheme, ref->host) < 0)
        abort ();
    }
  if (o->username)
    {
      r->user = strdup (o->username);
      r->pass = strdup (o->password ? o->password : "");
    }
  else if (auth_file_lookup (o->auth_file, ref->host, &r->user, &r->pass, err) < 0)
    {
      registry_clear (r);
      return -1;
    }
  if (o->registry_token && asprintf (&r->authz, "Authorization: Bearer %s", o->registry_token) < 0)
    abort ();
  return 0;
}

void
registry_clear (struct registry *r)
{
  free (r->host);
  free (r->base);
  free (r->repo);
  free (r->user);
  if (r->pass)
    explicit_bzero (r->pass, strlen (r->pass));
  free (r->pass);
  if (r->authz)
    explicit_bzero (r->authz, strlen (r->authz));
  free (r->authz);
  memset (r, 0, sizeof (*r));
}

void
http_response_clear (struct http_response *h)
{
  free (h->body);
  free (h->content_type);
  free (h->docker_digest);
  free (h->www_authenticate);
  memset (h, 0, sizeof (*h));
}

void
registry_setup (struct registry *r, CURL *c, const char *url, struct curl_slist **headers)
{
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled registry fails after a minute without a byte. */
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt (c, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
  if (r->ca_file)
    curl_easy_setopt (c, CURLOPT_CAINFO, r->ca_file);
  /* curl drops custom Authorization headers on redirects to another host
     (blob storage), as it must. */
  if (r->authz)
    *headers = curl_slist_append (*headers, r->authz);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, *headers);
}

static char *
header_value (const char *line, size_t len, const char *name)
{
  size_t n = strlen (name);

  if (len <= n + 1 || strncasecmp (line, name, n) != 0 || line[n] != ':')
    return NULL;
  const char *v = line + n + 1, *end = line + len;
  while (v < end && isspace ((unsigned char)*v))
    v++;
  while (end > v && isspace ((unsigned char)end[-1]))
    end--;
  return strndup (v, (size_t)(end - v));
}

static size_t
on_header (char *line, size_t size, size_t n, void *user)
{
  struct http_response *h = user;
  size_t len = size * n;
  char *v;

  /* A new response (after a redirect) replaces what the last one said. */
  if (len > 5 && strncmp (line, "HTTP/", 5) == 0)
    {
      free (h->content_type);
      free (h->docker_digest);
      free (h->www_authenticate);
      h->content_type = h->docker_digest = h->www_authenticate = NULL;
    }
  else if ((v = header_value (line, len, "Content-Type")))
    {
      free (h->content_type);
      /* "application/json; charset=utf-8" -> "application/json" */
      v[strcspn (v, "; ")] = '\0';
      h->content_type = v;
    }
  else if ((v = header_value (line, len, "Docker-Content-Digest")))
    {
      free (h->docker_digest);
      h->docker_digest = v;
    }
  else if ((v = header_value (line, len, "WWW-Authenticate")))
    {
      free (h->www_authenticate);
      h->www_authenticate = v;
    }
  return len;
}

static size_t
on_body (char *ptr, size_t size, size_t n, void *user)
{
  struct http_response *h = user;
  size_t len = size * n;

  if (h->len + len > h->limit)
    return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
  h->body = realloc (h->body, h->len + len + 1);
  memcpy (h->body + h->len, ptr, len);
  h->len += len;
  h->body[h->len] = '\0';
  return len;
}

int
registry_transport_error (struct registry *r, const char *url, CURLcode rc, const char *errbuf, berth_err *err)
{
  const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror (rc);

  switch (rc)
    {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
      return berth_fail (err, 0, "registry %s unreachable at %s: %s", r->host, url, why);
    case CURLE_PEER_FAILED_VERIFICATION:
      return berth_fail (err, 0, "registry %s: certificate not trusted at %s: %s (give its CA with --ca-file)",
                         r->host, url, why);
    case CURLE_SSL_CONNECT_ERROR:
      return berth_fail (err, 0,
                         "registry %s: TLS failed at %s: %s (list it in insecure-registries only if it "
                         "speaks plain HTTP)",
                         r->host, url, why);
    default:
      return berth_fail (err, 0, "registry %s: GET %s: %s", r->host, url, why);
    }
}

int
registry_get (struct registry *r, const char *path, const char *accept, size_t limit, struct http_response *resp,
              berth_err *err)
{
  cleanup_free char *url = NULL;
  cleanup_free char *accept_h = NULL;

  memset (resp, 0, sizeof (*resp));
  if (asprintf (&url, "%s%s", r->base, path) < 0 || asprintf (&accept_h, "Accept: %s", accept) < 0)
    abort ();
  for (int attempt = 0; attempt < 2; attempt++)
    {
      CURL *c = curl_easy_init ();
      struct curl_slist *headers = curl_slist_append (NULL, accept_h);
      char errbuf[CURL_ERROR_SIZE] = "";
      CURLcode rc;

      http_response_clear (resp);
      resp->limit = limit;
      registry_setup (r, c, url, &headers);
      curl_easy_setopt (c, CURLOPT_ERRORBUFFER, errbuf);
      curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
      curl_easy_setopt (c, CURLOPT_HEADERDATA, resp);
      curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt (c, CURLOPT_WRITEDATA, resp);
      rc = curl_easy_perform (c);
      curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &resp->status);
      curl_easy_cleanup (c);
      curl_slist_free_all (headers);
      if (rc == CURLE_WRITE_ERROR && resp->len + 1 > limit)
        return berth_fail (err, 0, "registry %s: GET %s: answer larger than %zu bytes", r->host, url, limit);
      if (rc != CURLE_OK)
        return registry_transport_error (r, url, rc, errbuf, err);
      if (resp->status != 401)
        return 0;
      if (r->tried_auth)
        {
          if (r->user)
            return berth_fail (err, 0, "authentication refused: registry %s rejected the credentials of \"%s\"",
                               r->host, r->user);
          return berth_fail (err, 0,
                             "authentication required: registry %s wants a login and %s has no credentials "
                             "for it",
                             r->host, r->auth_file ? r->auth_file : "no auth file");
        }
      r->tried_auth = true;
      if (registry_authenticate (r, resp->www_authenticate, err) < 0)
        return -1;
    }
  return 0;
}
