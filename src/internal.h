/* Private declarations shared by the library's modules.  Not installed. */
#ifndef MDNMF_INTERNAL_H
#define MDNMF_INTERNAL_H

#include "error.h"
#include "mdnmf.h"

#include <stdarg.h>
#include <stdint.h>

/* Division guard of SPEC (ε); see nmf.c for how it is scaled to the data. */
#define MDNMF_EPS 1e-10

struct mdnmf_model {
    mdnmf_params params;
    int64_t m;          /* rows of the basis (0 = no basis yet) */
    int64_t atoms;      /* D = sum of components */
    float *W;           /* m x atoms, column-major */
    float *mu_H;        /* atoms */
    int mu_H_custom;    /* mu_H set per atom by the user, not from params */
    int sources;        /* S */
    int64_t *components;/* S atom counts */
    float *H;           /* atoms x n_H: activations of the last fit's data */
    int64_t n_H;
    float *H_adv;       /* atoms x n_H_adv */
    int64_t n_H_adv;
    mdnmf_separator_params separator; /* valid when is_separator */
    int is_separator;
    mdnmf_audio_params audio;   /* sample_rate 0: no audio front end */
    mdnmf_shard shard;  /* valid when sharded (mdnmf_model_set_shard) */
    int sharded;
    char error[MDNMF_ERROR_MESSAGE_SIZE]; /* this call's failure, for its mdnmf_error */
};

