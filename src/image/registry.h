/* The OCI distribution API client (registry.c) and its authentication
 * (auth.c).  Internal to src/image/. */
#ifndef BERTH_IMAGE_REGISTRY_H
#define BERTH_IMAGE_REGISTRY_H

#include <curl/curl.h>

#include "image/internal.h"

struct registry
{
  char *host; /* as in the reference: "127.0.0.1:5000" */
  char *base; /* "http://127.0.0.1:5000/v2/" */
  char *repo;
  char *user, *pass; /* from the auth file, or NULL */
  const char *auth_file;
  const char *ca_file;
  char *authz; /* "Authorization: ..." once authenticated */
  bool tried_auth;
};

/* Picks http or https (loopback and insecure registries get http) and
 * finds credentials for the host. */
int registry_init (struct registry *r, const struct image_reference *ref, const struct berth_pull_opts *o,
                   berth_err *err);
void registry_clear (struct registry *r);

struct http_response
{
  long status;
  char *body;
  size_t len, limit;
  char *content_type;
  char *docker_digest; /* Docker-Content-Digest */
  char *www_authenticate;
};
void http_response_clear (struct http_response *h);

/* GET base + path with the Accept header, authenticating on a 401 once.
 * Transport failures name the registry and URL; HTTP errors are left to
 * the caller (status in resp). */
int registry_get (struct registry *r, const char *path, const char *accept, size_t limit, struct http_response *resp,
                  berth_err *err);

/* Common options for a request to the registry: URL, auth header, TLS, and
 * timeouts.  `headers` receives the list to free after the transfer. */
void registry_setup (struct registry *r, CURL *c, const char *url, struct curl_slist **headers);

/* Reads the "Bearer"/"Basic" challenge and sets r->authz (auth.c). */
int registry_authenticate (struct registry *r, const char *challenge, berth_err *err);
/* Credentials for `host` from a docker-style config.json (auth.c). */
int auth_file_lookup (const char *path, const char *host, char **user, char **pass, berth_err *err);
/* Explains a transport failure: "registry H unreachable at URL: why". */
int registry_transport_error (struct registry *r, const char *url, CURLcode rc, const char *errbuf, berth_err *err);

#endif
