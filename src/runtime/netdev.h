/* linux.netDevices: host network interfaces moved into the container's
 * network namespace (rtnetlink through libnl-3).
 *
 *   create, before anything is made:   netdev_parse (lx, &list, err)
 *   create, init cloned, before GO:    netdev_move_into (&list, init_pid, err)
 *   delete:                            nothing (see below)
 *
 * Per device, netdev_move_into:
 *   1. finds the interface in the runtime's namespace and copies its
 *      permanent, global-scope addresses (a namespace change drops them);
 *   2. checks, from a socket inside the container's namespace, that the new
 *      name is free there (a `%d` template always is);
 *   3. moves and renames it in one RTM_NEWLINK (IFLA_NET_NS_FD + IFLA_IFNAME
 *      + IFLA_NEW_IFINDEX), so the host name never has to be free inside;
 *   4. re-adds the addresses and sets the link up, inside.
 *
 * Delete does nothing, as the runtime spec requires ("MUST NOT attempt to
 * move the interface out of the namespace before deletion"): when the
 * namespace dies the kernel moves physical devices back to the initial
 * namespace (under their container name) and destroys virtual ones.  The
 * same holds when create fails halfway: killing the init undoes the moves.
 */
#ifndef BERTH_RUNTIME_NETDEV_H
#define BERTH_RUNTIME_NETDEV_H

#include <net/if.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

struct netdev
{
  char host_name[IFNAMSIZ]; /* the linux.netDevices key */
  char name[IFNAMSIZ];      /* inside the container: "name", else the host name; may end in a `%d` template */
};

struct netdev_list
{
  struct netdev *devs;
  size_t n;
  char *netns_path; /* the joined network namespace (linux.namespaces path); NULL: the init's new one */
};

/* Validate linux.netDevices (lx may be NULL; no entries gives an empty
 * list): interface names, distinct names inside the container, a network
 * namespace of the container's own (new, or joined but not the runtime's),
 * and that each interface exists in the runtime's namespace now.  Errors
 * name the JSON path, e.g. `linux.netDevices["eth9"]: no such network
 * interface on the host`.  Free *out with netdev_list_free(), also on error. */
int netdev_parse (const struct berth_linux *lx, struct netdev_list *out, berth_err *err);

/* Move every device of l into the network namespace of pid (or into
 * l->netns_path when the namespace is joined), from the runtime's namespace.
 * For a new namespace, pid must already be in it: call after the init is
 * cloned with CLONE_NEWNET.  Stops at the first failure; devices moved
 * before it stay in the container's namespace (see above). */
int netdev_move_into (const struct netdev_list *l, pid_t pid, berth_err *err);

void netdev_list_free (struct netdev_list *l);

#endif
