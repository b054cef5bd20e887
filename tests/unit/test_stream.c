/* The streaming server's pure parts: SPDY/3.1 frames and header blocks
 * (src/daemon/spdy.c) and HTTP request heads (src/daemon/stream_http.c),
 * with fuzz-ish inputs: every prefix of a good input, random bytes, and
 * good inputs with bytes flipped must never crash or read past the end
 * (run under ASan in build-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "daemon/spdy.h"
#include "daemon/stream_http.h"

/* ---- SPDY ---- */

static void
test_dictionary_is_spdy3s (void **state)
{
  (void)state;
  assert_int_equal (spdy_dictionary_len, 1423);
  assert_int_equal (adler32 (1, spdy_dictionary_p, (uInt)spdy_dictionary_len), 0xe3c6a7c2);
}

static void
test_data_frame_round_trip_and_prefixes (void **state)
{
  uint8_t buf[64];
  struct spdy_frame f;
  const char *why = NULL;
  size_t n = spdy_build_data (buf, 5, SPDY_FLAG_FIN, "hello", 5);

  (void)state;
  assert_int_equal (n, 13);
  assert_memory_equal (buf, "\x00\x00\x00\x05\x01\x00\x00\x05hello", 13);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), 1);
  assert_int_equal (f.type, SPDY_DATA);
  assert_int_equal (f.stream_id, 5);
  assert_int_equal (f.flags, SPDY_FLAG_FIN);
  assert_int_equal (f.len, 5);
  assert_memory_equal (f.data, "hello", 5);
  assert_int_equal (f.frame_len, 13);
  for (size_t i = 0; i < n; i++)
    assert_int_equal (spdy_parse (buf, i, 1024, &f, &why), 0);
  /* Too large for the limit, and stream 0. */
  assert_int_equal (spdy_parse (buf, n, 4, &f, &why), -1);
  assert_string_equal (why, "frame too large");
  n = spdy_build_data (buf, 0, 0, "x", 1);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), -1);
}

static void
test_control_frames (void **state)
{
  uint8_t buf[64];
  struct spdy_frame f;
  const char *why = NULL;
  size_t n;

  (void)state;
  n = spdy_build_rst (buf, 7, SPDY_RST_CANCEL);
  assert_memory_equal (buf, "\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x07\x00\x00\x00\x05", 16);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), 1);
  assert_int_equal (f.type, SPDY_RST_STREAM);
  assert_int_equal (f.stream_id, 7);
  assert_int_equal (f.value, SPDY_RST_CANCEL);
  n = spdy_build_ping (buf, 9);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), 1);
  assert_int_equal (f.type, SPDY_PING);
  assert_int_equal (f.value, 9);
  n = spdy_build_goaway (buf, 11, 1);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), 1);
  assert_int_equal (f.type, SPDY_GOAWAY);
  assert_int_equal (f.value, 11);
  assert_int_equal (f.value2, 1);
  for (size_t i = 0; i < n; i++)
    assert_int_equal (spdy_parse (buf, i, 1024, &f, &why), 0);
  /* SPDY/2 is refused. */
  memcpy (buf, "\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12);
  assert_int_equal (spdy_parse (buf, 12, 1024, &f, &why), -1);
  assert_string_equal (why, "not SPDY version 3");
  /* A RST_STREAM shorter than its fields, and one on stream 0. */
  memcpy (buf, "\x80\x03\x00\x03\x00\x00\x00\x04\x00\x00\x00\x01", 12);
  assert_int_equal (spdy_parse (buf, 12, 1024, &f, &why), -1);
  assert_string_equal (why, "control frame too short");
  n = spdy_build_rst (buf, 0, 1);
  assert_int_equal (spdy_parse (buf, n, 1024, &f, &why), -1);
  /* SETTINGS claiming more entries than it holds. */
  memcpy (buf, "\x80\x03\x00\x04\x00\x00\x00\x0c\x00\x00\x00\x02\x00\x00\x00\x07\x00\x01\x00\x00", 20);
  assert_int_equal (spdy_parse (buf, 20, 1024, &f, &why), -1);
  /* A well-formed one, and an unknown type (ignored by the session). */
  memcpy (buf, "\x80\x03\x00\x04\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x07\x00\x01\x00\x00", 20);
  assert_int_equal (spdy_parse (buf, 20, 1024, &f, &why), 1);
  assert_int_equal (f.value, 1);
  memcpy (buf, "\x80\x03\x00\x63\x00\x00\x00\x01\x00", 9);
  assert_int_equal (spdy_parse (buf, 9, 1024, &f, &why), 1);
  assert_int_equal (f.type, 0x63);
}

