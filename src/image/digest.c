/* sha256 through OpenSSL: never a hand-written hash.
 *
 * OpenSSL's SHA256_Init/Update/Final, not EVP: the same implementation
 * (the assembly block function, SHA-NI or AVX2 as the CPU has), without
 * EVP's provider machinery.  The first EVP_DigestInit loads the default
 * provider, which touches its whole algorithm table and the OBJ tables:
 * 1.4 MiB of berthd's RSS, which hashes every manifest and config it reads
 * (docs/performance.md).  OpenSSL 3.0 deprecates them in favour of EVP
 * but still ships them.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "image/internal.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sha256
{
  SHA256_CTX ctx;
};

bool
digest_valid (const char *d)
{
  if (d == NULL || strncmp (d, "sha256:", 7) != 0 || strlen (d) != 71)
    return false;
  for (const char *p = d + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

int
digest_check (const char *d, const char *field, berth_err *err)
{
  if (d == NULL)
    return berth_fail (err, 0, "%s: missing digest", field);
  if (strchr (d, ':') != NULL && strncmp (d, "sha256:", 7) != 0)
    return berth_fail (err, 0, "%s: unsupported digest algorithm in \"%s\" (only sha256)", field, d);
  if (!digest_valid (d))
    return berth_fail (err, 0, "%s: invalid digest \"%s\" (expected sha256:<64 hex digits>)", field, d);
  return 0;
}

struct sha256 *
sha256_new (void)
{
  struct sha256 *h = malloc (sizeof (*h));

  if (h == NULL || SHA256_Init (&h->ctx) != 1)
    abort ();
  return h;
}

void
sha256_update (struct sha256 *h, const void *buf, size_t len)
{
  if (SHA256_Update (&h->ctx, buf, len) != 1)
    abort ();
}

void
sha256_free (struct sha256 *h)
{
  free (h);
}

void
sha256_final (struct sha256 *h, char out[BERTH_DIGEST_LEN])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_LENGTH];

  if (SHA256_Final (md, &h->ctx) != 1)
    abort ();
  sha256_free (h);
  memcpy (out, "sha256:", 7);
  for (unsigned i = 0; i < SHA256_DIGEST_LENGTH; i++)
    {
      out[7 + 2 * i] = hex[md[i] >> 4];
      out[8 + 2 * i] = hex[md[i] & 15];
    }
  out[7 + 2 * SHA256_DIGEST_LENGTH] = '\0';
}

void
sha256_buf (const void *buf, size_t len, char out[BERTH_DIGEST_LEN])
{
  struct sha256 *h = sha256_new ();

  sha256_update (h, buf, len);
  sha256_final (h, out);
}
