/* rng.c — PCG32 (M. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically
 * Good Algorithms for Random Number Generation", 2014): 64-bit LCG state, output by
 * xorshift-high + random rotation. The whole state is two integers, so checkpoints save
 * it exactly and a resumed run draws the same numbers. */
#include "internal.h"
#include <math.h>

#define PCG_MULT 6364136223846793005ULL

uint32_t mmc_rng_u32(mmc_rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void mmc_rng_seed(mmc_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    mmc_rng_u32(r);
    r->state += seed;
    mmc_rng_u32(r);
}

uint32_t mmc_rng_below(mmc_rng *r, uint32_t n) {
    if (n == 0) return 0;
    uint32_t threshold = (-n) % n; /* reject the low values that would bias the modulo */
    for (;;) {
        uint32_t x = mmc_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float mmc_rng_uniform(mmc_rng *r) { return (float)(mmc_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float mmc_rng_normal(mmc_rng *r) {
    /* Box–Muller on (0,1] x [0,1); one of the pair is used, so the stream position
     * depends only on how many normals were drawn. */
    double u1 = ((double)(mmc_rng_u32(r) >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(mmc_rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

int mmc_rng_bernoulli(mmc_rng *r, float p) { return mmc_rng_uniform(r) < p; }

void mmc_rng_permutation(mmc_rng *r, int *out, int n) {
    for (int i = 0; i < n; i++) out[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mmc_rng_below(r, (uint32_t)i + 1);
        int t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

void mmc_rng_fill_uniform(mmc_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * mmc_rng_uniform(r);
}

void mmc_rng_fill_normal(mmc_rng *r, float *x, int64_t n, float mean, float std) {
    for (int64_t i = 0; i < n; i++) x[i] = mean + std * mmc_rng_normal(r);
}