/* One side's encoder to the other side's decoder: the contexts carry over
 * from block to block, as on a connection. */
static void
test_header_blocks_round_trip (void **state)
{
  struct spdy_zlib a, b;
  const char *names[] = { "streamtype", "port", "requestid" };
  const char *values[] = { "data", "8080", "0" };
  uint8_t *block = NULL, frame[4096];
  size_t len = 0, n;
  struct spdy_headers h;
  struct spdy_frame f;
  const char *why = NULL;

  (void)state;
  assert_int_equal (spdy_zlib_init (&a), 0);
  assert_int_equal (spdy_zlib_init (&b), 0);
  for (int round = 0; round < 5; round++)
    {
      assert_int_equal (spdy_headers_encode (&a, names, values, 3, &block, &len), 0);
      n = spdy_build_headers_frame (frame, SPDY_SYN_STREAM, 0, 1 + 2 * round, 0, block, len);
      free (block);
      assert_int_equal (spdy_parse (frame, n, sizeof (frame), &f, &why), 1);
      assert_int_equal (f.type, SPDY_SYN_STREAM);
      assert_int_equal (f.stream_id, 1 + 2 * round);
      assert_int_equal (spdy_headers_decode (&b, f.data, f.len, 65536, &h, &why), 0);
      assert_int_equal (h.n, 3);
      assert_string_equal (spdy_headers_get (&h, "streamtype"), "data");
      assert_string_equal (spdy_headers_get (&h, "port"), "8080");
      assert_string_equal (spdy_headers_get (&h, "requestid"), "0");
      assert_null (spdy_headers_get (&h, "nope"));
      spdy_headers_free (&h);
    }
  /* No pairs at all (a SYN_REPLY's block). */
  assert_int_equal (spdy_headers_encode (&a, NULL, NULL, 0, &block, &len), 0);
  assert_int_equal (spdy_headers_decode (&b, block, len, 65536, &h, &why), 0);
  assert_int_equal (h.n, 0);
  free (block);
  spdy_headers_free (&h);
  spdy_zlib_free (&a);
  spdy_zlib_free (&b);
}

/* raw deflated with the dictionary, as a peer would send it. */
static size_t
deflate_raw (const void *raw, size_t raw_len, uint8_t *out, size_t size)
{
  z_stream z = { 0 };

  assert_int_equal (deflateInit (&z, 6), Z_OK);
  assert_int_equal (deflateSetDictionary (&z, spdy_dictionary_p, (uInt)spdy_dictionary_len), Z_OK);
  z.next_in = (Bytef *)raw;
  z.avail_in = (uInt)raw_len;
  z.next_out = out;
  z.avail_out = (uInt)size;
  assert_int_equal (deflate (&z, Z_SYNC_FLUSH), Z_OK);
  size_t n = size - z.avail_out;
  deflateEnd (&z);
  return n;
}

static int
decode_raw (const void *raw, size_t raw_len, size_t max_out)
{
  struct spdy_zlib z;
  struct spdy_headers h;
  uint8_t block[8192];
  const char *why = NULL;
  size_t n = deflate_raw (raw, raw_len, block, sizeof (block));
  int r;

  assert_int_equal (spdy_zlib_init (&z), 0);
  r = spdy_headers_decode (&z, block, n, max_out, &h, &why);
  if (r == 0)
    spdy_headers_free (&h);
  else
    assert_non_null (why);
  spdy_zlib_free (&z);
  return r;
}

static void
test_header_blocks_malformed (void **state)
{
  struct spdy_zlib z;
  struct spdy_headers h;
  const char *why = NULL;
  uint8_t big[4 + 8 * 200];

  (void)state;
  /* Good, for contrast: one pair, a value with two NUL-separated values. */
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\1a\0\0\0\3b\0c", 16, 65536), 0);
  /* A name length past the end; a value length past the end. */
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\x09"
                                "a",
                                9, 65536),
                    -1);
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\1a\0\0\1\0b", 14, 65536), -1);
  /* More pairs than there are; an empty name; a NUL in a name. */
  assert_int_equal (decode_raw ("\0\0\0\2\0\0\0\1a\0\0\0\1b", 14, 65536), -1);
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\0\0\0\0\1b", 13, 65536), -1);
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\2a\0\0\0\0\1b", 15, 65536), -1);
  /* Trailing bytes; fewer than 4 bytes. */
  assert_int_equal (decode_raw ("\0\0\0\0x", 5, 65536), -1);
  assert_int_equal (decode_raw ("\0\0", 2, 65536), -1);
  /* Too many pairs, and more than max_out uncompressed. */
  memset (big, 0, sizeof (big));
  big[3] = 200;
  assert_int_equal (decode_raw (big, sizeof (big), 65536), -1);
  assert_int_equal (decode_raw ("\0\0\0\1\0\0\0\1a\0\0\0\3bcd", 16, 8), -1);
  /* Not zlib at all. */
  assert_int_equal (spdy_zlib_init (&z), 0);
  assert_int_equal (spdy_headers_decode (&z, (const uint8_t *)"garbage!", 8, 65536, &h, &why), -1);
  spdy_zlib_free (&z);
}

