#include "util/passwd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
passwd_field (const char *path, uid_t uid, int field)
{
  FILE *f = fopen (path, "re");
  char line[1024];
  char *out = NULL;

  if (f == NULL)
    return NULL;
  while (out == NULL && fgets (line, sizeof (line), f))
    {
      char *fields[7];
      char *p = line, *end;
      int n = 0;
      line[strcspn (line, "\n")] = '\0';
      /* strsep keeps empty fields, which passwd lines have. */
      while (n < 7 && (fields[n] = strsep (&p, ":")) != NULL)
        n++;
      if (n == 7 && *fields[2] && strtoul (fields[2], &end, 10) == uid && *end == '\0')
        out = strdup (fields[field]);
    }
  fclose (f);
  return out;
}
