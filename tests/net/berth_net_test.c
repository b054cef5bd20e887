/* berth-net-test: a thin CLI over berth-net (src/net/net.h) for tests/net.
 * Not installed.  Prints JSON on stdout; on error prints the library's
 * message on stderr and exits 1.
 *
 *   pin DIR TYPES [HOSTNAME]        TYPES: comma list of net,ipc,uts
 *   unpin DIR
 *   lookup DIR
 *   pause DIR                       start a pause joining DIR's pinned ns
 *   stop-pause PID START [MS]
 *   alive PID START
 *   load CONF_DIR
 *   add|del|check CONF_DIR CACHE_DIR ID NETNS [options]
 *       --bin DIRS  --ifname IF  --timeout MS  --pod NAME NAMESPACE UID
 *       --port HOSTPORT:CONTAINERPORT[:PROTO[:HOSTIP]]   (repeatable)
 *   cached CACHE_DIR ID
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static int
fail (berth_err *err)
{
  fprintf (stderr, "berth-net-test: %s\n", (*err)->msg);
  berth_err_free (err);
  return 1;
}

static int
usage (void)
{
  fprintf (stderr, "berth-net-test: bad usage (see the top of tests/net/berth_net_test.c)\n");
  return 2;
}

static void
print_json (json_t *j)
{
  char *s = json_dumps (j, JSON_COMPACT);
  puts (s);
  free (s);
  json_decref (j);
}

static json_t *
ns_json (const struct pinned_ns *ns)
{
  json_t *o = json_object ();
  if (ns->net_path)
    json_object_set_new (o, "net", json_string (ns->net_path));
  if (ns->ipc_path)
    json_object_set_new (o, "ipc", json_string (ns->ipc_path));
  if (ns->uts_path)
    json_object_set_new (o, "uts", json_string (ns->uts_path));
  return o;
}

static json_t *
result_json (const struct cni_result *r)
{
  json_t *ips = json_array (), *ifs = json_array ();
  const char *ip4 = cni_result_pod_ip (r, NULL, 4);
  for (size_t i = 0; i < r->n_ips; i++)
    json_array_append_new (ips, json_pack ("{s:s, s:s, s:s?, s:i, s:i}", "address", r->ips[i].address, "ip",
                                           r->ips[i].ip, "gateway", r->ips[i].gateway, "interface", r->ips[i].interface,
                                           "family", r->ips[i].family));
  for (size_t i = 0; i < r->n_interfaces; i++)
    json_array_append_new (ifs, json_pack ("{s:s, s:s?, s:s?}", "name", r->interfaces[i].name, "mac",
                                           r->interfaces[i].mac, "sandbox", r->interfaces[i].sandbox));
  return json_pack ("{s:s, s:o, s:o, s:s?, s:O}", "cniVersion", r->cni_version, "ips", ips, "interfaces", ifs, "pod_ip",
                    ip4, "raw", r->raw);
}

static int
cmd_cni (int argc, char **argv)
{
  struct cni_setup setup = { 0 };
  struct cni_pod pod = { 0 };
  struct cni_port_mapping ports[16];
  berth_err err = NULL;
  const char *cmd = argv[1];

  if (argc < 6)
    return usage ();
  setup.conf_dir = argv[2];
  setup.cache_dir = argv[3];
  pod.id = argv[4];
  pod.netns = argv[5];
  pod.ports = ports;
  for (int i = 6; i < argc; i++)
    {
      if (strcmp (argv[i], "--bin") == 0 && i + 1 < argc)
        setup.bin_dirs = argv[++i];
      else if (strcmp (argv[i], "--ifname") == 0 && i + 1 < argc)
        pod.ifname = argv[++i];
      else if (strcmp (argv[i], "--timeout") == 0 && i + 1 < argc)
        setup.timeout_ms = atoi (argv[++i]);
      else if (strcmp (argv[i], "--pod") == 0 && i + 3 < argc)
        {
          pod.name = argv[++i];
          pod.namespace_ = argv[++i];
          pod.uid = argv[++i];
        }
      else if (strcmp (argv[i], "--port") == 0 && i + 1 < argc && pod.n_ports < 16)
        {
          struct cni_port_mapping *m = &ports[pod.n_ports++];
          char *spec = argv[++i], *f[4] = { NULL };
          for (int k = 0; k < 4; k++)
            f[k] = strsep (&spec, ":");
          m->host_port = f[0] ? atoi (f[0]) : 0;
          m->container_port = f[1] ? atoi (f[1]) : 0;
          m->protocol = f[2];
          m->host_ip = f[3];
        }
      else
        return usage ();
    }

  if (strcmp (cmd, "add") == 0)
    {
      struct cni_result *r = NULL;
      if (cni_add (&setup, &pod, &r, &err) < 0)
        return fail (&err);
      print_json (result_json (r));
      cni_result_free (r);
      return 0;
    }
  if (strcmp (cmd, "del") == 0)
    return cni_del (&setup, &pod, &err) < 0 ? fail (&err) : 0;
  if (strcmp (cmd, "check") == 0)
    return cni_check (&setup, &pod, &err) < 0 ? fail (&err) : 0;
  return usage ();
}

int
main (int argc, char **argv)
{
  berth_err err = NULL;

  if (argc < 2)
    return usage ();
  if (strcmp (argv[1], "pin") == 0 && argc >= 4)
    {
      struct pinned_ns ns;
      unsigned types = 0;
      char *list = argv[3], *t;
      while ((t = strsep (&list, ",")) != NULL)
        types |= strcmp (t, "net") == 0   ? CLONE_NEWNET
                 : strcmp (t, "ipc") == 0 ? CLONE_NEWIPC
                 : strcmp (t, "uts") == 0 ? CLONE_NEWUTS
                 : strcmp (t, "pid") == 0 ? CLONE_NEWPID
                                          : 0;
      if (net_pin_namespaces (argv[2], types, argc > 4 ? argv[4] : NULL, &ns, &err) < 0)
        return fail (&err);
      print_json (ns_json (&ns));
      pinned_ns_free (&ns);
      return 0;
    }
  if (strcmp (argv[1], "unpin") == 0 && argc == 3)
    return net_unpin_namespaces (argv[2], &err) < 0 ? fail (&err) : 0;
  if (strcmp (argv[1], "lookup") == 0 && argc == 3)
    {
      struct pinned_ns ns;
      if (net_pinned_lookup (argv[2], &ns, &err) < 0)
        return fail (&err);
      print_json (ns_json (&ns));
      pinned_ns_free (&ns);
      return 0;
    }
  if (strcmp (argv[1], "pause") == 0 && argc == 3)
    {
      struct pinned_ns ns;
      struct net_pause p;
      if (net_pinned_lookup (argv[2], &ns, &err) < 0 || net_start_pause (&ns, &p, &err) < 0)
        return fail (&err);
      print_json (json_pack ("{s:i, s:I, s:s}", "pid", (int)p.pid, "start_time", (json_int_t)p.start_time, "pidns",
                             p.pidns_path));
      net_pause_free (&p);
      pinned_ns_free (&ns);
      return 0;
    }
  if ((strcmp (argv[1], "stop-pause") == 0 || strcmp (argv[1], "alive") == 0) && argc >= 4)
    {
      struct net_pause p = { .pid = atoi (argv[2]), .start_time = strtoull (argv[3], NULL, 10) };
      if (strcmp (argv[1], "alive") == 0)
        {
          puts (net_pause_alive (&p) ? "true" : "false");
          return 0;
        }
      return net_stop_pause (&p, argc > 4 ? atoi (argv[4]) : 5000, &err) < 0 ? fail (&err) : 0;
    }
  if (strcmp (argv[1], "load") == 0 && argc == 3)
    {
      struct cni_network *net;
      if (cni_network_load_dir (argv[2], &net, &err) < 0)
        return fail (&err);
      print_json (json_pack ("{s:s, s:s, s:s, s:b, s:O}", "path", net->path, "name", net->name, "cniVersion",
                             net->cni_version, "disableCheck", net->disable_check, "conf", net->conf));
      cni_network_free (net);
      return 0;
    }
  if (strcmp (argv[1], "cached") == 0 && argc == 4)
    {
      struct cni_setup setup = { .cache_dir = argv[2] };
      struct cni_pod pod = { .id = argv[3] };
      struct cni_result *r;
      if (cni_cached_result (&setup, &pod, &r, &err) < 0)
        return fail (&err);
      if (r == NULL)
        puts ("null");
      else
        print_json (result_json (r));
      cni_result_free (r);
      return 0;
    }
  if (strcmp (argv[1], "add") == 0 || strcmp (argv[1], "del") == 0 || strcmp (argv[1], "check") == 0)
    return cmd_cni (argc, argv);
  return usage ();
}
