/* linux.netDevices over rtnetlink (libnl-3); the steps are listed in netdev.h. */
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

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "util/cleanup.h"

#define NETDEVS "linux.netDevices"
#define NETDEV_PATH NETDEVS "[\"%s\"]"

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

/* One request at a time per socket: nlc_request() sends it (libnl adds
   NLM_F_REQUEST | NLM_F_ACK and the sequence number, and checks the
   answers' numbers) and reads until the request is finished:

     request ──▶ kernel
             ◀── RTM_NEW* ...         NL_CB_VALID: the request's data callback
             ◀── NLMSG_ERROR, 0       NL_CB_ACK: done
             ◀── NLMSG_ERROR, -errno  NL_CB_MSG_IN (extended ack text), then
                                      the error callback: done, failed
             ◀── NLMSG_DONE [-errno]  NL_CB_FINISH: the end of a dump
                                      (dumps get no ack)
             ◀── NLMSG_OVERRUN        NL_CB_OVERRUN: failed (ENOBUFS)

   nl_recvmsgs() returns after each datagram that does not end a multipart
   message, so a reply and its ack take two calls: the loop runs until one
   of the callbacks marks the request done. */

typedef int (*nlc_data_fn) (struct nlmsghdr *nlh, void *data);

/* What one request got back. */
struct nlc_reply
{
  int error;     /* errno from the kernel's answer or from libnl, 0 on success */
  char msg[160]; /* the kernel's extended-ack text, "" when none */
  bool done;
  unsigned int seq;
  nlc_data_fn data_cb;
  void *data;
};

struct nlc
{
  struct nl_sock *sock;
  struct nl_cb *cb;
  struct nlc_reply *cur; /* the request being answered */
};

static void
nlmsg_freep (struct nl_msg **m)
{
  nlmsg_free (*m);
}
#define cleanup_nlmsg __attribute__ ((cleanup (nlmsg_freep)))

/* libnl returns its own codes (-NLE_*), also for failed system calls:
   back to errno, so that every message ends in strerror as the kernel's
   answers do.  libnl 3.7 has no such function. */
static int
nlerr_errno (int nlerr)
{
  switch (nlerr < 0 ? -nlerr : nlerr)
    {
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_EXIST:
      return EEXIST;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NOATTR:
      return ENODATA;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_PERM:
      return EPERM;
    case NLE_PKTLOC_FILE:
      return ENOENT;
    case NLE_PROTO_MISMATCH:
      return EPROTONOSUPPORT;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_NODEV:
      return ENODEV;
    case NLE_INTR:
      return EINTR;
    case NLE_MSG_OVERFLOW:
      return ENOBUFS;
    case NLE_MSG_TRUNC:
    case NLE_MSG_TOOSHORT:
      return EBADMSG;
    default:
      return EPROTO;
    }
}

/* The text of an NLMSG_ERROR's extended ack (NETLINK_EXT_ACK): the TLVs
   follow the echoed request, or only its header when capped.  libnl 3.7
   does not parse them itself. */
static void
ext_ack_text (struct nlmsghdr *nlh, char *out, size_t size)
{
  static struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = { [NLMSGERR_ATTR_MSG] = { .type = NLA_STRING } };
  struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
  const struct nlmsgerr *e = nlmsg_data (nlh);
  size_t off = sizeof (*e);

  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlmsg_datalen (nlh) < (int)sizeof (*e) || e->error == 0)
    return;
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    {
      if (e->msg.nlmsg_len < NLMSG_HDRLEN)
        return;
      off += e->msg.nlmsg_len - NLMSG_HDRLEN;
    }
  if (off > (size_t)nlmsg_datalen (nlh))
    return;
  if (nlmsg_parse (nlh, (int)off, tb, NLMSGERR_ATTR_MAX, policy) == 0 && tb[NLMSGERR_ATTR_MSG] != NULL)
    snprintf (out, size, "%s", nla_get_string (tb[NLMSGERR_ATTR_MSG]));
}

/* Every message, before libnl's checks: the error callback below gets only
   the struct nlmsgerr, not the flags and TLVs around it. */
static int
nlc_msg_in_cb (struct nl_msg *msg, void *arg)
{
  struct nlc *s = arg;
  struct nlmsghdr *nlh = nlmsg_hdr (msg);

  if (s->cur != NULL && nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == s->cur->seq)
    ext_ack_text (nlh, s->cur->msg, sizeof (s->cur->msg));
  return NL_OK;
}

