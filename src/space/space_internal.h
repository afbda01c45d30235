/* Helpers shared by the files of src/space; not part of the module's contract (space.h). */
#ifndef NS_SPACE_INTERNAL_H
#define NS_SPACE_INTERNAL_H

#include "model/model.h"

/* pycls's group/bottleneck compatibility on one stage (st->w, b and the wanted group width g
 * in; w and g adjusted out): v = max(1, rint(w*b)); g = min(g, v); v = max(m, rint(v/m)*m)
 * with m = lcm(g, b) for integral b > 1, else g; w = (int)(v/b). */
void ns_sp_adjust_compat(struct ns_stage *st);

#endif
