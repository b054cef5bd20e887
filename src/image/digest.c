/* sha256 through OpenSSL's EVP interface: never a hand-written hash. */
#include "image/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

EVP_MD_CTX *
sha256_new (void)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

  if (ctx == NULL || EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1)
    abort ();
  return ctx;
}

void
sha256_final (EVP_MD_CTX *ctx, char out[BERTH_DIGEST_LEN])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if (EVP_DigestFinal_ex (ctx, md, &n) != 1 || n != 32)
    abort ();
  EVP_MD_CTX_free (ctx);
  memcpy (out, "sha256:", 7);
  for (unsigned i = 0; i < n; i++)
    snprintf (out + 7 + 2 * i, 3, "%02x", md[i]);
}

void
sha256_buf (const void *buf, size_t len, char out[BERTH_DIGEST_LEN])
{
  EVP_MD_CTX *ctx = sha256_new ();

  EVP_DigestUpdate (ctx, buf, len);
  sha256_final (ctx, out);
}
