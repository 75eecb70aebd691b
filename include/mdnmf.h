/*
 * mdnmf.h — the one public header of libmdnmf.
 *
 * Non-negative matrix factorisation (NMF) and Maximum Discrepancy NMF (MDNMF)
 * for single-channel source separation.  The update rules are those of the
 * project's SPEC (§1–§3); this header is the reference for shapes, units,
 * ownership and thread safety.
 *
 * Conventions
 *   - A matrix `m x N` is stored column-major as float: element (i, j) is
 *     data[j * m + i].  One sample (an image, a spectrogram frame) is one
 *     column.  This is byte-for-byte the C-order NumPy array of shape (N, m).
 *   - W is `m x d` (d atoms), H is `d x N`.
 *   - Every function that can fail returns an mdnmf_status; 0 is success.
 *     Functions on a model store a message for the last failure, read with
 *     mdnmf_model_last_error().  The library never prints, never exits and
 *     never aborts on bad input.
 *   - Threads: `threads` sizes the library's own OpenMP pool, which splits
 *     every product between its threads; the library sets OpenBLAS's
 *     process-wide thread count to 1 (two pools spinning on the same cores
 *     slow each other down).  An application that wants OpenBLAS threads for
 *     its own products sets them back after calling mdnmf.
 *   - Thread safety: distinct models may be used from distinct threads.  A
 *     single model must not be used from two threads at once.
 *   - Determinism: the same data, parameters, seed and thread count give
 *     bit-identical results.
 */
#ifndef MDNMF_H
#define MDNMF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(MDNMF_BUILDING_SHARED)
#define MDNMF_API __declspec(dllexport)
#elif defined(__GNUC__)
#define MDNMF_API __attribute__((visibility("default")))
#else
#define MDNMF_API
#endif

#define MDNMF_VERSION_MAJOR 0
#define MDNMF_VERSION_MINOR 1
#define MDNMF_VERSION_PATCH 0
#define MDNMF_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". */
MDNMF_API const char *mdnmf_version(void);

/* ------------------------------------------------------------------ errors */

typedef enum mdnmf_status {
    MDNMF_OK = 0,
    MDNMF_ERR_ARGUMENT,  /* a parameter or argument is out of range or NULL */
    MDNMF_ERR_DATA,      /* data is negative, NaN or infinite */
    MDNMF_ERR_SHAPE,     /* dimensions do not fit together, or are empty */
    MDNMF_ERR_MEMORY,    /* an allocation failed */
    MDNMF_ERR_IO,        /* a file could not be opened, read or written */
    MDNMF_ERR_FORMAT,    /* a file is truncated, corrupt or of a foreign kind */
    MDNMF_ERR_DIVERGED,  /* the fit produced non-finite or exploding values */
    MDNMF_ERR_CANCELLED, /* the epoch callback asked to stop */
    MDNMF_ERR_STATE      /* the model lacks what the call needs (no basis) */
} mdnmf_status;

/* A static description of a status code; never NULL. */
MDNMF_API const char *mdnmf_strerror(int status);

/* The details of a failure.  Every call that can fail takes an
 * `mdnmf_error *error` as its last argument (NULL: the caller only wants the
 * status); on failure the call fills it with the status it returns and one
 * line of text that names what is wrong, on success it sets status MDNMF_OK
 * and message "".  The struct is the caller's, so calls on distinct objects
 * from distinct threads never share a message.  Its layout never changes. */
#define MDNMF_ERROR_MESSAGE_SIZE 256
typedef struct mdnmf_error {
    int status;                             /* an mdnmf_status */
    char message[MDNMF_ERROR_MESSAGE_SIZE]; /* one line, NUL-terminated */
} mdnmf_error;

/* ------------------------------------------------------------- parameters */

typedef enum mdnmf_init {
    MDNMF_INIT_EXEMPLAR = 0, /* d distinct random columns of the true data */
    MDNMF_INIT_RANDOM = 1    /* Uniform(0, 1) */
} mdnmf_init;

/* How many mini-batches an MDNMF epoch has (SPEC §3). */
typedef enum mdnmf_true_sample {
    MDNMF_SAMPLE_STD = 0, /* floor(N / B): every true column once */
    MDNMF_SAMPLE_ADV = 1, /* floor(N_adv / B_adv) */
    MDNMF_SAMPLE_MIN = 2  /* the smaller of the two */
} mdnmf_true_sample;

/* What an epoch callback learns.  Losses are mean squared reconstruction
 * errors per column: loss_true = ||U - WH||^2 / N, loss_adv likewise on the
 * adversarial data (0 for NMF).  objective = tau_W loss_true - tau_A loss_adv
 * + mu_W |W|_1 (the penalty on H is not included). */
typedef struct mdnmf_progress {
    int epoch;   /* 1-based epoch that just finished; 0 = after initialisation */
    int epochs;  /* total epochs of this stage */
    int stage;   /* 0-based stage of a separator fit (e.g. one per source and
                    phase); always 0 for one-source fits */
    int stages;  /* number of stages (1 for one-source fits) */
    double loss_true;
    double loss_adv;
    double objective;
} mdnmf_progress;

/* Called after initialisation (epoch 0) and after every epoch.  Computing the
 * losses costs about one extra product W H per epoch; it is only done when a
 * callback is set.  Return non-zero to stop the fit (MDNMF_ERR_CANCELLED,
 * the model keeps the basis of the last finished epoch). */
typedef int (*mdnmf_epoch_callback)(void *user, const mdnmf_progress *progress);

/* What the library drew at random, reported for reproducing a fit outside
 * the library (the test suite's NumPy reference consumes these).  `data`
 * is only valid during the call. */
typedef enum mdnmf_trace_kind {
    MDNMF_TRACE_EXEMPLARS = 0, /* int64_t[d]: columns of U chosen as atoms */
    MDNMF_TRACE_W_RANDOM = 1,  /* float[m*d]: Uniform(0,1) initial W */
    MDNMF_TRACE_H_RANDOM = 2,  /* float[d*N]: Uniform(0,1) H of the true data
                                  before transform iterations, or the random
                                  initial H (init random, fit_std) */
    MDNMF_TRACE_H_RANDOM_ADV = 3, /* float[d*N_adv]: the same, adversarial */
    MDNMF_TRACE_PERM_TRUE = 4, /* int64_t[N]: permutation of the true columns */
    MDNMF_TRACE_PERM_ADV = 5,  /* int64_t[N_adv]: permutation, adversarial */
    /* Separator fits that move all bases over mixtures (sup, full, semi):
     * their draws come from the separator's own stream. */
    MDNMF_TRACE_JOINT_W_RANDOM = 6, /* float[m*d_S]: semi modes' initial last basis */
    MDNMF_TRACE_JOINT_H_RANDOM = 7, /* float[D*n]: H0 of the mixtures' transform */
    MDNMF_TRACE_JOINT_PERM = 8      /* int64_t[n]: permutation of the mixtures/pairs */
} mdnmf_trace_kind;

