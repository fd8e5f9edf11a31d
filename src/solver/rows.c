/* Gathering the rows of a minibatch from a dense X into a packed buffer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "skce_solver.h"

/* How many rows ahead the copy prefetches.  Rows are visited in shuffled
 * order, so the hardware prefetcher cannot guess the next one and each row
 * would cost a full memory latency; a few rows in flight hide it. */
#define SKCE_PREFETCH_ROWS 8
#define SKCE_LINE 64

static inline void skce_prefetch_span(const char *p, ptrdiff_t bytes)
{
    for (ptrdiff_t o = 0; o < bytes; o += SKCE_LINE)
        __builtin_prefetch(p + o, 0, 3);
    __builtin_prefetch(p + bytes - 1, 0, 3);   /* a row need not start on a line */
}

#define SKCE_DEFINE_GATHER(REAL, SFX)                                                        \
    void skce_gather_rows##SFX(ptrdiff_t n, ptrdiff_t n_ahead, const int64_t *order,          \
                               const REAL *x, ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t d,         \
                               REAL *restrict out)                                             \
    {                                                                                          \
        const ptrdiff_t bytes = d * (ptrdiff_t)sizeof(REAL);                                   \
        if (d == 0)                                                                            \
            return;                                                                            \
        if (cs != 1) {   /* strided columns: element by element, no prefetch */               \
            for (ptrdiff_t k = 0; k < n; k++) {                                                \
                const REAL *row = x + order[k] * rs;                                           \
                for (ptrdiff_t j = 0; j < d; j++)                                              \
                    out[k * d + j] = row[j * cs];                                              \
            }                                                                                  \
            return;                                                                            \
        }                                                                                      \
        for (ptrdiff_t k = 0; k < SKCE_PREFETCH_ROWS && k < n_ahead; k++)                      \
            skce_prefetch_span((const char *)(x + order[k] * rs), bytes);                      \
        for (ptrdiff_t k = 0; k < n; k++) {                                                    \
            if (k + SKCE_PREFETCH_ROWS < n_ahead)                                              \
                skce_prefetch_span((const char *)(x + order[k + SKCE_PREFETCH_ROWS] * rs),     \
                                   bytes);                                                     \
            memcpy(out + k * d, x + order[k] * rs, (size_t)bytes);                             \
        }                                                                                      \
    }

SKCE_DEFINE_GATHER(double, _f64)
SKCE_DEFINE_GATHER(float, _f32)
