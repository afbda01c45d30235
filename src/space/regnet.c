/* RegNet generation: the quantized linear width rule of the paper, then pycls's group and
 * bottleneck compatibility adjustment. Every rounding is half to even (rint), as numpy's. */
#include "space/space.h"

#include "space/space_internal.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static long gcd(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void ns_sp_adjust_compat(struct ns_stage *st)
{
    const double b = st->b;
    const int b_int = b > 1 && b == floor(b) && b < 1e6;
    double v = fmax(1, rint(st->w * b));
    int g = st->g < v ? st->g : (int)v;
    long m = b_int ? (long)g / gcd(g, (long)b) * (long)b : g;
    v = fmax((double)m, rint(v / (double)m) * (double)m);
    st->w = (int)(v / b);
    st->g = g;
}

int ns_regnet_generate(const struct ns_regnet *r, int first_stride, struct ns_config *c)
{
    if (r->depth < 1 || r->depth > 1024)
        return ns_err("regnet.depth: %d is not in 1..1024", r->depth);
    if (!(r->w0 > 0) || fmod(r->w0, 8) != 0)
        return ns_err("regnet.w0: %g must be a positive multiple of 8", r->w0);
    if (!(r->wa >= 0) || !isfinite(r->wa))
        return ns_err("regnet.wa: %g must be >= 0", r->wa);
    if (!(r->wm > 1) || !isfinite(r->wm))
        return ns_err("regnet.wm: %g must be > 1", r->wm);
    if (r->group_w < 1)
        return ns_err("regnet.group_w: %d must be >= 1", r->group_w);
    if (!(r->bot_mul > 0) || !isfinite(r->bot_mul))
        return ns_err("regnet.bot_mul: %g must be > 0", r->bot_mul);
    /* the bottleneck of the narrowest stage must keep a channel: the compatibility
     * adjustment would otherwise inflate the stage width to keep w = w_b / b */
    if (!(r->w0 * r->bot_mul >= 1))
        return ns_err("regnet.bot_mul: %g leaves the first stage (w0 %g) a bottleneck of "
                      "%g channels; it needs at least 1",
                      r->bot_mul, r->w0, r->w0 * r->bot_mul);
    if (c->block != NS_BLOCK_X && c->block != NS_BLOCK_Y)
        return ns_err("regnet: block must be x or y, not %s",
                      ns_block_name(c->block) ? ns_block_name(c->block) : "unknown");
    if (c->block == NS_BLOCK_Y && !(r->se_r > 0 && r->se_r < 1))
        return ns_err("regnet.se_r: %g is not in (0, 1) (RegNetY needs an SE ratio)", r->se_r);
    if (first_stride != 1 && first_stride != 2)
        return ns_err("regnet: first stride %d must be 1 or 2", first_stride);

    /* Per-block widths, in the same floating-point order as pycls's numpy code. */
    int n = 0, ws[NS_MAX_STAGES], ds[NS_MAX_STAGES];
    const double log_wm = log(r->wm);
    for (int j = 0; j < r->depth; j++) {
        double u = (double)j * r->wa + r->w0;
        double k = rint(log(u / r->w0) / log_wm);
        double w = rint(r->w0 * pow(r->wm, k) / 8) * 8;
        if (!(w <= 8192))
            return ns_err("regnet: block %d width %g exceeds 8192 (wa or wm too large)", j, w);
        if (n > 0 && ws[n - 1] == (int)w) {
            ds[n - 1]++;
            continue;
        }
        if (n == NS_MAX_STAGES)
            return ns_err("regnet: more than %d stages (widths keep changing: wm too small "
                          "for wa)",
                          NS_MAX_STAGES);
        ws[n] = (int)w;
        ds[n] = 1;
        n++;
    }

    c->n_stages = n;
    c->se_r = c->block == NS_BLOCK_Y ? r->se_r : 0.0;
    for (int i = 0; i < n; i++) {
        c->stages[i] = (struct ns_stage){.d = ds[i],
                                         .w = ws[i],
                                         .s = i == 0 ? first_stride : 2,
                                         .g = r->group_w,
                                         .b = r->bot_mul};
        ns_sp_adjust_compat(&c->stages[i]);
    }
    ns_config_normalize(c);
    if (ns_config_check(c))
        return ns_err_prefix("regnet");
    return 0;
}

int ns_regnet_parse(const char *text, struct ns_regnet *out)
{
    struct ns_regnet r = {.depth = 0, .bot_mul = 1.0, .se_r = 0.25};
    int seen = 0;  /* bit per required key: depth, w0, wa, wm, group_w */
    int given = 0; /* bit per key */
    const char *p = text;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        size_t klen = strcspn(p, "= \t\n,");
        if (!eq || p + klen != eq)
            return ns_err("regnet: expected key=value at '%.20s'", p);
        char key[16];
        if (klen >= sizeof key)
            return ns_err("regnet: unknown key '%.*s'", (int)klen, p);
        memcpy(key, p, klen);
        key[klen] = 0;
        char *end;
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || errno || !isfinite(v) ||
            (*end && !isspace((unsigned char)*end) && *end != ','))
            return ns_err("regnet.%s: '%.*s' is not a number", key, (int)strcspn(eq + 1, " \t\n,"),
                          eq + 1);
        p = end;
        static const char *const keys[] = {"depth", "w0", "wa", "wm", "group_w", "bot_mul", "se_r"};
        int idx = -1;
        for (int i = 0; i < 7; i++)
            if (!strcmp(key, keys[i]))
                idx = i;
        if (idx < 0)
            return ns_err("regnet: unknown key '%s' (depth, w0, wa, wm, group_w, bot_mul, se_r)",
                          key);
        if ((idx == 0 || idx == 4) && (v != floor(v) || fabs(v) > 1e6))
            return ns_err("regnet.%s: %g is not an integer", key, v);
        if (given & (1 << idx))
            return ns_err("regnet.%s: given twice", key);
        given |= 1 << idx;
        switch (idx) {
        case 0:
            r.depth = (int)v;
            break;
        case 1:
            r.w0 = v;
            break;
        case 2:
            r.wa = v;
            break;
        case 3:
            r.wm = v;
            break;
        case 4:
            r.group_w = (int)v;
            break;
        case 5:
            r.bot_mul = v;
            break;
        default:
            r.se_r = v;
            break;
        }
        if (idx < 5)
            seen |= 1 << idx;
    }
    static const char *const required[] = {"depth", "w0", "wa", "wm", "group_w"};
    for (int i = 0; i < 5; i++)
        if (!(seen & (1 << i)))
            return ns_err("regnet.%s: missing", required[i]);
    *out = r;
    return 0;
}