/* A separator's per-source fits report their draws with the kinds 0–5, in
 * the order the stages run (sources in order, warm-up epochs before the
 * main fit); the epoch numbers restart at each stage. */

typedef void (*mdnmf_trace_callback)(void *user, mdnmf_trace_kind kind, int epoch,
                                     const void *data, int64_t count);

typedef struct mdnmf_params {
    int d;                  /* number of atoms; required, >= 1 */
    int epochs;             /* training epochs (default 50) */
    int test_epochs;        /* MU iterations of transform (default 50) */
    int64_t batch_size;     /* true columns per batch; 0 = all (default) */
    int64_t batch_size_adv; /* adversarial columns per batch; 0 = all */
    mdnmf_init init;        /* default MDNMF_INIT_EXEMPLAR */
    double mu_W;            /* gamma, L1 weight on W (default 1e-6) */
    double mu_H;            /* lambda, L1 weight on H, every atom (1e-6);
                               see mdnmf_model_set_mu_H for per-atom values */
    double tau_A;           /* adversarial weight (default 0.1) */
    double tau_W;           /* weight of the true-data term (default 1) */
    int normalize;          /* unit-norm atoms after every epoch (default 0) */
    int update_H;           /* batch-wise H updates (default 0) */
    mdnmf_true_sample true_sample; /* default MDNMF_SAMPLE_STD */
    int warm_start;         /* start from the model's basis if it has one */
    uint64_t seed;          /* random seed (default 0) */
    int threads;            /* threads of the library's pool; 0 = OpenMP's default */
    mdnmf_epoch_callback on_epoch; /* optional */
    void *on_epoch_user;
    mdnmf_trace_callback on_trace; /* optional, for tests */
    void *on_trace_user;
} mdnmf_params;

/* Fill `p` with the defaults above (d = 0: the caller must set it). */
MDNMF_API void mdnmf_params_default(mdnmf_params *p);

/* NULL if `p` is usable, else a static message naming the bad field. */
MDNMF_API const char *mdnmf_params_check(const mdnmf_params *p);

/* ------------------------------------------------------------------ model */

/* A model: a basis W (m x D) of one or more sources, D = sum of the sources'
 * atom counts, per-atom penalties mu_H, the parameters it was made with,
 * and after a fit the activations of the training data. */
typedef struct mdnmf_model mdnmf_model;

/* Create an empty one-source model with a copy of `p` (checked).  On failure
 * returns NULL and, if `status` is not NULL, stores the reason there. */
MDNMF_API mdnmf_model *mdnmf_model_create(const mdnmf_params *p, int *status);

/* Free everything; NULL is a no-op. */
MDNMF_API void mdnmf_model_destroy(mdnmf_model *model);

/* Message of the last failure on this model ("" if none).  Owned by the
 * model, valid until its next call. */
MDNMF_API const char *mdnmf_model_last_error(const mdnmf_model *model);

/* Replace the parameters (checked).  The basis is kept. */
MDNMF_API int mdnmf_model_set_params(mdnmf_model *model, const mdnmf_params *p);
/* The model's parameters (callbacks included). */
MDNMF_API const mdnmf_params *mdnmf_model_params(const mdnmf_model *model);

/* Set the basis (copied): m x d, non-negative and finite.  Resizes the model
 * to one source of d atoms; per-atom mu_H become params.mu_H.  With
 * params.warm_start the next fit starts from it. */
MDNMF_API int mdnmf_model_set_basis(mdnmf_model *model, const float *W, int64_t m, int64_t d);

/* Per-atom L1 weights on H (copied, length = the model's atom count). */
MDNMF_API int mdnmf_model_set_mu_H(mdnmf_model *model, const float *mu_H, int64_t d);

/* Shapes: rows m of the basis and its atom count D (0, 0 before any basis). */
MDNMF_API void mdnmf_model_shape(const mdnmf_model *model, int64_t *m, int64_t *d);
/* The basis, m x D column-major, owned by the model (NULL before a fit). */
MDNMF_API const float *mdnmf_model_basis(const mdnmf_model *model);
/* Per-atom mu_H, length D, owned by the model. */
MDNMF_API const float *mdnmf_model_mu_H(const mdnmf_model *model);
/* Activations of the last fit's true data, D x N (N stored in *n). */
MDNMF_API const float *mdnmf_model_activations(const mdnmf_model *model, int64_t *n);
/* Activations of the last MDNMF fit's adversarial data, D x N_adv. */
MDNMF_API const float *mdnmf_model_adv_activations(const mdnmf_model *model, int64_t *n);

/* Number of sources and the atom count of each (array of S, model-owned). */
MDNMF_API int mdnmf_model_source_count(const mdnmf_model *model);
MDNMF_API const int64_t *mdnmf_model_components(const mdnmf_model *model);

/* ------------------------------------------------------------------- fits
 * U is m x N (column-major, non-negative, finite).  Every fit validates its
 * data first, then replaces the model's basis by a one-source basis of
 * params.d atoms.  A fit that fails leaves the model's previous basis. */

/* Standard NMF by mini-batch multiplicative updates (SPEC §2). */
MDNMF_API int mdnmf_fit_std(mdnmf_model *model, const float *U, int64_t m, int64_t n);

/* MDNMF (SPEC §3): true data U (m x n) against adversarial data U_adv
 * (m x n_adv).  `omega` (length n_adv, >= 0) weighs the H penalty of each
 * adversarial column (SPEC §4); NULL means all ones.  tau_A = 0 gives
 * exactly mdnmf_fit_std's basis when both start alike (exemplar init or a
 * warm start; with init random SPEC starts fit_adv from transform(U)). */
MDNMF_API int mdnmf_fit_adv(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                            const float *U_adv, int64_t n_adv, const float *omega);

/* Exemplar NMF: the basis is d distinct random columns of U (normalised if
 * params.normalize); no training.  Needs d <= n. */
MDNMF_API int mdnmf_fit_exem(mdnmf_model *model, const float *U, int64_t m, int64_t n);

/* Activations for fixed W (SPEC §1): H (D x n, caller-allocated) from
 * test_epochs multiplicative updates started at Uniform(0,1) drawn from the
 * model's seed.  U must have the basis's m rows. */
MDNMF_API int mdnmf_transform(mdnmf_model *model, const float *U, int64_t m, int64_t n,
                              float *H);

/* ------------------------------------------------------------- separation
 * A separator is a model of S >= 2 sources: the basis W = [W_1 … W_S]
 * (m x D, D = Σ d_s), per-atom mu_H, and the atom count of each source.
 * Its fitting modes are SPEC §6. */

