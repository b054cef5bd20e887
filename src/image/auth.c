/* Registry authentication (distribution-spec, docker's token flow):
 *
 *   GET /v2/...            -> 401, WWW-Authenticate: Bearer realm="R",service="S",scope="X"
 *   GET R?service=S&scope=X   (basic auth with the user's credentials, if any)
 *                          -> 200 {"token": T} or {"access_token": T}
 *   GET /v2/... with "Authorization: Bearer T"
 *
 * or, for a "Basic" challenge, the credentials themselves.  Credentials
 * come from a docker-style config.json: {"auths": {"host": {"auth":
 * base64("user:pass")}}} (or "username"/"password" fields).
 */
#include "image/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

/* "https://host:5000/v1/" -> "host:5000" */
static char *
auth_key_host (const char *key)
{
  const char *p = strstr (key, "://");

  p = p ? p + 3 : key;
  return strndup (p, strcspn (p, "/"));
}

static char *
base64_decode (const char *in, size_t *outlen)
{
  size_t n = strlen (in);
  unsigned char *out = malloc (n / 4 * 3 + 4);
  int len;

  if (n % 4 != 0 || (len = EVP_DecodeBlock (out, (const unsigned char *)in, (int)n)) < 0)
    {
      free (out);
      return NULL;
    }
  /* EVP_DecodeBlock counts the padding as data. */
  while (n > 0 && in[n - 1] == '=' && len > 0)
    {
      n--;
      len--;
    }
  out[len] = '\0';
  *outlen = (size_t)len;
  return (char *)out;
}

static char *
base64_encode (const char *in)
{
  size_t n = strlen (in);
  unsigned char *out = malloc (4 * ((n + 2) / 3) + 1);

  EVP_EncodeBlock (out, (const unsigned char *)in, (int)n);
  return (char *)out;
}

int
auth_file_lookup (const char *path, const char *host, char **user, char **pass, berth_err *err)
{
  cleanup_close int fd = -1;
  json_t *doc, *auths, *v;
  const char *key;
  int ret = 0;

  *user = *pass = NULL;
  if (path == NULL)
    return 0;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return berth_fail (err, errno, "open auth file `%s`", path);
  doc = berth_json_load_fd (fd, path, err);
  if (doc == NULL)
    return -1;
  auths = json_object_get (doc, "auths");
  json_object_foreach (auths, key, v)
  {
    cleanup_free char *h = auth_key_host (key);
    const char *b64 = json_string_value (json_object_get (v, "auth"));
    if (strcmp (h, host) != 0)
      continue;
    if (b64 && b64[0])
      {
        size_t len;
        char *plain = base64_decode (b64, &len), *colon;
        if (plain == NULL || (colon = memchr (plain, ':', len)) == NULL)
          {
            free (plain);
            ret = berth_fail (err, 0, "auth file `%s`: auths.%s.auth: expected base64 of \"user:password\"", path, key);
            break;
          }
        *colon = '\0';
        *user = strdup (plain);
        *pass = strdup (colon + 1);
        free (plain);
      }
    else if (json_string_value (json_object_get (v, "username")))
      {
        *user = strdup (json_string_value (json_object_get (v, "username")));
        const char *pw = json_string_value (json_object_get (v, "password"));
        *pass = strdup (pw ? pw : "");
      }
    break;
  }
  json_decref (doc);
  return ret;
}

/* Parameters of a challenge: key="value", comma separated; values may hold
 * commas (scope="repository:a:pull,push"). */
static char *
challenge_param (const char *params, const char *key)
{
  const char *p = params;
  size_t klen = strlen (key);

  while (*p)
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *eq = strchr (p, '=');
      if (eq == NULL)
        return NULL;
      bool match = (size_t)(eq - p) == klen && strncasecmp (p, key, klen) == 0;
      const char *v = eq + 1, *end;
      char *val;
      if (*v == '"')
        {
          v++;
          end = strchr (v, '"');
          if (end == NULL)
            return NULL;
          val = strndup (v, (size_t)(end - v));
          end++;
        }
      else
        {
          end = v + strcspn (v, ",");
          val = strndup (v, (size_t)(end - v));
        }
      if (match)
        return val;
      free (val);
      p = end;
    }
  return NULL;
}

static size_t
collect (char *ptr, size_t size, size_t n, void *user)
{
  struct http_response *h = user;
  size_t len = size * n;

  if (h->len + len > h->limit)
    return 0;
  h->body = realloc (h->body, h->len + len + 1);
  memcpy (h->body + h->len, ptr, len);
  h->len += len;
  h->body[h->len] = '\0';
  return len;
}

