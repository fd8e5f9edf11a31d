/* skce loss kernels (src/loss/): public prototypes.
 *
 * Every kernel processes a block of rows [r0, r1) and returns the sum of the
 * block's (weighted) row losses in double.  The Cython layer runs blocks of a
 * fixed size in parallel and adds the block sums in block order, so results
 * do not depend on the number of threads.
 *
 * Arrays are strided, strides counted in elements.  The softmax family sees
 * its input as (n, C, D): sample i, class c, position d (D = 1 for (n, C)
 * input, D = d1*...*dK for torch's (n, C, d1, ..., dK) layout); a row is one
 * (i, d) pair, r = i * D + d.  Elementwise losses see (n, R, L) arrays and
 * the multi-class margin losses (n, C) ones (see their sections below).
 */
#ifndef SKCE_LOSS_H
#define SKCE_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* The one numbering of skce's loss kinds: the public wrappers (skce/_loss),
 * the loss registry (skce._loss.LOSSES) and the training epoch all use it.
 * The first six are the ones skce_loss_rows trains with. */
typedef enum {
    SKCE_CE_INDEX = 0,      /* softmax cross-entropy, class-index targets */
    SKCE_BCE = 1,           /* BCE with logits, targets in {0, 1} */
    SKCE_MSE = 2,           /* squared error */
    SKCE_HUBER = 3,         /* Huber */
    SKCE_HINGE = 4,         /* (squared) hinge, targets in {-1, 1} */
    SKCE_MULTI_MARGIN = 5,  /* multi-class margin (Weston-Watkins / Crammer-Singer) */
    SKCE_CE_PROB = 6,       /* softmax cross-entropy, class-probability targets */
    SKCE_NLL = 7,           /* negative log-likelihood of log-probabilities */
    SKCE_BCE_PROB = 8,      /* BCE on probabilities (torch's binary_cross_entropy) */
    SKCE_HINGE_EMBEDDING = 9   /* torch's hinge_embedding_loss, targets in {-1, 1} */
} skce_loss_kind;

typedef struct {
    ptrdiff_t sample, cls, pos;
} skce_strides3;

/* Shape of a softmax-family problem and the strides of its index target. */
typedef struct {
    ptrdiff_t n_classes;     /* C */
    ptrdiff_t n_pos;         /* D */
    ptrdiff_t t_sample, t_pos;
} skce_shape;

/* Options shared by the softmax-family kernels. */
typedef struct {
    const double *class_weight;   /* (C,) or NULL */
    const double *sample_weight;  /* (n,) or NULL; row r uses sample r / D */
    int64_t ignore_index;
    double label_smoothing;
    double grad_scale;            /* multiplies every gradient entry (1/denominator for 'mean') */
} skce_ce_options;

static inline skce_ce_options skce_ce_options_make(const double *class_weight,
    const double *sample_weight, int64_t ignore_index, double label_smoothing,
    double grad_scale)
{
    skce_ce_options o = {class_weight, sample_weight, ignore_index, label_smoothing, grad_scale};
    return o;
}

#define SKCE_DECLARE(REAL, SFX)                                                              \
    double skce_ce_index_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,    \
        const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const int64_t *target, \
        REAL *loss_out, REAL *grad, skce_strides3 gs);                                      \
    double skce_ce_prob_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,     \
        const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const REAL *y,         \
        skce_strides3 ys, REAL *loss_out, REAL *grad, skce_strides3 gs);                    \
    double skce_nll_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,         \
        const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const int64_t *target, \
        REAL *loss_out, REAL *grad, skce_strides3 gs);                                      \
    void skce_softmax_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,       \
        int log_output, const REAL *x, skce_strides3 xs, REAL *out, skce_strides3 os);

SKCE_DECLARE(double, _f64)
SKCE_DECLARE(float, _f32)
#undef SKCE_DECLARE