#define MDNMF_MAX_SOURCES 16

typedef enum mdnmf_mode {
    MDNMF_MODE_STD = 0,     /* NMF per source on its clean data */
    MDNMF_MODE_ADV = 1,     /* MDNMF per source against the others (+ mixtures) */
    MDNMF_MODE_EXEM = 2,    /* exemplar bases, no training */
    MDNMF_MODE_SUP = 3,     /* DNMF: paired clean sources and mixtures */
    MDNMF_MODE_FULL = 4,    /* D+MDNMF: weak + adversarial + paired data */
    MDNMF_MODE_SEMI = 5,    /* sources 1..S-1 clean, the last learned from mixtures */
    MDNMF_MODE_SEMI_ADV = 6 /* as SEMI, sources 1..S-1 fitted by MDNMF */
} mdnmf_mode;

typedef struct mdnmf_separator_params {
    /* epochs, test_epochs, batch_size (true data and, in semi modes, the
     * mixtures), batch_size_adv, init, mu_W, tau_W, normalize, update_H,
     * true_sample, warm_start, seed, threads and callbacks apply to every
     * source; common.d, common.mu_H and common.tau_A are ignored. */
    mdnmf_params common;
    mdnmf_mode mode;                       /* default MDNMF_MODE_STD */
    int sources;                           /* S, 2..MDNMF_MAX_SOURCES */
    int64_t d[MDNMF_MAX_SOURCES];          /* atoms per source (required) */
    double mu_H[MDNMF_MAX_SOURCES];        /* L1 weight on H per source (1e-6) */
    double tau_A[MDNMF_MAX_SOURCES];       /* adversarial weight per source (0.1) */
    double beta[MDNMF_MAX_SOURCES];        /* weight of mixed data in §4 (1) */
    double tau_S;                          /* weight of the supervised term (1) */
    int64_t batch_size_sup;                /* paired columns per batch; 0 = all */
    int warm_start_epochs;                 /* fit_std epochs before adv/sup/full (0) */
} mdnmf_separator_params;

/* Defaults for S sources (d[] must still be set). */
MDNMF_API void mdnmf_separator_params_default(mdnmf_separator_params *p, int sources);
/* NULL if usable, else a static message naming the bad field. */
MDNMF_API const char *mdnmf_separator_params_check(const mdnmf_separator_params *p);

/* The data of a separation problem; every matrix has m rows, column-major.
 * Which members a mode needs is SPEC §6's table; the others are ignored. */
typedef struct mdnmf_separation_data {
    int64_t m;
    const float *U[MDNMF_MAX_SOURCES]; /* clean (weakly supervised) data */
    int64_t n[MDNMF_MAX_SOURCES];
    const float *V;                    /* mixtures, optional except in semi modes */
    int64_t n_V;
    const float *U_sup[MDNMF_MAX_SOURCES]; /* paired clean sources (sup, full) */
    const float *V_sup;                    /* their mixtures, n_sup columns each */
    int64_t n_sup;
} mdnmf_separation_data;

/* Fit every source's basis per p->mode and store them in the model, with
 * p (copied) as the separator's parameters.  With p->common.warm_start and
 * a model whose components equal p->d, training starts from its bases; in
 * the semi modes a source 1..S-1 given no clean data (U[s] NULL) then keeps
 * its basis unchanged, and the last (noise) basis is learned afresh from V
 * (Uniform(0,1) start, as SPEC's semi fit): re-learning the noise of new
 * recordings with a trained speech basis. */
MDNMF_API int mdnmf_separator_fit(mdnmf_model *model, const mdnmf_separator_params *p,
                                  const mdnmf_separation_data *data);

/* SPEC §4's adversarial data of source `source` among `sources`: the other
 * sources' clean data (data->U[j] non-NULL with data->n[j] > 0) and the
 * mixtures data->V (if not NULL) weighted by `beta`, each block scaled by the
 * square root of its share, with the penalty weights ω.  *n_adv receives the
 * column count; when U_adv (m x n_adv) and omega (n_adv) are not NULL they
 * are filled.  Call once with NULL buffers to size them. */
MDNMF_API int mdnmf_adversarial_data(const mdnmf_separation_data *data, int sources, int source,
                                     double beta, float *U_adv, float *omega, int64_t *n_adv);

/* The separator's parameters (NULL for a model never fitted or loaded as one). */
MDNMF_API const mdnmf_separator_params *mdnmf_model_separator_params(const mdnmf_model *model);

/* Separate mixtures V (m x n): H = transform(V) with all bases, Ũ_s = W_s H_s,
 * then with `wiener` U_s = clip(V ⊙ Ũ_s ⊘ (Σ_t Ũ_t + ε), 0, max V), else
 * U_s = Ũ_s.  estimates[s] (s < S) are caller-allocated m x n buffers. */
MDNMF_API int mdnmf_separate(mdnmf_model *model, const float *V, int64_t m, int64_t n,
                             int wiener, float *const *estimates);

/* The audio front end a model was trained with (SPEC §7), stored in its
 * file so that new recordings are analysed the same way. */
typedef struct mdnmf_audio_params {
    int sample_rate; /* Hz; 0 = no audio front end */
    int n_fft;
    int hop_length;
    int win_length;
} mdnmf_audio_params;

/* Attach (copy) audio front-end parameters; all > 0, hop and window <= n_fft,
 * n_fft / 2 + 1 equal to the basis's rows if the model has a basis. */
MDNMF_API int mdnmf_model_set_audio(mdnmf_model *model, const mdnmf_audio_params *audio);
/* The model's audio front end, or NULL when it has none. */
MDNMF_API const mdnmf_audio_params *mdnmf_model_audio(const mdnmf_model *model);

/* ---------------------------------------------------------------- metrics */

/* Per-column PSNR (SPEC §9): 20 log10(max(ref_j) / rms(ref_j - est_j)), in
 * out[j]; +inf when the column is reproduced exactly, else -inf when max is 0. */
MDNMF_API int mdnmf_psnr(const float *reference, const float *estimate, int64_t m, int64_t n,
                         double *out);
/* Per-column mean squared error in out[j]. */
MDNMF_API int mdnmf_squared_error(const float *reference, const float *estimate, int64_t m,
                                  int64_t n, double *out);

/* ------------------------------------------------------------- generators
 * The data generators of SPEC §8. */

/* Mix S sources column by column: mixtures[:, j] = Σ_s c_sj sources[s][:, j]
 * with c_sj = 1/S (alpha == 0) or drawn from Dirichlet(alpha, …, alpha)
 * per column (alpha > 0, seeded).  targets[s] (optional, may be NULL) receive
 * the weighted sources c_sj sources[s][:, j], the ground truth of a
 * separation; weights (optional, S x n) receive c.  All buffers are m x n,
 * caller-allocated.  alpha < 0 or non-finite is MDNMF_ERR_ARGUMENT. */
