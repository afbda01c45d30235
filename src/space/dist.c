/* Parameter distributions of space files. Quantized draws pick a multiple of q directly (an
 * integer k in [ceil(lo/q), floor(hi/q)]) so that every grid point of a uniform is equally
 * likely, the end points included. */
#include "space/space.h"
#include "space/space_internal.h"

#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* k*q, computed as k/(1/q) when 1/q is an integer so that 0.01-quanta give the nearest doubles
 * to the decimals (243 * 0.01 = 2.4300000000000002 but 243 / 100 = 2.43). */
static double grid_value(double k, double q)
{
    double inv = 1.0 / q;
    if (fabs(inv - rint(inv)) < 1e-9 * inv)
        return k / rint(inv);
    return k * q;
}

static void grid(const struct ns_dist *d, double *kmin, double *kmax)
{
    *kmin = ceil(d->lo / d->q - 1e-9);
    *kmax = floor(d->hi / d->q + 1e-9);
}

static const char *const range_keys[] = {"dist", "lo", "hi", "q", NULL};
static const char *const choice_keys[] = {"dist", "values", NULL};

int ns_dist_from_jansson(const json_t *j, const char *where, struct ns_dist *out)
{
    memset(out, 0, sizeof *out);
    if (json_is_number(j)) {
        double v = json_number_value(j);
        if (!isfinite(v))
            return ns_err("%s: not a finite number", where);
        out->kind = NS_DIST_CHOICE;
        out->n_values = 1;
        out->values[0] = out->lo = out->hi = v;
        return 0;
    }
    if (!json_is_object(j))
        return ns_err("%s: expected a distribution object or a number", where);
    const char *name;
    if (ns_json_get_str(j, "dist", where, 1, &name))
        return -1;
    if (!strcmp(name, "choice")) {
        out->kind = NS_DIST_CHOICE;
        if (ns_json_check_keys(j, where, choice_keys))
            return -1;
        const json_t *vals = json_object_get(j, "values");
        if (!vals)
            return ns_err("%s.values: missing field", where);
        size_t n = json_array_size(vals);
        if (!json_is_array(vals) || n < 1 || n > NS_DIST_MAX_VALUES)
            return ns_err("%s.values: expected an array of 1..%d numbers", where,
                          NS_DIST_MAX_VALUES);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(vals, i);
            if (!json_is_number(v) || !isfinite(json_number_value(v)))
                return ns_err("%s.values[%zu]: expected a number", where, i);
            out->values[i] = json_number_value(v);
        }
        out->n_values = (int)n;
        out->lo = ns_dist_min(out);
        out->hi = ns_dist_max(out);
        return 0;
    }
    if (!strcmp(name, "uniform"))
        out->kind = NS_DIST_UNIFORM;
    else if (!strcmp(name, "log_uniform"))
        out->kind = NS_DIST_LOG_UNIFORM;
    else if (!strcmp(name, "pow2"))
        out->kind = NS_DIST_POW2;
    else
        return ns_err("%s.dist: unknown distribution '%s' (uniform, log_uniform, pow2, choice)",
                      where, name);
    if (ns_json_check_keys(j, where, range_keys) || ns_json_get_num(j, "lo", where, 1, &out->lo) ||
        ns_json_get_num(j, "hi", where, 1, &out->hi) || ns_json_get_num(j, "q", where, 0, &out->q) < 0)
        return -1;
    if (out->lo > out->hi)
        return ns_err("%s: lo %g > hi %g", where, out->lo, out->hi);
    if (out->q < 0)
        return ns_err("%s.q: quantum %g must be >= 0", where, out->q);
    if (out->kind != NS_DIST_UNIFORM && !(out->lo > 0))
        return ns_err("%s.lo: %g must be > 0 for %s", where, out->lo, name);
    if (out->kind == NS_DIST_POW2) {
        for (int e = -30; e <= 62; e++) {
            double v = ldexp(1.0, e);
            if (v < out->lo || v > out->hi || (out->q > 0 && fmod(v, out->q) != 0))
                continue;
            if (out->n_values == NS_DIST_MAX_VALUES)
                return ns_err("%s: more than %d powers of two in range", where, NS_DIST_MAX_VALUES);
            out->values[out->n_values++] = v;
        }
        if (!out->n_values)
            return ns_err("%s: no power of two%s in [%g, %g]", where,
                          out->q > 0 ? " that is a multiple of q" : "", out->lo, out->hi);
        return 0;
    }
    if (out->q > 0) {
        double kmin, kmax;
        grid(out, &kmin, &kmax);
        if (kmax < kmin)
            return ns_err("%s: no multiple of q %g in [%g, %g]", where, out->q, out->lo, out->hi);
        if (kmax - kmin >= 4294967295.0)
            return ns_err("%s.q: quantum %g too small for [%g, %g]", where, out->q, out->lo,
                          out->hi);
    }
    return 0;
}

double ns_dist_draw(const struct ns_dist *d, struct ns_pcg32 *rng)
{
    double kmin = 0, kmax = 0;
    if (d->q > 0)
        grid(d, &kmin, &kmax);
    switch (d->kind) {
    case NS_DIST_UNIFORM:
        if (d->q > 0)
            return grid_value(kmin + ns_pcg32_bounded(rng, (uint32_t)(kmax - kmin + 1)), d->q);
        return d->lo + (d->hi - d->lo) * ns_pcg32_double(rng);
    case NS_DIST_LOG_UNIFORM: {
        double x = exp(log(d->lo) + (log(d->hi) - log(d->lo)) * ns_pcg32_double(rng));
        if (d->q > 0)
            return grid_value(fmin(kmax, fmax(kmin, rint(x / d->q))), d->q);
        return fmin(d->hi, fmax(d->lo, x));
    }
    default:
        return d->values[ns_pcg32_bounded(rng, (uint32_t)d->n_values)];
    }
}

/* The smallest (sign 1) or largest (sign -1) value a draw can take. */
static double extreme(const struct ns_dist *d, double sign)
{
    if (d->kind == NS_DIST_CHOICE || d->kind == NS_DIST_POW2) {
        double m = d->values[0];
        for (int i = 1; i < d->n_values; i++)
            if (sign * d->values[i] < sign * m)
                m = d->values[i];
        return m;
    }
    if (d->q > 0) {
        double kmin, kmax;
        grid(d, &kmin, &kmax);
        return grid_value(sign > 0 ? kmin : kmax, d->q);
    }
    return sign > 0 ? d->lo : d->hi;
}

double ns_dist_min(const struct ns_dist *d)
{
    return extreme(d, 1);
}

double ns_dist_max(const struct ns_dist *d)
{
    return extreme(d, -1);
}

static int is_multiple(double v, int m)
{
    return v == floor(v) && fmod(v, m) == 0;
}

int ns_dist_multiple_of(const struct ns_dist *d, int m)
{
    if (d->kind == NS_DIST_CHOICE || d->kind == NS_DIST_POW2) {
        for (int i = 0; i < d->n_values; i++)
            if (!is_multiple(d->values[i], m))
                return 0;
        return 1;
    }
    if (!(d->q > 0))
        return d->lo == d->hi && is_multiple(d->lo, m);
    if (is_multiple(d->q, m))
        return 1;
    double kmin, kmax;
    grid(d, &kmin, &kmax);
    if (kmax - kmin > 100000)
        return 0;
    for (double k = kmin; k <= kmax; k++)
        if (!is_multiple(grid_value(k, d->q), m))
            return 0;
    return 1;
}
