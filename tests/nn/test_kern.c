/* The core's GEMM kernels (src/nn/kern.h) on both instruction-set paths against a plain
 * double-precision product: every transpose mode the convs use, beta 0 and 1, shapes with
 * row and column tails (masked vectors) and k past one NS_GEMM_KC block; and the two paths
 * bit for bit against each other (each C element is the same FMA sequence). The AVX-512
 * path is skipped, saying so, on a CPU without it. Also the grouped 1x1 conv, which runs
 * these kernels on the groups' strided column slices, and the plain 1x1 conv, against a
 * plain loop at 1 and 3 threads (y and dx the same bits at both; dw, summed in per-thread
 * partials, the same bits per thread count), on scratch filled with NaN so that no part of
 * it is read before it is written; and the grouped k x k kernels' pixel pairs (AVX-512)
 * against the AVX2 loop, bit for bit. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <sys/mman.h>
#include <unistd.h>

#include "nn/ops.h"
#include "nn/pool.h"
#include "nn_check.h"

/* n floats that end where an inaccessible page begins: a kernel that reads or writes past
 * them dies (SIGSEGV) even when it would write back the bits it read */
static float *before_a_wall(size_t n, void **map, size_t *maplen)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = n * sizeof(float);
    size_t len = (bytes + page - 1) / page * page + page;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base + len - page, page, PROT_NONE), 0);
    *map = base;
    *maplen = len;
    return (float *)(base + len - page - bytes);
}

/* A (m x k) as stored with row stride lda when !ta, or its transpose (k x m) when ta. */
static void check_path(const struct ns_kernels *kn, const struct ns_kernels *other)
{
    static const int shapes[][3] = {{1, 1, 1},    {7, 5, 3},     {6, 16, 9},   {13, 33, 17},
                                    {25, 64, 32}, {9, 10, 300},  {40, 128, 600}, {3, 47, 513},
                                    {13, 4, 16},  {25, 2, 5},    {20, 12, 3},  {7, 28, 56}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 12, 34);
    int checked = 0;
    /* C's rows with a gap between them (ldc = n + 2) and back to back (ldc = n, as the 1x1
     * convolutions' outputs): the AVX2 path writes a row's partial last vector whole when the
     * tile's later rows cover it (kern.h), never past C's last element, so C ends at a wall */
    for (int s = 0; s < 2 * nshapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int beta = 0; beta < 2; beta++) {
                int m = shapes[s % nshapes][0], n = shapes[s % nshapes][1];
                int k = shapes[s % nshapes][2];
                int lda = (ta ? m : k) + 3, ldb = n + 5, ldc = s < nshapes ? n + 2 : n;
                float *a = nn_floats((size_t)(ta ? k : m) * lda);
                float *b = nn_floats((size_t)k * ldb);
                void *map;
                size_t maplen;
                float *c = before_a_wall((size_t)m * ldc, &map, &maplen);
                float *c2 = nn_floats((size_t)m * ldc);
                nn_uniform(&rng, a, (size_t)(ta ? k : m) * lda, -1, 1);
                nn_uniform(&rng, b, (size_t)k * ldb, -1, 1);
                nn_uniform(&rng, c, (size_t)m * ldc, -1, 1);
                memcpy(c2, c, sizeof(float) * m * ldc);
                long ars = ta ? 1 : lda, acs = ta ? lda : 1;
                kn->gemm(m, n, k, a, ars, acs, b, ldb, beta, c, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        float got = c[(size_t)i * ldc + j];
                        if (j >= n) { /* padding between rows keeps its bits */
                            if (memcmp(&got, c2 + (size_t)i * ldc + j, sizeof got))
                                fail_msg("%s: wrote C(%d, %d) past n = %d", kn->name, i, j, n);
                            continue;
                        }
                        double want = beta ? c2[(size_t)i * ldc + j] : 0.0, mag = fabs(want);
                        for (int p = 0; p < k; p++) {
                            double t = (double)a[i * ars + p * acs] * b[(size_t)p * ldb + j];
                            want += t;
                            mag += fabs(t);
                        }
                        if (fabs(got - want) > 1e-6 * mag + 1e-7)
                            fail_msg("%s: m %d n %d k %d ta %d beta %d: C(%d, %d) = %g, want %g",
                                     kn->name, m, n, k, ta, beta, i, j, got, want);
                    }
                if (other) {
                    other->gemm(m, n, k, a, ars, acs, b, ldb, beta, c2, ldc);
                    if (memcmp(c, c2, sizeof(float) * m * ldc))
                        fail_msg("m %d n %d k %d ta %d beta %d: %s and %s differ", m, n, k, ta,
                                 beta, kn->name, other->name);
                }
                free(a);
                free(b);
                munmap(map, maplen);
                free(c2);
                checked++;
            }
    assert_int_equal(checked, 8 * nshapes);
}