/* A small deterministic generator: the same inputs on every run. */
static uint32_t rng = 12345;
static uint32_t
next (void)
{
  rng = rng * 1103515245 + 12345;
  return rng >> 8;
}

static void
test_spdy_fuzz (void **state)
{
  uint8_t good[256], buf[256];
  struct spdy_frame f;
  const char *why;
  struct spdy_zlib a, b;
  const char *names[] = { "streamtype" }, *values[] = { "stdin" };
  uint8_t *block;
  size_t len, n;

  (void)state;
  assert_int_equal (spdy_zlib_init (&a), 0);
  assert_int_equal (spdy_headers_encode (&a, names, values, 1, &block, &len), 0);
  n = spdy_build_headers_frame (good, SPDY_SYN_STREAM, 0, 1, 0, block, len);
  free (block);
  spdy_zlib_free (&a);
  for (int i = 0; i < 20000; i++)
    {
      size_t l = i % 2 ? n : next () % sizeof (buf);
      if (i % 2)
        {
          memcpy (buf, good, n);
          for (int k = 0, flips = 1 + next () % 4; k < flips; k++)
            buf[next () % n] ^= (uint8_t)(1 + next () % 255);
        }
      else
        for (size_t k = 0; k < l; k++)
          buf[k] = (uint8_t)next ();
      /* Parse from a heap copy of exactly l bytes, so ASan sees overreads. */
      uint8_t *copy = malloc (l ? l : 1);
      memcpy (copy, buf, l);
      why = NULL;
      if (spdy_parse (copy, l, 1024, &f, &why) == 1 && f.data && f.type != SPDY_DATA)
        {
          struct spdy_headers h;
          assert_int_equal (spdy_zlib_init (&b), 0);
          if (spdy_headers_decode (&b, f.data, f.len, 4096, &h, &why) == 0)
            spdy_headers_free (&h);
          spdy_zlib_free (&b);
        }
      free (copy);
    }
}

/* ---- HTTP ---- */

static const char good_req[] = "POST /exec/0123abcd HTTP/1.1\r\n"
                               "Host: 127.0.0.1:1234\r\n"
                               "Connection: keep-alive, Upgrade\r\n"
                               "Upgrade: spdy/3.1\r\n"
                               "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                               "x-stream-protocol-version: v3.channel.k8s.io\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n"
                               "\x80\x03"; /* a frame sent early: not part of the head */

static int
parse (const char *s, size_t len, struct http_request *r, int *status, const char **why)
{
  char *copy = malloc (len ? len : 1);
  int ret;

  memcpy (copy, s, len);
  ret = http_parse_request (copy, len, r, status, why);
  free (copy);
  return ret;
}

static void
test_http_good_request (void **state)
{
  struct http_request r;
  int status = 0;
  const char *why = NULL;
  size_t len = sizeof (good_req) - 1;

  (void)state;
  assert_int_equal (parse (good_req, len, &r, &status, &why), 1);
  assert_string_equal (r.method, "POST");
  assert_string_equal (r.path, "/exec/0123abcd");
  assert_true (r.upgrade_spdy);
  assert_true (r.connection_upgrade);
  assert_int_equal (r.n_protocols, 2);
  assert_string_equal (r.protocols[0], "v4.channel.k8s.io");
  assert_string_equal (r.protocols[1], "v3.channel.k8s.io");
  assert_int_equal (r.head_len, len - 2);
  /* Every proper prefix of the head: read more. */
  for (size_t i = 0; i < r.head_len; i++)
    assert_int_equal (parse (good_req, i, &r, &status, &why), 0);
}

static void
expect_bad (const char *req, int code, const char *why_part)
{
  struct http_request r;
  int status = 0;
  const char *why = NULL;

  assert_int_equal (parse (req, strlen (req), &r, &status, &why), -1);
  assert_int_equal (status, code);
  assert_non_null (strstr (why, why_part));
}