MDNMF_API int mdnmf_mix(const float *const *sources, int S, int64_t m, int64_t n, double alpha,
                        uint64_t seed, float *mixtures, float *const *targets, float *weights,
                        char *message, size_t size);

/* A seeded random permutation of 0..n-1 (for splitting data sets into
 * disjoint training, supervision and test parts). */
MDNMF_API int mdnmf_shuffle_indices(int64_t *out, int64_t n, uint64_t seed);

/* ------------------------------------------------------------------ files */

/* A float32 matrix read from or written to disk; rows m (features) by
 * cols n (samples), column-major = the (n, m) C-order NumPy array. */
typedef struct mdnmf_matrix {
    int64_t m;
    int64_t n;
    float *data;
} mdnmf_matrix;

/* Free a matrix's data and zero it; NULL is a no-op. */
MDNMF_API void mdnmf_matrix_free(mdnmf_matrix *matrix);

/* Read a 1-D or 2-D .npy file (format 1.0-3.0; float16/32/64, signed and
 * unsigned integers and bool, either byte order, C or Fortran order) into
 * float32.  A 1-D array of length k is one column (m = k, n = 1).  Complex,
 * object, string and structured arrays are refused.  On failure `message`
 * (if not NULL, `size` bytes) says what is wrong. */
MDNMF_API int mdnmf_npy_read(const char *path, mdnmf_matrix *out, char *message, size_t size);

/* Write float32 data as a C-order (n, m) .npy array, via a temporary file in
 * the same folder renamed into place: never a half-written file. */
MDNMF_API int mdnmf_npy_write(const char *path, const float *data, int64_t m, int64_t n,
                              char *message, size_t size);

/* Read an IDX file (the MNIST / Fashion-MNIST format; gzip-compressed or
 * plain) of unsigned bytes: images (count x rows x cols) become m = rows*cols
 * by n = count, labels (count) become m = 1 by n = count.  Values are the raw
 * bytes 0..255 as float.  Truncated, corrupt or foreign files are
 * MDNMF_ERR_FORMAT with a message. */
MDNMF_API int mdnmf_idx_read(const char *path, mdnmf_matrix *out, char *message, size_t size);

/* Save a model as .npz (W (D, m) float32, components int64 (S,), mu_H
 * float32 (D,), params JSON text), written atomically.  numpy.load opens it
 * with allow_pickle=False. */
MDNMF_API int mdnmf_model_save(mdnmf_model *model, const char *path);

/* Load a model saved by mdnmf_model_save (or the same format from Python).
 * Its parameters are the defaults updated by the file's JSON; callbacks are
 * unset.  On failure returns NULL and stores the status in *status and the
 * reason in `message` (if not NULL, `size` bytes). */
MDNMF_API mdnmf_model *mdnmf_model_load(const char *path, int *status, char *message,
                                        size_t size);

/* ------------------------------------------------------------------ audio
 * The speech front end of SPEC §7 and the audio measures of SPEC §9: audio
 * files in and out (libsndfile), resampling (libsoxr), the short-time
 * Fourier transform with librosa's conventions (FFTW, single precision),
 * SNR, SI-SDR and BSS Eval v3 (as mir_eval.separation.bss_eval_sources).
 * Signals are mono float arrays of `length` samples, nominally in [-1, 1].
 *
 * A denoiser chains these calls: mdnmf_audio_read -> mdnmf_stft_forward
 * (magnitudes m x frames, the matrix the separator takes, and phases) ->
 * mdnmf_separate -> mdnmf_stft_inverse with the mixture's phases ->
 * mdnmf_audio_write; mdnmf_separate_signal and mdnmf_denoiser (the signal
 * pipeline, below) do the middle of it in one call.
 *
 * Every call here takes `message` (`size` bytes, may be NULL) for a
 * one-line reason on failure. */

/* Sample rates the library accepts, in Hz (reading, writing, resampling). */
#define MDNMF_AUDIO_MIN_RATE 1000
#define MDNMF_AUDIO_MAX_RATE 768000

/* A mono recording. */
typedef struct mdnmf_audio {
    float *samples;   /* `length` samples, malloc'ed; free with mdnmf_audio_free */
    int64_t length;
    int sample_rate;  /* Hz of `samples` (the requested rate after resampling) */
    int file_rate;    /* Hz as stored in the file */
    int channels;     /* channels in the file */
    int mixed_down;   /* 1 when channels > 1 were averaged into one: the
                         library does not warn, the caller should */
} mdnmf_audio;

/* Free the samples and zero the struct; NULL is a no-op. */
MDNMF_API void mdnmf_audio_free(mdnmf_audio *audio);

/* Read any file libsndfile knows (WAV, FLAC, OGG/Vorbis, ...; any sample
 * format; integer PCM is scaled to [-1, 1)).  Several channels are averaged
 * to mono (out->mixed_down = 1).  With sample_rate > 0 the signal is
 * resampled to it when the file's rate differs (as mdnmf_resample);
 * sample_rate 0 keeps the file's rate.  Errors: MDNMF_ERR_IO (missing,
 * unreadable, a folder), MDNMF_ERR_FORMAT (empty file, not audio, corrupt,
 * or a file rate outside the accepted range when resampling is needed),
 * MDNMF_ERR_SHAPE (no samples), MDNMF_ERR_DATA (NaN or infinite samples),
 * MDNMF_ERR_ARGUMENT (a requested rate outside the accepted range).  On
 * failure *out is zeroed.  Distinct files may be read from distinct threads
 * (libsndfile keeps the reason of a failed open in a global, so two failing
 * at once may swap their messages, never their statuses). */
MDNMF_API int mdnmf_audio_read(const char *path, int sample_rate, mdnmf_audio *out,
                               char *message, size_t size);

typedef enum mdnmf_audio_encoding {
    MDNMF_AUDIO_PCM16 = 0, /* 16-bit PCM: round(x * 32768) clipped to
                              -32768..32767, the inverse of reading (code /
                              32768): a 16-bit file read and written back is
                              unchanged */
    MDNMF_AUDIO_FLOAT = 1  /* 32-bit float, values as given */
} mdnmf_audio_encoding;

/* Write a mono WAV file (length >= 1 finite samples), via a temporary file
 * in the same folder renamed into place: never a half-written file. */
MDNMF_API int mdnmf_audio_write(const char *path, const float *samples, int64_t length,
                                int sample_rate, mdnmf_audio_encoding encoding, char *message,
                                size_t size);

/* Samples after resampling `length` samples from in_rate to out_rate:
 * ceil(length * out_rate / in_rate) (librosa's convention); -1 if a rate
 * is outside [MDNMF_AUDIO_MIN_RATE, MDNMF_AUDIO_MAX_RATE] or it overflows. */
