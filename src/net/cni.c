/* ADD, DEL and CHECK of a network configuration list (CNI spec 0.4.0/1.0.0,
 * "network configuration lists"):
 *
 *   ADD    plugins in order; each gets the previous one's result as
 *          prevResult; the last result is the pod's.  Then cached.
 *   DEL    plugins in reverse; each gets the cached result as prevResult.
 *   CHECK  plugins in order; each gets the cached result as prevResult.
 *
 * Each plugin's stdin is its own object from the list with the list's
 * "name" and "cniVersion" injected, and a "runtimeConfig" holding those
 * capability arguments (portMappings) that the plugin declares in its
 * "capabilities".  A failed ADD is followed by a DEL of the whole chain so
 * that nothing is left half set up (plugins' DEL tolerates what is missing).
 */
#include "net/cni_internal.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

#define CACHE_KIND "berthCniCacheV1"

/* setup with its defaults filled in */
struct cni_ctx
{
  const char *conf_dir, *bin_dirs, *cache_dir;
  int timeout_ms;
  const char *id, *ifname;
};

static void
ctx_init (struct cni_ctx *c, const struct cni_setup *s, const struct cni_pod *pod)
{
  c->conf_dir = s && s->conf_dir ? s->conf_dir : CNI_DEFAULT_CONF_DIR;
  c->bin_dirs = s && s->bin_dirs ? s->bin_dirs : CNI_DEFAULT_BIN_DIRS;
  c->cache_dir = s && s->cache_dir ? s->cache_dir : CNI_DEFAULT_CACHE_DIR;
  c->timeout_ms = s && s->timeout_ms > 0 ? s->timeout_ms : CNI_DEFAULT_TIMEOUT_MS;
  c->id = pod->id;
  c->ifname = pod->ifname ? pod->ifname : "eth0";
}

/* The spec's container id: alphanumerics, '_', '.', '-' (also what keeps the
   cache file name inside the cache dir). */
static bool
valid_id (const char *s)
{
  if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen (s) > 256)
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
          || *p == '-'))
      return false;
  return true;
}

static bool
valid_ifname (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n >= IFNAMSIZ || strcmp (s, ".") == 0 || strcmp (s, "..") == 0)
    return false;
  for (const char *p = s; *p; p++)
    if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
      return false;
  return true;
}

static int
check_pod (const struct cni_ctx *c, const struct cni_pod *pod, berth_err *err)
{
  const char *vals[] = { pod->name, pod->namespace_, pod->uid };
  if (!valid_id (c->id))
    return berth_fail (err, EINVAL, "CNI: pod id \"%s\": only letters, digits, '_', '.', '-'", c->id ? c->id : "");
  if (!valid_ifname (c->ifname))
    return berth_fail (err, EINVAL, "CNI: interface name \"%s\" is invalid", c->ifname);
  /* CNI_ARGS is "K=V;K=V": a value holding ';' or '=' would forge keys. */
  for (size_t i = 0; i < 3; i++)
    if (vals[i] != NULL && strpbrk (vals[i], ";=") != NULL)
      return berth_fail (err, EINVAL, "CNI: pod metadata \"%s\" holds ';' or '='", vals[i]);
  return 0;
}

static char *
build_args (const struct cni_pod *pod)
{
  char *s = NULL;
  if (asprintf (&s, "IgnoreUnknown=1%s%s%s%s;K8S_POD_INFRA_CONTAINER_ID=%s%s%s",
                pod->namespace_ ? ";K8S_POD_NAMESPACE=" : "", pod->namespace_ ? pod->namespace_ : "",
                pod->name ? ";K8S_POD_NAME=" : "", pod->name ? pod->name : "", pod->id, pod->uid ? ";K8S_POD_UID=" : "",
                pod->uid ? pod->uid : "")
      < 0)
    abort ();
  return s;
}

/* {"portMappings": [{"hostPort", "containerPort", "protocol", "hostIP"}]}, the
   capability arguments as the portmap plugin reads them. */