static void avx2_gemm_matches_a_plain_product(void **state)
{
    (void)state;
    check_path(&ns_kernels_avx2, NULL);
}

static void avx512_gemm_matches_and_equals_avx2_bit_for_bit(void **state)
{
    (void)state;
    if (!ns_kern_has_avx512())
        skip(); /* cmocka prints it as skipped */
    check_path(&ns_kernels_avx512, &ns_kernels_avx2);
}

static void ns_isa_forces_a_path(void **state)
{
    (void)state;
    /* the table in use is one of the two, and the one NS_ISA names when it names one */
    const struct ns_kernels *k = ns_kern();
    assert_true(k == &ns_kernels_avx2 || k == &ns_kernels_avx512);
    const char *isa = getenv("NS_ISA");
    if (isa && !strcmp(isa, "avx2"))
        assert_ptr_equal(k, &ns_kernels_avx2);
    if (!isa && !ns_kern_has_avx512())
        assert_ptr_equal(k, &ns_kernels_avx2);
    if (!isa && ns_kern_has_avx512())
        assert_ptr_equal(k, &ns_kernels_avx512);
}

/* One grouped 1x1 conv (n images h x w, cin -> cout in `groups` groups, bias) at nth
 * threads: y, then dx accumulated onto ones, dw accumulated onto its input, db. */
struct g1_out {
    float *y, *dx, *dw, *db;
};

static struct g1_out g1_run(const struct ns_conv *c, int n, int nth, const float *x,
                            const float *w, const float *b, const float *dy, const float *dw0)
{
    size_t nx = (size_t)n * c->h * c->w * c->cin, ny = (size_t)n * c->h * c->w * c->cout;
    size_t nw = (size_t)c->cpg * c->cout;
    struct g1_out o = {nn_floats(ny), nn_floats(nx), nn_floats(nw), nn_floats(c->cout)};
    nn_fill(o.dx, nx, 1.0f);
    memcpy(o.dw, dw0, sizeof(float) * nw);
    struct ns_pool *p = ns_pool_create(nth);
    size_t ns = ns_conv_scratch(c, n, nth);
    float *scratch = nn_floats(ns);
    nn_fill(scratch, ns, NAN); /* a partial read before it is written shows */
    ns_conv_forward(p, c, n, x, w, b, o.y, scratch);
    ns_conv_backward(p, c, n, x, w, dy, o.dx, 1, o.dw, o.db, scratch);
    free(scratch);
    ns_pool_free(p);
    return o;
}