/* Validates index targets of rows [r0, r1) (each in [0, C) or ignore_index)
 * and returns the sum over valid, non-ignored rows of
 * sample_weight[i] * class_weight[t] (either may be NULL = 1).  The first
 * invalid row, if any, is stored in *bad_row (left alone otherwise). */
double skce_index_target_weight_block(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const int64_t *target, const double *class_weight, const double *sample_weight,
    int64_t ignore_index, ptrdiff_t *bad_row);

/* ---- Elementwise losses (elementwise.c): BCE with logits, MSE, Huber, hinge,
 * and in skce_hinge_block (by opt->kind) BCE on probabilities and hinge embedding ----
 *
 * Arrays are seen as (n, R, L): sample i, row d within the sample, column j
 * (L = the input's last dimension, R = the product of the middle ones; 1-D
 * input is (n, 1, 1)).  Blocks cover rows r = i * R + d of all samples.
 * Strides may be 0 (broadcast weights); for a dimension of size 1 the caller
 * sets its stride to the extent of the next inner one (e.g. row = L * col when
 * R = 1), so a contiguous layout is recognised whatever the shape.  loss_out,
 * when not NULL, is C-contiguous: element (r, j) at r * L + j.  The element
 * weight w (NULL = 1) is an array of the input's dtype seen as (n, R, L). */
typedef struct {
    ptrdiff_t sample, row, col;
} skce_strides_nrl;

typedef struct {
    ptrdiff_t n_rows;             /* R */
    ptrdiff_t n_cols;             /* L */
    const double *sample_weight;  /* (n,) or NULL */
    double grad_scale;            /* multiplies every gradient entry */
    double margin;                /* hinge */
    double delta;                 /* huber */
    int squared;                  /* hinge */
    int kind;                     /* skce_hinge_block: SKCE_HINGE, SKCE_BCE_PROB or
                                     SKCE_HINGE_EMBEDDING (the losses that report flags) */
} skce_ew_options;

static inline skce_ew_options skce_ew_options_make(ptrdiff_t n_rows, ptrdiff_t n_cols,
    const double *sample_weight, double grad_scale, double margin, double delta, int squared)
{
    skce_ew_options o = {n_rows, n_cols, sample_weight, grad_scale, margin, delta, squared,
                         SKCE_HINGE};
    return o;
}


/* Hinge label flags, or-ed into *label_flags: a target equal to 0, to -1, or
 * to anything outside {-1, 0, 1} was seen. */
#define SKCE_LABEL_ZERO 1
#define SKCE_LABEL_MINUS_ONE 2
#define SKCE_LABEL_INVALID 4
/* BCE on probabilities: an input outside [0, 1] (or NaN) was seen. */
#define SKCE_PROB_INVALID 8

#define SKCE_DECLARE_EW(REAL, SFX)                                                           \
    double skce_bce_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,      \
        const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,              \
        const REAL *w, skce_strides_nrl ws, const REAL *pos_weight, skce_strides_nrl ps,     \
        REAL *loss_out, REAL *grad, skce_strides_nrl gs);                                    \
    double skce_mse_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,      \
        const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,              \
        const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs); \
    double skce_huber_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,    \
        const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,              \
        const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs); \
    double skce_hinge_block##SFX(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,    \
        const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,              \
        const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs, \
        int *label_flags);                                                                    \
    void skce_sigmoid##SFX(ptrdiff_t n, const REAL *x, REAL *out, int log_output);

SKCE_DECLARE_EW(double, _f64)
SKCE_DECLARE_EW(float, _f32)
#undef SKCE_DECLARE_EW

/* ---- Multi-class margin losses (margin.c) ----
 *
 * input (n, C), class-index target (n,) with stride t_stride.  A target
 * outside [0, C) stops the block: its row goes to *bad_row (left alone
 * otherwise) and the outputs of that block are incomplete. */
typedef struct {
    ptrdiff_t sample, cls;
} skce_strides2;

