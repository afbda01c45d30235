/* Fully connected layer, softmax cross-entropy and dropout: the classifier head. These run
 * on (n, c) matrices a few hundred wide, so they stay single-threaded except the GEMMs. */
#include "nn/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void ns_linear_forward(struct ns_pool *p, int n, int cin, int cout, const float *x,
                       const float *w, const float *b, float *y)
{
    (void)p;
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * cout, b, sizeof(float) * cout);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, cout, cin, 1.0f, x, cin, w, cout,
                1.0f, y, cout);
}

void ns_linear_backward(struct ns_pool *p, int n, int cin, int cout, const float *x,
                        const float *w, const float *dy, float *dx, int acc, float *dw,
                        float *db)
{
    (void)p;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, cout, n, 1.0f, x, cin, dy, cout,
                1.0f, dw, cout);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cout; j++)
            db[j] += dy[(size_t)i * cout + j];
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, cin, cout, 1.0f, dy, cout, w,
                    cout, acc ? 1.0f : 0.0f, dx, cin);
}

void ns_dropout_forward(size_t len, float rate, struct ns_pcg32 *rng, const float *x,
                        uint8_t *mask, float *y)
{
    float keep = 1.0f - rate, inv = keep > 0 ? 1.0f / keep : 0.0f;
    for (size_t i = 0; i < len; i++) {
        mask[i] = ns_pcg32_float(rng) < keep;
        y[i] = mask[i] ? x[i] * inv : 0.0f;
    }
}

void ns_dropout_backward(size_t len, float rate, const uint8_t *mask, const float *dy,
                         float *dx, int acc)
{
    float keep = 1.0f - rate, inv = keep > 0 ? 1.0f / keep : 0.0f;
    for (size_t i = 0; i < len; i++) {
        float g = mask[i] ? dy[i] * inv : 0.0f;
        dx[i] = acc ? dx[i] + g : g;
    }
}

double ns_softmax_xent(int n, int classes, const float *logits, const int32_t *labels,
                       float *dlogits, int *wrong)
{
    double total = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        int arg = 0;
        float mx = z[0];
        for (int j = 1; j < classes; j++)
            if (z[j] > mx) {
                mx = z[j];
                arg = j;
            }
        bad += arg != labels[i];
        double sum = 0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)z[j] - mx);
        double lse = mx + log(sum);
        total += lse - z[labels[i]];
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++)
                d[j] = (float)(exp((double)z[j] - lse) / n);
            d[labels[i]] -= 1.0f / (float)n;
        }
    }
    if (wrong)
        *wrong = bad;
    return total / n;
}