MDNMF_API int64_t mdnmf_resampled_length(int64_t length, int in_rate, int out_rate);

/* Resample with libsoxr (high quality, as librosa's default "soxr_hq") into
 * `out` (caller-allocated, mdnmf_resampled_length samples; the tail beyond
 * what soxr delivers is zero).  Equal rates copy. */
MDNMF_API int mdnmf_resample(const float *in, int64_t length, int in_rate, int out_rate,
                             float *out, char *message, size_t size);

/* A short-time Fourier transform with librosa's conventions (SPEC §7):
 * periodic Hann window of win_length samples centred in n_fft, centre
 * padding of n_fft/2 zeros at both ends, frames hop_length apart, the
 * one-sided unnormalised DFT (m = n_fft/2 + 1 bins, element (f, t) of an
 * m x frames matrix at [t*m + f]); the inverse is the window-sum-square
 * normalised overlap-add trimmed (or zero-padded) to the requested length.
 *
 * The FFTW plans are made once in mdnmf_stft_create and reused.  Thread
 * safety: FFTW's planner is not thread-safe; the library serialises its
 * own planning (create/destroy here, mdnmf_bss_eval_sources) with a lock,
 * but an application that also plans with FFTW in other threads must
 * serialise those calls or call fftwf_make_planner_thread_safe().  One
 * mdnmf_stft must not be used from two threads at once (it has work
 * buffers); distinct ones may.  Plans use FFTW_ESTIMATE: results do not
 * depend on timing and are the same on every run. */
typedef struct mdnmf_stft mdnmf_stft;

/* n_fft even, 2..2^24; win_length 1..n_fft (0 = n_fft); hop_length >= 1
 * (0 = win_length / 4, librosa's default).  On failure returns NULL with
 * the status in *status and the reason in `message` (either may be NULL). */
MDNMF_API mdnmf_stft *mdnmf_stft_create(int n_fft, int hop_length, int win_length, int *status,
                                        char *message, size_t size);
/* NULL is a no-op. */
MDNMF_API void mdnmf_stft_destroy(mdnmf_stft *stft);

/* Message of the last failure on this object ("" if none). */
MDNMF_API const char *mdnmf_stft_last_error(const mdnmf_stft *stft);

/* The settings in use (after defaults). */
MDNMF_API int mdnmf_stft_n_fft(const mdnmf_stft *stft);
MDNMF_API int mdnmf_stft_hop_length(const mdnmf_stft *stft);
MDNMF_API int mdnmf_stft_win_length(const mdnmf_stft *stft);
/* Rows m = n_fft/2 + 1 of a spectrogram. */
MDNMF_API int64_t mdnmf_stft_bins(const mdnmf_stft *stft);
/* Frames of a signal of `length` >= 0 samples: 1 + length / hop_length. */
MDNMF_API int64_t mdnmf_stft_frames(const mdnmf_stft *stft, int64_t length);

/* Forward transform of `length` >= 1 finite samples into magnitudes |Z|
 * and phases arg Z in radians (each m x frames, caller-allocated; phase may
 * be NULL). */
MDNMF_API int mdnmf_stft_forward(mdnmf_stft *stft, const float *signal, int64_t length,
                                 float *magnitude, float *phase);
/* The same as complex values: 2 x m x frames floats, (re, im) pairs, i.e.
 * C99 float complex / NumPy complex64 of shape (frames, m). */
MDNMF_API int mdnmf_stft_forward_complex(mdnmf_stft *stft, const float *signal, int64_t length,
                                         float *spectrum);

/* Inverse transform of Z = magnitude ⊙ exp(i phase) (each m x frames,
 * frames >= 1) into `length` >= 1 samples (caller-allocated).  As librosa's
 * istft(length=...), only the first ceil((length + n_fft) / hop_length)
 * frames are used; samples no frame covers are 0. */
MDNMF_API int mdnmf_stft_inverse(mdnmf_stft *stft, const float *magnitude, const float *phase,
                                 int64_t frames, float *signal, int64_t length);
/* The same from complex values laid out as mdnmf_stft_forward_complex's. */
MDNMF_API int mdnmf_stft_inverse_complex(mdnmf_stft *stft, const float *spectrum,
                                         int64_t frames, float *signal, int64_t length);

/* SNR in dB (SPEC §9): 10 log10(||s||^2 / ||s - ŝ||^2), sums in double;
 * +inf when ŝ = s.  A silent (all-zero) reference is MDNMF_ERR_DATA. */
MDNMF_API int mdnmf_snr(const float *reference, const float *estimate, int64_t length,
                        double *snr, char *message, size_t size);

/* Scale-invariant SDR in dB (SPEC §9): α = <ŝ, s> / ||s||^2,
 * 10 log10(||α s||^2 / ||α s - ŝ||^2); no mean is removed.  +inf when ŝ is
 * a positive multiple of s.  A silent reference or estimate is
 * MDNMF_ERR_DATA (the ratio is undefined). */
MDNMF_API int mdnmf_si_sdr(const float *reference, const float *estimate, int64_t length,
                           double *si_sdr, char *message, size_t size);

/* BSS Eval v3 (Vincent et al. 2006) as mir_eval.separation.bss_eval_sources:
 * each estimate is projected, by least squares over the whole signal, on
 * the span of delayed copies (0..MDNMF_BSS_FILTER_LENGTH-1 samples) of its
 * own reference and of all references. */
#define MDNMF_BSS_FILTER_LENGTH 512
#define MDNMF_BSS_MAX_SOURCES 8

typedef struct mdnmf_bss_result {
    double sdr[MDNMF_BSS_MAX_SOURCES]; /* dB, per reference; +inf when exact */
    double sir[MDNMF_BSS_MAX_SOURCES];
    double sar[MDNMF_BSS_MAX_SOURCES];
    int permutation[MDNMF_BSS_MAX_SOURCES]; /* estimate matched with reference j */
} mdnmf_bss_result;

/* `sources` (1..MDNMF_BSS_MAX_SOURCES) references and estimates of
 * `length` samples each (1..2^30 - 512; memory grows as (512 S)^2 doubles
 * plus a few FFTs of the signals).  With compute_permutation the estimates are
 * matched to the references by the permutation of highest mean SIR (the
 * first in lexicographic order on ties, as mir_eval); otherwise estimate j
 * belongs to reference j.  A silent reference or estimate is
 * MDNMF_ERR_DATA, as mir_eval refuses it. */
MDNMF_API int mdnmf_bss_eval_sources(const float *const *references,
                                     const float *const *estimates, int sources, int64_t length,
                                     int compute_permutation, mdnmf_bss_result *result,
                                     char *message, size_t size);