static int
build_capability_args (const struct cni_pod *pod, json_t **out, berth_err *err)
{
  json_t *caps = json_object ();
  json_t *ports = json_array ();

  for (size_t i = 0; i < pod->n_ports; i++)
    {
      const struct cni_port_mapping *m = &pod->ports[i];
      const char *proto = m->protocol && *m->protocol ? m->protocol : "tcp";
      json_t *o;

      if (m->container_port <= 0 || m->container_port > 65535)
        goto bad;
      /* hostPort 0: the container port is not published (as the CRI runtimes do). */
      if (m->host_port == 0)
        continue;
      if (m->host_port < 0 || m->host_port > 65535)
        goto bad;
      if (strcasecmp (proto, "tcp") == 0)
        proto = "tcp";
      else if (strcasecmp (proto, "udp") == 0)
        proto = "udp";
      else if (strcasecmp (proto, "sctp") == 0)
        proto = "sctp";
      else
        {
          json_decref (ports);
          json_decref (caps);
          return berth_fail (err, EINVAL, "CNI: port_mappings[%zu].protocol: \"%s\" is not tcp, udp or sctp", i, proto);
        }
      o = json_pack ("{s:i, s:i, s:s}", "hostPort", m->host_port, "containerPort", m->container_port, "protocol",
                     proto);
      if (m->host_ip && *m->host_ip)
        json_object_set_new (o, "hostIP", json_string (m->host_ip));
      json_array_append_new (ports, o);
      continue;
    bad:
      json_decref (ports);
      json_decref (caps);
      return berth_fail (err, EINVAL, "CNI: port_mappings[%zu]: port out of range", i);
    }
  if (json_array_size (ports) > 0)
    json_object_set_new (caps, "portMappings", ports);
  else
    json_decref (ports);
  *out = caps;
  return 0;
}

/* One plugin's stdin. */
static char *
plugin_input (const struct cni_network *net, json_t *plugin, json_t *prev, json_t *cap_args, size_t *len)
{
  json_t *in = json_deep_copy (plugin);
  json_t *caps = json_object_get (plugin, "capabilities");
  json_t *rc = json_object ();
  const char *key;
  json_t *val;
  char *text;

  json_object_set_new (in, "name", json_string (net->name));
  json_object_set_new (in, "cniVersion", json_string (net->cni_version));
  json_object_del (in, "prevResult");
  if (prev != NULL)
    json_object_set (in, "prevResult", prev);
  json_object_foreach (caps, key, val)
  {
    json_t *arg = json_object_get (cap_args, key);
    if (json_is_true (val) && arg != NULL)
      json_object_set (rc, key, arg);
  }
  if (json_object_size (rc) > 0)
    json_object_set_new (in, "runtimeConfig", rc);
  else
    json_decref (rc);
  text = json_dumps (in, JSON_COMPACT);
  json_decref (in);
  if (text == NULL)
    abort ();
  *len = strlen (text);
  return text;
}

static int
call_plugin (const struct cni_ctx *c, const struct cni_network *net, size_t idx, const char *command, const char *netns,
             const char *args, json_t *prev, json_t *cap_args, json_t **result, berth_err *err)
{
  json_t *plugin = json_array_get (json_object_get (net->conf, "plugins"), idx);
  const char *type = json_string_value (json_object_get (plugin, "type"));
  struct cni_call call = {
    .command = command,
    .container_id = c->id,
    .netns = netns,
    .ifname = c->ifname,
    .args = args,
    .bin_dirs = c->bin_dirs,
    .timeout_ms = c->timeout_ms,
  };
  cleanup_free char *input = NULL;
  json_t *res = NULL;
  size_t len;

  input = plugin_input (net, plugin, prev, cap_args, &len);
  if (cni_exec_plugin (type, &call, input, len, &res, err) < 0)
    return berth_wrap (err, "CNI network \"%s\"", net->name);
  if (result != NULL)
    *result = res;
  else
    json_decref (res);
  return 0;
}

