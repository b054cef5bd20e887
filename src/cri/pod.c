/* Pod-level pieces: the files a pod's containers share (hostname, hosts,
 * resolv.conf), its cgroup parent, its sysctls, and the spec of the infra
 * process for the pods that need one (a shared pid namespace needs a pid 1
 * that outlives the containers; net, ipc and uts are pinned on disk). */
#include <ctype.h>
#include <signal.h>
#include <string.h>

#include "cri/cri_internal.h"
#include "spec/spec.h"
#include "util/cleanup.h"

/* The kernel's HOST_NAME_MAX. */
#define CRI_HOST_NAME_MAX 64

static int
check_hostname (const char *name, const char *field, berth_err *err)
{
  if (strlen (name) > CRI_HOST_NAME_MAX)
    return berth_fail (err, 0, CRI_POD "%s: \"%s\" is longer than %d bytes", field, name, CRI_HOST_NAME_MAX);
  /* It lands in a file (/etc/hostname, /etc/hosts) and in an environment
     variable: a space or a newline would add lines or fields there. */
  for (const char *p = name; *p; p++)
    if (!isgraph ((unsigned char)*p) || *p == '/')
      return berth_fail (err, 0, CRI_POD "%s: \"%s\" is not a valid host name", field, name);
  return 0;
}

const char *
cri_pod_hostname (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, berth_err *err)
{
  if (pod != NULL && !cri_empty (pod->hostname))
    return check_hostname (pod->hostname, "hostname", err) < 0 ? NULL : pod->hostname;
  /* The CRI allows an empty hostname only with host networking: the
     containers then see the node's name. */
  if (ctx != NULL && !cri_empty (ctx->host_hostname))
    return check_hostname (ctx->host_hostname, "hostname (the host's)", err) < 0 ? NULL : ctx->host_hostname;
  return "";
}

char *
cri_hostname_text (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, berth_err *err)
{
  const char *h = cri_pod_hostname (pod, ctx, err);

  if (h == NULL)
    return NULL;
  return cri_printf ("%s\n", h);
}

char *
cri_hosts_text (const char *hostname, const char *pod_ip)
{
  const char *base = "127.0.0.1\tlocalhost\n"
                     "::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\n"
                     "fe00::0\tip6-mcastprefix\n"
                     "fe00::1\tip6-allnodes\n"
                     "fe00::2\tip6-allrouters\n";

  if (cri_empty (hostname) || cri_empty (pod_ip))
    return cri_strdup (base);
  return cri_printf ("%s%s\t%s\n", base, pod_ip, hostname);
}

/* One resolv.conf word: no blank, no control character (a newline would
 * let a pod spec add a nameserver line). */
static int
check_word (const char *w, const char *field, size_t i, berth_err *err)
{
  if (cri_empty (w))
    return berth_fail (err, 0, CRI_POD "dns_config.%s[%zu]: must not be empty", field, i);
  for (const char *p = w; *p; p++)
    if (!isgraph ((unsigned char)*p))
      return berth_fail (err, 0, CRI_POD "dns_config.%s[%zu]: \"%s\" holds a blank or control character", field, i, w);
  return 0;
}

static int
append_line (char **text, const char *keyword, char **words, size_t n, bool one_per_line, const char *field,
             berth_err *err)
{
  for (size_t i = 0; i < n; i++)
    if (check_word (words[i], field, i, err) < 0)
      return -1;
  for (size_t i = 0; i < n; i++)
    {
      char *t;
      bool start = one_per_line || i == 0;
      bool end = one_per_line || i + 1 == n;

      t = cri_printf ("%s%s %s%s", *text, start ? keyword : "", words[i], end ? "\n" : "");
      free (*text);
      *text = t;
    }
  return 0;
}

int
cri_resolv_conf_text (const Runtime__V1__DNSConfig *dns, char **out, berth_err *err)
{
  cleanup_free char *text = cri_strdup ("");

  *out = NULL;
  if (dns == NULL || (dns->n_servers == 0 && dns->n_searches == 0 && dns->n_options == 0))
    return 0;
  if (append_line (&text, "search", dns->searches, dns->n_searches, false, "searches", err) < 0
      || append_line (&text, "nameserver", dns->servers, dns->n_servers, true, "servers", err) < 0
      || append_line (&text, "options", dns->options, dns->n_options, false, "options", err) < 0)
    return -1;
  *out = steal_pointer (&text);
  return 0;
}

