/* A plugin's ADD result, spec 0.3.0 to 1.0.0 (one shape across them):
 *
 *   {"cniVersion": "1.0.0",
 *    "interfaces": [{"name": "eth0", "mac": "..", "sandbox": "/run/.../net"}],
 *    "ips": [{"address": "10.88.0.5/16", "gateway": "10.88.0.1", "interface": 0}],
 *    "routes": [...], "dns": {...}}
 *
 * 0.3.x and 0.4.0 add "version": "4" to each ip; the family is taken from
 * the address itself.  Errors name the field: `result: ips[0].address: ...`.
 */
#include "net/cni_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
dup_opt_string (json_t *obj, const char *key)
{
  const char *s = json_string_value (json_object_get (obj, key));
  return s ? strdup (s) : NULL;
}

/* "10.0.0.5/24" → family, and the address alone in *ip. */
static int
parse_cidr (const char *cidr, char **ip, int *family)
{
  const char *slash = strchr (cidr, '/');
  unsigned char bin[16];
  char *end;
  long prefix;
  char *addr;

  if (slash == NULL)
    return -1;
  prefix = strtol (slash + 1, &end, 10);
  if (*end != '\0' || slash[1] == '\0')
    return -1;
  addr = strndup (cidr, (size_t)(slash - cidr));
  if (inet_pton (AF_INET, addr, bin) == 1 && prefix >= 0 && prefix <= 32)
    *family = 4;
  else if (inet_pton (AF_INET6, addr, bin) == 1 && prefix >= 0 && prefix <= 128)
    *family = 6;
  else
    {
      free (addr);
      return -1;
    }
  *ip = addr;
  return 0;
}

int
cni_result_parse (json_t *doc, const char *what, struct cni_result **out, berth_err *err)
{
  struct cni_result *r;
  json_t *version, *ifaces, *ips, *v;
  size_t i;

  if (!json_is_object (doc))
    return berth_fail (err, 0, "%s: expected a JSON object", what);
  version = json_object_get (doc, "cniVersion");
  if (!json_is_string (version))
    return berth_fail (err, 0, "%s: cniVersion: %s", what, version ? "expected string" : "missing");
  if (!cni_version_supported (json_string_value (version)))
    return berth_fail (err, 0, "%s: cniVersion: \"%s\" is not supported (0.3.0 to 1.0.0)", what,
                       json_string_value (version));
  ifaces = json_object_get (doc, "interfaces");
  if (ifaces != NULL && !json_is_array (ifaces))
    return berth_fail (err, 0, "%s: interfaces: expected array", what);
  ips = json_object_get (doc, "ips");
  if (ips != NULL && !json_is_array (ips))
    return berth_fail (err, 0, "%s: ips: expected array", what);

  r = calloc (1, sizeof (*r));
  r->cni_version = strdup (json_string_value (version));
  r->raw = json_incref (doc);
  r->interfaces = calloc (json_array_size (ifaces) + 1, sizeof (*r->interfaces));
  r->ips = calloc (json_array_size (ips) + 1, sizeof (*r->ips));
  if (r->cni_version == NULL || r->interfaces == NULL || r->ips == NULL)
    abort ();

  json_array_foreach (ifaces, i, v)
  {
    struct cni_interface *it = &r->interfaces[r->n_interfaces];
    if (!json_is_object (v) || !json_is_string (json_object_get (v, "name")))
      {
        berth_fail (err, 0, "%s: interfaces[%zu]: expected an object with a name", what, i);
        goto fail;
      }
    it->name = dup_opt_string (v, "name");
    it->mac = dup_opt_string (v, "mac");
    it->sandbox = dup_opt_string (v, "sandbox");
    if (it->sandbox != NULL && it->sandbox[0] == '\0')
      {
        free (it->sandbox);
        it->sandbox = NULL;
      }
    r->n_interfaces++;
  }
  json_array_foreach (ips, i, v)
  {
    struct cni_ip *ip = &r->ips[r->n_ips];
    json_t *idx;
    const char *addr = json_string_value (json_object_get (v, "address"));
    if (addr == NULL)
      {
        berth_fail (err, 0, "%s: ips[%zu].address: missing or not a string", what, i);
        goto fail;
      }
    if (parse_cidr (addr, &ip->ip, &ip->family) < 0)
      {
        berth_fail (err, 0, "%s: ips[%zu].address: \"%s\" is not an address/prefix", what, i, addr);
        goto fail;
      }
    ip->address = strdup (addr);
    ip->gateway = dup_opt_string (v, "gateway");
    ip->interface = -1;
    idx = json_object_get (v, "interface");
    if (idx != NULL)
      {
        if (!json_is_integer (idx) || json_integer_value (idx) < 0
            || (size_t)json_integer_value (idx) >= r->n_interfaces)
          {
            r->n_ips++; /* so that it is freed */
            berth_fail (err, 0, "%s: ips[%zu].interface: not an index into interfaces", what, i);
            goto fail;
          }
        ip->interface = (int)json_integer_value (idx);
      }
    r->n_ips++;
  }
  *out = r;
  return 0;

fail:
  cni_result_free (r);
  return -1;
}

const char *
cni_result_pod_ip (const struct cni_result *r, const char *ifname, int family)
{
  if (r == NULL)
    return NULL;
  for (size_t i = 0; i < r->n_ips; i++)
    {
      const struct cni_ip *ip = &r->ips[i];
      if (ip->family != family)
        continue;
      if (ip->interface >= 0)
        {
          const struct cni_interface *it = &r->interfaces[ip->interface];
          if (ifname != NULL ? strcmp (it->name, ifname) != 0 : it->sandbox == NULL)
            continue;
        }
      return ip->ip;
    }
  return NULL;
}

void
cni_result_free (struct cni_result *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n_interfaces; i++)
    {
      free (r->interfaces[i].name);
      free (r->interfaces[i].mac);
      free (r->interfaces[i].sandbox);
    }
  for (size_t i = 0; i < r->n_ips; i++)
    {
      free (r->ips[i].address);
      free (r->ips[i].ip);
      free (r->ips[i].gateway);
    }
  free (r->interfaces);
  free (r->ips);
  free (r->cni_version);
  json_decref (r->raw);
  free (r);
}