/* DEL of every plugin, last first.  Goes on past a failure (each DEL cleans
   its own part) and returns the first error. */
static int
del_chain (const struct cni_ctx *c, const struct cni_network *net, const char *netns, const char *args, json_t *prev,
           json_t *cap_args, berth_err *err)
{
  size_t n = json_array_size (json_object_get (net->conf, "plugins"));
  /* prevResult in DEL arrived with spec 0.4.0. */
  json_t *p = cni_version_cmp (net->cni_version, "0.4.0") >= 0 ? prev : NULL;
  int ret = 0;

  while (n-- > 0)
    if (call_plugin (c, net, n, "DEL", netns, args, p, cap_args, NULL, err) < 0)
      ret = -1;
  return ret;
}

int
cni_add (const struct cni_setup *setup, const struct cni_pod *pod, struct cni_result **out, berth_err *err)
{
  struct cni_network *net = NULL;
  cleanup_free char *args = NULL;
  json_t *caps = NULL, *prev = NULL, *cache = NULL;
  struct cni_result *result = NULL;
  struct cni_ctx c;
  size_t n;
  int ret = -1;

  ctx_init (&c, setup, pod);
  if (check_pod (&c, pod, err) < 0)
    return -1;
  if (!net_ns_path_is_pinned (pod->netns))
    return berth_fail (err, ENOENT, "CNI ADD: `%s` is not a network namespace", pod->netns ? pod->netns : "");
  if (build_capability_args (pod, &caps, err) < 0)
    return -1;
  if (cni_network_load_dir (c.conf_dir, &net, err) < 0)
    goto out;
  args = build_args (pod);

  n = json_array_size (json_object_get (net->conf, "plugins"));
  for (size_t i = 0; i < n; i++)
    {
      json_t *res = NULL;
      if (call_plugin (&c, net, i, "ADD", pod->netns, args, prev, caps, &res, err) < 0)
        goto undo;
      if (res == NULL)
        {
          const char *type = json_string_value (
              json_object_get (json_array_get (json_object_get (net->conf, "plugins"), i), "type"));
          berth_fail (err, 0, "CNI network \"%s\": plugin \"%s\" ADD: printed no result", net->name, type);
          goto undo;
        }
      json_decref (prev);
      prev = res;
    }
  if (cni_result_parse (prev, "CNI ADD result", &result, err) < 0)
    {
      berth_wrap (err, "CNI network \"%s\"", net->name);
      goto undo;
    }
  cache = json_pack ("{s:s, s:s, s:s, s:s, s:O, s:s, s:O, s:O}", "kind", CACHE_KIND, "containerId", c.id, "ifName",
                     c.ifname, "networkName", net->name, "config", net->conf, "cniArgs", args, "capabilityArgs", caps,
                     "result", prev);
  if (cache == NULL)
    abort ();
  if (cni_cache_write (c.cache_dir, c.id, c.ifname, cache, err) < 0)
    goto undo;
  *out = steal_pointer (&result);
  ret = 0;
  goto out;

undo:
  del_chain (&c, net, pod->netns, args, prev, caps, NULL);
out:
  cni_result_free (result);
  cni_network_free (net);
  json_decref (cache);
  json_decref (prev);
  json_decref (caps);
  return ret;
}

/* The network, args and capability args to tear down with: from the cache
   when ADD left one, else the current configuration.  *net = NULL when there
   is neither. */
