/* SPDY/3.1 framing, as the kubelet's streaming protocols use it
 * (k8s.io/apimachinery httpstream/spdy over moby/spdystream).  Pure: no
 * I/O, so the unit tests drive it with bytes.
 *
 *   control frame                             data frame
 *   +-+--------------+----------------+       +-+-------------------------------+
 *   |1| version (3)  | type (16)      |       |0| stream id (31)                |
 *   +-+------+-------+----------------+       +--------+------------------------+
 *   | flags  | length (24)            |       | flags  | length (24)            |
 *   +--------+------------------------+       +--------+------------------------+
 *   | type-specific data (length)     |       | data (length)                   |
 *
 *   SYN_STREAM (1): stream id, associated id, priority/slot, header block
 *   SYN_REPLY  (2): stream id, header block
 *   RST_STREAM (3): stream id, status          SETTINGS (4): n, n x (flags|id, value)
 *   PING       (6): id                         GOAWAY   (7): last good id, status
 *   HEADERS    (8): stream id, header block    WINDOW_UPDATE (9): stream id, delta
 *   flags: FIN (1) on SYN_STREAM, SYN_REPLY, HEADERS and data; UNIDIRECTIONAL (2)
 *
 * A header block is zlib-compressed (one deflate context per direction for
 * the whole connection, SPDY/3's dictionary, a sync flush per block):
 *   n pairs (32) then n x { name length (32), name, value length (32), value }
 * Names are lower case; a value may hold several values separated by NUL.
 *
 * Flow control: spdystream (the Go client kubectl, crictl and the kubelet
 * use) neither sends nor honours WINDOW_UPDATE, so this side accepts them
 * and ignores them, and never waits for a window: the bound on what is in
 * flight is the TCP socket's buffer.
 */
#ifndef BERTH_DAEMON_SPDY_H
#define BERTH_DAEMON_SPDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define SPDY_VERSION 3
#define SPDY_HEADER_LEN 8
#define SPDY_FLAG_FIN 0x01
#define SPDY_FLAG_UNIDIRECTIONAL 0x02

enum spdy_type
{
  SPDY_DATA = 0, /* not a control type: a data frame */
  SPDY_SYN_STREAM = 1,
  SPDY_SYN_REPLY = 2,
  SPDY_RST_STREAM = 3,
  SPDY_SETTINGS = 4,
  SPDY_PING = 6,
  SPDY_GOAWAY = 7,
  SPDY_HEADERS = 8,
  SPDY_WINDOW_UPDATE = 9,
};

enum spdy_rst_status
{
  SPDY_RST_PROTOCOL_ERROR = 1,
  SPDY_RST_INVALID_STREAM = 2,
  SPDY_RST_REFUSED_STREAM = 3,
  SPDY_RST_CANCEL = 5,
  SPDY_RST_INTERNAL_ERROR = 6,
  SPDY_RST_STREAM_IN_USE = 8,
  SPDY_RST_FRAME_TOO_LARGE = 11,
};

/* The protocol's zlib dictionary for header blocks (1423 bytes). */
extern const unsigned char *const spdy_dictionary_p;
extern const size_t spdy_dictionary_len;

/* One frame as parsed; pointers point into the caller's buffer. */
struct spdy_frame
{
  uint16_t type; /* enum spdy_type; SPDY_DATA for a data frame */
  uint8_t flags;
  uint32_t stream_id;  /* data, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE */
  uint32_t assoc_id;   /* SYN_STREAM */
  uint32_t value;      /* RST_STREAM/GOAWAY status, PING id, GOAWAY last id, WINDOW_UPDATE delta */
  uint32_t value2;     /* GOAWAY status */
  const uint8_t *data; /* data frame: payload; SYN_STREAM/SYN_REPLY/HEADERS: the header block */
  size_t len;          /* of data */
  size_t frame_len;    /* whole frame, header included */
};

/* Parses the frame at the start of buf.  Returns 1 with *f filled, 0 when
 * buf holds less than one whole frame (read more), -1 when the frame is
 * malformed or longer than max_len (*why says what; the connection must
 * end).  Unknown control types parse (type as read, data = payload): SPDY
 * says to ignore them. */
int spdy_parse (const uint8_t *buf, size_t len, size_t max_len, struct spdy_frame *f, const char **why);

/* Builders: write into out (at least SPDY_HEADER_LEN + payload bytes) and
 * return the frame's length. */
size_t spdy_build_data (uint8_t *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len);
size_t spdy_build_rst (uint8_t *out, uint32_t stream_id, uint32_t status);
size_t spdy_build_ping (uint8_t *out, uint32_t id);
size_t spdy_build_goaway (uint8_t *out, uint32_t last_id, uint32_t status);
/* SYN_STREAM/SYN_REPLY/HEADERS with an already compressed header block:
 * out needs SPDY_HEADER_LEN + 10 + block_len bytes. */
size_t spdy_build_headers_frame (uint8_t *out, uint16_t type, uint8_t flags, uint32_t stream_id, uint32_t assoc_id,
                                 const uint8_t *block, size_t block_len);

/* ---- header blocks ---- */

struct spdy_header
{
  char *name;
  char *value; /* NUL-separated values, as sent */
  size_t value_len;
};

struct spdy_headers
{
  struct spdy_header *v;
  size_t n;
};

/* zlib state of one connection: one context per direction. */
struct spdy_zlib
{
  z_stream in, out;
  bool in_ready, out_ready;
};

int spdy_zlib_init (struct spdy_zlib *z);
void spdy_zlib_free (struct spdy_zlib *z);

/* Inflates and parses one header block (max_out bytes uncompressed at
 * most, at most 128 pairs).  0 or -1 with *why. */
int spdy_headers_decode (struct spdy_zlib *z, const uint8_t *block, size_t len, size_t max_out, struct spdy_headers *h,
                         const char **why);
/* Serializes and deflates pairs (names and values as C strings) into a
 * malloc'd block.  0 or -1. */
int spdy_headers_encode (struct spdy_zlib *z, const char *const *names, const char *const *values, size_t n,
                         uint8_t **block, size_t *len);
void spdy_headers_free (struct spdy_headers *h);
/* The first value of `name`, or NULL. */
const char *spdy_headers_get (const struct spdy_headers *h, const char *name);

#endif