static int
fetch_token (struct registry *r, const char *params, berth_err *err)
{
  cleanup_free char *realm = challenge_param (params, "realm");
  cleanup_free char *service = challenge_param (params, "service");
  cleanup_free char *scope = challenge_param (params, "scope");
  cleanup_free char *url = NULL;
  struct http_response h = { .limit = 1024 * 1024 };
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL *c;
  CURLcode rc;
  json_t *doc;
  const char *tok;
  int ret = -1;

  if (realm == NULL)
    return berth_fail (err, 0, "registry %s: Bearer challenge without a realm", r->host);
  if (strncmp (realm, "https://", 8) != 0 && strncmp (realm, "http://", 7) != 0)
    return berth_fail (err, 0, "registry %s: token realm \"%s\" is not an http(s) URL", r->host, realm);
  if (scope == NULL && asprintf (&scope, "repository:%s:pull", r->repo) < 0)
    abort ();
  c = curl_easy_init ();
  char *es = curl_easy_escape (c, service ? service : "", 0);
  char *esc = curl_easy_escape (c, scope, 0);
  if (asprintf (&url, "%s%sservice=%s&scope=%s", realm, strchr (realm, '?') ? "&" : "?", es, esc) < 0)
    abort ();
  curl_free (es);
  curl_free (esc);
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, &h);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (r->ca_file)
    curl_easy_setopt (c, CURLOPT_CAINFO, r->ca_file);
  if (r->user)
    {
      curl_easy_setopt (c, CURLOPT_USERNAME, r->user);
      curl_easy_setopt (c, CURLOPT_PASSWORD, r->pass);
    }
  rc = curl_easy_perform (c);
  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &h.status);
  curl_easy_cleanup (c);
  if (rc != CURLE_OK)
    {
      ret = berth_fail (err, 0, "token server %s unreachable: %s", realm, errbuf[0] ? errbuf : curl_easy_strerror (rc));
      goto out;
    }
  if (h.status == 401 || h.status == 403)
    {
      if (r->user)
        ret = berth_fail (err, 0, "authentication refused: token server %s rejected the credentials of \"%s\" for %s",
                          realm, r->user, r->host);
      else
        ret = berth_fail (err, 0, "authentication required: registry %s wants a login and %s has no credentials for it",
                          r->host, r->auth_file ? r->auth_file : "no auth file");
      goto out;
    }
  if (h.status != 200)
    {
      ret = berth_fail (err, 0, "token server %s answered HTTP %ld", realm, h.status);
      goto out;
    }
  doc = json_loadb (h.body ? h.body : "", h.len, 0, NULL);
  tok = json_string_value (json_object_get (doc, "token"));
  if (tok == NULL)
    tok = json_string_value (json_object_get (doc, "access_token"));
  if (tok == NULL || tok[0] == '\0')
    ret = berth_fail (err, 0, "token server %s: answer without a token", realm);
  else
    {
      free (r->authz);
      if (asprintf (&r->authz, "Authorization: Bearer %s", tok) < 0)
        abort ();
      ret = 0;
    }
  json_decref (doc);
out:
  http_response_clear (&h);
  return ret;
}

int
registry_authenticate (struct registry *r, const char *challenge, berth_err *err)
{
  if (challenge == NULL)
    return berth_fail (err, 0, "registry %s answered 401 without a WWW-Authenticate challenge", r->host);
  if (strncasecmp (challenge, "Bearer ", 7) == 0)
    return fetch_token (r, challenge + 7, err);
  if (strncasecmp (challenge, "Basic", 5) == 0)
    {
      cleanup_free char *plain = NULL;
      cleanup_free char *b64 = NULL;
      if (r->user == NULL)
        return berth_fail (err, 0,
                           "authentication required: registry %s wants a login and %s has no credentials for it",
                           r->host, r->auth_file ? r->auth_file : "no auth file");
      if (asprintf (&plain, "%s:%s", r->user, r->pass) < 0)
        abort ();
      b64 = base64_encode (plain);
      free (r->authz);
      if (asprintf (&r->authz, "Authorization: Basic %s", b64) < 0)
        abort ();
      return 0;
    }
  return berth_fail (err, 0, "registry %s: unsupported authentication scheme in \"%s\"", r->host, challenge);
}
