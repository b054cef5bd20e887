#include <stdlib.h>

#include "spec/spec_internal.h"

void
berth_spec_free (struct berth_spec *spec)
{
  if (spec == NULL)
    return;
  free (spec->oci_version);
  free (spec->root_path);
  berth_process_free (spec->process);
  free (spec->hostname);
  free (spec->domainname);
  for (size_t i = 0; i < spec->n_mounts; i++)
    spec_mount_clear (&spec->mounts[i]);
  free (spec->mounts);
  for (int k = 0; k < BERTH_HOOK_KIND_COUNT; k++)
    {
      for (size_t i = 0; i < spec->n_hooks[k]; i++)
        spec_hook_clear (&spec->hooks[k][i]);
      free (spec->hooks[k]);
    }
  spec_linux_free (spec->linux);
  /* annotations is borrowed from raw. */
  json_decref (spec->raw);
  free (spec);
}
