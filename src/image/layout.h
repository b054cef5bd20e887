/* OCI layouts and archives (layout.c, archive_import.c); internal. */
#ifndef BERTH_IMAGE_LAYOUT_H
#define BERTH_IMAGE_LAYOUT_H

#include "image/internal.h"

/* Imports every image of the OCI layout at dirfd; appends names. */
int layout_import_dir (struct berth_store *s, int dirfd, const char *where, const char *name, json_t *names,
                       berth_err *err);

#endif
