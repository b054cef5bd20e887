/* HTTP/1.1 request heads for the streaming server (stream_http.h). */
#include "daemon/stream_http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
is_tchar (char c)
{
  return isalnum ((unsigned char)c) || (c && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whether the comma-separated list holds `token` (case-insensitive). */
static bool
list_has (const char *v, size_t vl, const char *token)
{
  size_t tl = strlen (token), i = 0;

  while (i < vl)
    {
      size_t s, e;
      while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
        i++;
      s = i;
      while (i < vl && v[i] != ',')
        i++;
      e = i;
      while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
      if (e - s == tl && strncasecmp (v + s, token, tl) == 0)
        return true;
    }
  return false;
}

static int
fail (int *status, const char **why, int code, const char *msg)
{
  *status = code;
  *why = msg;
  return -1;
}

/* One header line [s, e) (no CRLF). */
static int
header (struct http_request *r, const char *s, const char *e, int *status, const char **why)
{
  const char *colon = memchr (s, ':', e - s), *v;
  size_t nl, vl;

  if (colon == NULL || colon == s)
    return fail (status, why, 400, "malformed header line");
  for (const char *c = s; c < colon; c++)
    if (!is_tchar (*c))
      return fail (status, why, 400, "malformed header name");
  nl = colon - s;
  v = colon + 1;
  while (v < e && (*v == ' ' || *v == '\t'))
    v++;
  while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  vl = e - v;
  for (const char *c = v; c < e; c++)
    if ((unsigned char)*c < 0x20 && *c != '\t')
      return fail (status, why, 400, "control character in a header value");
#define IS(n) (nl == strlen (n) && strncasecmp (s, n, nl) == 0)
  if (IS ("Upgrade"))
    r->upgrade_spdy = r->upgrade_spdy || list_has (v, vl, "SPDY/3.1");
  else if (IS ("Connection"))
    r->connection_upgrade = r->connection_upgrade || list_has (v, vl, "upgrade");
  else if (IS ("X-Stream-Protocol-Version"))
    {
      if (vl >= sizeof (r->protocols[0]))
        return fail (status, why, 431, "X-Stream-Protocol-Version too long");
      if (r->n_protocols == HTTP_MAX_PROTOCOLS)
        return fail (status, why, 431, "too many X-Stream-Protocol-Version headers");
      memcpy (r->protocols[r->n_protocols], v, vl);
      r->protocols[r->n_protocols++][vl] = '\0';
    }
  else if (IS ("Transfer-Encoding"))
    return fail (status, why, 400, "a request body is not allowed");
  else if (IS ("Content-Length"))
    {
      if (vl != 1 || v[0] != '0')
        return fail (status, why, 400, "a request body is not allowed");
    }
#undef IS
  return 0;
}

int
http_parse_request (const char *in, size_t len, struct http_request *r, int *status, const char **why)
{
  char buf[HTTP_MAX_HEAD + 1]; /* the head, NUL-terminated */
  const char *end = NULL, *p, *line_end, *sp1, *sp2;
  size_t n_headers = 0;

  memset (r, 0, sizeof (*r));
  for (size_t i = 0; i + 3 < len && i + 4 <= HTTP_MAX_HEAD; i++)
    if (memcmp (in + i, "\r\n\r\n", 4) == 0)
      {
        end = buf + i + 2; /* the empty line starts here */
        break;
      }
  if (end == NULL)
    {
      for (size_t i = 0; i < len; i++)
        if (in[i] == '\0')
          return fail (status, why, 400, "NUL in the request head");
      if (len >= HTTP_MAX_HEAD)
        return fail (status, why, 431, "request head too large");
      return 0;
    }
  r->head_len = (size_t)(end - buf) + 2;
  memcpy (buf, in, r->head_len);
  buf[r->head_len] = '\0';
  if (memchr (buf, '\0', r->head_len))
    return fail (status, why, 400, "NUL in the request head");
  /* Request line: METHOD SP TARGET SP HTTP/1.1 */
  line_end = strstr (buf, "\r\n");
  sp1 = memchr (buf, ' ', line_end - buf);
  if (sp1 == NULL || sp1 == buf)
    return fail (status, why, 400, "malformed request line");
  sp2 = memchr (sp1 + 1, ' ', line_end - sp1 - 1);
  if (sp2 == NULL || sp2 == sp1 + 1 || memchr (sp2 + 1, ' ', line_end - sp2 - 1))
    return fail (status, why, 400, "malformed request line");
  if ((size_t)(sp1 - buf) >= sizeof (r->method))
    return fail (status, why, 400, "unknown method");
  for (p = buf; p < sp1; p++)
    if (!isupper ((unsigned char)*p))
      return fail (status, why, 400, "malformed method");
  memcpy (r->method, buf, sp1 - buf);
  if ((size_t)(sp2 - sp1 - 1) >= sizeof (r->path))
    return fail (status, why, 414, "request target too long");
  memcpy (r->path, sp1 + 1, sp2 - sp1 - 1);
  if (r->path[0] != '/')
    return fail (status, why, 400, "request target must be a path");
  for (p = r->path; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
      return fail (status, why, 400, "malformed request target");
  if ((size_t)(line_end - sp2 - 1) != 8 || strncmp (sp2 + 1, "HTTP/1.", 7) != 0)
    return fail (status, why, 505, "not HTTP/1.x");
  if (sp2[8] != '1')
    return fail (status, why, 505, "HTTP/1.1 required (an upgrade needs it)");
  for (p = line_end + 2; p < end;)
    {
      const char *e = strstr (p, "\r\n");
      if (*p == ' ' || *p == '\t')
        return fail (status, why, 400, "folded header lines are not allowed");
      if (++n_headers > HTTP_MAX_HEADERS)
        return fail (status, why, 431, "too many headers");
      for (const char *c = p; c < e; c++)
        if (*c == '\r' || *c == '\n')
          return fail (status, why, 400, "bare CR or LF in the request head");
      if (header (r, p, e, status, why) < 0)
        return -1;
      p = e + 2;
    }
  for (p = buf; p < end; p++)
    if (*p == '\n' && (p == buf || p[-1] != '\r'))
      return fail (status, why, 400, "bare LF in the request head");
  return 1;
}