static int
nlc_error_cb (struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
  struct nlc *s = arg;

  (void)who;
  s->cur->error = -e->error;
  s->cur->done = true;
  return NL_STOP;
}

static int
nlc_ack_cb (struct nl_msg *msg, void *arg)
{
  struct nlc *s = arg;

  (void)msg;
  s->cur->done = true;
  return NL_STOP;
}

/* The end of a dump; a failed dump puts its error here. */
static int
nlc_finish_cb (struct nl_msg *msg, void *arg)
{
  struct nlc *s = arg;
  struct nlmsghdr *nlh = nlmsg_hdr (msg);
  int code;

  if (nlmsg_datalen (nlh) >= (int)sizeof (code))
    {
      memcpy (&code, nlmsg_data (nlh), sizeof (code));
      if (code < 0)
        s->cur->error = -code;
    }
  s->cur->done = true;
  return NL_STOP;
}

static int
nlc_overrun_cb (struct nl_msg *msg, void *arg)
{
  struct nlc *s = arg;

  (void)msg;
  s->cur->error = ENOBUFS;
  s->cur->done = true;
  return NL_STOP;
}

static int
nlc_valid_cb (struct nl_msg *msg, void *arg)
{
  struct nlc *s = arg;

  return s->cur->data_cb != NULL ? s->cur->data_cb (nlmsg_hdr (msg), s->cur->data) : NL_OK;
}

/* A link that changed during a dump marks the rest of it "interrupted";
   the moves re-check by name, as before libnl. */
static int
nlc_dump_intr_cb (struct nl_msg *msg, void *arg)
{
  (void)msg;
  (void)arg;
  return NL_OK;
}

static void
nlc_close (struct nlc *s)
{
  nl_socket_free (s->sock); /* closes the fd; NULL is fine */
  nl_cb_put (s->cb);
  s->sock = NULL;
  s->cb = NULL;
}

