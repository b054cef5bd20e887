/* libFuzzer target: `exec --process FILE` (berth_process_parse), fed the
 * way src/cli/exec.c feeds it: the document is freed right after parsing,
 * so anything borrowed from it would show up as a use after free. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spec/spec.h"
#include "util/error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  berth_err err = NULL;
  json_error_t jerr;
  json_t *obj = json_loadb ((const char *)data, size, 0, &jerr);
  struct berth_process *p;
  size_t total = 0;

  if (obj == NULL)
    return 0;
  p = berth_process_parse (obj, "", &err);
  json_decref (obj);
  if (p == NULL && err == NULL)
    __builtin_trap ();
  if (p != NULL)
    {
      /* Touch what the runtime reads later. */
      for (size_t i = 0; i < p->n_args; i++)
        total += strlen (p->args[i]);
      for (size_t i = 0; i < p->n_env; i++)
        total += strlen (p->env[i]);
      if (p->cwd)
        total += strlen (p->cwd);
    }
  (void)total;
  berth_process_free (p);
  berth_err_free (&err);
  return 0;
}
