/* libFuzzer target: config.json parser and validator (berth_spec_parse). */
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  berth_err err = NULL;
  struct berth_spec *spec = berth_spec_parse ((const char *)data, size, "config.json", &err);

  if (spec == NULL && err == NULL)
    __builtin_trap (); /* a failure must say why */
  if (spec != NULL && err != NULL)
    __builtin_trap ();
  berth_spec_free (spec);
  berth_err_free (&err);
  return 0;
}
