/* Bilinear resize (the input of compound-scaled models): values against torch's
 * F.interpolate(mode="bilinear", align_corners=False) on a hand-checked 2x3 image, up to 3x5
 * and down to 1x2 (the expected numbers were printed by torch 1.13); channels resized
 * independently; the backward against finite differences, overwriting (acc = 0) and adding
 * (acc = 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"
#include "nn/pool.h"
#include "nn_check.h"
#include "nn_fd.h"

static void resize_matches_torch(void **state)
{
    (void)state;
    /* one image, 2x3, 2 channels: channel 0 the torch example, channel 1 ten times it */
    const float img[6] = {1, 2, 4, 3, 5, 8};
    float x[12];
    for (int i = 0; i < 6; i++)
        x[2 * i] = img[i], x[2 * i + 1] = 10 * img[i];
    const float up[15] = {1.0f, 1.4f, 2.0f, 3.2f, 4.0f, 2.0f, 2.6f, 3.5f,
                          5.0f, 6.0f, 3.0f, 3.8f, 5.0f, 6.8f, 8.0f};
    const float down[2] = {2.375f, 5.375f};
    struct ns_resize r = {.h = 2, .w = 3, .c = 2, .ho = 3, .wo = 5};
    float y[30], got[15];
    ns_resize_forward(NULL, &r, 1, x, y);
    for (int c = 0; c < 2; c++) {
        float want[15];
        for (int i = 0; i < 15; i++)
            got[i] = y[2 * i + c], want[i] = up[i] * (c ? 10 : 1);
        assert_true(nn_close(c ? "up, channel 1" : "up, channel 0", got, want, 15, 1e-5, 1e-6));
    }
    r.ho = 1, r.wo = 2;
    ns_resize_forward(NULL, &r, 1, x, y);
    got[0] = y[0], got[1] = y[2];
    assert_true(nn_close("down", got, down, 2, 1e-6, 1e-6));
}

struct rs_case {
    struct ns_resize r;
    int n;
    float *x, *y, *dy;
};

static double loss(void *vp)
{
    struct rs_case *t = vp;
    ns_resize_forward(NULL, &t->r, t->n, t->x, t->y);
    return project(t->y, t->dy, (size_t)t->n * t->r.ho * t->r.wo * t->r.c);
}

static int check(struct ns_resize r, struct ns_pool *pool)
{
    struct rs_case t = {r, 3, NULL, NULL, NULL};
    size_t nx = (size_t)t.n * r.h * r.w * r.c, ny = (size_t)t.n * r.ho * r.wo * r.c;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 17, (uint64_t)(r.ho * 100 + r.wo));
    t.x = nn_floats(nx), t.y = nn_floats(ny), t.dy = nn_floats(ny);
    float *dx = nn_floats(nx), *pre = nn_floats(nx), *acc = nn_floats(nx);
    nn_uniform(&rng, t.x, nx, -1, 1);
    nn_uniform(&rng, t.dy, ny, -1, 1);
    nn_fill(dx, nx, 12345.0f);
    ns_resize_backward(pool, &r, t.n, t.dy, dx, 0);
    char what[64];
    snprintf(what, sizeof what, "resize %dx%d -> %dx%d: fd dx", r.h, r.w, r.ho, r.wo);
    int fails = fd_check(what, loss, &t, t.x, nx, dx, 1e-2, 200, FD_ATOL, FD_RTOL, 0);
    nn_uniform(&rng, pre, nx, -1, 1);
    memcpy(acc, pre, sizeof(float) * nx);
    ns_resize_backward(pool, &r, t.n, t.dy, acc, 1);
    float *added = diff(acc, pre, nx);
    fails += !nn_close("resize acc=1", added, dx, nx, 1e-5, 1e-5);
    free(added), free(dx), free(pre), free(acc), free(t.x), free(t.y), free(t.dy);
    return fails;
}

static void resize_backward_is_its_adjoint(void **state)
{
    (void)state;
    struct ns_pool *pool = ns_pool_create(2);
    int fails = 0;
    fails += check((struct ns_resize){.h = 5, .w = 5, .c = 3, .ho = 7, .wo = 7}, pool);
    fails += check((struct ns_resize){.h = 8, .w = 6, .c = 2, .ho = 5, .wo = 4}, pool);
    fails += check((struct ns_resize){.h = 4, .w = 4, .c = 1, .ho = 4, .wo = 4}, NULL);
    ns_pool_free(pool);
    assert_int_equal(fails, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resize_matches_torch),
        cmocka_unit_test(resize_backward_is_its_adjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
