/* SPDY/3.1 frames and header blocks (spdy.h has the layout). */
#include "daemon/spdy.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PAIRS 128

/* SPDY/3 section 2.6.10.1: a constant of the protocol, byte for byte (its
 * adler32, 0xe3c6a7c2, is what a peer's zlib stream names). */
static const char dict[] = "\000\000\000\007options\000\000\000\004head\000\000\000\004post\000\000\000\003put\000\000"
                           "\000\006delete\000\000\000\005trace\000\000\000\006accept\000\000\000\016accept-charset"
                           "\000\000\000\017accept-encoding\000\000\000\017accept-language\000\000\000\015accept-range"
                           "s\000\000\000\003age\000\000\000\005allow\000\000\000\015authorization\000\000\000\015cach"
                           "e-control\000\000\000\012connection\000\000\000\014content-base\000\000\000\020content-enc"
                           "oding\000\000\000\020content-language\000\000\000\016content-length\000\000\000\020content"
                           "-location\000\000\000\013content-md5\000\000\000\015content-range\000\000\000\014content-t"
                           "ype\000\000\000\004date\000\000\000\004etag\000\000\000\006expect\000\000\000\007expires"
                           "\000\000\000\004from\000\000\000\004host\000\000\000\010if-match\000\000\000\021if-modifie"
                           "d-since\000\000\000\015if-none-match\000\000\000\010if-range\000\000\000\023if-unmodified-"
                           "since\000\000\000\015last-modified\000\000\000\010location\000\000\000\014max-forwards\000"
                           "\000\000\006pragma\000\000\000\022proxy-authenticate\000\000\000\023proxy-authorization"
                           "\000\000\000\005range\000\000\000\007referer\000\000\000\013retry-after\000\000\000\006ser"
                           "ver\000\000\000\002te\000\000\000\007trailer\000\000\000\021transfer-encoding\000\000\000"
                           "\007upgrade\000\000\000\012user-agent\000\000\000\004vary\000\000\000\003via\000\000\000"
                           "\007warning\000\000\000\020www-authenticate\000\000\000\006method\000\000\000\003get\000"
                           "\000\000\006status\000\000\000\006200 OK\000\000\000\007version\000\000\000\010HTTP/1.1"
                           "\000\000\000\003url\000\000\000\006public\000\000\000\012set-cookie\000\000\000\012keep-al"
                           "ive\000\000\000\006origin10010120120220520630030230330430530630740240540640740840941041141"
                           "2413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanen"
                           "tly400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 N"
                           "ot Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:0"
                           "0:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif"
                           ",application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzi"
                           "p,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
const unsigned char *const spdy_dictionary_p = (const unsigned char *)dict;
const size_t spdy_dictionary_len = sizeof (dict) - 1;

