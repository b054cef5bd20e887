/* net/: a pod's namespaces pinned on disk, and CNI plugin invocation.
 *
 * The whole API of the berth-net library (links util/ only).  berthd calls,
 * for RunPodSandbox:
 *
 *     net_pin_namespaces (dir, CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS, hostname, &ns, &err);
 *     net_start_pause (&ns, &pause, &err);          only when the pid ns is shared
 *     cni_add (&cni, &pod, &result, &err);          CNI_NETNS = ns.net_path
 *
 * and for StopPodSandbox (each step idempotent, may run many times):
 *
 *     cni_del (&cni, &pod, &err);
 *     net_stop_pause (&pause, 10000, &err);
 *     net_unpin_namespaces (dir, &err);
 *
 * Nothing here exits, prints or keeps global state; every function is safe
 * to call from several threads at once for different pods.  Each fallible
 * call returns -1 and fills *err; on error it has undone what it did.
 * See docs/net.md.
 */
#ifndef BERTH_NET_NET_H
#define BERTH_NET_NET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* ---- pinned namespaces (pin.c) ------------------------------------------ */

/* Paths of the pinned namespace files; NULL for a type not pinned. */
struct pinned_ns
{
  unsigned types; /* CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, as pinned */
  char *net_path; /* <dir>/net */
  char *ipc_path; /* <dir>/ipc */
  char *uts_path; /* <dir>/uts */
};

/* Creates new namespaces of `types` (any of CLONE_NEWNET, CLONE_NEWIPC,
 * CLONE_NEWUTS; nothing else) in a short-lived child and bind-mounts each
 * onto <dir>/<net|ipc|uts>, so they live until net_unpin_namespaces().  `dir`
 * is created (mode 0700, its parent must exist) when missing; a pinned file
 * already there is an error (EEXIST).  With CLONE_NEWUTS the hostname is set
 * to `hostname` (NULL: left as the host's); with CLONE_NEWNET `lo` is up.
 * `out` is filled on success; free it with pinned_ns_free(). */
int net_pin_namespaces (const char *dir, unsigned types, const char *hostname, struct pinned_ns *out, berth_err *err);

/* Unmounts and removes <dir>/net, ipc and uts, then `dir` itself when
 * it is empty.  Idempotent: what is already gone is not an error. */
int net_unpin_namespaces (const char *dir, berth_err *err);

/* Fills `out` with the paths under `dir` of the pinned files that exist
 * (e.g. after a berthd restart).  Returns 0 even when none do. */
int net_pinned_lookup (const char *dir, struct pinned_ns *out, berth_err *err);

void pinned_ns_free (struct pinned_ns *ns);

/* True when `path` is a mounted namespace file (nsfs), i.e. still usable. */
bool net_ns_path_is_pinned (const char *path);

/* ---- pause process (pause.c) -------------------------------------------- */

/* A pod's shared pid namespace is kept alive by its init: a pause process. */
struct net_pause
{
  pid_t pid;                     /* in berthd's pid namespace */
  unsigned long long start_time; /* /proc/<pid>/stat field 22: guards against pid reuse */
  char *pidns_path;              /* "/proc/<pid>/ns/pid", for the containers' spec */
};

/* Starts a pause process as pid 1 of a new pid namespace that joins the
 * pinned net, ipc and uts namespaces of `ns` (those that are set).  It is not
 * berthd's child (it is reparented to init or the nearest subreaper), has no
 * parent-death signal (it outlives berthd), holds no fd of berthd, reaps
 * orphans and exits 0 on SIGTERM or SIGINT.  `out` is filled on success; free
 * it with net_pause_free(). */
int net_start_pause (const struct pinned_ns *ns, struct net_pause *out, berth_err *err);

/* True when `p` still names the pause process that was started (same pid
 * and start time). */
bool net_pause_alive (const struct net_pause *p);

/* SIGTERM, then SIGKILL after `timeout_ms`, and waits until it is gone.
 * Idempotent: a pause already gone (or a reused pid) is not an error. */
int net_stop_pause (const struct net_pause *p, int timeout_ms, berth_err *err);

void net_pause_free (struct net_pause *p);

/* ---- CNI (cni_*.c) ------------------------------------------------------ */