char *
cri_cgroups_path (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, const char *id)
{
  const char *parent = ctx && ctx->cgroup_parent ? ctx->cgroup_parent
                       : pod && pod->linux       ? pod->linux->cgroup_parent
                                                 : NULL;
  size_t len;

  if (cri_empty (parent))
    return NULL;
  if (ctx && ctx->systemd_cgroup)
    {
      /* "kubepods-besteffort-podX.slice" + container: systemd's triple. */
      const char *slash = strrchr (parent, '/');
      return cri_printf ("%s:berth:%s", slash ? slash + 1 : parent, id);
    }
  len = strlen (parent);
  while (len > 1 && parent[len - 1] == '/')
    len--;
  return cri_printf ("%.*s/%s", (int)len, parent, id);
}

int
cri_add_pod_sysctls (json_t *spec, const Runtime__V1__PodSandboxConfig *pod, unsigned shared, berth_err *err)
{
  json_t *sysctl = NULL;

  if (pod == NULL || pod->linux == NULL)
    return 0;
  for (size_t i = 0; i < pod->linux->n_sysctls; i++)
    {
      const char *key = pod->linux->sysctls[i]->key, *value = pod->linux->sysctls[i]->value;
      int ns;

      if (cri_empty (key))
        return berth_fail (err, 0, CRI_POD "linux.sysctls: empty key");
      ns = berth_sysctl_namespace (key);
      if (ns < 0)
        return berth_fail (err, 0, CRI_POD "linux.sysctls[\"%s\"]: not a namespaced sysctl", key);
      if (!(shared & (1u << ns)))
        continue;
      if (sysctl == NULL)
        sysctl = cri_obj (cri_obj (spec, "linux"), "sysctl");
      json_object_set_new (sysctl, key, json_string (CRI_S (value)));
    }
  return 0;
}

int
cri_log_path (const Runtime__V1__ContainerConfig *c, const Runtime__V1__PodSandboxConfig *pod, char **out,
              berth_err *err)
{
  const char *dir = pod ? pod->log_directory : NULL, *rel = c ? c->log_path : NULL;
  size_t len;

  *out = NULL;
  if (cri_empty (dir) || cri_empty (rel))
    return 0;
  /* The monitor opens this path as root: it must stay in the log dir. */
  if (rel[0] == '/')
    return berth_fail (err, 0, CRI_CFG "log_path: \"%s\" must be relative to the pod's log_directory", rel);
  for (const char *p = rel; *p;)
    {
      size_t n = strcspn (p, "/");
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return berth_fail (err, 0, CRI_CFG "log_path: \"%s\" leaves the pod's log_directory", rel);
      p += n;
      p += *p == '/';
    }
  len = strlen (dir);
  while (len > 1 && dir[len - 1] == '/')
    len--;
  *out = cri_printf ("%.*s/%s", (int)len, dir, rel);
  return 0;
}

/* "SIGNAL_SIGRTMINPLUS3" -> "RTMIN+3", "SIGNAL_SIGTERM" -> "SIGTERM". */
static int
signal_from_enum (Runtime__V1__Signal s)
{
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (&runtime__v1__signal__descriptor, s);
  const char *name, *p;
  char buf[32];

  if (v == NULL || strncmp (v->name, "SIGNAL_", 7) != 0)
    return -1;
  name = v->name + 7;
  if ((p = strstr (name, "PLUS")) != NULL || (p = strstr (name, "MINUS")) != NULL)
    {
      snprintf (buf, sizeof (buf), "%.*s%c%s", (int)(p - name), name, *p == 'P' ? '+' : '-', p + (*p == 'P' ? 4 : 5));
      name = buf;
    }
  return berth_signal_from_name (name);
}

int
cri_stop_signal (const Runtime__V1__ContainerConfig *c, const struct berth_image_config *image, berth_err *err)
{
  int sig;

  if (c != NULL && c->stop_signal != RUNTIME__V1__SIGNAL__SIGNAL_RUNTIME_DEFAULT)
    {
      sig = signal_from_enum (c->stop_signal);
      if (sig < 0)
        return berth_fail (err, 0, CRI_CFG "stop_signal: unknown value %d", (int)c->stop_signal);
      return sig;
    }
  if (image != NULL && !cri_empty (image->stop_signal))
    {
      sig = berth_signal_from_name (image->stop_signal);
      if (sig < 0)
        return berth_fail (err, 0, "image config: StopSignal: unknown signal \"%s\"", image->stop_signal);
      return sig;
    }
  return SIGTERM;
}