static void conv_1x1_matches_a_plain_loop(void **state)
{
    (void)state;
    /* group widths under, at and past a vector; output groups with masked tails; one group
     * (the plain 1x1 GEMM path); one pixel, fewer than the threads */
    static const int shapes[][5] = {{2, 3, 12, 15, 3}, {1, 5, 60, 240, 3}, {3, 2, 32, 16, 2},
                                    {2, 4, 24, 40, 1}, {1, 1, 16, 24, 1}, {1, 1, 16, 24, 2}};
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 56, 78);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], hw = shapes[s][1], cin = shapes[s][2], cout = shapes[s][3];
        int groups = shapes[s][4];
        struct ns_conv c;
        ns_conv_setup(&c, hw, hw, cin, cout, 1, 1, groups, 1);
        int m = n * hw * hw, g = c.cpg, opg = cout / groups;
        size_t nx = (size_t)m * cin, ny = (size_t)m * cout, nw = (size_t)g * cout;
        float *x = nn_floats(nx), *w = nn_floats(nw), *b = nn_floats(cout);
        float *dy = nn_floats(ny), *dw0 = nn_floats(nw);
        nn_uniform(&rng, x, nx, -1, 1);
        nn_uniform(&rng, w, nw, -1, 1);
        nn_uniform(&rng, b, cout, -1, 1);
        nn_uniform(&rng, dy, ny, -1, 1);
        nn_uniform(&rng, dw0, nw, -1, 1);
        struct g1_out o = g1_run(&c, n, 1, x, w, b, dy, dw0);
        float *y = nn_floats(ny), *dx = nn_floats(nx), *dw = nn_floats(nw), *db = nn_floats(cout);
        for (int r = 0; r < m; r++)
            for (int co = 0; co < cout; co++) {
                double sy = b[co];
                for (int j = 0; j < g; j++)
                    sy += (double)x[(size_t)r * cin + co / opg * g + j] * w[(size_t)j * cout + co];
                y[(size_t)r * cout + co] = (float)sy;
                db[co] += dy[(size_t)r * cout + co];
            }
        for (int r = 0; r < m; r++)
            for (int ci = 0; ci < cin; ci++) {
                double sx = 1.0;
                for (int co = ci / g * opg; co < (ci / g + 1) * opg; co++)
                    sx += (double)dy[(size_t)r * cout + co] * w[(size_t)(ci % g) * cout + co];
                dx[(size_t)r * cin + ci] = (float)sx;
            }
        for (int j = 0; j < g; j++)
            for (int co = 0; co < cout; co++) {
                double sw = dw0[(size_t)j * cout + co];
                for (int r = 0; r < m; r++)
                    sw += (double)x[(size_t)r * cin + co / opg * g + j] * dy[(size_t)r * cout + co];
                dw[(size_t)j * cout + co] = (float)sw;
            }
        assert_true(nn_close("y", o.y, y, ny, 1e-5, 1e-5));
        assert_true(nn_close("dx", o.dx, dx, nx, 1e-5, 1e-5));
        assert_true(nn_close("dw", o.dw, dw, nw, 1e-5, 1e-5));
        assert_true(nn_close("db", o.db, db, cout, 1e-5, 1e-5));
        /* the thread count splits y's and dx's products, never an element's sum; dw and db
         * are summed over pixels in per-thread partials, so they are only deterministic per
         * thread count */
        struct g1_out o3 = g1_run(&c, n, 3, x, w, b, dy, dw0);
        struct g1_out o3b = g1_run(&c, n, 3, x, w, b, dy, dw0);
        assert_memory_equal(o.y, o3.y, sizeof(float) * ny);
        assert_memory_equal(o.dx, o3.dx, sizeof(float) * nx);
        assert_true(nn_close("dw at 3 threads", o3.dw, dw, nw, 1e-5, 1e-5));
        assert_true(nn_close("db at 3 threads", o3.db, db, cout, 1e-5, 1e-5));
        assert_memory_equal(o3.dw, o3b.dw, sizeof(float) * nw);
        assert_memory_equal(o3.db, o3b.db, sizeof(float) * cout);
        struct g1_out *outs[] = {&o, &o3, &o3b};
        for (int i = 0; i < 3; i++)
            free(outs[i]->y), free(outs[i]->dx), free(outs[i]->dw), free(outs[i]->db);
        free(x), free(w), free(b), free(dy), free(dw0), free(y), free(dx), free(dw), free(db);
    }
}

/* A k x k grouped conv (cin = cout, n images) forward with bias and, fused, ReLU, then its
 * backward: dx onto ones (acc) or overwritten, dw onto dw0, db, on the table in use. */
struct gk_out {
    float *y, *yr, *dx, *dxa, *dxi, *dw, *db;
};

static struct gk_out gk_run(const struct ns_conv *c0, int n, int nth, const float *x,
                            const float *w, const float *b, const float *dy, const float *dw0)
{
    struct ns_conv c = *c0;
    size_t nx = (size_t)n * c.h * c.w * c.cin, ny = (size_t)n * c.ho * c.wo * c.cout;
    size_t nw = (size_t)c.k * c.k * c.cpg * c.cout;
    struct gk_out o = {nn_floats(ny), nn_floats(ny), nn_floats(nx), nn_floats(nx),
                       nn_floats(nx), nn_floats(nw), nn_floats(c.cout)};
    nn_fill(o.dxa, nx, 1.0f);
    memcpy(o.dw, dw0, sizeof(float) * nw);
    struct ns_pool *p = ns_pool_create(nth);
    /* scratch full of NaN: whatever a kernel reads before writing shows */
    size_t ns = ns_conv_scratch(&c, n, nth);
    float *scratch = nn_floats(ns);
    nn_fill(scratch, ns, NAN);
    ns_conv_forward(p, &c, n, x, w, b, o.y, scratch);
    ns_conv_backward(p, &c, n, x, w, dy, o.dxa, 1, o.dw, o.db, scratch);
    ns_conv_backward(p, &c, n, x, w, dy, o.dx, 0, o.dw, o.db, scratch);
    memcpy(o.dxi, x, sizeof(float) * nx); /* in place: dx over x, as the nets do */
    float *dwi = nn_floats(nw);
    ns_conv_backward(p, &c, n, o.dxi, w, dy, o.dxi, 0, dwi, NULL, scratch);
    free(dwi);
    c.relu = 1;
    ns_conv_forward(p, &c, n, x, w, b, o.yr, scratch);
    free(scratch);
    ns_pool_free(p);
    return o;
}

