/* PCG32 against the reference implementation's published demo (pcg32-demo.c, round 1):
 * seed state 42, stream 54; six 32-bit outputs, 65 coin flips, 33 die rolls, a shuffled deck. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/pcg32.h"

static void reference_demo_round_one(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 42u, 54u);
    const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_pcg32_next(&rng), want[i]);

    const char *coins = "HHTTTHTHHHTHTTTHHHHHTTTHHHTHTHTHTTHTTTHHHHHHTTTTHHTTTTTHTTTTTTTHT";
    char got[66];
    for (int i = 0; i < 65; i++)
        got[i] = ns_pcg32_bounded(&rng, 2) ? 'H' : 'T';
    got[65] = 0;
    assert_string_equal(got, coins);

    const int rolls[33] = {3, 4, 1, 1, 2, 2, 3, 2, 4, 3, 2, 4, 3, 3, 5, 2, 3,
                           1, 3, 1, 5, 1, 4, 1, 5, 6, 4, 6, 6, 2, 6, 3, 3};
    for (int i = 0; i < 33; i++)
        assert_int_equal((int)ns_pcg32_bounded(&rng, 6) + 1, rolls[i]);

    uint32_t cards[52];
    for (uint32_t i = 0; i < 52; i++)
        cards[i] = i;
    ns_pcg32_shuffle(&rng, cards, 52);
    const char *want_cards = "Qd Ks 6d 3s 3d 4c 3h Td Kc 5c Jh Kd Jd As 4s 4h Ad Th Ac Jc 7s Qs 2s 7h "
                             "Kh 2d 6c Ah 4d Qh 9h 6s 5s 2c 9c Ts 8d 9s 3c 8c Js 5d 2h 6h 7d 8s 9d "
                             "5h 8h Qc 7c Tc";
    char deck[52 * 3 + 1];
    for (int i = 0; i < 52; i++) {
        deck[3 * i] = "A23456789TJQK"[cards[i] / 4];
        deck[3 * i + 1] = "hcds"[cards[i] % 4];
        deck[3 * i + 2] = i == 51 ? 0 : ' ';
    }
    assert_string_equal(deck, want_cards);
}

static void streams_differ_and_repeat(void **state)
{
    (void)state;
    struct ns_pcg32 a, b, c;
    ns_pcg32_seed(&a, 7, 1);
    ns_pcg32_seed(&b, 7, 2);
    ns_pcg32_seed(&c, 7, 1);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = ns_pcg32_next(&a), y = ns_pcg32_next(&b), z = ns_pcg32_next(&c);
        same += x == y;
        assert_int_equal(x, z);
    }
    assert_true(same < 3);
}

static void bounded_is_unbiased(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 1, 1);
    int hist[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint32_t v = ns_pcg32_bounded(&rng, 7);
        assert_true(v < 7);
        hist[v]++;
    }
    /* Each bin expects 10000 with sd ~93; 5 sd is a loose but real bound. */
    for (int i = 0; i < 7; i++)
        assert_true(abs(hist[i] - 10000) < 470);
}

static void floats_and_normals_have_right_moments(void **state)
{
    (void)state;
    struct ns_pcg32 rng;
    ns_pcg32_seed(&rng, 3, 9);
    const int n = 200000;
    double s = 0, s2 = 0, fmin = 1, fmax = 0;
    for (int i = 0; i < n; i++) {
        float f = ns_pcg32_float(&rng);
        assert_true(f >= 0.0f && f < 1.0f);
        fmin = fmin < f ? fmin : f;
        fmax = fmax > f ? fmax : f;
        double d = ns_pcg32_double(&rng);
        assert_true(d >= 0.0 && d < 1.0);
        double z = ns_pcg32_normal(&rng);
        assert_true(isfinite(z));
        s += z;
        s2 += z * z;
    }
    assert_true(fmin < 1e-4 && fmax > 1 - 1e-4);
    double mean = s / n, var = s2 / n - mean * mean;
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(var - 1.0) < 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_demo_round_one),
        cmocka_unit_test(streams_differ_and_repeat),
        cmocka_unit_test(bounded_is_unbiased),
        cmocka_unit_test(floats_and_normals_have_right_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