static void
test_http_bad_requests (void **state)
{
  char big[HTTP_MAX_HEAD + 64];
  struct http_request r;
  int status;
  const char *why;

  (void)state;
  expect_bad ("GET /exec/x HTTP/1.0\r\n\r\n", 505, "HTTP/1.1");
  expect_bad ("GET /exec/x HTTP/2.0\r\n\r\n", 505, "HTTP/1.x");
  expect_bad ("GET /exec/x\r\n\r\n", 400, "request line");
  expect_bad ("GET  /exec/x HTTP/1.1\r\n\r\n", 400, "request line");
  expect_bad ("GET /exec/x HTTP/1.1 extra\r\n\r\n", 400, "request line");
  expect_bad ("get /exec/x HTTP/1.1\r\n\r\n", 400, "method");
  expect_bad ("GET exec/x HTTP/1.1\r\n\r\n", 400, "path");
  expect_bad ("GET /exec/\x01 HTTP/1.1\r\n\r\n", 400, "target");
  expect_bad ("GET /exec/x HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "header");
  expect_bad ("GET /exec/x HTTP/1.1\r\n: empty name\r\n\r\n", 400, "header");
  expect_bad ("GET /exec/x HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "header name");
  expect_bad ("GET /exec/x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "folded");
  expect_bad ("GET /exec/x HTTP/1.1\r\nA: b\nB: c\r\n\r\n", 400, "bare");
  expect_bad ("GET /exec/x HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "control character");
  expect_bad ("POST /exec/x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, "body");
  expect_bad ("POST /exec/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "body");
  expect_bad ("LONGMETHOD /exec/x HTTP/1.1\r\n\r\n", 400, "method");
  /* Limits: target, headers, protocol values, the head itself. */
  memset (big, 0, sizeof (big));
  strcpy (big, "GET /");
  memset (big + 5, 'a', 300);
  strcat (big, " HTTP/1.1\r\n\r\n");
  expect_bad (big, 414, "too long");
  strcpy (big, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
    strcat (big, "A: b\r\n");
  strcat (big, "\r\n");
  expect_bad (big, 431, "too many headers");
  strcpy (big, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < HTTP_MAX_PROTOCOLS + 1; i++)
    strcat (big, "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n");
  strcat (big, "\r\n");
  expect_bad (big, 431, "X-Stream-Protocol-Version");
  strcpy (big, "GET / HTTP/1.1\r\nA: ");
  memset (big + strlen (big), 'x', HTTP_MAX_HEAD);
  assert_int_equal (parse (big, HTTP_MAX_HEAD, &r, &status, &why), -1);
  assert_int_equal (status, 431);
  /* NUL anywhere in the head. */
  assert_int_equal (parse ("GET / HTTP/1.1\r\nA: \0b\r\n\r\n", 24, &r, &status, &why), -1);
  assert_int_equal (status, 400);
  assert_int_equal (parse ("GET /\0", 6, &r, &status, &why), -1);
  /* Upgrade headers missing are the server's business, not the parser's. */
  assert_int_equal (parse ("GET /x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 39, &r, &status, &why), 1);
  assert_false (r.upgrade_spdy);
  assert_false (r.connection_upgrade);
}

static void
test_http_fuzz (void **state)
{
  char buf[1024];
  struct http_request r;
  int status;
  const char *why;

  (void)state;
  for (int i = 0; i < 20000; i++)
    {
      size_t l;
      if (i % 2)
        {
          l = sizeof (good_req) - 1;
          memcpy (buf, good_req, l);
          for (int k = 0, flips = 1 + next () % 4; k < flips; k++)
            buf[next () % l] = (char)(next () % 3 == 0 ? "\r\n :\0"[next () % 5] : (char)next ());
        }
      else
        {
          l = next () % sizeof (buf);
          for (size_t k = 0; k < l; k++)
            buf[k] = "GET /exec HTTP/1.1\r\n: a"[next () % 23];
        }
      int ret = parse (buf, l, &r, &status, &why);
      assert_true (ret >= -1 && ret <= 1);
      if (ret == 1)
        {
          assert_true (r.head_len <= l);
          assert_true (r.path[0] == '/');
        }
      else if (ret == -1)
        assert_true (status >= 400 && status < 600);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_dictionary_is_spdy3s),
    cmocka_unit_test (test_data_frame_round_trip_and_prefixes),
    cmocka_unit_test (test_control_frames),
    cmocka_unit_test (test_header_blocks_round_trip),
    cmocka_unit_test (test_header_blocks_malformed),
    cmocka_unit_test (test_spdy_fuzz),
    cmocka_unit_test (test_http_good_request),
    cmocka_unit_test (test_http_bad_requests),
    cmocka_unit_test (test_http_fuzz),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