/* ------------------------------------------------------- signal pipeline
 * Separating and denoising recordings, and training a separator from them
 * (SPEC §7), on the calls above: a model with an audio front end
 * (mdnmf_model_audio) turns samples into one signal per source.
 *
 * A denoiser in a few calls:
 *     mdnmf_model *model = mdnmf_model_load("speech.npz", &status, NULL, 0);
 *     mdnmf_audio_read("noisy.wav", 0, &audio, NULL, 0);
 *     float *speech = malloc(...), *noise = malloc(...), *out[2] = {speech, noise};
 *     mdnmf_separate_signal(model, audio.samples, audio.length, audio.sample_rate,
 *                           out, &error);
 *     mdnmf_audio_write("clean.wav", speech, audio.length, audio.sample_rate, ...);
 */

/* Several signals, e.g. all the recordings of one kind.  Everything is
 * borrowed from the caller for the duration of a call. */
typedef struct mdnmf_signals {
    const float *const *samples; /* count signals, lengths[k] >= 1 samples each */
    const int64_t *lengths;
    const int *sample_rates;     /* Hz of each signal, resampled where it differs
                                    from the front end's (as mdnmf_resample);
                                    NULL: all at the front end's rate */
    int64_t count;               /* 0: no signals */
} mdnmf_signals;

/* The |STFT| frames of every signal side by side (SPEC §7: training
 * material is the concatenation of the frames of all training files):
 * signal k gives mdnmf_stft_frames(stft, its length at sample_rate) columns
 * of an m x frames matrix (m = mdnmf_stft_bins).  With magnitudes NULL only
 * *frames is set (call once to size the buffer).  sample_rate is the rate
 * the STFT works at; it only matters when signals->sample_rates is set. */
MDNMF_API int mdnmf_signals_magnitudes(mdnmf_stft *stft, int sample_rate,
                                       const mdnmf_signals *signals, float *magnitudes,
                                       int64_t *frames, mdnmf_error *error);

/* The training signals of a separator, the signal-level twin of
 * mdnmf_separation_data: each group becomes the matrix of its frames, and
 * a group with count 0 is absent (NULL).  Which groups a mode needs is
 * mdnmf_mode_describe's table; for a denoiser source 0 is the speech and
 * the last source the noise: `semi` / `semi_adv` take clean[0] and the
 * noisy recordings as mixtures, `std` / `adv` clean[0] and clean[1], `sup`
 * paired clean recordings of every source with their mixtures. */
typedef struct mdnmf_signal_data {
    mdnmf_signals clean[MDNMF_MAX_SOURCES];        /* unpaired clean recordings per source */
    mdnmf_signals mixtures;                        /* mixtures (noisy recordings) */
    mdnmf_signals paired_clean[MDNMF_MAX_SOURCES]; /* signal k of each belongs to ... */
    mdnmf_signals paired_mixtures;                 /* ... mixture k, and is as long */
} mdnmf_signal_data;

/* Train a separator from signals: the STFT of `audio` (hop_length and
 * win_length 0 take the STFT's defaults) turns every group into frames,
 * mdnmf_separator_fit(model, p, frames) fits, and the audio front end in
 * use (defaults filled in) is attached to the model (mdnmf_model_set_audio).
 * Signals are at audio->sample_rate unless their group gives rates.
 * p->common's callbacks see the fit's epochs.  On failure the model keeps
 * its previous basis (mdnmf_separator_fit's rule) and error holds the
 * separator's message (also mdnmf_model_last_error).  Uses the model's
 * thread pool (p->common.threads); one model, one thread at a time. */
MDNMF_API int mdnmf_separator_fit_signals(mdnmf_model *model, const mdnmf_separator_params *p,
                                          const mdnmf_audio_params *audio,
                                          const mdnmf_signal_data *data, mdnmf_error *error);

/* A separator of recordings: a model with an audio front end and two or
 * more sources, its STFT plans and work buffers made once and reused by
 * every call (grown to the longest recording seen).  The model is borrowed:
 * it must outlive the denoiser, and while a call runs neither may be used
 * from another thread.  Distinct denoisers on distinct models may run in
 * distinct threads (see mdnmf_stft for FFTW's planner). */
typedef struct mdnmf_denoiser mdnmf_denoiser;

/* NULL on failure: MDNMF_ERR_STATE when the model has no audio front end or
 * fewer than two sources, MDNMF_ERR_ARGUMENT when its front end is not a
 * usable STFT (the message is the STFT's). */
MDNMF_API mdnmf_denoiser *mdnmf_denoiser_create(mdnmf_model *model, mdnmf_error *error);
/* NULL is a no-op.  The model is not freed. */
MDNMF_API void mdnmf_denoiser_destroy(mdnmf_denoiser *denoiser);

/* Separate one recording of `length` finite samples at `sample_rate` Hz (0:
 * the model's rate) into estimates[s], s < the model's source count, each
 * `length` samples, caller-allocated: resampled to the model's rate where
 * it differs, STFT, mdnmf_separate with Wiener filtering, each source's
 * magnitudes with the mixture's phases (SPEC §7), inverse STFT, and back
 * at the recording's rate, trimmed or zero-padded to its length.  A silent
 * recording (every sample 0) is MDNMF_ERR_DATA.  The sources add up to the
 * recording (up to ε, clipping and resampling).  H starts from the model's
 * seed as in mdnmf_transform, with params.test_epochs steps. */
MDNMF_API int mdnmf_denoiser_separate(mdnmf_denoiser *denoiser, const float *samples,
                                      int64_t length, int sample_rate, float *const *estimates,
                                      mdnmf_error *error);

/* Adapt the model to new recordings: SPEC §6 `semi` on their frames with
 * the model's parameters (mdnmf_model_params: epochs, batch_size,
 * test_epochs, seed, threads, on_epoch), warm-started, no clean data:
 * every basis but the last stays as it is, the last (the noise) is learned
 * afresh from Uniform(0,1).  Changes the model's bases. */
MDNMF_API int mdnmf_denoiser_relearn_noise(mdnmf_denoiser *denoiser,
                                           const mdnmf_signals *recordings, mdnmf_error *error);

/* One-shot mdnmf_denoiser_separate: creates and destroys a denoiser (plans
 * and buffers) per call; use a denoiser for many recordings. */
MDNMF_API int mdnmf_separate_signal(mdnmf_model *model, const float *samples, int64_t length,
                                    int sample_rate, float *const *estimates,
                                    mdnmf_error *error);

/* The largest |sample| (0 for silence, length 0 or samples NULL). */
MDNMF_API float mdnmf_signal_peak(const float *samples, int64_t length);

/* Peak normalisation (SPEC §8): every sample times 1 / peak, in place.  A
 * silent signal is MDNMF_ERR_DATA and stays as it was. */
