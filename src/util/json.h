/* JSON reading helpers for netspace's files (configs, spaces, experiments): every error
 * names where it happened ("spaces/a.json: params.w0: ..."). Thread-safe (no state). */
#ifndef NS_JSON_H
#define NS_JSON_H

#include <jansson.h>

/* How a JSON value reads in an error message: "an object", "an array", "a string",
 * "a number", "a boolean", "null". */
const char *ns_json_type_name(const json_t *v);
/* Read obj[key] as an integer in lo..hi (integral reals accepted). Returns 0 when read, 1 when
 * absent and not required, -1 (ns_err "WHERE.KEY: ...") otherwise. */
int ns_json_get_int(const json_t *obj, const char *key, const char *where, int required, long lo,
                    long hi, int *out);
/* Read obj[key] as a finite number; same returns. */
int ns_json_get_num(const json_t *obj, const char *key, const char *where, int required,
                    double *out);
/* Read obj[key] as a string; same returns; *out points into obj. */
int ns_json_get_str(const json_t *obj, const char *key, const char *where, int required,
                    const char **out);
/* -1 (ns_err "WHERE: unknown field 'K'") when obj has a key not in the NULL-ended list;
 * also -1 when obj is not an object. */
int ns_json_check_keys(const json_t *obj, const char *where, const char *const *allowed);
/* A real in the canonical form: "%.10g", with ".0" added when it reads as an integer. */
void ns_json_fmt_real(double v, char buf[32]);
/* v rounded to what ns_json_fmt_real writes. */
double ns_json_canon_real(double v);
/* jansson's message for a parse error, in words for a user: its hint about the
 * JSON_ALLOW_NUL flag (an option of the library, not of the file) becomes "a NUL character
 * (\u0000) is not allowed". Points into e or a static buffer. */
const char *ns_json_error_text(const json_error_t *e);
/* Load a JSON file (duplicate keys rejected); NULL with "PATH: line L, column C: MSG". */
json_t *ns_json_load_file(const char *path);

#endif
