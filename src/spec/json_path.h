/* Typed readers over jansson values that name the JSON path on error.
 *
 * A path is a plain string built as the parser descends:
 *     spec_path_key ("linux", "resources")   -> "linux.resources"
 *     spec_path_index ("mounts", 2)          -> "mounts[2]"
 *     spec_path_key ("linux.sysctl", "a.b")  -> "linux.sysctl[\"a.b\"]"
 * The empty path is the document (or process object) itself.
 *
 * spec_get_* read the member `key` of `obj`; they return 1 when it is
 * present, 0 when it is absent or null (an error if SPEC_REQUIRED), and -1
 * with *err set when it has the wrong type or range.  A JSON null counts as
 * absent, as in the Go implementations engines are written against.
 */
#ifndef BERTH_SPEC_JSON_PATH_H
#define BERTH_SPEC_JSON_PATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define SPEC_REQUIRED 1u

/* Allocation failures abort, as in util/error.c: nothing sensible is left to do. */
void *spec_xcalloc (size_t n, size_t size);
char *spec_xstrdup (const char *s);

char *spec_path_key (const char *parent, const char *key);
char *spec_path_index (const char *parent, size_t index);

/* "<path>: <message>", or the message alone for the empty path; errnum 0. */
int spec_fail (berth_err *err, const char *path, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* The member, or NULL when absent or null. */
json_t *spec_member (json_t *obj, const char *key);

/* Readers of a value already in hand (an array element, an object value). */
int spec_value_string (json_t *v, const char *path, char **out, berth_err *err);
int spec_value_int (json_t *v, const char *path, int64_t min, int64_t max, int64_t *out, berth_err *err);
int spec_value_uint32 (json_t *v, const char *path, uint32_t *out, berth_err *err);

int spec_get_string (json_t *obj, const char *parent, const char *key, unsigned flags, char **out, berth_err *err);
int spec_get_bool (json_t *obj, const char *parent, const char *key, unsigned flags, bool *out, berth_err *err);
int spec_get_int64 (json_t *obj, const char *parent, const char *key, unsigned flags, int64_t *out, berth_err *err);
/* uint64: jansson holds integers as int64, so values above INT64_MAX are not representable. */
int spec_get_uint64 (json_t *obj, const char *parent, const char *key, unsigned flags, uint64_t *out, berth_err *err);
int spec_get_uint32 (json_t *obj, const char *parent, const char *key, unsigned flags, uint32_t *out, berth_err *err);
int spec_get_uint16 (json_t *obj, const char *parent, const char *key, unsigned flags, uint16_t *out, berth_err *err);
int spec_get_int32 (json_t *obj, const char *parent, const char *key, unsigned flags, int *out, berth_err *err);
int spec_get_range (json_t *obj, const char *parent, const char *key, unsigned flags, int64_t min, int64_t max,
                    int64_t *out, berth_err *err);

/* Borrowed references, type-checked. */
int spec_get_object (json_t *obj, const char *parent, const char *key, unsigned flags, json_t **out, berth_err *err);
int spec_get_array (json_t *obj, const char *parent, const char *key, unsigned flags, json_t **out, berth_err *err);
/* A raw member kept as is (new reference); `type` is JSON_OBJECT or JSON_ARRAY. */
int spec_get_raw (json_t *obj, const char *parent, const char *key, json_type type, json_t **out, berth_err *err);

/* Array of strings into a NULL-terminated vector.  The vector is always
 * allocated (empty when absent), so consumers never see NULL. */
int spec_get_strv (json_t *obj, const char *parent, const char *key, unsigned flags, char ***out, size_t *n_out,
                   berth_err *err);

/* Object of string values (sysctl, unified) into key/value pairs. */
struct berth_key_value;
int spec_get_string_map (json_t *obj, const char *parent, const char *key, struct berth_key_value **out, size_t *n_out,
                         berth_err *err);

void spec_key_values_free (struct berth_key_value *kv, size_t n);

void spec_strv_free (char **v);

#endif