MDNMF_API int mdnmf_signal_normalize_peak(float *samples, int64_t length, mdnmf_error *error);

/* Speech and noise mixed at an input SNR in dB (SPEC §8): with P the sum
 * of squares, a_0 = 1 and a_1 = sqrt(P_speech / (P_noise 10^(snr/10))),
 * both divided by their sum (weights w_0, w_1 in float);
 * speech_target = w_0 speech, noise_target = w_1 noise and mixture their
 * sum, each `length` samples, caller-allocated.  So
 * 10 log10(|speech_target|² / |noise_target|²) = snr_db.  Targets may be
 * the inputs themselves (scaled in place), and the mixture either input.
 * weights (optional, 2 doubles) receive w_0 and w_1.  Silent speech or
 * noise is MDNMF_ERR_DATA. */
MDNMF_API int mdnmf_mix_at_snr(const float *speech, const float *noise, int64_t length,
                               double snr_db, float *mixture, float *speech_target,
                               float *noise_target, double *weights, mdnmf_error *error);

/* ---------------------------------------------------------- random search
 * SPEC §10: draw a separator's hyper-parameters from distributions, fit,
 * score the separations of held-out supervised pairs (k-fold
 * cross-validation), keep the best and optionally refit it on all data.
 * The search knows no files: the caller builds the description. */

#define MDNMF_SEARCH_MAX_CHOICES 32

/* What a search dimension sets.  mdnmf_search_param_name gives each its
 * name, the key of the model's params JSON ("mode", "d", "mu_H", ...).
 * d, mu_H, tau_A and beta are per source; the others are separator-wide.
 * Integer parameters take whole values; mode, init, true_sample, normalize
 * and update_H are enums (choice only, values = the enum's numbers). */
typedef enum mdnmf_search_param {
    MDNMF_SEARCH_MODE = 0,          /* mdnmf_mode */
    MDNMF_SEARCH_D,                 /* atoms, integer, per source */
    MDNMF_SEARCH_MU_H,              /* per source */
    MDNMF_SEARCH_TAU_A,             /* per source */
    MDNMF_SEARCH_BETA,              /* per source */
    MDNMF_SEARCH_TAU_S,
    MDNMF_SEARCH_TAU_W,
    MDNMF_SEARCH_MU_W,
    MDNMF_SEARCH_EPOCHS,            /* integer */
    MDNMF_SEARCH_TEST_EPOCHS,       /* integer */
    MDNMF_SEARCH_BATCH_SIZE,        /* integer */
    MDNMF_SEARCH_BATCH_SIZE_ADV,    /* integer */
    MDNMF_SEARCH_BATCH_SIZE_SUP,    /* integer */
    MDNMF_SEARCH_WARM_START_EPOCHS, /* integer */
    MDNMF_SEARCH_INIT,              /* mdnmf_init */
    MDNMF_SEARCH_TRUE_SAMPLE,       /* mdnmf_true_sample */
    MDNMF_SEARCH_NORMALIZE,         /* 0 or 1 */
    MDNMF_SEARCH_UPDATE_H,          /* 0 or 1 */
    MDNMF_SEARCH_PARAM_COUNT
} mdnmf_search_param;

typedef enum mdnmf_distribution {
    MDNMF_DIST_UNIFORM = 0,     /* real: low + (high - low) u; integer: each of
                                   low..high equally likely */
    MDNMF_DIST_LOG_UNIFORM = 1, /* exp(uniform(log low, log high)), 0 < low;
                                   integers rounded to the nearest */
    MDNMF_DIST_CHOICE = 2       /* one of values[0..count) equally likely */
} mdnmf_distribution;

typedef struct mdnmf_search_dimension {
    mdnmf_search_param param;
    int source;                 /* per-source parameters: -1 = every source,
                                   else only this one; -1 for the others */
    mdnmf_distribution distribution;
    double low, high;           /* uniform, log-uniform: low <= high */
    int count;                  /* choice: 1..MDNMF_SEARCH_MAX_CHOICES */
    double values[MDNMF_SEARCH_MAX_CHOICES];
} mdnmf_search_dimension;

typedef enum mdnmf_metric {
    MDNMF_METRIC_PSNR = 0, /* per mixture the mean over sources of PSNR (dB) */
    MDNMF_METRIC_MSE = 1   /* per mixture the mean over sources of the MSE */
} mdnmf_metric;

typedef enum mdnmf_aggregate {
    MDNMF_AGGREGATE_MEDIAN = 0, /* over the mixtures (the paper's choice) */
    MDNMF_AGGREGATE_MEAN = 1
} mdnmf_aggregate;

/* One finished trial, reported as it ends.  Pointers are valid during the
 * call only. */
typedef struct mdnmf_search_trial {
    int trial;            /* 0-based */
    int trials;
    const double *values; /* dimension_count values as applied (integers
                             whole, enums their numbers) */
    int status;           /* MDNMF_OK, or why this trial's fit failed
                             (MDNMF_ERR_DIVERGED, MDNMF_ERR_SHAPE) */
    const char *message;  /* the failure, "" on success */
    double metric;        /* aggregated PSNR or MSE; NaN when failed */
    double score;         /* higher is better: PSNR or -MSE; -inf when failed */
    int best;             /* 1 if this is the best trial so far */
} mdnmf_search_trial;

/* Return non-zero to stop the search (MDNMF_ERR_CANCELLED). */
typedef int (*mdnmf_search_callback)(void *user, const mdnmf_search_trial *trial);

/* A trial's values from the caller instead of the dimensions' draws:
 * values[i] for dimension i (dimension_count of them), each one the
 * dimension could take (whole for integers, an enum's number).  Return
 * non-zero to stop the search (MDNMF_ERR_CANCELLED). */
typedef int (*mdnmf_search_draw_callback)(void *user, int trial, double *values);