/* Record a failure on the model and return `status` (printf-style message). */
int model_fail(mdnmf_model *model, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Replace the basis by a one-source basis (copies W; mu_H from params). */
int model_adopt_basis(mdnmf_model *model, float *W_owned, int64_t m, int64_t d);

/* Replace the basis of a multi-source model: takes ownership of W, mu_H and
 * components (all malloc'ed). */
void model_adopt_sources(mdnmf_model *model, float *W, float *mu_H, int64_t m,
                         int sources, int64_t *components);

/* Replace the activations (takes ownership; either may be NULL). */
void model_set_activations(mdnmf_model *model, float *H, int64_t n, float *H_adv, int64_t n_adv);

/* ---- The W step as a sum of terms (SPEC §3, §6)
 *
 * Every loss the library fits is a sum of squared residuals, each of data U
 * modelled by activations H, with a weight τ and a sign; its gradient in W
 * splits into U Hᵀ and W (H Hᵀ), so the multiplicative step is
 *
 *     W <- W ⊙ (Σ_attracting τ/B U_b H_bᵀ + Σ_repelling τ/B W H_b H_bᵀ)
 *            ⊘ (Σ_attracting τ/B W H_b H_bᵀ + Σ_repelling τ/B U_b H_bᵀ + γ)
 *
 * A mode is a list of terms: NMF the true data; MDNMF also the adversarial
 * data; D+MDNMF also the supervised pairs; DNMF the pairs alone; the
 * semi-supervised noise basis the mixtures, modelled by all bases. */

/* Which side each part of a term goes to.  Data the basis should explain
 * (true, paired, mixtures) attracts: U Hᵀ to the numerator, W(HHᵀ) to the
 * denominator.  Adversarial data repels: the other way round. */
typedef enum { TERM_ATTRACTS = 1, TERM_REPELS = -1 } term_sign;

/* One term of a fit (fit_basis), as its caller describes it. */
typedef struct basis_term {
    const float *U;         /* m x n data (borrowed) */
    int64_t n;
    int64_t batch;          /* columns per batch B; <= 0 or > n: all of them */
    double weight;          /* τ: the term enters as τ/B times its products */
    term_sign sign;
    /* Activations.  NULL: the fit's own, d x n, initialised and updated by
     * the fit (at most two such terms: the true data first, then the
     * adversarial data), shuffled with the fit's own streams.  Otherwise the
     * caller's, rows x n, this basis's atoms at rows [offset, offset + d):
     * the fit reads them, batch b being perm[(b B + k) mod n], and only
     * rescales its rows when it normalises the basis. */
    float *H;
    int64_t rows, offset;
    const int64_t *perm;    /* n: the caller's permutation of this epoch */
    const float *omega;     /* own activations: n penalty weights (NULL = 1) */
} basis_term;

/* One term's current batch, as the W step sums it (pointers stay valid
 * from batch to batch: the batch buffers are refilled in place). */
typedef struct term_batch {
    term_sign sign;
    float scale;            /* τ/B */
    int64_t batch;          /* B */
    const float *U_b;       /* m x B */
    const float *H_b;       /* d x B, this basis's activations (leading dimension ldh) */
    int64_t ldh;
    /* NULL: the data is modelled by this basis alone, W H_b, and the Gram
     * is H_b H_bᵀ.  Otherwise by all bases (the semi noise basis, SPEC §6):
     * W_model (m x model_atoms) times H_model_b (model_atoms x B, leading
     * dimension ldh), and the Gram is H_model_b H_bᵀ. */
    const float *W_model;
    const float *H_model_b;
    int64_t model_atoms;
    float *G;               /* d x d, or model_atoms x d: the batch Gram */
} term_batch;

/* This part's share of every term's batch Gram τ/B H H_bᵀ (of `parts`
 * threads; one part computes all of them). */
void term_grams_share(const term_batch *terms, int count, int64_t d, int parts, int part);

/* Rows [r0, r1) of the sums of the W step above for the basis W (m x d):
 * num and den (m x d) are overwritten; the Grams must be ready.  A row
 * needs only the same row of W, so threads owning disjoint rows never wait
 * for each other. */
void term_sums_rows(const term_batch *terms, int count, const float *W, int64_t m, int64_t d,
                    int64_t r0, int64_t r1, float *num, float *den);

/* ---- The β-divergence (SPEC §11, docs/algorithm.md "β-divergence")
 *
 * Frobenius keeps the Gram form above.  Kullback–Leibler and Itakura–Saito
 * need the model Λ = W_model H_model_b itself (guarded: Λ + guard before
 * every power or division); a term's parts become
 *
 *     data part   τ/B (Λ^{β-2} ⊙ U_b) H_bᵀ      (Frobenius: τ/B U_b H_bᵀ)
 *     model part  τ/B  Λ^{β-1} H_bᵀ             (Frobenius: W_model G)
 *
 * and go to the same sides.  KL's Λ^{β-1} is 1, so its model part is τ/B
 * times the row sums of H_b in every row: no product.  Itakura–Saito's
 * steps raise the factor num ⊘ den to 1/(2-β) = 1/2. */

/* What the steps of a fit need to know about its divergence. */
typedef struct beta_work {
    mdnmf_divergence kind;  /* KL or IS (Frobenius fits pass no beta_work) */
    float guard;            /* added to Λ = WH: ε c (docs/algorithm.md) */
    float *work;            /* parts x BETA_WORK(m) floats, part p's at p BETA_WORK(m) */
    int64_t m;
} beta_work;

/* Floats of work one part needs on m-row data. */
#define BETA_WORK(m) (2 * (int64_t)(m) * BETA_CHUNK)

/* A fit's beta_work (NULL for Frobenius, which needs none): *bw filled and
 * its work malloc'ed for `parts` parts.  MDNMF_ERR_MEMORY if it cannot be. */
int beta_work_open(beta_work *bw, mdnmf_divergence kind, int64_t m, int parts,
                   const beta_work **out);
/* This part's work. */
float *beta_work_part(const beta_work *bw, int part);

/* KL: this part's share of every term's τ/B H_b 1 (d row sums, into the
 * first d floats of its G). */
void term_row_sums_share(const term_batch *terms, int count, int64_t d, int parts, int part);

/* Rows [r0, r1) of the sums of a KL or IS W step for the basis W (m x d):
 * num and den (m x d) are overwritten; KL needs term_row_sums_share done.
 * `work` holds BETA_WORK(m) floats. */
void term_sums_rows_beta(const term_batch *terms, int count, const float *W, int64_t m,
                         int64_t d, int64_t r0, int64_t r1, const beta_work *bw, float *work,
                         float *num, float *den);

/* The β steps' guards from the data and basis peaks (docs/algorithm.md),
 * and Frobenius's scaled_guards for MDNMF_DIVERGENCE_FROBENIUS; guard_L is
 * the guard on Λ. */
void divergence_guards(mdnmf_divergence kind, float data_peak, float basis_peak, float *guard_H,
                       float *guard_W, float *guard_L);

/* Σ D(U | WH) of the divergence (Frobenius ||U - WH||², else SPEC §11's
 * with Λ guarded by guard_L); `work` holds m x min(n, LINALG_CHUNK) floats. */
double divergence_residual(mdnmf_divergence kind, const float *U, const float *W,
                           const float *H, int64_t m, int64_t d, int64_t n, float guard_L,
                           float *work);

/* One basis fitted by NMF, MDNMF or D+MDNMF (SPEC §2, §3, §6) over a list
 * of terms: the engine behind mdnmf_fit_std / mdnmf_fit_adv and every
 * separator mode.  Inputs are borrowed; on MDNMF_OK or MDNMF_ERR_CANCELLED
 * the results W (m x d) and the own activations H (d x n of the first
 * term) and H_adv (d x n of the second own term, if any) are malloc'ed for
 * the caller.  Errors are reported on `report_to`. */
#define FIT_MAX_TERMS 8
struct checkpoint;

/* Sharded fits: which global columns of one data set this process holds.
 * Its local columns are the segments' columns one after another, in
 * segment order (global starts increasing): a source's part of its data is
 * one segment; its part of an adversarial concatenation (the other sources'
 * data, then the mixtures) one segment per block. */
#define SHARD_MAX_SEGMENTS (MDNMF_MAX_SOURCES + 1)
typedef struct shard_layout {
    int64_t n_global;  /* columns of the global data set */
    int count;         /* segments */
    struct {
        int64_t start, columns; /* global columns [start, start + columns) */
    } segment[SHARD_MAX_SEGMENTS];
} shard_layout;

/* The local column holding global column `global`, or -1 when it is not here. */
int64_t shard_local_column(const shard_layout *layout, int64_t global);

/* Every process learns whether one failed (the largest status if several
 * did): a failing process keeps its message, the others say another one
 * failed.  Unsharded (shard NULL): `status` itself. */
int shard_agree(mdnmf_model *report_to, const mdnmf_shard *shard, int status);

/* Rank mode (shard->ranks >= 1): the global counts of `sets` data sets
 * from this process's `local` counts, by one sum of the ranks x sets
 * table; `totals` and `offsets` (this process's first global column of
 * each) receive them.  Collective. */
int shard_count_table(mdnmf_model *report_to, const mdnmf_shard *shard, int sets,
                      const int64_t *local, int64_t *totals, int64_t *offsets);

/* Uniform draws for the columns of a d x n_global matrix the layout holds
 * into H (d x its columns): the others' draws are made and dropped, so the
 * stream ends where the unsharded fill of all columns leaves it. */
struct rng;
void fill_uniform_columns(struct rng *r, float *H, int64_t d, const shard_layout *layout);

/* Combine `buffer` across a shard's processes (MDNMF_ERR_IO with a message
 * if the callback fails). */
int shard_reduce_buffer(mdnmf_model *report_to, const mdnmf_shard *shard, void *buffer,
                        int64_t count, mdnmf_reduce_op op);

typedef struct basis_fit {
    const mdnmf_params *params; /* params->d atoms, epochs, seed... */
    const float *lambda;        /* d per-atom L1 weights on H */
    const float *W_start;       /* m x d warm start, or NULL: params->init */
    const basis_term *terms;    /* the first is the true data, own activations */
    int term_count;
    int stage, stages;          /* reported to the epoch callback */
    /* The run's checkpointing (checkpoint.h), or NULL; the fit's arrays are
     * saved as "fit<slot>.W", ... (slots of fits open at once differ), and
     * when the checkpoint resumes this stage they are restored instead of
     * initialised. */
    struct checkpoint *ck;
    int slot;
    /* A sharded fit (mdnmf_model_set_shard), or NULL: the own terms' U are
     * this process's columns of the global data, layout[i] saying which of
     * term i's (required with a shard; a term on the caller's activations
     * holds the same columns of them, its perm over layout->n_global). */
    const mdnmf_shard *shard;
    const shard_layout *layout[FIT_MAX_TERMS];
    float *W, *H, *H_adv;       /* results */
} basis_fit;

int fit_basis(mdnmf_model *report_to, int64_t m, basis_fit *job);

/* The same fit one epoch at a time, for drivers that interleave several
 * bases (D+MDNMF).  fit_open initialises (basis, activations, epoch-0
 * callback), or restores them from job->ck without a callback; fit_epoch
 * runs one epoch with its checks; fit_close hands the results to `job`
 * when `keep` and frees the rest.  fit_basis also reports its epochs to
 * job->ck (checkpoint_epoch_ends); drivers of fit_open do that themselves. */
typedef struct fit fit;
fit *fit_open(mdnmf_model *report_to, int64_t m, basis_fit *job, int *status);
int fit_epoch(fit *f, int epoch);
const float *fit_current_basis(const fit *f);
void fit_close(fit *f, basis_fit *job, int keep);

/* `iterations` MU steps on H (d x n) for fixed W (SPEC §1) with WtW = WᵀW
 * given; num and den hold d x LINALG_CHUNK floats; omega may be NULL. */
void update_activations(const float *W, const float *WtW, const float *U, float *H, int64_t m,
                        int64_t d, int64_t n, int iterations, const float *lambda,
                        const float *omega, float guard, float *num, float *den);

/* The same for KL or IS (SPEC §11; WtW is not needed), BETA_CHUNK columns
 * at a time: num and den hold d x min(n, BETA_CHUNK) floats, work
 * BETA_WORK(m). */
void update_activations_beta(const beta_work *bw, const float *W, const float *U, float *H,
                             int64_t m, int64_t d, int64_t n, int iterations,
                             const float *lambda, const float *omega, float guard, float *num,
                             float *den, float *work);

/* Fewer columns per thread than this are not worth a parallel region. */
#define SHARED_MIN_COLUMNS 64

/* The same with the columns shared out between linalg_threads() threads;
 * num and den hold that many d x work_cols slices.  `beta` NULL is
 * Frobenius; otherwise its steps (WtW unused; each part uses its work). */
void update_activations_shared(const float *W, const float *WtW, const float *U, float *H,
                               int64_t m, int64_t d, int64_t n, int iterations,
                               const float *lambda, const float *omega, float guard, float *num,
                               float *den, int64_t work_cols, const beta_work *beta);

/* The division guards of docs/algorithm.md from the data and basis peaks. */
void scaled_guards(float data_peak, float basis_peak, float *guard_H, float *guard_W);

/* d = p->d distinct random columns of U (seed p->seed, true stream),
 * normalised if p->normalize; *W_out is malloc'ed m x d. */
int exemplar_basis(mdnmf_model *report_to, const mdnmf_params *p, const float *U, int64_t m,
                   int64_t n, float **W_out);

/* The same sharded: the d columns are drawn over layout->n_global and
 * assembled by one sum (collective; U holds this process's columns). */
int exemplar_basis_sharded(mdnmf_model *report_to, const mdnmf_params *p, const float *U,
                           int64_t m, const mdnmf_shard *shard, const shard_layout *layout,
                           float **W_out);

/* Separator modes by name ("std", "adv", …, "semi_adv") and back. */
const char *separator_mode_name(mdnmf_mode mode);
int separator_mode_from_name(const char *name, mdnmf_mode *mode);

/* Check data is a non-empty, non-negative, finite m x n matrix. */
int check_matrix(mdnmf_model *model, const char *name, const float *X, int64_t m, int64_t n);

/* The audio front end's features (src/features.c, mdnmf_audio_params):
 * rows per frame, one signal's frames (bins x frames magnitudes) as
 * features (rows x frames), and estimated features back to one value per
 * bin and frame (bins x frames). */
int64_t features_rows(const mdnmf_audio_params *audio, int64_t bins);
void features_of_magnitudes(const mdnmf_audio_params *audio, const float *magnitudes,
                            int64_t bins, int64_t frames, float *features);
void features_to_frames(const mdnmf_audio_params *audio, const float *features, int64_t bins,
                        int64_t frames, float *out);
/* The problem with audio parameters, or with their features alone (NULL if
 * usable). */
const char *audio_params_problem(const mdnmf_audio_params *audio);
const char *features_problem(const mdnmf_audio_params *audio);

/* What a model file's params JSON holds. */
typedef struct model_settings {
    mdnmf_params params;
    mdnmf_separator_params separator; /* when has_separator */
    int has_separator;
    mdnmf_audio_params audio;         /* when has_audio */
    int has_audio;
} model_settings;

/* The settings as a JSON object (malloc'ed, NUL-terminated; NULL if out of
 * memory): the params' keys, the separator's in a "separator" object and the
 * audio front end's in an "audio" object, each when the model has one. */
char *model_params_to_json(const model_settings *settings);
/* Update *settings from the keys of such an object (`length` bytes of
 * `json`) that it has; other keys are ignored.  Returns MDNMF_OK,
 * MDNMF_ERR_FORMAT with a message naming the line and column or the key
 * (*settings is then unchanged), or MDNMF_ERR_MEMORY. */
int model_params_from_json(const char *json, size_t length, model_settings *settings,
                           char *message, size_t size);

/* The public calls report through `mdnmf_error *error` (the header's
 * Conventions); inside, the library keeps reporting as before, to a message
 * buffer or the model's message, and each public entry point hands the
 * outcome over with one of these.  All return `status`. */

/* error_report, error_fail, error_ok: src/error.h. */

/* "a, b, c" of a NULL-terminated list of names (count < 0) or of its
 * first `count`, cut at `size` bytes (src/names.c). */
void join_names(const char *const *names, int count, char *out, size_t size);
/* The value names of an enum search parameter (mode, init, true_sample),
 * NULL for the others. */
const char *const *search_param_names(mdnmf_search_param param);
/* A public call on a model starts with model_clear_error (no stale message)
 * and ends with model_report (the model's message to *error). */
void model_clear_error(mdnmf_model *model);
int model_report(const mdnmf_model *model, int status, mdnmf_error *error);

/* The check functions' messages: NULL if usable, else a static message. */
const char *params_problem(const mdnmf_params *p);
/* 0 <= x <= FLT_MAX: a penalty or weight the float32 updates can use. */
int float_non_negative(double x);
const char *separator_params_problem(const mdnmf_separator_params *p);

/* ---- The search's machinery for choosing tau_A (src/tau_auto.c) */

/* What mdnmf_search_run does not do. */
typedef struct search_extras {
    /* A trial of tau_A = 0 for every source, in a mode that does not train
     * on pairs, is search->start itself (copied, not fitted): MDNMF at
     * tau_A = 0 is the NMF it starts from. */
    int unfitted_at_zero;
    /* Modes that do not train on pairs: best_fit receives the best trial's
     * model (owned by the caller; NULL if none succeeded). */
    int keep_best;
    mdnmf_model *best_fit;
    /* > 0: a trial replaces the best so far only when its aggregate score
     * is better and it beats it on the pairs by more than `margin`
     * standard errors of the paired per-pair differences (mean over pairs
     * of this trial's score minus the best's, per pair the mean over
     * sources; SE = sd / sqrt(pairs)).  0: the best aggregate score wins
     * (mdnmf_search_run). */
    double margin;
    /* Optional, trials x pairs: row t receives trial t's per-pair scores
     * (the mean over sources of PSNR or MSE; NaN when the trial failed). */
    double *pair_scores;
} search_extras;

/* The choice rule of the search and of tau_A's folds: whether a successful
 * candidate (aggregate `score`, higher is better, per-pair `scores`)
 * replaces the best so far (`best_score`, per-pair `best`; best NULL: none
 * yet, and the candidate does).  It must score higher and, with margin > 0,
 * the mean over the n pairs of the paired differences (PSNR: scores - best;
 * MSE: best - scores) must exceed `margin` standard errors of them (sd with
 * n - 1, over sqrt(n)). */
int search_replaces_best(double score, const double *scores, double best_score,
                         const double *best, int64_t n, int psnr, double margin);

/* How search_pair_scores scores: S sources, the metric, Wiener filtering,
 * and caller-owned scratch (estimates[s]: m x n floats; column_scores: n). */
typedef struct pair_scoring {
    int S;
    mdnmf_metric metric;
    int wiener;
    float *estimates[MDNMF_MAX_SOURCES];
    double *column_scores;
} pair_scoring;

/* Separate the n mixtures V (m x n) with `model` and put in out[k] pair k's
 * mean over sources of PSNR or MSE against U[s]: how the search and the
 * tau_A choice score a separator on pairs. */
int search_pair_scores(mdnmf_model *model, const pair_scoring *how, const float *V,
                       const float *const *U, int64_t m, int64_t n, double *out,
                       mdnmf_error *error);

/* mdnmf_search_run without refit (search->refit is ignored) and with the
 * extras; failures are reported on `report`. */
int search_run_with(mdnmf_model *report, const mdnmf_search *search,
                    const mdnmf_separation_data *data, mdnmf_search_result *result,
                    search_extras *extras);

/* `model` becomes a copy of the separator `start` (bases, per-atom mu_H,
 * components; its separator params, or p when start has none), keeping
 * its own common params (those the separation uses). */
int search_copy_separator(mdnmf_model *model, const mdnmf_model *start,
                          const mdnmf_separator_params *p);

/* Format into a caller's message buffer (NULL or size 0: nothing). */
void message_printf(char *message, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- The STFT one frame at a time, for the streaming denoiser (src/stft.c):
 * the same window, FFTW plans and overlap-add normaliser as the whole-signal
 * calls, so that a stream reproduces mdnmf_stft_inverse_complex exactly.
 * Executing plans needs no lock and allocates nothing. */
const float *stft_window(const mdnmf_stft *stft);     /* n_fft */
float *stft_frame_buffer(mdnmf_stft *stft);           /* n_fft reals */
float *stft_bins_buffer(mdnmf_stft *stft);            /* bins (re, im) pairs */
void stft_execute_forward(mdnmf_stft *stft);          /* frame -> bins */
void stft_execute_inverse(mdnmf_stft *stft);          /* bins -> frame, unscaled (FFTW's
                                                         c2r; overwrites the bins) */
/* The overlap-add normaliser Σ_t window²[q - t hop] at position q (>= 0) of
 * the centre-padded signal of a stream, whose frames never end. */
double stft_open_norm(const mdnmf_stft *stft, int64_t q);

/* Samples a resampling stream's output FIFO lacked since create or reset
 * (src/stream.c; 0 by construction, which the tests check). */
int64_t stream_underflows(const mdnmf_stream *stream);

#endif
