/* The streaming server's HTTP/1.1: one request per connection, which must
 * ask to upgrade to SPDY/3.1.  Small and strict: the head is at most
 * HTTP_MAX_HEAD bytes, CRLF line ends, no folded headers, no body.  Pure,
 * for the unit tests. */
#ifndef BERTH_DAEMON_STREAM_HTTP_H
#define BERTH_DAEMON_STREAM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_PROTOCOLS 8

struct http_request
{
  char method[8];
  char path[256];
  bool upgrade_spdy;                      /* Upgrade: SPDY/3.1 */
  bool connection_upgrade;                /* Connection: has the token "upgrade" */
  char protocols[HTTP_MAX_PROTOCOLS][64]; /* X-Stream-Protocol-Version values, in order */
  size_t n_protocols;
  size_t head_len; /* bytes of the head, up to and with the empty line */
};

/* 1: a whole head was parsed into *r; 0: buf holds only part of one (read
 * more, unless len reached HTTP_MAX_HEAD: then it is -1); -1: malformed,
 * *status is the HTTP status to answer (400, 411, 413, 414, 431, 505) and
 * *why says what is wrong. */
int http_parse_request (const char *buf, size_t len, struct http_request *r, int *status, const char **why);

#endif
