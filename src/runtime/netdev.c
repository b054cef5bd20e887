/* linux.netDevices over rtnetlink; the steps are listed in netdev.h. */
#include "runtime/netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "util/cleanup.h"

#define NETDEVS "linux.netDevices"
#define NETDEV_PATH NETDEVS "[\"%s\"]"

/* Large enough for one dump batch: the kernel sizes those to the reader's
   buffer, up to 32 KiB. */
#define NL_RECV_SIZE 32768

/* Address flags that are configuration, not state: kept on the copy. */
#define ADDR_KEEP_FLAGS                                                                                                \
  (IFA_F_PERMANENT | IFA_F_NODAD | IFA_F_OPTIMISTIC | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE   \
   | IFA_F_MCAUTOJOIN)

/* ---- names -------------------------------------------------------------- */

/* The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':'
   or white space (its isspace() includes 0xa0).  A '%' is the kernel's
   template syntax and is allowed once, as "%d", where templates are. */
static bool
valid_ifname (const char *name, bool template_ok)
{
  size_t len = strlen (name);
  const char *pct = strchr (name, '%');

  if (len == 0 || len >= IFNAMSIZ || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p == '/' || *p == ':' || *p == ' ' || (*p >= '\t' && *p <= '\r') || *p == 0xa0)
      return false;
  return pct == NULL || (template_ok && pct[1] == 'd' && strchr (pct + 1, '%') == NULL);
}

static bool
is_template (const char *name)
{
  return strchr (name, '%') != NULL;
}