/* Where CNI lives.  NULL fields take the defaults in brackets. */
struct cni_setup
{
  const char *conf_dir;  /* [/etc/cni/net.d] first *.conflist, *.conf, *.json by name */
  const char *bin_dirs;  /* [/usr/lib/cni:/opt/cni/bin] colon-separated, CNI_PATH */
  const char *cache_dir; /* [/var/lib/berth/cni] last ADD result per pod, for DEL */
  int timeout_ms;        /* [60000] per plugin call */
};

/* A CRI PortMapping, as the portmap plugin takes it. */
struct cni_port_mapping
{
  int host_port;
  int container_port;
  const char *protocol; /* "tcp", "udp", "sctp"; NULL: "tcp" */
  const char *host_ip;  /* NULL or "": every address */
};

/* The pod being attached. */
struct cni_pod
{
  const char *id;         /* CNI_CONTAINERID: the sandbox id */
  const char *netns;      /* CNI_NETNS: the pinned net namespace file */
  const char *ifname;     /* CNI_IFNAME; NULL: "eth0" */
  const char *name;       /* K8S_POD_NAME, NULL to leave out */
  const char *namespace_; /* K8S_POD_NAMESPACE */
  const char *uid;        /* K8S_POD_UID */
  const struct cni_port_mapping *ports;
  size_t n_ports;
};

/* One network configuration list, normalized from a .conflist or .conf. */
struct cni_network
{
  char *path;        /* the file it came from, or NULL */
  char *name;        /* "name" */
  char *cni_version; /* "cniVersion" */
  bool disable_check;
  json_t *conf; /* {"cniVersion","name","plugins":[...]} */
};

struct cni_ip
{
  char *address; /* CIDR, e.g. "10.88.0.5/16" */
  char *ip;      /* the address alone, "10.88.0.5" */
  char *gateway; /* or NULL */
  int interface; /* index into interfaces, -1 when absent */
  int family;    /* 4 or 6 */
};

struct cni_interface
{
  char *name;
  char *mac;     /* or NULL */
  char *sandbox; /* netns path for interfaces inside the pod, else NULL */
};

struct cni_result
{
  char *cni_version;
  struct cni_ip *ips;
  size_t n_ips;
  struct cni_interface *interfaces;
  size_t n_interfaces;
  json_t *raw; /* the whole result as the last plugin printed it */
};

/* Loads the first valid network configuration in `conf_dir`: files ending in
 * .conflist, .conf or .json, in byte order of their names (as containerd and
 * CRI-O do).  An invalid file is skipped; when none is valid the error names
 * the last one's problem, and ENOENT when there is no file at all. */
int cni_network_load_dir (const char *conf_dir, struct cni_network **out, berth_err *err);

/* Parses one configuration (a conflist, or a single-plugin conf turned into
 * a list of one); `what` names it in errors. */
int cni_network_parse (const char *text, size_t len, const char *what, struct cni_network **out, berth_err *err);

void cni_network_free (struct cni_network *net);

/* Runs ADD of every plugin of the network in order, each given the previous
 * one's result, and keeps the final result (with the configuration used) in
 * the cache dir for DEL.  On failure every plugin's DEL is run in reverse (the
 * chain is left as before) and the error names the plugin. */
int cni_add (const struct cni_setup *setup, const struct cni_pod *pod, struct cni_result **out, berth_err *err);

/* Runs DEL of every plugin in reverse, with the configuration and result
 * cached by ADD (else the current configuration), then drops the cache.  A
 * missing or unpinned netns is passed as an empty CNI_NETNS, as plugins expect
 * after a reboot.  Idempotent. */
int cni_del (const struct cni_setup *setup, const struct cni_pod *pod, berth_err *err);

/* Runs CHECK of every plugin (spec 0.4.0 and later) against the cached
 * result; 0 when the network is as ADD left it. */
int cni_check (const struct cni_setup *setup, const struct cni_pod *pod, berth_err *err);

/* The cached result of the last successful ADD, or NULL (and no error) when
 * there is none, e.g. for PodSandboxStatus after a restart. */
int cni_cached_result (const struct cni_setup *setup, const struct cni_pod *pod, struct cni_result **out,
                       berth_err *err);

/* Parses a plugin result (spec 0.3.0 to 1.0.0). */
int cni_result_parse (json_t *doc, const char *what, struct cni_result **out, berth_err *err);

/* The first address of `family` (4 or 6) on the pod's interface (`ifname`,
 * NULL: any interface in a sandbox), without its prefix length, or NULL.
 * The string belongs to the result. */
const char *cni_result_pod_ip (const struct cni_result *r, const char *ifname, int family);

void cni_result_free (struct cni_result *r);

#endif