typedef struct {
    ptrdiff_t n_classes;          /* C */
    ptrdiff_t t_stride;
    const double *class_weight;   /* (C,) or NULL */
    const double *sample_weight;  /* (n,) or NULL */
    double margin;
    double grad_scale;
    int p;                        /* 1 or 2 */
    int crammer_singer;           /* 0: Weston-Watkins (torch), 1: Crammer-Singer */
} skce_margin_options;

static inline skce_margin_options skce_margin_options_make(ptrdiff_t n_classes,
    ptrdiff_t t_stride, const double *class_weight, const double *sample_weight,
    double margin, double grad_scale, int p, int crammer_singer)
{
    skce_margin_options o = {n_classes, t_stride, class_weight, sample_weight, margin,
                             grad_scale, p, crammer_singer};
    return o;
}

#define SKCE_DECLARE_MARGIN(REAL, SFX)                                                        \
    double skce_multi_margin_block##SFX(ptrdiff_t r0, ptrdiff_t r1,                           \
        const skce_margin_options *opt, const REAL *x, skce_strides2 xs,                      \
        const int64_t *target, REAL *loss_out, REAL *grad, skce_strides2 gs,                  \
        ptrdiff_t *bad_row);

SKCE_DECLARE_MARGIN(double, _f64)
SKCE_DECLARE_MARGIN(float, _f32)
#undef SKCE_DECLARE_MARGIN

/* ---- Loss rows of a training batch (loss_rows.c) ----
 *
 * skce_loss_rows: the weighted loss of rows [r0, r1) of the logits Z (row
 * stride ldz, n_outputs columns) and their gradient times grad_scale into G
 * (row stride ldz), for the losses skce trains: kind SKCE_CE_INDEX or
 * SKCE_MULTI_MARGIN take class indices y, the others target rows Y
 * (n_outputs columns, packed).  sample_weight (per row) may be NULL.  A
 * class index outside [0, n_outputs) of a multi-margin loss goes to *bad_row
 * (cross-entropy targets must have been checked). */
typedef struct {
    int kind;                /* skce_loss_kind, SKCE_CE_INDEX .. SKCE_MULTI_MARGIN */
    ptrdiff_t n_outputs;
    double label_smoothing;  /* cross-entropy */
    double margin;           /* hinge, multi-margin */
    double delta;            /* huber */
    int squared;             /* hinge, multi-margin */
    int crammer_singer;      /* multi-margin */
} skce_loss_spec;

#define SKCE_DECLARE_LOSS_ROWS(REAL, SFX)                                                     \
    double skce_loss_rows##SFX(const skce_loss_spec *spec, ptrdiff_t r0, ptrdiff_t r1,        \
        const REAL *Z, ptrdiff_t ldz, const int64_t *y, const REAL *Y,                        \
        const double *sample_weight, double grad_scale, REAL *G, ptrdiff_t *bad_row);

SKCE_DECLARE_LOSS_ROWS(double, _f64)
SKCE_DECLARE_LOSS_ROWS(float, _f32)
#undef SKCE_DECLARE_LOSS_ROWS

