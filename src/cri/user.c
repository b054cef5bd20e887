/* process.user: uid, gid and additional gids from the security context or
 * the image's User, resolved against the image's /etc/passwd and /etc/group
 * (text handed in by the daemon, so this stays a pure function).
 *
 * CRI rules: run_as_username and run_as_user are exclusive; run_as_group
 * needs one of them; a name must exist in the image.  A uid without a
 * group takes the primary group of its /etc/passwd entry, else 0 (docker,
 * containerd).  Groups listing the user in /etc/group are added unless the
 * policy is Strict, then the config's supplemental_groups. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_internal.h"
#include "util/cleanup.h"

#define SC "linux.security_context."

struct user
{
  uint32_t uid, gid;
  char *name; /* for /etc/group memberships; NULL when unknown */
};

/* A decimal id (0 .. 2^32-2: -1 is "no id" to the kernel); -1 if not one. */
static int
parse_id (const char *s, size_t len, uint32_t *out)
{
  uint64_t v = 0;

  if (len == 0 || len > 10)
    return -1;
  for (size_t i = 0; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -1;
      v = v * 10 + (uint64_t)(s[i] - '0');
    }
  if (v >= UINT32_MAX)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* Field `n` (0-based) of a ':'-separated line, as pointer and length. */
static bool
field (const char *line, size_t line_len, int n, const char **start, size_t *len)
{
  const char *p = line, *end = line + line_len;

  for (int i = 0; i < n; i++)
    {
      const char *c = memchr (p, ':', end - p);
      if (c == NULL)
        return false;
      p = c + 1;
    }
  *start = p;
  {
    const char *c = memchr (p, ':', end - p);
    *len = (c ? c : end) - p;
  }
  return true;
}

/* Calls fn on each non-comment line of a passwd/group text until it
 * returns true; returns whether one did. */
static bool
each_line (const char *text, bool (*fn) (const char *line, size_t len, void *user), void *user)
{
  for (const char *p = text; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      if (len > 0 && p[0] != '#' && fn (p, len, user))
        return true;
      p += len;
      p += *p == '\n';
    }
  return false;
}

struct passwd_query
{
  const char *name; /* by name, or */
  uint32_t uid;     /* by uid */
  struct user *out;
};

static bool
passwd_match (const char *line, size_t len, void *user)
{
  struct passwd_query *q = user;
  const char *name, *uid_s, *gid_s;
  size_t name_len, uid_len, gid_len;
  uint32_t uid, gid;

  if (!field (line, len, 0, &name, &name_len) || !field (line, len, 2, &uid_s, &uid_len)
      || !field (line, len, 3, &gid_s, &gid_len) || parse_id (uid_s, uid_len, &uid) < 0
      || parse_id (gid_s, gid_len, &gid) < 0)
    return false;
  if (q->name ? (strlen (q->name) != name_len || memcmp (q->name, name, name_len) != 0) : uid != q->uid)
    return false;
  q->out->uid = uid;
  q->out->gid = gid;
  free (q->out->name);
  q->out->name = strndup (name, name_len);
  return true;
}

struct group_query
{
  const char *name;
  uint32_t gid;
  /* memberships */
  const char *member;
  json_t *gids;
  uint32_t skip_gid;
};

static bool
group_by_name (const char *line, size_t len, void *user)
{
  struct group_query *q = user;
  const char *name, *gid_s;
  size_t name_len, gid_len;

  if (!field (line, len, 0, &name, &name_len) || !field (line, len, 2, &gid_s, &gid_len) || strlen (q->name) != name_len
      || memcmp (q->name, name, name_len) != 0)
    return false;
  return parse_id (gid_s, gid_len, &q->gid) == 0;
}

static void
add_gid (json_t *gids, uint32_t gid)
{
  size_t i;
  json_t *e;

  json_array_foreach (gids, i, e) if ((uint32_t)json_integer_value (e) == gid) return;
  json_array_append_new (gids, json_integer (gid));
}

static bool
group_memberships (const char *line, size_t len, void *user)
{
  struct group_query *q = user;
  const char *gid_s, *members;
  size_t gid_len, members_len, mlen = strlen (q->member);
  uint32_t gid;

  if (!field (line, len, 2, &gid_s, &gid_len) || !field (line, len, 3, &members, &members_len)
      || parse_id (gid_s, gid_len, &gid) < 0 || gid == q->skip_gid)
    return false;
  for (const char *p = members, *end = members + members_len; p < end;)
    {
      const char *c = memchr (p, ',', end - p);
      size_t n = (c ? c : end) - p;
      if (n == mlen && memcmp (p, q->member, n) == 0)
        {
          add_gid (q->gids, gid);
          break;
        }
      p += n + 1;
    }
  return false; /* every line */
}

static int
lookup_name (const struct cri_build *b, const char *name, struct user *u, const char *field_name, berth_err *err)
{
  struct passwd_query q = { .name = name, .out = u };

  if (!each_line (b->cctx->passwd, passwd_match, &q))
    return berth_fail (err, 0, "%s: user \"%s\" not found in the image's /etc/passwd", field_name, name);
  return 0;
}

/* The primary group and name of a uid; gid 0 and no name when absent. */
static void
lookup_uid (const struct cri_build *b, uint32_t uid, struct user *u)
{
  struct passwd_query q = { .uid = uid, .out = u };

  u->uid = uid;
  u->gid = 0;
  (void)each_line (b->cctx->passwd, passwd_match, &q);
}

/* The image's User: "", "user", "uid", "user:group", "uid:gid" ... */
static int
image_user (const struct cri_build *b, struct user *u, berth_err *err)
{
  const char *spec = b->image ? b->image->user : NULL;
  const char *colon;
  size_t ulen;
  cleanup_free char *uname = NULL;

  if (cri_empty (spec))
    {
      lookup_uid (b, 0, u);
      if (u->name == NULL)
        u->name = cri_strdup ("root");
      return 0;
    }
  colon = strchr (spec, ':');
  ulen = colon ? (size_t)(colon - spec) : strlen (spec);
  if (ulen == 0)
    return berth_fail (err, 0, "image config: User: \"%s\" has no user part", spec);
  uname = strndup (spec, ulen);
  if (parse_id (uname, ulen, &u->uid) == 0)
    lookup_uid (b, u->uid, u);
  else if (lookup_name (b, uname, u, "image config: User", err) < 0)
    return -1;
  if (colon != NULL)
    {
      const char *g = colon + 1;
      if (*g == '\0')
        return berth_fail (err, 0, "image config: User: \"%s\" has an empty group", spec);
      if (parse_id (g, strlen (g), &u->gid) < 0)
        {
          struct group_query q = { .name = g };
          if (!each_line (b->cctx->group, group_by_name, &q))
            return berth_fail (err, 0, "image config: User: group \"%s\" not found in the image's /etc/group", g);
          u->gid = q.gid;
        }
    }
  return 0;
}

static int
check_id (const Runtime__V1__Int64Value *v, const char *field_name, uint32_t *out, berth_err *err)
{
  if (v->value < 0 || v->value >= (int64_t)UINT32_MAX)
    return berth_fail (err, 0, CRI_CFG SC "%s: %lld is not a valid id", field_name, (long long)v->value);
  *out = (uint32_t)v->value;
  return 0;
}

static int
resolve (const struct cri_build *b, struct user *u, berth_err *err)
{
  const Runtime__V1__LinuxContainerSecurityContext *sc = b->sc;
  bool by_name = !cri_empty (sc->run_as_username);

  if (by_name && sc->run_as_user != NULL)
    return berth_fail (err, 0, CRI_CFG SC "run_as_username: set together with run_as_user (only one may be)");
  if (sc->run_as_group != NULL && !by_name && sc->run_as_user == NULL)
    return berth_fail (err, 0, CRI_CFG SC "run_as_group: set without run_as_user or run_as_username");
  if (by_name)
    {
      if (lookup_name (b, sc->run_as_username, u, CRI_CFG SC "run_as_username", err) < 0)
        return -1;
    }
  else if (sc->run_as_user != NULL)
    {
      uint32_t uid = 0;
      if (check_id (sc->run_as_user, "run_as_user", &uid, err) < 0)
        return -1;
      lookup_uid (b, uid, u);
    }
  else if (image_user (b, u, err) < 0)
    return -1;
  if (sc->run_as_group != NULL && check_id (sc->run_as_group, "run_as_group", &u->gid, err) < 0)
    return -1;
  return 0;
}

int
cri_step_user (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__LinuxContainerSecurityContext *sc = b->sc;
  struct user u = { 0 };
  json_t *user, *gids = json_array ();
  int r = resolve (b, &u, err);

  if (r == 0 && u.name != NULL && sc->supplemental_groups_policy != RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict)
    {
      struct group_query q = { .member = u.name, .gids = gids, .skip_gid = u.gid };
      (void)each_line (b->cctx->group, group_memberships, &q);
    }
  for (size_t i = 0; r == 0 && i < sc->n_supplemental_groups; i++)
    {
      int64_t g = sc->supplemental_groups[i];
      if (g < 0 || g >= (int64_t)UINT32_MAX)
        r = berth_fail (err, 0, CRI_CFG SC "supplemental_groups[%zu]: %lld is not a valid id", i, (long long)g);
      else
        add_gid (gids, (uint32_t)g);
    }
  free (u.name);
  if (r < 0)
    {
      json_decref (gids);
      return -1;
    }
  user = json_pack ("{s:I, s:I}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid);
  if (json_array_size (gids) > 0)
    json_object_set_new (user, "additionalGids", gids);
  else
    json_decref (gids);
  json_object_set_new (cri_obj (b->spec, "process"), "user", user);
  return 0;
}
