/* Shared between the cni_*.c files; not part of the API (net.h). */
#ifndef BERTH_NET_CNI_INTERNAL_H
#define BERTH_NET_CNI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "net/net.h"

#define CNI_DEFAULT_CONF_DIR "/etc/cni/net.d"
#define CNI_DEFAULT_BIN_DIRS "/usr/lib/cni:/opt/cni/bin"
#define CNI_DEFAULT_CACHE_DIR "/var/lib/berth/cni"
#define CNI_DEFAULT_TIMEOUT_MS 60000

/* One plugin call: the CNI_* environment of the spec. */
struct cni_call
{
  const char *command; /* ADD, DEL, CHECK, VERSION */
  const char *container_id;
  const char *netns; /* "" allowed for DEL */
  const char *ifname;
  const char *args;     /* CNI_ARGS */
  const char *bin_dirs; /* CNI_PATH, and where the plugin is looked for */
  int timeout_ms;
};

/* Runs plugin `type` with `call` and `input` on stdin.  On exit status 0,
   *result is the JSON it printed (NULL when it printed nothing).  Otherwise
   the error carries the plugin's {code, msg, details}, or its stderr.
   Messages start with: plugin "<type>" <COMMAND>: */
int cni_exec_plugin (const char *type, const struct cni_call *call, const char *input, size_t input_len,
                     json_t **result, berth_err *err);

/* True for the result/config versions berth speaks: 0.3.0 to 1.0.0. */
bool cni_version_supported (const char *v);

/* Compares dotted versions: <0, 0, >0. */
int cni_version_cmp (const char *a, const char *b);

/* The cache of the last ADD (cni_cache.c): a JSON object holding
   "config" (the network list used), "result", "cniArgs" and
   "capabilityArgs".  Keyed by container id and interface name. */
char *cni_cache_path (const char *cache_dir, const char *id, const char *ifname);
int cni_cache_write (const char *cache_dir, const char *id, const char *ifname, json_t *doc, berth_err *err);
/* *doc = NULL and 0 when there is no cache. */
int cni_cache_read (const char *cache_dir, const char *id, const char *ifname, json_t **doc, berth_err *err);
int cni_cache_remove (const char *cache_dir, const char *id, const char *ifname, berth_err *err);

/* Wraps a network object (as cached) in a struct cni_network. */
int cni_network_from_json (json_t *conf, const char *what, struct cni_network **out, berth_err *err);

#endif