typedef struct mdnmf_search {
    /* First member on purpose: tools address its fields by the same offsets
     * as in a bare mdnmf_separator_params.  The parameters of every trial
     * before its draws; base.common.on_epoch reaches every trial's fits. */
    mdnmf_separator_params base;
    const mdnmf_search_dimension *dimensions; /* borrowed; applied in order */
    int dimension_count;
    int trials;                 /* default 20 */
    int folds;                  /* k, 2..n_sup (default 5) */
    mdnmf_metric metric;        /* default MDNMF_METRIC_PSNR */
    mdnmf_aggregate aggregate;  /* default MDNMF_AGGREGATE_MEDIAN */
    int wiener;                 /* separate with Wiener filtering (default 1) */
    uint64_t seed;              /* parameter draws and folds (default 0); the
                                   fits use base.common.seed */
    int refit;                  /* refit the best on all data into the model
                                   (default 0) */
    mdnmf_search_callback on_trial; /* optional */
    void *on_trial_user;
    /* Trials that start from given bases (the paper's data-poor search
     * starts every method but NMF from the tuned NMF's bases): a separator
     * of base.sources sources whose atom counts are base.d (no d
     * dimension), borrowed and not changed.  Every trial's fits and the
     * refit are warm-started from copies of its bases.  NULL (default):
     * each fit starts as base.common.init says. */
    const mdnmf_model *start;
    /* 0 (default): fold f is a seeded random f-th share of the pairs;
     * 1: fold f is the pairs [f n/k, (f+1) n/k) in their order. */
    int contiguous_folds;
    /* 0 (default): a trial's metric aggregates every pair's out-of-fold
     * score; 1: it is the mean over the folds of each fold's aggregate.
     * (Modes that do not train on pairs have one "fold": all pairs.) */
    int score_per_fold;
    mdnmf_search_draw_callback draw; /* optional: values from the caller */
    void *draw_user;
} mdnmf_search;

typedef struct mdnmf_search_result {
    int best_trial;                /* 0-based */
    double best_metric, best_score;
    mdnmf_separator_params best;   /* base with the best trial's values */
    int failed_trials;
} mdnmf_search_result;

/* Defaults for S sources (base as mdnmf_separator_params_default; no
 * dimensions). */
MDNMF_API void mdnmf_search_default(mdnmf_search *search, int sources);

/* "mode", "d", "mu_H", ... ("?" out of range), and back: 0 if unknown. */
MDNMF_API const char *mdnmf_search_param_name(mdnmf_search_param param);
MDNMF_API int mdnmf_search_param_from_name(const char *name, mdnmf_search_param *param);

/* MDNMF_OK if the description is usable, else MDNMF_ERR_ARGUMENT with a
 * message naming the dimension at fault ("mu_H: log-uniform needs
 * low > 0").  Every value a dimension can take is tried against
 * mdnmf_separator_params_check. */
MDNMF_API int mdnmf_search_check(const mdnmf_search *search, char *message, size_t size);

/* Run the search.  `data` holds what the modes need (SPEC §6) and the
 * supervised pairs (U_sup, V_sup), which are split into `folds` folds once
 * (seeded): each trial is scored on every pair, separated by a fit that did
 * not see it.  Modes that do not train on pairs are fitted once per trial
 * and scored on all pairs.  A trial whose fit diverges or cannot start
 * (e.g. more atoms than samples) scores -inf and the search goes on; any
 * other failure ends it.  Errors and messages go to `model`; with
 * search->refit the model then holds the best separator fitted on all data,
 * otherwise it is left as it was.  A trial whose metric is not finite
 * (e.g. NaN) counts as failed.  Fails (the last trial's status) when no
 * trial succeeded. */
MDNMF_API int mdnmf_search_run(mdnmf_model *model, const mdnmf_search *search,
                               const mdnmf_separation_data *data, mdnmf_search_result *result);

/* ------------------------------------------------- names and aggregation */

/* The names of the library's enums, indexed by value and NULL-terminated:
 * the words of the params JSON, the tools' options and the messages.
 * Static, never freed. */
MDNMF_API extern const char *const mdnmf_mode_names[];        /* "std", ..., "semi_adv" */
MDNMF_API extern const char *const mdnmf_init_names[];        /* "exemplar", "random" */
MDNMF_API extern const char *const mdnmf_true_sample_names[]; /* "std", "adv", "min" */
MDNMF_API extern const char *const mdnmf_metric_names[];      /* "psnr", "mse" */
MDNMF_API extern const char *const mdnmf_aggregate_names[];   /* "median", "mean" */

typedef enum mdnmf_enum {
    MDNMF_ENUM_MODE = 0,    /* mdnmf_mode */
    MDNMF_ENUM_INIT,        /* mdnmf_init */
    MDNMF_ENUM_TRUE_SAMPLE, /* mdnmf_true_sample */
    MDNMF_ENUM_METRIC,      /* mdnmf_metric */
    MDNMF_ENUM_AGGREGATE    /* mdnmf_aggregate */
} mdnmf_enum;

/* The name of `value` ("?" when out of range; static). */
MDNMF_API const char *mdnmf_enum_name(mdnmf_enum kind, int value);
/* The value named `name`; MDNMF_ERR_ARGUMENT naming the choices when it is
 * none of them ("mode: 'x' is not one of: std, adv, ..."). */
MDNMF_API int mdnmf_enum_value(mdnmf_enum kind, const char *name, int *value,
                               mdnmf_error *error);

/* How a separator mode uses a member of mdnmf_separation_data (or of
 * mdnmf_signal_data). */
typedef enum mdnmf_need {
    MDNMF_NEED_IGNORED = 0,  /* not read: giving it is probably a mistake */
    MDNMF_NEED_OPTIONAL = 1, /* used when given */
    MDNMF_NEED_REQUIRED = 2  /* the fit fails without it */
} mdnmf_need;

/* SPEC §6's table: what a mode is and which data it needs. */
typedef struct mdnmf_mode_info {
    mdnmf_mode mode;
    const char *name;   /* "semi_adv", as mdnmf_mode_names */
    const char *method; /* the paper's name: "NMF", "MDNMF", "ENMF", "DNMF", ... */
    mdnmf_need U;       /* clean data U[s] of the sources before the last
                           (semi modes: not needed for a source whose basis a
                           warm start keeps, see mdnmf_separator_fit) */
    mdnmf_need U_last;  /* clean data of the last source */
    mdnmf_need V;       /* mixtures */
    mdnmf_need pairs;   /* U_sup of every source and V_sup */
    int adversarial;    /* fits bases by MDNMF: tau_A and beta matter */
    int trains;         /* 0 for exem: bases are picked, not trained */
} mdnmf_mode_info;

/* The row of `mode` (static), or NULL for an unknown mode. */
MDNMF_API const mdnmf_mode_info *mdnmf_mode_describe(mdnmf_mode mode);

/* One number from many (SPEC §9–§10): the median (the mean of the two
 * middle values for an even count, as NumPy's median) or the mean of
 * values[0..count), count >= 1.  Infinities take part; any NaN gives NaN.
 * `values` is not changed (the median sorts a copy: MDNMF_ERR_MEMORY). */
MDNMF_API int mdnmf_aggregate_values(const double *values, int64_t count,
                                     mdnmf_aggregate how, double *result, mdnmf_error *error);
/* The same over the finite values only; *finite (optional) receives their
 * count, and the result is NaN when there is none. */
MDNMF_API int mdnmf_aggregate_finite(const double *values, int64_t count,
                                     mdnmf_aggregate how, double *result, int64_t *finite,
                                     mdnmf_error *error);

#ifdef __cplusplus
}
#endif

#endif /* MDNMF_H */
