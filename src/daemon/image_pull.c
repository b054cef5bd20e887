/* PullImage: the reference (":latest" added when it has no tag), the
 * credentials of the request, and the config's mirror and insecure hosts
 * turned into a run of the pull helper (pull_helper.c), which does
 * berth_pull out of berthd's address space.
 *
 * AuthConfig: username/password, or auth (base64 "user:password", as in a
 * docker config.json), or registry_token (a bearer token sent as is).
 * identity_token (an OAuth2 refresh token) is refused: src/image has no
 * refresh-token flow, and silently pulling anonymously would hide why a
 * private image fails.
 */
#include "daemon/daemon.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "daemon/image_view.h"
#include "util/cleanup.h"

struct creds
{
  char *user, *pass;
};

static void
creds_clear (struct creds *c)
{
  if (c->pass)
    explicit_bzero (c->pass, strlen (c->pass));
  free (c->user);
  free (c->pass);
}

/* base64 "user:password" -> user, password. */
static int
decode_auth (const char *b64, struct creds *c)
{
  size_t n = strlen (b64);
  cleanup_free unsigned char *out = NULL;
  int len;
  char *colon;

  if (n == 0 || n % 4 != 0)
    return -1;
  out = malloc (n / 4 * 3 + 1);
  len = EVP_DecodeBlock (out, (const unsigned char *)b64, (int)n);
  if (len < 0)
    return -1;
  /* EVP_DecodeBlock counts the padding as data. */
  for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
    len--;
  out[len] = '\0';
  if (strlen ((char *)out) != (size_t)len || (colon = strchr ((char *)out, ':')) == NULL)
    {
      explicit_bzero (out, (size_t)len);
      return -1;
    }
  *colon = '\0';
  c->user = xstrdup ((char *)out);
  c->pass = xstrdup (colon + 1);
  explicit_bzero (out, (size_t)len);
  return 0;
}

/* Credentials reach the pull helper as JSON strings, which must be UTF-8
 * (protobuf's string fields are, but a client may not check). */
static bool
utf8_ok (const char *s)
{
  json_t *j;

  if (s == NULL)
    return true;
  j = json_string (s);
  json_decref (j);
  return j != NULL;
}

static int
auth_opts (const Runtime__V1__AuthConfig *a, struct berth_pull_opts *o, struct creds *c, struct rpc_status *st)
{
  if (a == NULL)
    return 0;
  if (a->identity_token && a->identity_token[0])
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                     "auth.identity_token: not supported by berthd (use username/password, auth or registry_token)");
  if (a->username && a->username[0])
    {
      c->user = xstrdup (a->username);
      c->pass = xstrdup (a->password);
    }
  else if (a->auth && a->auth[0])
    {
      if (decode_auth (a->auth, c) < 0)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "auth.auth: expected base64 of \"username:password\"");
    }
  else if (a->password && a->password[0])
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "auth.password: given without auth.username");
  o->username = c->user;
  o->password = c->pass;
  if (a->registry_token && a->registry_token[0])
    o->registry_token = a->registry_token;
  if (!utf8_ok (o->username) || !utf8_ok (o->password))
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "auth.%s: not valid UTF-8",
                     a->username && a->username[0] ? (utf8_ok (o->username) ? "password" : "username") : "auth");
  if (!utf8_ok (o->registry_token))
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "auth.registry_token: not valid UTF-8");
  return 0;
}

/* berth has no default registry: "busybox" names none, and guessing one
 * would send the pull to a host nobody configured. */
static int
check_reference (const char *name, struct rpc_status *st)
{
  const char *slash = strchr (name, '/');
  cleanup_free char *host = NULL;

  if (slash == NULL || slash == name)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                     "image.image: \"%s\" names no registry (write HOST[:PORT]/REPOSITORY[:TAG])", name);
  host = strndup (name, (size_t)(slash - name));
  if (strchr (host, '.') == NULL && strchr (host, ':') == NULL && strcmp (host, "localhost") != 0)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                     "image.image: \"%s\": \"%s\" is not a registry host (write HOST[:PORT]/REPOSITORY[:TAG])", name,
                     host);
  return 0;
}

static grpc_status_code
pull_error_code (const char *msg)
{
  if (strstr (msg, "authentication required") || strstr (msg, "authentication refused"))
    return GRPC_STATUS_UNAUTHENTICATED;
  if (strstr (msg, "HTTP 404") || strstr (msg, "not found") || strstr (msg, "MANIFEST_UNKNOWN")
      || strstr (msg, "NAME_UNKNOWN"))
    return GRPC_STATUS_NOT_FOUND;
  if (strstr (msg, "image reference"))
    return GRPC_STATUS_INVALID_ARGUMENT;
  return GRPC_STATUS_UNKNOWN;
}

static int
handle_pull_image (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__PullImageRequest *in = (const Runtime__V1__PullImageRequest *)req;
  struct berth_pull_opts o = { 0 };
  struct pull_helper_request rq = { 0 };
  struct pull_helper_result res = { 0 };
  struct creds creds = { 0 };
  cleanup_free char *name = NULL, *host = NULL;
  const struct registry_override *ov;
  berth_err err = NULL;
  Runtime__V1__PullImageResponse *r;
  int ret = -1, rc;

  if (in->image == NULL || in->image->image[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "image.image: required");
  if (in->image->runtime_handler[0] && strcmp (in->image->runtime_handler, d->config.default_runtime) != 0)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "image.runtime_handler: unknown runtime handler \"%s\"",
                     in->image->runtime_handler);
  if (check_reference (in->image->image, st) < 0)
    return -1;
  name = image_name_with_tag (in->image->image);
  host = strndup (name, strcspn (name, "/"));
  ov = daemon_config_registry (&d->config, host);
  if (ov && ov->mirror)
    rq.mirror = ov->mirror;
  if (auth_opts (in->auth, &o, &creds, st) < 0)
    goto out;
  rq.image = name;
  rq.username = o.username;
  rq.password = o.password;
  rq.registry_token = o.registry_token;
  /* The download and unpack run in berthd-pull (pull_helper.c). */
  rc = pull_helper_run (d, &rq, &res, &err);
  if (rc < 0)
    {
      berth_wrap (&err, "pull %s%s%s", name, rq.mirror ? " from mirror " : "", rq.mirror ? rq.mirror : "");
      rpc_fail_err (st, rc == PULL_HELPER_FAILED ? GRPC_STATUS_INTERNAL : pull_error_code (err->msg), &err);
      goto out;
    }
  r = malloc (sizeof (*r));
  runtime__v1__pull_image_response__init (r);
  /* image_ref is the image id (config digest): the kubelet compares it with
     Image.id and ContainerStatus.image_id. */
  r->image_ref = xstrdup (res.id);
  *resp = &r->base;
  ret = 0;
out:
  pull_helper_result_clear (&res);
  creds_clear (&creds);
  return ret;
}

const struct rpc_handler image_pull_handlers[] = {
  { "PullImage", handle_pull_image },
  { NULL, NULL },
};