static bool
same_inode (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int
check_netns (const struct berth_linux *lx, struct netdev_list *out, berth_err *err)
{
  const struct berth_namespace *net = &lx->namespaces[BERTH_NS_NET];
  struct stat self, joined;

  if (!net->present)
    return berth_fail (err, 0,
                       NETDEVS ": moving network devices needs a network namespace of the container's own, "
                               "but linux.namespaces has no \"network\" entry");
  if (net->path == NULL)
    {
      /* The init unshares such a namespace only after SYNC_GO, too late
         for netdev_move_into(). */
      if (lx->namespaces[BERTH_NS_USER].path != NULL)
        return berth_fail (err, 0, NETDEVS ": not supported with a joined user namespace and a new network namespace");
      return 0;
    }
  /* A missing path is reported where the namespaces are opened. */
  if (stat (net->path, &joined) == 0 && stat ("/proc/self/ns/net", &self) == 0 && same_inode (&self, &joined))
    return berth_fail (err, 0, NETDEVS ": the network namespace `%s` is the runtime's own", net->path);
  out->netns_path = strdup (net->path);
  if (out->netns_path == NULL)
    abort ();
  return 0;
}

static int
parse_entry (const char *key, json_t *value, struct netdev *d, berth_err *err)
{
  json_t *name;

  if (!valid_ifname (key, false))
    return berth_fail (err, 0,
                       NETDEV_PATH ": invalid network interface name (1 to %d bytes, no '/', ':', '%%' or space)", key,
                       IFNAMSIZ - 1);
  if (!json_is_object (value))
    return berth_fail (err, 0, NETDEV_PATH ": expected object", key);
  name = json_object_get (value, "name");
  if (name != NULL && !json_is_null (name))
    {
      if (!json_is_string (name))
        return berth_fail (err, 0, NETDEV_PATH ".name: expected string", key);
      if (!valid_ifname (json_string_value (name), true))
        return berth_fail (err, 0,
                           NETDEV_PATH ".name: invalid network interface name \"%s\" (1 to %d bytes, no '/', ':' or "
                                       "space; '%%' only as one \"%%d\" template)",
                           key, json_string_value (name), IFNAMSIZ - 1);
    }
  else
    name = NULL;
  snprintf (d->host_name, sizeof (d->host_name), "%s", key);
  snprintf (d->name, sizeof (d->name), "%s", name ? json_string_value (name) : key);
  return 0;
}

int
netdev_parse (const struct berth_linux *lx, struct netdev_list *out, berth_err *err)
{
  const char *key;
  json_t *value;

  memset (out, 0, sizeof (*out));
  if (lx == NULL || lx->net_devices == NULL || json_object_size (lx->net_devices) == 0)
    return 0;
  if (check_netns (lx, out, err) < 0)
    return -1;
  out->devs = calloc (json_object_size (lx->net_devices), sizeof (*out->devs));
  if (out->devs == NULL)
    abort ();
  json_object_foreach (lx->net_devices, key, value)
  {
    struct netdev *d = &out->devs[out->n];

    if (parse_entry (key, value, d, err) < 0)
      return -1;
    for (size_t i = 0; i < out->n; i++)
      if (!is_template (d->name) && strcmp (out->devs[i].name, d->name) == 0)
        return berth_fail (err, 0, NETDEV_PATH ": the name \"%s\" in the container is also that of " NETDEV_PATH, key,
                           d->name, out->devs[i].host_name);
    out->n++;
    /* Checked again when moving; here so that a typo fails before anything
       is made. */
    if (if_nametoindex (key) == 0)
      {
        if (errno == ENODEV || errno == ENXIO)
          return berth_fail (err, 0, NETDEV_PATH ": no such network interface on the host", key);
        return berth_fail (err, errno, NETDEV_PATH ": look up the network interface", key);
      }
  }
  return 0;
}

void
netdev_list_free (struct netdev_list *l)
{
  free (l->devs);
  free (l->netns_path);
  memset (l, 0, sizeof (*l));
}

/* ---- rtnetlink ---------------------------------------------------------- */

struct nl
{
  struct mnl_socket *sock;
  unsigned int seq;
};

/* What one request got back. */
struct nl_reply
{
  int error;     /* errno from the kernel's answer, 0 on success */
  char msg[160]; /* the kernel's extended-ack text, "" when none */
  mnl_cb_t data_cb;
  void *data;
};

static void
nl_close (struct nl *s)
{
  if (s->sock != NULL)
    mnl_socket_close (s->sock);
  s->sock = NULL;
}

static int
nl_open (struct nl *s, berth_err *err)
{
  int one = 1;

  s->seq = 0;
  s->sock = mnl_socket_open2 (NETLINK_ROUTE, SOCK_CLOEXEC);
  if (s->sock == NULL)
    return berth_fail (err, errno, "open rtnetlink socket");
  /* Best effort: the kernel then says why a request failed. */
  (void)mnl_socket_setsockopt (s->sock, NETLINK_EXT_ACK, &one, sizeof (one));
  if (mnl_socket_bind (s->sock, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      int saved = errno;
      nl_close (s);
      return berth_fail (err, saved, "bind rtnetlink socket");
    }
  return 0;
}

/* A netlink socket belongs to the namespace it was made in: make one in
   nsfd's, then come back. */
static int
nl_open_in (struct nl *s, int nsfd, berth_err *err)
{
  cleanup_close int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int ret;

  if (self < 0)
    return berth_fail (err, errno, "open /proc/thread-self/ns/net");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    return berth_fail (err, errno, NETDEVS ": enter the container's network namespace");
  ret = nl_open (s, err);
  if (setns (self, CLONE_NEWNET) < 0)
    {
      nl_close (s);
      return berth_fail (err, errno, NETDEVS ": return to the runtime's network namespace");
    }
  return ret;
}

static int
nl_error_cb (const struct nlmsghdr *nlh, void *data)
{
  struct nl_reply *r = data;
  const struct nlmsgerr *e = mnl_nlmsg_get_payload (nlh);
  const struct nlattr *a;
  size_t off = sizeof (*e);

  if (nlh->nlmsg_len < mnl_nlmsg_size (sizeof (*e)))
    {
      r->error = EBADMSG;
      return MNL_CB_STOP;
    }
  r->error = -e->error;
  if (e->error == 0 || !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return MNL_CB_STOP;
  /* The TLVs follow the echoed request, or only its header when capped. */
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    off += e->msg.nlmsg_len - sizeof (struct nlmsghdr);
  mnl_attr_for_each (a, nlh, off)
  {
    if (mnl_attr_get_type (a) == NLMSGERR_ATTR_MSG && mnl_attr_validate (a, MNL_TYPE_NUL_STRING) == 0)
      snprintf (r->msg, sizeof (r->msg), "%s", mnl_attr_get_str (a));
  }
  return MNL_CB_STOP;
}

/* The end of a dump; a failed dump puts its error here. */
static int
nl_done_cb (const struct nlmsghdr *nlh, void *data)
{
  struct nl_reply *r = data;

  if (mnl_nlmsg_get_payload_len (nlh) >= sizeof (int) && *(const int *)mnl_nlmsg_get_payload (nlh) < 0)
    r->error = -*(const int *)mnl_nlmsg_get_payload (nlh);
  return MNL_CB_STOP;
}

static int
nl_overrun_cb (const struct nlmsghdr *nlh, void *data)
{
  struct nl_reply *r = data;

  (void)nlh;
  r->error = ENOBUFS;
  return MNL_CB_STOP;
}

static int
nl_data_cb (const struct nlmsghdr *nlh, void *data)
{
  struct nl_reply *r = data;

  return r->data_cb != NULL ? r->data_cb (nlh, r->data) : MNL_CB_OK;
}

/* Send req (acked) and feed the answers to cb until the ack, an error or
   the end of a dump.  Returns 0, or -1 with r->error set. */
static int
nl_request (struct nl *s, struct nlmsghdr *req, mnl_cb_t cb, void *data, struct nl_reply *r)
{
  cleanup_free char *buf = malloc (NL_RECV_SIZE);
  /* Types given an array slot get no libmnl default: DONE must stop too. */
  mnl_cb_t ctl[NLMSG_MIN_TYPE]
      = { [NLMSG_ERROR] = nl_error_cb, [NLMSG_DONE] = nl_done_cb, [NLMSG_OVERRUN] = nl_overrun_cb };
  unsigned int portid = mnl_socket_get_portid (s->sock);
  int ret;

  if (buf == NULL)
    abort ();
  *r = (struct nl_reply){ .data_cb = cb, .data = data };
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->nlmsg_seq = ++s->seq;
  if (mnl_socket_sendto (s->sock, req, req->nlmsg_len) < 0)
    {
      r->error = errno;
      return -1;
    }
  do
    {
      ssize_t n = mnl_socket_recvfrom (s->sock, buf, NL_RECV_SIZE);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          r->error = errno;
          return -1;
        }
      ret = mnl_cb_run2 (buf, (size_t)n, req->nlmsg_seq, portid, nl_data_cb, r, ctl, MNL_ARRAY_SIZE (ctl));
      if (ret < 0)
        {
          r->error = errno ? errno : EPROTO;
          return -1;
        }
    }
  while (ret > MNL_CB_STOP);
  return r->error ? -1 : 0;
}

/* "<context>[: <kernel text>]: <strerror>" */
static int nl_fail (berth_err *err, const struct nl_reply *r, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
nl_fail (berth_err *err, const struct nl_reply *r, const char *fmt, ...)
{
  cleanup_free char *ctx = NULL;
  va_list ap;

  va_start (ap, fmt);
  if (vasprintf (&ctx, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return berth_fail (err, r->error, "%s%s%s", ctx, r->msg[0] ? ": " : "", r->msg);
}

static struct nlmsghdr *
put_ifinfo (char *buf, uint16_t type, uint16_t flags, int index)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct ifinfomsg *ifi;

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  ifi = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return nlh;
}

/* ---- links -------------------------------------------------------------- */

static int
link_index_cb (const struct nlmsghdr *nlh, void *data)
{
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload (nlh);

  if (nlh->nlmsg_type == RTM_NEWLINK)
    *(int *)data = ifi->ifi_index;
  return MNL_CB_OK;
}

static int
link_index (struct nl *s, const char *name, int *index, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_ifinfo (buf, RTM_GETLINK, 0, 0);

  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32 (nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  *index = 0;
  if (nl_request (s, nlh, link_index_cb, index, r) < 0)
    return -1;
  if (*index <= 0)
    {
      r->error = ENODEV;
      return -1;
    }
  return 0;
}

/* The links of the container's namespace, as far as a move needs them. */
struct target_scan
{
  const char *name; /* the new name; NULL for a template */
  int want_index;   /* the device's index on the host */
  bool name_taken;
  bool index_taken;
  int max_index;
};

static int
target_scan_cb (const struct nlmsghdr *nlh, void *data)
{
  struct target_scan *t = data;
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload (nlh);
  const struct nlattr *a;

  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;
  if (ifi->ifi_index == t->want_index)
    t->index_taken = true;
  if (ifi->ifi_index > t->max_index)
    t->max_index = ifi->ifi_index;
  mnl_attr_for_each (a, nlh, sizeof (*ifi))
  {
    if (mnl_attr_get_type (a) == IFLA_IFNAME && t->name != NULL && mnl_attr_validate (a, MNL_TYPE_NUL_STRING) == 0
        && strcmp (mnl_attr_get_str (a), t->name) == 0)
      t->name_taken = true;
  }
  return MNL_CB_OK;
}

static int
target_scan (struct nl *s, struct target_scan *t, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_ifinfo (buf, RTM_GETLINK, NLM_F_DUMP, 0);

  mnl_attr_put_u32 (nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return nl_request (s, nlh, target_scan_cb, t, r);
}

/* Move and rename in one request.  The kernel renames after the move, in
   the new namespace; the host name is checked there only when no new name
   is given.  IFLA_NEW_IFINDEX makes the index known (and fails rather than
   picking another one), so the device can be found for a `%d` name. */
static int
link_move (struct nl *s, int index, int nsfd, const char *name, int new_index, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_ifinfo (buf, RTM_SETLINK, 0, index);

  mnl_attr_put_u32 (nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32 (nlh, IFLA_NEW_IFINDEX, (uint32_t)new_index);
  return nl_request (s, nlh, NULL, NULL, r);
}

static int
link_set_up (struct nl *s, int index, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_ifinfo (buf, RTM_SETLINK, 0, index);
  struct ifinfomsg *ifi = mnl_nlmsg_get_payload (nlh);

  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = IFF_UP;
  return nl_request (s, nlh, NULL, NULL, r);
}

/* ---- addresses ---------------------------------------------------------- */

/* Copies of the RTM_NEWADDR messages of one link that the spec says to keep:
   permanent (IFA_F_PERMANENT) and of global scope. */
struct addr_copies
{
  int index;
  struct nlmsghdr **msgs;
  size_t n;
};

static void
addr_copies_free (struct addr_copies *c)
{
  for (size_t i = 0; i < c->n; i++)
    free (c->msgs[i]);
  free (c->msgs);
  c->msgs = NULL;
  c->n = 0;
}

static uint32_t
addr_flags (const struct nlmsghdr *nlh)
{
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload (nlh);
  const struct nlattr *a;
  uint32_t flags = ifa->ifa_flags;

  /* IFA_FLAGS carries all 32 bits; ifa_flags only the low 8. */
  mnl_attr_for_each (a, nlh, sizeof (*ifa))
  {
    if (mnl_attr_get_type (a) == IFA_FLAGS && mnl_attr_validate (a, MNL_TYPE_U32) == 0)
      flags = mnl_attr_get_u32 (a);
  }
  return flags;
}

static int
addr_copy_cb (const struct nlmsghdr *nlh, void *data)
{
  struct addr_copies *c = data;
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload (nlh);
  struct nlmsghdr **grown;
  struct nlmsghdr *copy;

  if (nlh->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != c->index || ifa->ifa_scope != RT_SCOPE_UNIVERSE
      || !(addr_flags (nlh) & IFA_F_PERMANENT))
    return MNL_CB_OK;
  grown = realloc (c->msgs, (c->n + 1) * sizeof (*c->msgs));
  copy = malloc (nlh->nlmsg_len);
  if (grown == NULL || copy == NULL)
    abort ();
  memcpy (copy, nlh, nlh->nlmsg_len);
  c->msgs = grown;
  c->msgs[c->n++] = copy;
  return MNL_CB_OK;
}

static int
addr_collect (struct nl *s, struct addr_copies *c, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct ifaddrmsg *ifa;

  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_DUMP;
  ifa = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifa));
  ifa->ifa_family = AF_UNSPEC;
  return nl_request (s, nlh, addr_copy_cb, c, r);
}

/* "10.1.2.3/24" for messages. */
static void
addr_text (const struct nlmsghdr *orig, char *out, size_t size)
{
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload (orig);
  const struct nlattr *a;
  const void *bytes = NULL;
  char ip[INET6_ADDRSTRLEN] = "?";

  mnl_attr_for_each (a, orig, sizeof (*ifa))
  {
    if (mnl_attr_get_type (a) == IFA_LOCAL || (mnl_attr_get_type (a) == IFA_ADDRESS && bytes == NULL))
      bytes = mnl_attr_get_payload (a);
  }
  if (bytes != NULL)
    inet_ntop (ifa->ifa_family, bytes, ip, sizeof (ip));
  snprintf (out, size, "%s/%u", ip, ifa->ifa_prefixlen);
}

/* Re-add one copied address on link `index`.  Dropped: IFA_LABEL (it names
   the host interface), IFA_CACHEINFO (lifetimes: the address is permanent)
   and kernel state among the flags. */
static int
addr_add (struct nl *s, const struct nlmsghdr *orig, int index, struct nl_reply *r)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  const struct ifaddrmsg *from = mnl_nlmsg_get_payload (orig);
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct ifaddrmsg *ifa;
  const struct nlattr *a;

  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  ifa = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifa));
  *ifa = *from;
  ifa->ifa_index = (uint32_t)index;
  ifa->ifa_flags &= ADDR_KEEP_FLAGS & 0xff;
  mnl_attr_for_each (a, orig, sizeof (*from))
  {
    switch (mnl_attr_get_type (a))
      {
      case IFA_ADDRESS:
      case IFA_LOCAL:
      case IFA_BROADCAST:
      case IFA_ANYCAST:
      case IFA_RT_PRIORITY:
      case IFA_PROTO:
        if (mnl_attr_get_payload_len (a) > MNL_SOCKET_BUFFER_SIZE / 4)
          break;
        mnl_attr_put (nlh, mnl_attr_get_type (a), mnl_attr_get_payload_len (a), mnl_attr_get_payload (a));
        break;
      case IFA_FLAGS:
        mnl_attr_put_u32 (nlh, IFA_FLAGS, addr_flags (orig) & ADDR_KEEP_FLAGS);
        break;
      default:
        break;
      }
  }
  return nl_request (s, nlh, NULL, NULL, r);
}

/* ---- moving ------------------------------------------------------------- */

static int
move_one (struct nl *host, struct nl *ctr, int nsfd, const struct netdev *d, berth_err *err)
{
  struct addr_copies addrs = { 0 };
  struct target_scan scan = { 0 };
  struct nl_reply r;
  int index, new_index, ret = -1;

  if (link_index (host, d->host_name, &index, &r) < 0)
    {
      if (r.error == ENODEV)
        return berth_fail (err, 0, NETDEV_PATH ": no such network interface on the host", d->host_name);
      return nl_fail (err, &r, NETDEV_PATH ": look up the network interface", d->host_name);
    }
  /* Before the move: moving drops every address. */
  addrs.index = index;
  if (addr_collect (host, &addrs, &r) < 0)
    {
      nl_fail (err, &r, NETDEV_PATH ": list the addresses of \"%s\"", d->host_name, d->host_name);
      goto out;
    }
  scan.name = is_template (d->name) ? NULL : d->name;
  scan.want_index = index;
  if (target_scan (ctr, &scan, &r) < 0)
    {
      nl_fail (err, &r, NETDEV_PATH ": list the network interfaces in the container", d->host_name);
      goto out;
    }
  /* The spec wants an error, and a virtual device moved in by mistake
     would be destroyed with the namespace. */
  if (scan.name_taken)
    {
      berth_fail (err, 0,
                  NETDEV_PATH ": a network interface named \"%s\" already exists in the container's network namespace",
                  d->host_name, d->name);
      goto out;
    }
  new_index = scan.index_taken ? scan.max_index + 1 : index;
  if (link_move (host, index, nsfd, d->name, new_index, &r) < 0)
    {
      if (r.error == EINVAL && r.msg[0] == '\0')
        snprintf (r.msg, sizeof (r.msg),
                  "the device cannot change network namespace (lo, bridges and some others cannot)");
      nl_fail (err, &r, NETDEV_PATH ": move \"%s\" into the container's network namespace as \"%s\"", d->host_name,
               d->host_name, d->name);
      goto out;
    }
  /* By name where there is one: a kernel without IFLA_NEW_IFINDEX support
     for moves may have picked another index. */
  if (!is_template (d->name) && link_index (ctr, d->name, &new_index, &r) < 0)
    {
      nl_fail (err, &r, NETDEV_PATH ": find \"%s\" in the container after the move", d->host_name, d->name);
      goto out;
    }
  for (size_t i = 0; i < addrs.n; i++)
    if (addr_add (ctr, addrs.msgs[i], new_index, &r) < 0)
      {
        char text[INET6_ADDRSTRLEN + 8];
        addr_text (addrs.msgs[i], text, sizeof (text));
        nl_fail (err, &r, NETDEV_PATH ": add address %s to \"%s\" in the container", d->host_name, text, d->name);
        goto out;
      }
  if (link_set_up (ctr, new_index, &r) < 0)
    {
      nl_fail (err, &r, NETDEV_PATH ": set \"%s\" up in the container", d->host_name, d->name);
      goto out;
    }
  ret = 0;
out:
  addr_copies_free (&addrs);
  return ret;
}

static int
open_target_netns (const struct netdev_list *l, pid_t pid, berth_err *err)
{
  char path[64];
  const char *p = l->netns_path;
  struct stat target, self;
  int fd;

  if (p == NULL)
    {
      snprintf (path, sizeof (path), "/proc/%d/ns/net", (int)pid);
      p = path;
    }
  fd = open (p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, NETDEVS ": open `%s`", p);
  if (fstat (fd, &target) < 0 || stat ("/proc/thread-self/ns/net", &self) < 0)
    {
      int saved = errno;
      close (fd);
      return berth_fail (err, saved, NETDEVS ": stat network namespaces");
    }
  if (same_inode (&target, &self))
    {
      close (fd);
      return berth_fail (err, 0, NETDEVS ": `%s` is the runtime's own network namespace (not made yet?)", p);
    }
  return fd;
}

int
netdev_move_into (const struct netdev_list *l, pid_t pid, berth_err *err)
{
  cleanup_close int nsfd = -1;
  struct nl host = { 0 }, ctr = { 0 };
  int ret = -1;

  if (l->n == 0)
    return 0;
  nsfd = open_target_netns (l, pid, err);
  if (nsfd < 0)
    return -1;
  if (nl_open (&host, err) < 0)
    return -1;
  if (nl_open_in (&ctr, nsfd, err) < 0)
    goto out;
  for (size_t i = 0; i < l->n; i++)
    if (move_one (&host, &ctr, nsfd, &l->devs[i], err) < 0)
      goto out;
  ret = 0;
out:
  nl_close (&ctr);
  nl_close (&host);
  return ret;
}
