/* Helpers shared by the files of src/space; not part of the module's contract (space.h). */
#ifndef NS_SPACE_INTERNAL_H
#define NS_SPACE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "util/modelcfg.h"

/* Read obj[key] as an integer in lo..hi (integral reals accepted). Returns 0 when read, 1 when
 * absent and not required, -1 (ns_err "WHERE.KEY: ...") otherwise. */
int ns_sp_get_int(const json_t *obj, const char *key, const char *where, int required, long lo,
                  long hi, int *out);
/* Read obj[key] as a finite number; same returns. */
int ns_sp_get_num(const json_t *obj, const char *key, const char *where, int required, double *out);
/* Read obj[key] as a string; same returns; *out points into obj. */
int ns_sp_get_str(const json_t *obj, const char *key, const char *where, int required,
                  const char **out);
/* -1 (ns_err "WHERE: unknown field 'K'") when obj has a key not in the NULL-ended list;
 * also -1 when obj is not an object. */
int ns_sp_check_keys(const json_t *obj, const char *where, const char *const *allowed);
/* A real in the canonical form: "%.10g", with ".0" added when it reads as an integer. */
void ns_sp_fmt_real(double v, char buf[32]);
/* v rounded to what ns_sp_fmt_real writes. */
double ns_sp_canon_real(double v);
/* Load a JSON file; NULL with "PATH: line L, column C: MSG" on failure. */
json_t *ns_sp_load_file(const char *path);
/* Canonical JSON of c into buf (space.c keeps it in struct ns_trial's fixed array); 0, or -1
 * (ns_err) when c is invalid or the JSON does not fit. */
int ns_sp_config_json_into(const struct ns_config *c, char *buf, size_t cap);
/* pycls's group/bottleneck compatibility on one stage (st->w, b and the wanted group width g
 * in; w and g adjusted out): v = max(1, rint(w*b)); g = min(g, v); v = max(m, rint(v/m)*m)
 * with m = lcm(g, b) for integral b > 1, else g; w = (int)(v/b). */
void ns_sp_adjust_compat(struct ns_stage *st);

#endif
