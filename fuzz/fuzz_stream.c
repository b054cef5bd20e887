/* libFuzzer target: what berthd's streaming server reads from the network
 * before and after the upgrade (src/daemon/stream_http.c, spdy.c).  The
 * first byte picks the parser: even, an HTTP request head; odd, a run of
 * SPDY frames, each header block inflated on one connection-wide zlib
 * context (as a session does), a block that fails ending the run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/spdy.h"
#include "daemon/stream_http.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  if (data[0] % 2 == 0)
    {
      struct http_request r;
      int status;
      const char *why;
      int ret = http_parse_request ((const char *)data + 1, size - 1, &r, &status, &why);
      if (ret == 1 && (r.head_len > size - 1 || r.path[0] != '/'))
        abort ();
      return 0;
    }
  struct spdy_zlib z;
  size_t off = 1;
  if (spdy_zlib_init (&z) < 0)
    abort ();
  for (;;)
    {
      struct spdy_frame f;
      const char *why = NULL;
      int r = spdy_parse (data + off, size - off, 65536, &f, &why);
      if (r <= 0)
        break;
      if (f.frame_len > size - off)
        abort ();
      off += f.frame_len;
      if (f.type == SPDY_SYN_STREAM || f.type == SPDY_SYN_REPLY || f.type == SPDY_HEADERS)
        {
          struct spdy_headers h;
          if (spdy_headers_decode (&z, f.data, f.len, 65536, &h, &why) < 0)
            break;
          for (size_t i = 0; i < h.n; i++)
            if (strlen (h.v[i].name) == 0)
              abort ();
          spdy_headers_free (&h);
        }
    }
  spdy_zlib_free (&z);
  return 0;
}