static int
nlc_open (struct nlc *s, berth_err *err)
{
  int one = 1, ret;

  *s = (struct nlc){ 0 };
  /* NL_CB_CUSTOM: no default handler (nor the NLCB environment variable's
     verbose or debug ones) is installed. */
  s->cb = nl_cb_alloc (NL_CB_CUSTOM);
  if (s->cb == NULL)
    abort ();
  nl_cb_set (s->cb, NL_CB_MSG_IN, NL_CB_CUSTOM, nlc_msg_in_cb, s);
  nl_cb_set (s->cb, NL_CB_VALID, NL_CB_CUSTOM, nlc_valid_cb, s);
  nl_cb_set (s->cb, NL_CB_ACK, NL_CB_CUSTOM, nlc_ack_cb, s);
  nl_cb_set (s->cb, NL_CB_FINISH, NL_CB_CUSTOM, nlc_finish_cb, s);
  nl_cb_set (s->cb, NL_CB_OVERRUN, NL_CB_CUSTOM, nlc_overrun_cb, s);
  nl_cb_set (s->cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, nlc_dump_intr_cb, s);
  nl_cb_err (s->cb, NL_CB_CUSTOM, nlc_error_cb, s);
  s->sock = nl_socket_alloc_cb (s->cb);
  if (s->sock == NULL)
    abort ();
  /* An O_CLOEXEC socket, bound to a port libnl picks. */
  ret = nl_connect (s->sock, NETLINK_ROUTE);
  if (ret < 0)
    {
      nlc_close (s);
      return berth_fail (err, nlerr_errno (ret), "open rtnetlink socket");
    }
  /* Best effort: the kernel then says why a request failed. */
  (void)setsockopt (nl_socket_get_fd (s->sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof (one));
  return 0;
}

/* A netlink socket belongs to the namespace it was made in: make one in
   nsfd's, then come back. */
static int
nlc_open_in (struct nlc *s, int nsfd, berth_err *err)
{
  cleanup_close int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int ret;

  if (self < 0)
    return berth_fail (err, errno, "open /proc/thread-self/ns/net");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    return berth_fail (err, errno, NETDEVS ": enter the container's network namespace");
  ret = nlc_open (s, err);
  if (setns (self, CLONE_NEWNET) < 0)
    {
      nlc_close (s);
      return berth_fail (err, errno, NETDEVS ": return to the runtime's network namespace");
    }
  return ret;
}

/* Send req and feed the answers to cb until the ack, an error or the end
   of a dump (see the top of this section).  Returns 0, or -1 with
   r->error set. */
static int
nlc_request (struct nlc *s, struct nl_msg *req, nlc_data_fn cb, void *data, struct nlc_reply *r)
{
  int ret;

  *r = (struct nlc_reply){ .data_cb = cb, .data = data };
  s->cur = r;
  ret = nl_send_auto (s->sock, req);
  if (ret < 0)
    r->error = nlerr_errno (ret);
  r->seq = nlmsg_hdr (req)->nlmsg_seq;
  while (ret >= 0 && !r->done)
    {
      ret = nl_recvmsgs_report (s->sock, s->cb);
      /* An error the kernel sent is already in r; libnl's own (a short
         read, a sequence number out of order) is not. */
      if (ret < 0 && r->error == 0)
        r->error = nlerr_errno (ret);
      else if (ret == 0 && !r->done)
        {
          r->error = EPROTO;
          ret = -1;
        }
    }
  s->cur = NULL;
  return r->error ? -1 : 0;
}

/* "<context>[: <kernel text>]: <strerror>" */
static int nlc_fail (berth_err *err, const struct nlc_reply *r, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
nlc_fail (berth_err *err, const struct nlc_reply *r, const char *fmt, ...)
{
  cleanup_free char *ctx = NULL;
  va_list ap;

  va_start (ap, fmt);
  if (vasprintf (&ctx, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return berth_fail (err, r->error, "%s%s%s", ctx, r->msg[0] ? ": " : "", r->msg);
}

/* A request's attributes fit easily in libnl's default page-sized message;
   a failed put is reported like a kernel error all the same. */
static int
put_failed (struct nlc_reply *r)
{
  *r = (struct nlc_reply){ .error = EMSGSIZE };
  return -1;
}

static struct nl_msg *
ifinfo_msg (int type, int flags, int index)
{
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
  struct nl_msg *m = nlmsg_alloc_simple (type, flags);

  if (m == NULL || nlmsg_append (m, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0)
    abort ();
  return m;
}

/* An attribute's string, or NULL when it is not NUL-terminated. */
static const char *
attr_str (const struct nlattr *a)
{
  const char *p;

  if (a == NULL || nla_len (a) <= 0)
    return NULL;
  p = nla_data (a);
  return p[nla_len (a) - 1] == '\0' ? p : NULL;
}

/* ---- links -------------------------------------------------------------- */

static int
link_index_cb (struct nlmsghdr *nlh, void *data)
{
  const struct ifinfomsg *ifi = nlmsg_data (nlh);

  if (nlh->nlmsg_type == RTM_NEWLINK && nlmsg_datalen (nlh) >= (int)sizeof (*ifi))
    *(int *)data = ifi->ifi_index;
  return NL_OK;
}

static int
link_index (struct nlc *s, const char *name, int *index, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = ifinfo_msg (RTM_GETLINK, 0, 0);

  *index = 0;
  if (nla_put_string (m, IFLA_IFNAME, name) < 0 || nla_put_u32 (m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
    return put_failed (r);
  if (nlc_request (s, m, link_index_cb, index, r) < 0)
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
target_scan_cb (struct nlmsghdr *nlh, void *data)
{
  struct target_scan *t = data;
  const struct ifinfomsg *ifi = nlmsg_data (nlh);
  const char *name;

  if (nlh->nlmsg_type != RTM_NEWLINK || nlmsg_datalen (nlh) < (int)sizeof (*ifi))
    return NL_OK;
  if (ifi->ifi_index == t->want_index)
    t->index_taken = true;
  if (ifi->ifi_index > t->max_index)
    t->max_index = ifi->ifi_index;
  name = attr_str (nlmsg_find_attr (nlh, sizeof (*ifi), IFLA_IFNAME));
  if (t->name != NULL && name != NULL && strcmp (name, t->name) == 0)
    t->name_taken = true;
  return NL_OK;
}

static int
target_scan (struct nlc *s, struct target_scan *t, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = ifinfo_msg (RTM_GETLINK, NLM_F_DUMP, 0);

  if (nla_put_u32 (m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
    return put_failed (r);
  return nlc_request (s, m, target_scan_cb, t, r);
}

/* Move and rename in one request.  The kernel renames after the move, in
   the new namespace; the host name is checked there only when no new name
   is given.  IFLA_NEW_IFINDEX makes the index known (and fails rather than
   picking another one), so the device can be found for a `%d` name. */
static int
link_move (struct nlc *s, int index, int nsfd, const char *name, int new_index, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = ifinfo_msg (RTM_SETLINK, 0, index);

  if (nla_put_u32 (m, IFLA_NET_NS_FD, (uint32_t)nsfd) < 0 || nla_put_string (m, IFLA_IFNAME, name) < 0
      || nla_put_u32 (m, IFLA_NEW_IFINDEX, (uint32_t)new_index) < 0)
    return put_failed (r);
  return nlc_request (s, m, NULL, NULL, r);
}

static int
link_set_up (struct nlc *s, int index, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = nlmsg_alloc_simple (RTM_SETLINK, 0);
  struct ifinfomsg ifi = {
    .ifi_family = AF_UNSPEC,
    .ifi_index = index,
    .ifi_flags = IFF_UP,
    .ifi_change = IFF_UP,
  };

  if (m == NULL || nlmsg_append (m, &ifi, sizeof (ifi), NLMSG_ALIGNTO) < 0)
    abort ();
  return nlc_request (s, m, NULL, NULL, r);
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
addr_flags (struct nlmsghdr *nlh)
{
  const struct ifaddrmsg *ifa = nlmsg_data (nlh);
  struct nlattr *a = nlmsg_find_attr (nlh, sizeof (*ifa), IFA_FLAGS);

  /* IFA_FLAGS carries all 32 bits; ifa_flags only the low 8. */
  return a != NULL && nla_len (a) >= (int)sizeof (uint32_t) ? nla_get_u32 (a) : ifa->ifa_flags;
}

static int
addr_copy_cb (struct nlmsghdr *nlh, void *data)
{
  struct addr_copies *c = data;
  const struct ifaddrmsg *ifa = nlmsg_data (nlh);
  struct nlmsghdr **grown;
  struct nlmsghdr *copy;

  if (nlh->nlmsg_type != RTM_NEWADDR || nlmsg_datalen (nlh) < (int)sizeof (*ifa) || (int)ifa->ifa_index != c->index
      || ifa->ifa_scope != RT_SCOPE_UNIVERSE || !(addr_flags (nlh) & IFA_F_PERMANENT))
    return NL_OK;
  grown = realloc (c->msgs, (c->n + 1) * sizeof (*c->msgs));
  copy = malloc (nlh->nlmsg_len);
  if (grown == NULL || copy == NULL)
    abort ();
  memcpy (copy, nlh, nlh->nlmsg_len);
  c->msgs = grown;
  c->msgs[c->n++] = copy;
  return NL_OK;
}

static int
addr_collect (struct nlc *s, struct addr_copies *c, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = nlmsg_alloc_simple (RTM_GETADDR, NLM_F_DUMP);
  struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };

  if (m == NULL || nlmsg_append (m, &ifa, sizeof (ifa), NLMSG_ALIGNTO) < 0)
    abort ();
  return nlc_request (s, m, addr_copy_cb, c, r);
}

/* "10.1.2.3/24" for messages. */
static void
addr_text (struct nlmsghdr *orig, char *out, size_t size)
{
  const struct ifaddrmsg *ifa = nlmsg_data (orig);
  struct nlattr *a = nlmsg_find_attr (orig, sizeof (*ifa), IFA_LOCAL);
  int need = ifa->ifa_family == AF_INET6 ? 16 : 4;
  char ip[INET6_ADDRSTRLEN] = "?";

  if (a == NULL)
    a = nlmsg_find_attr (orig, sizeof (*ifa), IFA_ADDRESS);
  if (a != NULL && nla_len (a) >= need)
    inet_ntop (ifa->ifa_family, nla_data (a), ip, sizeof (ip));
  snprintf (out, size, "%s/%u", ip, ifa->ifa_prefixlen);
}

/* Re-add one copied address on link `index`.  Dropped: IFA_LABEL (it names
   the host interface), IFA_CACHEINFO (lifetimes: the address is permanent)
   and kernel state among the flags. */
static int
addr_add (struct nlc *s, struct nlmsghdr *orig, int index, struct nlc_reply *r)
{
  cleanup_nlmsg struct nl_msg *m = nlmsg_alloc_simple (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg ifa = *(const struct ifaddrmsg *)nlmsg_data (orig);
  struct nlattr *a;
  int rem, ret = 0;

  if (m == NULL)
    abort ();
  ifa.ifa_index = (uint32_t)index;
  ifa.ifa_flags &= ADDR_KEEP_FLAGS & 0xff;
  if (nlmsg_append (m, &ifa, sizeof (ifa), NLMSG_ALIGNTO) < 0)
    abort ();
  nlmsg_for_each_attr (a, orig, sizeof (ifa), rem)
  {
    switch (nla_type (a))
      {
      case IFA_ADDRESS:
      case IFA_LOCAL:
      case IFA_BROADCAST:
      case IFA_ANYCAST:
      case IFA_RT_PRIORITY:
      case IFA_PROTO:
        ret = nla_put (m, nla_type (a), nla_len (a), nla_data (a));
        break;
      case IFA_FLAGS:
        ret = nla_put_u32 (m, IFA_FLAGS, addr_flags (orig) & ADDR_KEEP_FLAGS);
        break;
      default:
        break;
      }
    if (ret < 0)
      return put_failed (r);
  }
  return nlc_request (s, m, NULL, NULL, r);
}

/* ---- moving ------------------------------------------------------------- */

static int
move_one (struct nlc *host, struct nlc *ctr, int nsfd, const struct netdev *d, berth_err *err)
{
  struct addr_copies addrs = { 0 };
  struct target_scan scan = { 0 };
  struct nlc_reply r;
  int index, new_index, ret = -1;

  if (link_index (host, d->host_name, &index, &r) < 0)
    {
      if (r.error == ENODEV)
        return berth_fail (err, 0, NETDEV_PATH ": no such network interface on the host", d->host_name);
      return nlc_fail (err, &r, NETDEV_PATH ": look up the network interface", d->host_name);
    }
  /* Before the move: moving drops every address. */
  addrs.index = index;
  if (addr_collect (host, &addrs, &r) < 0)
    {
      nlc_fail (err, &r, NETDEV_PATH ": list the addresses of \"%s\"", d->host_name, d->host_name);
      goto out;
    }
  scan.name = is_template (d->name) ? NULL : d->name;
  scan.want_index = index;
  if (target_scan (ctr, &scan, &r) < 0)
    {
      nlc_fail (err, &r, NETDEV_PATH ": list the network interfaces in the container", d->host_name);
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
      nlc_fail (err, &r, NETDEV_PATH ": move \"%s\" into the container's network namespace as \"%s\"", d->host_name,
               d->host_name, d->name);
      goto out;
    }
  /* By name where there is one: a kernel without IFLA_NEW_IFINDEX support
     for moves may have picked another index. */
  if (!is_template (d->name) && link_index (ctr, d->name, &new_index, &r) < 0)
    {
      nlc_fail (err, &r, NETDEV_PATH ": find \"%s\" in the container after the move", d->host_name, d->name);
      goto out;
    }
  for (size_t i = 0; i < addrs.n; i++)
    if (addr_add (ctr, addrs.msgs[i], new_index, &r) < 0)
      {
        char text[INET6_ADDRSTRLEN + 8];
        addr_text (addrs.msgs[i], text, sizeof (text));
        nlc_fail (err, &r, NETDEV_PATH ": add address %s to \"%s\" in the container", d->host_name, text, d->name);
        goto out;
      }
  if (link_set_up (ctr, new_index, &r) < 0)
    {
      nlc_fail (err, &r, NETDEV_PATH ": set \"%s\" up in the container", d->host_name, d->name);
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
  struct nlc host = { 0 }, ctr = { 0 };
  int ret = -1;

  if (l->n == 0)
    return 0;
  nsfd = open_target_netns (l, pid, err);
  if (nsfd < 0)
    return -1;
  if (nlc_open (&host, err) < 0)
    return -1;
  if (nlc_open_in (&ctr, nsfd, err) < 0)
    goto out;
  for (size_t i = 0; i < l->n; i++)
    if (move_one (&host, &ctr, nsfd, &l->devs[i], err) < 0)
      goto out;
  ret = 0;
out:
  nlc_close (&ctr);
  nlc_close (&host);
  return ret;
}