static void gk_free(struct gk_out *o)
{
    free(o->y), free(o->yr), free(o->dx), free(o->dxa), free(o->dxi), free(o->dw), free(o->db);
}

/* The grouped kernels (group width 8 or more) run on pixel pairs on the AVX-512 path
 * (kern.h: struct ns_g8_pairs) and on conv.c's 8-float loop on the AVX2 path: the same
 * sums in the same order, so the same bits, at odd and even kernel sizes and widths (a
 * pair's partner past the end of a row, or a second tap past the kernel, is computed and
 * not written), with and without bias, ReLU and accumulation, in place, at 1 and 2
 * threads; at stride 2 (the data gradient on pairs, the forward and weight gradient on the
 * AVX2 loop there) likewise. */
static void grouped_conv_pairs_equal_the_avx2_loop_bit_for_bit(void **state)
{
    (void)state;
    if (!ns_kern_has_avx512())
        skip();
    /* the AVX-512 table has the pair kernels (else both runs below would be the AVX2 loop) */
    assert_non_null(ns_kernels_avx512.g8_pairs);
    assert_non_null(ns_kernels_avx512.g8_wpairs);
    /* n, h = w, channels, group width, k, stride (the last: one group of 8, which the
     * grouped kernels run too) */
    static const int shapes[][6] = {{2, 7, 16, 8, 3, 1},  {3, 9, 32, 16, 3, 2}, {2, 6, 16, 8, 1, 2},
                                    {1, 5, 24, 8, 5, 1},  {2, 4, 64, 32, 3, 1}, {2, 14, 16, 8, 3, 2},
                                    {1, 1, 16, 8, 3, 1},  {2, 3, 16, 8, 3, 2},  {1, 8, 32, 16, 4, 1},
                                    {2, 5, 16, 8, 2, 1},  {1, 6, 48, 16, 3, 1}, {2, 7, 8, 8, 3, 1}};
    const struct ns_kernels *was = ns_kern();
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 90, 12);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *sh = shapes[s];
        struct ns_conv c;
        ns_conv_setup(&c, sh[1], sh[1], sh[2], sh[2], sh[4], sh[5], sh[2] / sh[3], 1);
        size_t nx = (size_t)sh[0] * c.h * c.w * c.cin, ny = (size_t)sh[0] * c.ho * c.wo * c.cout;
        size_t nw = (size_t)c.k * c.k * c.cpg * c.cout;
        float *x = nn_floats(nx), *w = nn_floats(nw), *b = nn_floats(c.cout);
        float *dy = nn_floats(ny), *dw0 = nn_floats(nw);
        nn_uniform(&rng, x, nx, -1, 1);
        nn_uniform(&rng, w, nw, -1, 1);
        nn_uniform(&rng, b, c.cout, -1, 1);
        nn_uniform(&rng, dy, ny, -1, 1);
        nn_uniform(&rng, dw0, nw, -1, 1);
        for (int nth = 1; nth <= 2; nth++) {
            ns_kern_use(&ns_kernels_avx2);
            struct gk_out a = gk_run(&c, sh[0], nth, x, w, b, dy, dw0);
            ns_kern_use(&ns_kernels_avx512);
            struct gk_out v = gk_run(&c, sh[0], nth, x, w, b, dy, dw0);
            const struct {
                const char *name;
                const float *p, *q;
                size_t len;
            } cmp[] = {{"y", a.y, v.y, ny},      {"relu y", a.yr, v.yr, ny},
                       {"dx", a.dx, v.dx, nx},    {"dx onto ones", a.dxa, v.dxa, nx},
                       {"dx in place", a.dxi, v.dxi, nx},
                       {"dw", a.dw, v.dw, nw},    {"db", a.db, v.db, c.cout}};
            for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
                if (memcmp(cmp[i].p, cmp[i].q, sizeof(float) * cmp[i].len))
                    fail_msg("n %d h %d c %d g %d k %d stride %d, %d threads: %s differs "
                             "between the avx2 and avx512 paths", sh[0], sh[1], sh[2], sh[3],
                             sh[4], sh[5], nth, cmp[i].name);
            gk_free(&a);
            gk_free(&v);
        }
        free(x), free(w), free(b), free(dy), free(dw0);
    }
    ns_kern_use(was);
}

int main(void)
{
    if (nn_isa_skip())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx2_gemm_matches_a_plain_product),
        cmocka_unit_test(avx512_gemm_matches_and_equals_avx2_bit_for_bit),
        cmocka_unit_test(ns_isa_forces_a_path),
        cmocka_unit_test(conv_1x1_matches_a_plain_loop),
        cmocka_unit_test(grouped_conv_pairs_equal_the_avx2_loop_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