static int
load_for_teardown (const struct cni_ctx *c, const struct cni_pod *pod, json_t **cache, struct cni_network **net,
                   char **args, json_t **caps, berth_err *err)
{
  *net = NULL;
  if (cni_cache_read (c->cache_dir, c->id, c->ifname, cache, err) < 0)
    return -1;
  if (*cache != NULL)
    {
      const char *a = json_string_value (json_object_get (*cache, "cniArgs"));
      if (cni_network_from_json (json_object_get (*cache, "config"), "CNI cache: config", net, err) < 0)
        return -1;
      *args = a ? strdup (a) : build_args (pod);
      *caps = json_incref (json_object_get (*cache, "capabilityArgs"));
      return 0;
    }
  if (cni_network_load_dir (c->conf_dir, net, NULL) < 0)
    return 0; /* no ADD was recorded and none can be undone */
  *args = build_args (pod);
  return build_capability_args (pod, caps, err);
}

int
cni_del (const struct cni_setup *setup, const struct cni_pod *pod, berth_err *err)
{
  struct cni_network *net = NULL;
  cleanup_free char *args = NULL;
  json_t *cache = NULL, *caps = NULL;
  const char *netns;
  struct cni_ctx c;
  int ret = -1;

  ctx_init (&c, setup, pod);
  if (check_pod (&c, pod, err) < 0)
    return -1;
  if (load_for_teardown (&c, pod, &cache, &net, &args, &caps, err) < 0)
    goto out;
  ret = 0;
  if (net == NULL)
    goto out;
  /* Gone after a reboot or an earlier unpin: plugins then release what
     lives outside the netns (IPAM, iptables) and skip the rest. */
  netns = net_ns_path_is_pinned (pod->netns) ? pod->netns : "";
  ret = del_chain (&c, net, netns, args, json_object_get (cache, "result"), caps, err);
  if (ret == 0)
    ret = cni_cache_remove (c.cache_dir, c.id, c.ifname, err);
out:
  cni_network_free (net);
  json_decref (cache);
  json_decref (caps);
  return ret;
}

int
cni_check (const struct cni_setup *setup, const struct cni_pod *pod, berth_err *err)
{
  struct cni_network *net = NULL;
  json_t *cache = NULL;
  struct cni_ctx c;
  size_t n;
  int ret = -1;

  ctx_init (&c, setup, pod);
  if (check_pod (&c, pod, err) < 0)
    return -1;
  if (cni_cache_read (c.cache_dir, c.id, c.ifname, &cache, err) < 0)
    return -1;
  if (cache == NULL)
    return berth_fail (err, ENOENT, "CNI CHECK: pod %s has no network set up (no ADD result cached)", c.id);
  if (cni_network_from_json (json_object_get (cache, "config"), "CNI cache: config", &net, err) < 0)
    goto out;
  ret = 0;
  /* CHECK arrived with spec 0.4.0; a list may opt out. */
  if (cni_version_cmp (net->cni_version, "0.4.0") < 0 || net->disable_check)
    goto out;
  if (!net_ns_path_is_pinned (pod->netns))
    {
      ret = berth_fail (err, ENOENT, "CNI CHECK: `%s` is not a network namespace", pod->netns ? pod->netns : "");
      goto out;
    }
  n = json_array_size (json_object_get (net->conf, "plugins"));
  for (size_t i = 0; i < n && ret == 0; i++)
    ret = call_plugin (&c, net, i, "CHECK", pod->netns, json_string_value (json_object_get (cache, "cniArgs")),
                       json_object_get (cache, "result"), json_object_get (cache, "capabilityArgs"), NULL, err);
out:
  cni_network_free (net);
  json_decref (cache);
  return ret;
}

int
cni_cached_result (const struct cni_setup *setup, const struct cni_pod *pod, struct cni_result **out, berth_err *err)
{
  json_t *cache = NULL;
  struct cni_ctx c;
  int ret;

  *out = NULL;
  ctx_init (&c, setup, pod);
  if (check_pod (&c, pod, err) < 0)
    return -1;
  if (cni_cache_read (c.cache_dir, c.id, c.ifname, &cache, err) < 0)
    return -1;
  if (cache == NULL)
    return 0;
  ret = cni_result_parse (json_object_get (cache, "result"), "CNI cache: result", out, err);
  json_decref (cache);
  return ret;
}
