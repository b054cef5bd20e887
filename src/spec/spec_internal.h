/* Declarations shared by the files of src/spec; not part of the API. */
#ifndef BERTH_SPEC_SPEC_INTERNAL_H
#define BERTH_SPEC_SPEC_INTERNAL_H

#include "spec/json_path.h"
#include "spec/spec.h"

/* Each parser fills a zeroed struct it is given; on error the caller frees
 * the partly filled struct with the matching free function, so every parser
 * stores what it allocates before it can fail. */
int spec_parse_mounts (json_t *doc, struct berth_spec *spec, berth_err *err);
int spec_parse_mount_options (struct berth_mount *m, const char *path, berth_err *err);
int spec_parse_id_mappings (json_t *obj, const char *parent, const char *key, struct berth_id_mapping **out,
                            size_t *n_out, berth_err *err);
int spec_parse_hooks (json_t *doc, struct berth_spec *spec, berth_err *err);
int spec_parse_linux (json_t *obj, const char *path, struct berth_linux *lx, berth_err *err);
int spec_parse_resources (json_t *obj, const char *path, struct berth_resources *r, berth_err *err);
int spec_process_fill (json_t *obj, const char *path, struct berth_process *p, berth_err *err);

/* "shared", "rslave" ... -> MS_* (with MS_REC for the r forms); 0 when unknown. */
unsigned long spec_propagation_from_name (const char *name);

void spec_mount_clear (struct berth_mount *m);
void spec_hook_clear (struct berth_hook *h);
void spec_linux_free (struct berth_linux *lx);
void spec_resources_free (struct berth_resources *r);

#endif