/* ---- NT-Xent contrastive loss (ntxent.c) ----
 *
 * Views z_a, z_b (N, D) are stacked as 2N rows r (r < N: z_a[r], else
 * z_b[r - N]); row r's positive is r + N mod 2N.  skce_ntxent_pack_block
 * fills, for rows [r0, r1), norms[r] and the (normalized) rows into u
 * (row-major, row stride dim_pad) and up (panels of KW rows, KW =
 * SKCE_NTX_KW for double and SKCE_NTX_KW_F32 for float: element (r, d) at
 * (r / KW) * D * KW + d * KW + r % KW); both must be zeroed beforehand, with
 * rows_pad rows.  It returns the first row whose norm is zero (normalize
 * only), or -1.
 *
 * The rows_pad rows form n_tiles = rows_pad / SKCE_NTX_TB blocks; tile (I, J),
 * I <= J, of the similarity matrix updates the rows of both blocks, so the
 * tiles run in rounds round = 0 .. n_tiles + (n_tiles & 1) - 1, each of
 * skce_ntxent_round_size() items k, tile_pair giving item k's tile (0 for a
 * bye; the tile kernels take (round, k)): within a round the tiles share no
 * block (run them in parallel), rounds one after the other.  Pass 1: skce_ntxent_lse_tile over all rounds
 * updates the running max m and sum s (initially -inf and 0, 2N each) and
 * the positives' logits spos; skce_ntxent_lse_finish then returns the sum
 * of the row losses and stores them into loss_out and the log-sum-exp into
 * lse (rows_pad; each if not NULL).  Pass 2: skce_ntxent_grad_tile over all
 * rounds accumulates into g (rows_pad x dim_pad, zeroed) the gradient wrt u
 * of the loss sum times grad_scale, and skce_ntxent_grad_rows maps rows
 * [r0, r1) of it to grad_a / grad_b.  `work` is the caller's per-thread
 * buffer of skce_ntxent_work_size() doubles (ub of grad_rows: dim_pad). */
#define SKCE_NTX_TB 96      /* rows and columns of a similarity tile; rows_pad a multiple */
#define SKCE_NTX_KW 12      /* columns of a register tile; dim_pad a multiple */
#define SKCE_NTX_KW_F32 24  /* float: columns of its tiles; dim_pad a multiple */
#define SKCE_NTX_DC 128     /* feature chunk of S = u u^T */

typedef struct {
    ptrdiff_t n;                  /* N */
    ptrdiff_t dim;                /* D */
    ptrdiff_t dim_pad;            /* D rounded up to a multiple of KW (see above) */
    ptrdiff_t rows_pad;           /* 2N rounded up to a multiple of SKCE_NTX_TB */
    double inv_temperature;
    double grad_scale;            /* 1/(2N) for 'mean', else 1 */
    int normalize;
} skce_ntxent_options;

size_t skce_ntxent_work_size(const skce_ntxent_options *opt);
ptrdiff_t skce_ntxent_round_size(ptrdiff_t n_tiles, ptrdiff_t round);
int skce_ntxent_tile_pair(ptrdiff_t n_tiles, ptrdiff_t round, ptrdiff_t k, ptrdiff_t *I,
                          ptrdiff_t *J);

#define SKCE_DECLARE_NTX(REAL, SFX)                                                          \
    ptrdiff_t skce_ntxent_pack_block##SFX(ptrdiff_t r0, ptrdiff_t r1,                         \
        const skce_ntxent_options *opt, const REAL *a, skce_strides2 as, const REAL *b,       \
        skce_strides2 bs, REAL *u, REAL *up, double *norms);                                  \
    void skce_ntxent_lse_tile##SFX(ptrdiff_t round, ptrdiff_t k, const skce_ntxent_options *opt,  \
        const REAL *u, const REAL *up, double *m, double *s, double *spos, double *work);     \
    double skce_ntxent_lse_finish##SFX(const skce_ntxent_options *opt, const double *m,       \
        const double *s, const double *spos, double *lse, REAL *loss_out);                    \
    void skce_ntxent_grad_tile##SFX(ptrdiff_t round, ptrdiff_t k, const skce_ntxent_options *opt, \
        const REAL *u, const REAL *up, const double *lse, double *g, double *work);           \
    void skce_ntxent_grad_rows##SFX(ptrdiff_t r0, ptrdiff_t r1,                               \
        const skce_ntxent_options *opt, const REAL *a, skce_strides2 as, const REAL *b,       \
        skce_strides2 bs, const double *norms, const double *g, REAL *grad_a,                 \
        skce_strides2 gas, REAL *grad_b, skce_strides2 gbs, double *ub);

SKCE_DECLARE_NTX(double, _f64)
SKCE_DECLARE_NTX(float, _f32)
#undef SKCE_DECLARE_NTX

#endif /* SKCE_LOSS_H */