static uint32_t
rd32 (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr32 (uint8_t *p, uint32_t v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* Control frame header: C bit, version, type, flags, length. */
static void
wr_control (uint8_t *p, uint16_t type, uint8_t flags, size_t len)
{
  p[0] = 0x80;
  p[1] = SPDY_VERSION;
  p[2] = type >> 8;
  p[3] = type & 0xff;
  wr32 (p + 4, (uint32_t)len);
  p[4] = flags;
}

/* Minimum payload length of each known control type. */
static size_t
min_payload (uint16_t type)
{
  switch (type)
    {
    case SPDY_SYN_STREAM:
      return 10;
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
    case SPDY_PING:
    case SPDY_SETTINGS:
      return 4;
    case SPDY_RST_STREAM:
    case SPDY_GOAWAY:
    case SPDY_WINDOW_UPDATE:
      return 8;
    default:
      return 0;
    }
}

int
spdy_parse (const uint8_t *buf, size_t len, size_t max_len, struct spdy_frame *f, const char **why)
{
  size_t plen;
  const uint8_t *p;

  memset (f, 0, sizeof (*f));
  if (len < SPDY_HEADER_LEN)
    return 0;
  plen = (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
  if (plen > max_len)
    {
      *why = "frame too large";
      return -1;
    }
  f->flags = buf[4];
  p = buf + SPDY_HEADER_LEN;
  if (!(buf[0] & 0x80))
    {
      /* Data frames may arrive before the whole payload: wait for it. */
      if (len < SPDY_HEADER_LEN + plen)
        return 0;
      f->type = SPDY_DATA;
      f->stream_id = rd32 (buf) & 0x7fffffff;
      if (f->stream_id == 0)
        {
          *why = "data frame on stream 0";
          return -1;
        }
      f->data = p;
      f->len = plen;
      f->frame_len = SPDY_HEADER_LEN + plen;
      return 1;
    }
  if ((((uint16_t)buf[0] & 0x7f) << 8 | buf[1]) != SPDY_VERSION)
    {
      *why = "not SPDY version 3";
      return -1;
    }
  f->type = (uint16_t)buf[2] << 8 | buf[3];
  if (plen < min_payload (f->type))
    {
      *why = "control frame too short";
      return -1;
    }
  if (len < SPDY_HEADER_LEN + plen)
    return 0;
  f->frame_len = SPDY_HEADER_LEN + plen;
  switch (f->type)
    {
    case SPDY_SYN_STREAM:
      f->stream_id = rd32 (p) & 0x7fffffff;
      f->assoc_id = rd32 (p + 4) & 0x7fffffff;
      f->data = p + 10;
      f->len = plen - 10;
      break;
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
      f->stream_id = rd32 (p) & 0x7fffffff;
      f->data = p + 4;
      f->len = plen - 4;
      break;
    case SPDY_RST_STREAM:
    case SPDY_WINDOW_UPDATE:
      f->stream_id = rd32 (p) & 0x7fffffff;
      f->value = rd32 (p + 4) & (f->type == SPDY_WINDOW_UPDATE ? 0x7fffffff : 0xffffffff);
      break;
    case SPDY_PING:
      f->value = rd32 (p);
      break;
    case SPDY_GOAWAY:
      f->value = rd32 (p) & 0x7fffffff;
      f->value2 = rd32 (p + 4);
      break;
    case SPDY_SETTINGS:
      f->value = rd32 (p); /* entries */
      if ((size_t)f->value > (plen - 4) / 8)
        {
          *why = "SETTINGS: more entries than the frame holds";
          return -1;
        }
      f->data = p + 4;
      f->len = plen - 4;
      break;
    default:
      f->data = p;
      f->len = plen;
      break;
    }
  if ((f->type == SPDY_SYN_STREAM || f->type == SPDY_SYN_REPLY || f->type == SPDY_HEADERS || f->type == SPDY_RST_STREAM
       || f->type == SPDY_WINDOW_UPDATE)
      && f->stream_id == 0)
    {
      *why = "control frame on stream 0";
      return -1;
    }
  return 1;
}

size_t
spdy_build_data (uint8_t *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len)
{
  wr32 (out, stream_id & 0x7fffffff);
  wr32 (out + 4, (uint32_t)len);
  out[4] = flags;
  if (len)
    memcpy (out + SPDY_HEADER_LEN, data, len);
  return SPDY_HEADER_LEN + len;
}

size_t
spdy_build_rst (uint8_t *out, uint32_t stream_id, uint32_t status)
{
  wr_control (out, SPDY_RST_STREAM, 0, 8);
  wr32 (out + 8, stream_id & 0x7fffffff);
  wr32 (out + 12, status);
  return 16;
}

size_t
spdy_build_ping (uint8_t *out, uint32_t id)
{
  wr_control (out, SPDY_PING, 0, 4);
  wr32 (out + 8, id);
  return 12;
}

size_t
spdy_build_goaway (uint8_t *out, uint32_t last_id, uint32_t status)
{
  wr_control (out, SPDY_GOAWAY, 0, 8);
  wr32 (out + 8, last_id & 0x7fffffff);
  wr32 (out + 12, status);
  return 16;
}

size_t
spdy_build_headers_frame (uint8_t *out, uint16_t type, uint8_t flags, uint32_t stream_id, uint32_t assoc_id,
                          const uint8_t *block, size_t block_len)
{
  size_t fixed = type == SPDY_SYN_STREAM ? 10 : 4;

  wr_control (out, type, flags, fixed + block_len);
  wr32 (out + 8, stream_id & 0x7fffffff);
  if (type == SPDY_SYN_STREAM)
    {
      wr32 (out + 12, assoc_id & 0x7fffffff);
      out[16] = 0; /* priority 0, slot 0 */
      out[17] = 0;
    }
  memcpy (out + SPDY_HEADER_LEN + fixed, block, block_len);
  return SPDY_HEADER_LEN + fixed + block_len;
}

/* ---- header blocks ---- */

int
spdy_zlib_init (struct spdy_zlib *z)
{
  memset (z, 0, sizeof (*z));
  if (inflateInit (&z->in) != Z_OK)
    return -1;
  z->in_ready = true;
  if (deflateInit (&z->out, Z_DEFAULT_COMPRESSION) != Z_OK
      || deflateSetDictionary (&z->out, (const Bytef *)dict, spdy_dictionary_len) != Z_OK)
    {
      spdy_zlib_free (z);
      return -1;
    }
  z->out_ready = true;
  return 0;
}

void
spdy_zlib_free (struct spdy_zlib *z)
{
  if (z->in_ready)
    inflateEnd (&z->in);
  if (z->out_ready)
    deflateEnd (&z->out);
  z->in_ready = z->out_ready = false;
}

/* Inflates all of block (a sync-flushed piece of the connection's stream). */
static int
inflate_block (struct spdy_zlib *z, const uint8_t *block, size_t len, size_t max_out, uint8_t **out, size_t *out_len,
               const char **why)
{
  size_t cap = max_out < 1024 ? max_out : 1024, n = 0;
  uint8_t *buf = malloc (cap ? cap : 1);

  if (buf == NULL)
    return -1;
  z->in.next_in = (Bytef *)block;
  z->in.avail_in = (uInt)len;
  for (;;)
    {
      int r;
      if (n == cap)
        {
          uint8_t *nb;
          if (cap >= max_out)
            {
              free (buf);
              *why = "header block too large";
              return -1;
            }
          cap = cap * 2 > max_out ? max_out : cap * 2;
          if ((nb = realloc (buf, cap)) == NULL)
            {
              free (buf);
              return -1;
            }
          buf = nb;
        }
      z->in.next_out = buf + n;
      z->in.avail_out = (uInt)(cap - n);
      r = inflate (&z->in, Z_SYNC_FLUSH);
      if (r == Z_NEED_DICT)
        r = inflateSetDictionary (&z->in, (const Bytef *)dict, spdy_dictionary_len);
      n = cap - z->in.avail_out;
      if (r == Z_BUF_ERROR && z->in.avail_in == 0)
        break; /* all input consumed */
      if (r != Z_OK)
        {
          free (buf);
          *why = r == Z_DATA_ERROR ? "header block: bad zlib data (not SPDY/3's dictionary?)"
                                   : "header block: inflate failed";
          return -1;
        }
      if (z->in.avail_in == 0 && z->in.avail_out > 0)
        break;
    }
  *out = buf;
  *out_len = n;
  return 0;
}

int
spdy_headers_decode (struct spdy_zlib *z, const uint8_t *block, size_t len, size_t max_out, struct spdy_headers *h,
                     const char **why)
{
  uint8_t *raw = NULL;
  size_t n = 0, off = 4;
  uint32_t pairs;

  memset (h, 0, sizeof (*h));
  if (len == 0)
    return 0; /* an empty block: no headers (and no zlib data) */
  if (inflate_block (z, block, len, max_out, &raw, &n, why) < 0)
    return -1;
  if (n < 4)
    goto bad;
  pairs = rd32 (raw);
  if (pairs > MAX_PAIRS)
    {
      free (raw);
      *why = "header block: too many pairs";
      return -1;
    }
  h->v = calloc (pairs ? pairs : 1, sizeof (*h->v));
  if (h->v == NULL)
    goto bad;
  for (uint32_t i = 0; i < pairs; i++)
    {
      uint32_t nl, vl;
      struct spdy_header *e = &h->v[h->n];

      if (n - off < 4 || (nl = rd32 (raw + off)) == 0 || n - off - 4 < nl)
        goto bad;
      off += 4;
      if (memchr (raw + off, '\0', nl))
        goto bad;
      e->name = strndup ((char *)raw + off, nl);
      off += nl;
      if (n - off < 4 || n - off - 4 < (vl = rd32 (raw + off)))
        {
          free (e->name);
          goto bad;
        }
      off += 4;
      e->value = malloc (vl + 1);
      if (e->name == NULL || e->value == NULL)
        {
          free (e->name);
          free (e->value);
          goto bad;
        }
      memcpy (e->value, raw + off, vl);
      e->value[vl] = '\0';
      e->value_len = vl;
      off += vl;
      for (char *c = e->name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
          *c += 'a' - 'A'; /* SPDY wants lower case; Go clients send canonical case */
      h->n++;
    }
  if (off != n)
    goto bad;
  free (raw);
  return 0;
bad:
  free (raw);
  spdy_headers_free (h);
  *why = "header block: malformed";
  return -1;
}

int
spdy_headers_encode (struct spdy_zlib *z, const char *const *names, const char *const *values, size_t n,
                     uint8_t **block, size_t *len)
{
  size_t raw_len = 4, cap, done = 0;
  uint8_t *raw, *out, *p;

  for (size_t i = 0; i < n; i++)
    raw_len += 8 + strlen (names[i]) + strlen (values[i]);
  raw = malloc (raw_len);
  if (raw == NULL)
    return -1;
  p = raw;
  wr32 (p, (uint32_t)n);
  p += 4;
  for (size_t i = 0; i < n; i++)
    {
      size_t nl = strlen (names[i]), vl = strlen (values[i]);
      wr32 (p, (uint32_t)nl);
      memcpy (p + 4, names[i], nl);
      p += 4 + nl;
      wr32 (p, (uint32_t)vl);
      memcpy (p + 4, values[i], vl);
      p += 4 + vl;
    }
  cap = deflateBound (&z->out, raw_len) + 16;
  out = malloc (cap);
  if (out == NULL)
    {
      free (raw);
      return -1;
    }
  z->out.next_in = raw;
  z->out.avail_in = (uInt)raw_len;
  do
    {
      z->out.next_out = out + done;
      z->out.avail_out = (uInt)(cap - done);
      if (deflate (&z->out, Z_SYNC_FLUSH) != Z_OK)
        {
          free (raw);
          free (out);
          return -1;
        }
      done = cap - z->out.avail_out;
    }
  while (z->out.avail_out == 0);
  free (raw);
  *block = out;
  *len = done;
  return 0;
}

void
spdy_headers_free (struct spdy_headers *h)
{
  for (size_t i = 0; i < h->n; i++)
    {
      free (h->v[i].name);
      free (h->v[i].value);
    }
  free (h->v);
  h->v = NULL;
  h->n = 0;
}

const char *
spdy_headers_get (const struct spdy_headers *h, const char *name)
{
  for (size_t i = 0; i < h->n; i++)
    if (strcmp (h->v[i].name, name) == 0)
      return h->v[i].value;
  return NULL;
}
