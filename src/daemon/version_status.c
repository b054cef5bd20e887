/* RuntimeService Version and Status. */
#include "daemon/daemon.h"
#include "daemon/stream.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"

static int
handle_version (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  Runtime__V1__VersionResponse *r = malloc (sizeof (*r));

  runtime__v1__version_response__init (r);
  /* "version" is the kubelet API version this server speaks: 0.1.0 is
     what every CRI runtime answers. */
  r->version = xstrdup ("0.1.0");
  r->runtime_name = xstrdup ("berth");
  r->runtime_version = xstrdup (BERTH_VERSION);
  r->runtime_api_version = xstrdup ("v1");
  *resp = &r->base;
  return 0;
}

/* Whether `dir` holds a CNI network config, as libcni looks for them
 * (*.conf, *.conflist, *.json).  Returns the reason it is not ready, or NULL. */
static char *
cni_not_ready (const char *dir)
{
  DIR *dp = opendir (dir);
  struct dirent *de;
  char *why = NULL;
  bool found = false;

  if (dp == NULL)
    {
      if (asprintf (&why, "cni config uninitialized: cannot read %s: %s", dir, strerror (errno)) < 0)
        abort ();
      return why;
    }
  while (!found && (de = readdir (dp)))
    {
      const char *dot = strrchr (de->d_name, '.');
      found = de->d_name[0] != '.' && dot
              && (strcmp (dot, ".conf") == 0 || strcmp (dot, ".conflist") == 0 || strcmp (dot, ".json") == 0);
    }
  closedir (dp);
  if (!found && asprintf (&why, "cni config uninitialized: no network config (*.conf, *.conflist) in %s", dir) < 0)
    abort ();
  return why;
}

static Runtime__V1__RuntimeCondition *
condition (const char *type, bool ok, const char *reason, char *message)
{
  Runtime__V1__RuntimeCondition *c = malloc (sizeof (*c));

  runtime__v1__runtime_condition__init (c);
  c->type = xstrdup (type);
  c->status = ok;
  c->reason = pb_str (reason);
  c->message = message ? message : pb_str (NULL);
  return c;
}

static Runtime__V1__RuntimeHandler *
runtime_handler (const char *name)
{
  Runtime__V1__RuntimeHandler *h = malloc (sizeof (*h));

  runtime__v1__runtime_handler__init (h);
  h->name = pb_str (name);
  h->features = malloc (sizeof (*h->features));
  runtime__v1__runtime_handler_features__init (h->features);
  return h;
}

static char *
config_json (const struct daemon *d)
{
  json_t *regs = json_object ();

  for (size_t i = 0; i < d->config.n_registries; i++)
    json_object_set_new (regs, d->config.registries[i].host,
                         json_pack ("{s:b, s:s?}", "insecure", d->config.registries[i].insecure, "mirror",
                                    d->config.registries[i].mirror));
  json_t *o = json_pack ("{s:s, s:s, s:s, s:{s:s, s:s}, s:s?, s:s, s:s, s:b, s:o, s:s}", "address", d->address, "root",
                         d->root, "state", d->state, "cni", "conf_dir", d->config.cni_conf_dir, "bin_dir",
                         d->config.cni_bin_dir, "sandbox_image", d->config.sandbox_image, "default_runtime",
                         d->config.default_runtime, "cgroup_driver", d->config.cgroup_driver, "restrict_oom_score_adj",
                         d->config.restrict_oom_score_adj, "registries", regs, "pull_helper", d->pull_helper);
  json_object_set_new (o, "stream_server_address", json_string (d->config.stream_server_address));
  if (d->streams)
    {
      /* As bound: the port an address ending in :0 got. */
      char url[128];
      snprintf (url, sizeof (url), "http://%s", stream_server_address (d->streams));
      json_object_set_new (o, "stream_server", json_string (url));
    }
  char *s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return s;
}

static int
handle_status (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__StatusRequest *in = (const Runtime__V1__StatusRequest *)req;
  Runtime__V1__StatusResponse *r = malloc (sizeof (*r));
  char *net = cni_not_ready (d->config.cni_conf_dir);

  runtime__v1__status_response__init (r);
  r->status = malloc (sizeof (*r->status));
  runtime__v1__runtime_status__init (r->status);
  r->status->n_conditions = 2;
  r->status->conditions = malloc (2 * sizeof (*r->status->conditions));
  r->status->conditions[0] = condition ("RuntimeReady", true, NULL, NULL);
  /* The reason is the one the kubelet and containerd use. */
  r->status->conditions[1] = condition ("NetworkReady", net == NULL, net ? "NetworkPluginNotReady" : NULL, net);
  r->n_runtime_handlers = 2;
  r->runtime_handlers = malloc (2 * sizeof (*r->runtime_handlers));
  r->runtime_handlers[0] = runtime_handler (NULL); /* "": the default */
  r->runtime_handlers[1] = runtime_handler (d->config.default_runtime);
  r->features = malloc (sizeof (*r->features));
  runtime__v1__runtime_features__init (r->features);
  if (in->verbose)
    {
      Runtime__V1__StatusResponse__InfoEntry *e = malloc (sizeof (*e));
      runtime__v1__status_response__info_entry__init (e);
      e->key = xstrdup ("config");
      e->value = config_json (d);
      r->n_info = 1;
      r->info = malloc (sizeof (*r->info));
      r->info[0] = e;
    }
  *resp = &r->base;
  return 0;
}

const struct rpc_handler version_status_handlers[] = {
  { "Version", handle_version },
  { "Status", handle_status },
  { NULL, NULL },
};
