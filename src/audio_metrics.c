/* Audio quality measures (SPEC §9): SNR, SI-SDR and BSS Eval v3's
 * SDR/SIR/SAR as mir_eval.separation.bss_eval_sources computes them.
 *
 * BSS Eval decomposes an estimate e into its least-squares projections on
 * the delayed copies (0..L-1 samples, L = 512) of its own reference s_j and
 * of all references:
 *     P_j = argmin over filters h of ||e - h * s_j||,   P = the same over all
 *     SDR = ||P_j||² / ||e - P_j||²,  SIR = ||P_j||² / ||P - P_j||²,
 *     SAR = ||P||² / ||e - P||²        (in dB, over n + L - 1 samples)
 * The normal equations G h = D have Gram matrices of delayed copies, which
 * are Toeplitz blocks of cross-correlations: these are computed with FFTs
 * (FFTW, double precision), G is solved by Cholesky (LAPACK, from OpenBLAS)
 * with a least-squares fallback when it is singular, as mir_eval falls back
 * to lstsq.  G is the same for every estimate: it is factored once. */
#include "fft_lock.h"
#include "internal.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK through its Fortran interface (OpenBLAS exports it); the trailing
 * size_t arguments are the hidden lengths of the character arguments. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t uplo_length);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                    const int *lda, double *b, const int *ldb, int *info, size_t uplo_length);
extern void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda,
                    double *b, const int *ldb, double *s, const double *rcond, int *rank,
                    double *work, const int *lwork, int *iwork, int *info);

enum { FILTER = MDNMF_BSS_FILTER_LENGTH };

/* ----------------------------------------------------------- SNR, SI-SDR */

static int check_signals(const float *reference, const float *estimate, int64_t length,
                         const double *out, const char *name, char *message, size_t size)
{
    if (!reference || !estimate || !out) {
        message_printf(message, size, "%s: a buffer is NULL", name);
        return MDNMF_ERR_ARGUMENT;
    }
    if (length < 1) {
        message_printf(message, size, "%s: the signals have no samples", name);
        return MDNMF_ERR_SHAPE;
    }
    for (int64_t i = 0; i < length; i++) {
        if (!isfinite(reference[i]) || !isfinite(estimate[i])) {
            message_printf(message, size, "%s: sample %lld is NaN or infinite", name,
                           (long long)i);
            return MDNMF_ERR_DATA;
        }
    }
    return MDNMF_OK;
}

/* 10 log10(num / den) with den = 0 as +inf (mir_eval's _safe_db). */
static double safe_db(double num, double den)
{
    if (den == 0.0)
        return INFINITY;
    if (num == 0.0)
        return -INFINITY;
    return 10.0 * log10(num / den);
}

static int snr_db(const float *reference, const float *estimate, int64_t length, double *snr,
                  char *message, size_t size)
{
    int status = check_signals(reference, estimate, length, snr, "SNR", message, size);
    if (status)
        return status;
    double signal = 0.0, noise = 0.0;
    for (int64_t i = 0; i < length; i++) {
        double s = reference[i], e = (double)reference[i] - estimate[i];
        signal += s * s;
        noise += e * e;
    }
    if (signal == 0.0) {
        message_printf(message, size, "SNR: the reference is silent (all zeros)");
        return MDNMF_ERR_DATA;
    }
    *snr = safe_db(signal, noise);
    return MDNMF_OK;
}

int mdnmf_snr(const float *reference, const float *estimate, int64_t length, double *snr,
              mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = snr_db(reference, estimate, length, snr, message, sizeof message);
    return error_report(error, status, message);
}

static int si_sdr_db(const float *reference, const float *estimate, int64_t length,
                     double *si_sdr, char *message, size_t size)
{
    int status = check_signals(reference, estimate, length, si_sdr, "SI-SDR", message, size);
    if (status)
        return status;
    double ss = 0.0, se = 0.0, ee = 0.0;
    for (int64_t i = 0; i < length; i++) {
        ss += (double)reference[i] * reference[i];
        se += (double)reference[i] * estimate[i];
        ee += (double)estimate[i] * estimate[i];
    }
    if (ss == 0.0 || ee == 0.0) {
        message_printf(message, size, "SI-SDR: the %s is silent (all zeros)",
                       ss == 0.0 ? "reference" : "estimate");
        return MDNMF_ERR_DATA;
    }
    /* α s is the projection of ŝ on s; the residual is summed directly (not
     * as ee - se²/ss) so that a near-perfect estimate keeps its precision. */
    double alpha = se / ss, residual = 0.0;
    for (int64_t i = 0; i < length; i++) {
        double r = alpha * reference[i] - estimate[i];
        residual += r * r;
    }
    *si_sdr = safe_db(alpha * alpha * ss, residual);
    return MDNMF_OK;
}

int mdnmf_si_sdr(const float *reference, const float *estimate, int64_t length, double *si_sdr,
                 mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = si_sdr_db(reference, estimate, length, si_sdr, message, sizeof message);
    return error_report(error, status, message);
}

/* ------------------------------------------------------------ BSS Eval */

/* FFTs of size `fft` >= n + L - 1, so circular correlations and
 * convolutions equal linear ones over the lags used. */
typedef struct bss_work {
    int sources;
    int64_t n;           /* samples per signal */
    int64_t span;        /* n + L - 1: length of projections */
    int64_t fft, bins;   /* FFT size (a power of 2) and fft/2 + 1 */
    fftw_plan forward, inverse;
    double *real;        /* fft reals */
    fftw_complex *spectrum;          /* bins */
    fftw_complex *accumulated;       /* bins: Σ_i H_i S_i of a projection */
    fftw_complex *reference_spectrum[MDNMF_BSS_MAX_SOURCES];
    fftw_complex *estimate_spectrum[MDNMF_BSS_MAX_SOURCES];
    int order;           /* sources * L: size of the full Gram matrix */
    double *gram;        /* order x order, column-major */
    double *rhs;         /* order x sources: D of every estimate */
    double *filters_all; /* order x sources: filters on all references */
    double *filters_own[MDNMF_BSS_MAX_SOURCES]; /* L x sources: filters on reference j */
    double *projection_all, *projection_own; /* span */
} bss_work;

static void bss_work_free(bss_work *w)
{
    fft_planner_lock();
    if (w->forward)
        fftw_destroy_plan(w->forward);
    if (w->inverse)
        fftw_destroy_plan(w->inverse);
    fft_planner_unlock();
    fftw_free(w->real);
    fftw_free(w->spectrum);
    fftw_free(w->accumulated);
    for (int s = 0; s < MDNMF_BSS_MAX_SOURCES; s++) {
        fftw_free(w->reference_spectrum[s]);
        fftw_free(w->estimate_spectrum[s]);
        free(w->filters_own[s]);
    }
    free(w->gram);
    free(w->rhs);
    free(w->filters_all);
    free(w->projection_all);
    free(w->projection_own);
}

static int bss_work_allocate(bss_work *w, int sources, int64_t n)
{
    memset(w, 0, sizeof *w);
    w->sources = sources;
    w->n = n;
    w->span = n + FILTER - 1;
    w->fft = 1;
    while (w->fft < w->span)
        w->fft *= 2;
    w->bins = w->fft / 2 + 1;
    w->order = sources * FILTER;
    size_t order = (size_t)w->order;
    w->real = fftw_malloc((size_t)w->fft * sizeof *w->real);
    w->spectrum = fftw_malloc((size_t)w->bins * sizeof *w->spectrum);
    w->accumulated = fftw_malloc((size_t)w->bins * sizeof *w->accumulated);
    int ok = w->real && w->spectrum && w->accumulated;
    for (int s = 0; s < sources && ok; s++) {
        w->reference_spectrum[s] = fftw_malloc((size_t)w->bins * sizeof(fftw_complex));
        w->estimate_spectrum[s] = fftw_malloc((size_t)w->bins * sizeof(fftw_complex));
        w->filters_own[s] = malloc((size_t)FILTER * (size_t)sources * sizeof(double));
        ok = w->reference_spectrum[s] && w->estimate_spectrum[s] && w->filters_own[s];
    }
    w->gram = malloc(order * order * sizeof *w->gram);
    w->rhs = malloc(order * (size_t)sources * sizeof *w->rhs);
    w->filters_all = malloc(order * (size_t)sources * sizeof *w->filters_all);
    w->projection_all = malloc((size_t)w->span * sizeof *w->projection_all);
    w->projection_own = malloc((size_t)w->span * sizeof *w->projection_own);
    ok = ok && w->gram && w->rhs && w->filters_all && w->projection_all && w->projection_own;
    if (ok) {
        fft_planner_lock();
        w->forward = fftw_plan_dft_r2c_1d((int)w->fft, w->real, w->spectrum, FFTW_ESTIMATE);
        w->inverse = fftw_plan_dft_c2r_1d((int)w->fft, w->spectrum, w->real, FFTW_ESTIMATE);
        fft_planner_unlock();
        ok = w->forward && w->inverse;
    }
    return ok ? MDNMF_OK : MDNMF_ERR_MEMORY;
}

/* The spectrum of a signal zero-padded to the FFT size. */
static void signal_spectrum(bss_work *w, const float *signal, fftw_complex *out)
{
    for (int64_t i = 0; i < w->fft; i++)
        w->real[i] = i < w->n ? signal[i] : 0.0;
    fftw_execute_dft_r2c(w->forward, w->real, out);
}

/* w->real = the circular cross-correlation r[k] = Σ_t a[t + k] b[t]
 * = ifft(A conj(B)), normalised as NumPy's ifft. */
static void cross_correlation(bss_work *w, fftw_complex *a, fftw_complex *b)
{
    for (int64_t f = 0; f < w->bins; f++) {
        w->spectrum[f][0] = a[f][0] * b[f][0] + a[f][1] * b[f][1];
        w->spectrum[f][1] = a[f][1] * b[f][0] - a[f][0] * b[f][1];
    }
    fftw_execute_dft_c2r(w->inverse, w->spectrum, w->real);
    for (int64_t i = 0; i < w->fft; i++)
        w->real[i] /= (double)w->fft;
}

/* r at lag k in -(L-1)..L-1, the negative lags wrapped around. */
static double lag(const bss_work *w, int64_t k)
{
    return w->real[k >= 0 ? k : w->fft + k];
}

/* G[(i, a), (j, b)] = <s_i delayed by a, s_j delayed by b> = r_ij[b - a]. */
static void build_gram(bss_work *w)
{
    int64_t order = w->order;
    for (int i = 0; i < w->sources; i++) {
        for (int j = i; j < w->sources; j++) {
            cross_correlation(w, w->reference_spectrum[i], w->reference_spectrum[j]);
            for (int a = 0; a < FILTER; a++) {
                for (int b = 0; b < FILTER; b++) {
                    double g = lag(w, b - a);
                    int64_t row = (int64_t)i * FILTER + a, col = (int64_t)j * FILTER + b;
                    w->gram[col * order + row] = g;
                    w->gram[row * order + col] = g;
                }
            }
        }
    }
}

/* D_k[(i, a)] = <s_i delayed by a, e_k> = r_{i,e_k}[-a]. */
static void build_rhs(bss_work *w)
{
    for (int k = 0; k < w->sources; k++) {
        for (int i = 0; i < w->sources; i++) {
            cross_correlation(w, w->reference_spectrum[i], w->estimate_spectrum[k]);
            for (int a = 0; a < FILTER; a++)
                w->rhs[(int64_t)k * w->order + (int64_t)i * FILTER + a] = lag(w, -a);
        }
    }
}

/* Minimum-norm least squares (LAPACK dgelsd, rcond = machine precision),
 * for a Gram matrix that is singular in floating point. */
static int solve_least_squares(double *matrix, int n, double *rhs, int nrhs)
{
    double *singular = malloc((size_t)n * sizeof *singular);
    double rcond = -1.0, query = 0.0;
    int rank = 0, info = 0, lwork = -1, iquery = 0;
    dgelsd_(&n, &n, &nrhs, matrix, &n, rhs, &n, singular, &rcond, &rank, &query, &lwork,
            &iquery, &info);
    lwork = (int)query;
    double *work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
    int *iwork = malloc((size_t)(iquery > 1 ? iquery : 1) * sizeof *iwork);
    int status = MDNMF_ERR_MEMORY;
    if (singular && work && iwork && info == 0) {
        dgelsd_(&n, &n, &nrhs, matrix, &n, rhs, &n, singular, &rcond, &rank, work, &lwork,
                iwork, &info);
        status = info == 0 ? MDNMF_OK : MDNMF_ERR_DATA;
    }
    free(singular);
    free(work);
    free(iwork);
    return status;
}

/* Solves matrix x = rhs (n x n symmetric, n x nrhs; rhs becomes x).  The
 * matrix is overwritten. */
static int solve_gram(double *matrix, int n, double *rhs, int nrhs)
{
    int info = 0;
    double *copy = malloc((size_t)n * (size_t)n * sizeof *copy);
    if (!copy)
        return MDNMF_ERR_MEMORY;
    memcpy(copy, matrix, (size_t)n * (size_t)n * sizeof *copy);
    dpotrf_("L", &n, matrix, &n, &info, 1);
    int status;
    if (info == 0) {
        dpotrs_("L", &n, &nrhs, matrix, &n, rhs, &n, &info, 1);
        status = info == 0 ? MDNMF_OK : MDNMF_ERR_DATA;
    } else {
        status = solve_least_squares(copy, n, rhs, nrhs);
    }
    free(copy);
    return status;
}

/* Filters of every estimate on all references (the full system) and on
 * each reference alone (its diagonal block of G and of D). */
static int solve_filters(bss_work *w)
{
    int order = w->order, sources = w->sources;
    double *block = malloc((size_t)FILTER * FILTER * sizeof *block);
    if (!block)
        return MDNMF_ERR_MEMORY;
    int status = MDNMF_OK;
    for (int j = 0; j < sources && status == MDNMF_OK; j++) {
        int64_t offset = (int64_t)j * FILTER;
        for (int b = 0; b < FILTER; b++)
            memcpy(block + (int64_t)b * FILTER, w->gram + (offset + b) * order + offset,
                   FILTER * sizeof *block);
        for (int k = 0; k < sources; k++)
            memcpy(w->filters_own[j] + (int64_t)k * FILTER, w->rhs + (int64_t)k * order + offset,
                   FILTER * sizeof *block);
        status = solve_gram(block, FILTER, w->filters_own[j], sources);
    }
    free(block);
    if (status == MDNMF_OK) {
        memcpy(w->filters_all, w->rhs, (size_t)order * (size_t)sources * sizeof(double));
        status = solve_gram(w->gram, order, w->filters_all, sources);
    }
    return status;
}

/* out = Σ_i h_i * s_i for the `count` references from `first` on (linear
 * convolutions: the first span samples), filter i at filters[i * L]:
 * one forward FFT per filter, one inverse FFT for the sum. */
static void project(bss_work *w, const double *filters, int first, int count, double *out)
{
    memset(w->accumulated, 0, (size_t)w->bins * sizeof *w->accumulated);
    for (int i = 0; i < count; i++) {
        const double *h = filters + (int64_t)i * FILTER;
        for (int64_t t = 0; t < w->fft; t++)
            w->real[t] = t < FILTER ? h[t] : 0.0;
        fftw_execute_dft_r2c(w->forward, w->real, w->spectrum);
        fftw_complex *s = w->reference_spectrum[first + i];
        for (int64_t f = 0; f < w->bins; f++) {
            w->accumulated[f][0] += w->spectrum[f][0] * s[f][0] - w->spectrum[f][1] * s[f][1];
            w->accumulated[f][1] += w->spectrum[f][0] * s[f][1] + w->spectrum[f][1] * s[f][0];
        }
    }
    fftw_execute_dft_c2r(w->inverse, w->accumulated, w->real);
    for (int64_t t = 0; t < w->span; t++)
        out[t] = w->real[t] / (double)w->fft;
}

typedef struct bss_scores {
    double sdr, sir, sar;
} bss_scores;

/* The energy ratios of an estimate (zero-padded to span) against its
 * projections on its own reference (P_j) and on all references (P). */
static bss_scores criteria(const bss_work *w, const float *estimate)
{
    double own = 0.0, all = 0.0, distortion = 0.0, interference = 0.0, artifacts = 0.0;
    for (int64_t t = 0; t < w->span; t++) {
        double e = t < w->n ? estimate[t] : 0.0;
        double pj = w->projection_own[t], p = w->projection_all[t];
        own += pj * pj;
        all += p * p;
        distortion += (e - pj) * (e - pj);
        interference += (p - pj) * (p - pj);
        artifacts += (e - p) * (e - p);
    }
    bss_scores scores = {safe_db(own, distortion), safe_db(own, interference),
                         safe_db(all, artifacts)};
    return scores;
}

static int check_bss_input(const float *const *references, const float *const *estimates,
                           int sources, int64_t length, const mdnmf_bss_result *result,
                           char *message, size_t size)
{
    if (!references || !estimates || !result) {
        message_printf(message, size, "BSS Eval: a buffer is NULL");
        return MDNMF_ERR_ARGUMENT;
    }
    if (sources < 1 || sources > MDNMF_BSS_MAX_SOURCES) {
        message_printf(message, size, "BSS Eval: %d sources; 1..%d are supported", sources,
                       MDNMF_BSS_MAX_SOURCES);
        return MDNMF_ERR_ARGUMENT;
    }
    /* FFTW plans take an int size: the FFT (>= length + L - 1) must fit. */
    if (length < 1 || length > (INT64_C(1) << 30) - FILTER) {
        message_printf(message, size, "BSS Eval: %lld samples per signal; 1..2^30 - %d are "
                       "supported", (long long)length, FILTER);
        return MDNMF_ERR_SHAPE;
    }
    for (int s = 0; s < 2 * sources; s++) {
        const float *signal = s < sources ? references[s] : estimates[s - sources];
        const char *kind = s < sources ? "reference" : "estimate";
        int index = s % sources;
        if (!signal) {
            message_printf(message, size, "BSS Eval: %s %d is NULL", kind, index);
            return MDNMF_ERR_ARGUMENT;
        }
        int silent = 1;
        for (int64_t i = 0; i < length; i++) {
            if (!isfinite(signal[i])) {
                message_printf(message, size, "BSS Eval: %s %d: sample %lld is NaN or infinite",
                               kind, index, (long long)i);
                return MDNMF_ERR_DATA;
            }
            silent = silent && signal[i] == 0.0f;
        }
        if (silent) {
            message_printf(message, size, "BSS Eval: %s %d is silent (all zeros): the "
                           "decomposition is undefined", kind, index);
            return MDNMF_ERR_DATA;
        }
    }
    return MDNMF_OK;
}

/* Scores of estimate k against reference j in scores[k * S + j]; only the
 * pairs k = j without a permutation search. */
static int score_pairs(bss_work *w, const float *const *references,
                       const float *const *estimates, int compute_permutation,
                       bss_scores *scores)
{
    int sources = w->sources;
    for (int s = 0; s < sources; s++) {
        signal_spectrum(w, references[s], w->reference_spectrum[s]);
        signal_spectrum(w, estimates[s], w->estimate_spectrum[s]);
    }
    build_gram(w);
    build_rhs(w);
    int status = solve_filters(w);
    if (status != MDNMF_OK)
        return status;
    for (int k = 0; k < sources; k++) {
        project(w, w->filters_all + (int64_t)k * w->order, 0, sources, w->projection_all);
        for (int j = 0; j < sources; j++) {
            if (!compute_permutation && j != k)
                continue;
            project(w, w->filters_own[j] + (int64_t)k * FILTER, j, 1, w->projection_own);
            scores[k * sources + j] = criteria(w, estimates[k]);
        }
    }
    return MDNMF_OK;
}

/* The next permutation in lexicographic order; 0 after the last. */
static int next_permutation(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (p[j] <= p[i])
        j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return 1;
}

/* mir_eval's choice: the permutation (estimate perm[j] for reference j) of
 * the highest mean SIR, the first in itertools.permutations order on ties. */
static void best_permutation(const bss_scores *scores, int sources, int *best)
{
    int p[MDNMF_BSS_MAX_SOURCES];
    for (int j = 0; j < sources; j++)
        p[j] = best[j] = j;
    double best_mean = -INFINITY;
    int first = 1;
    do {
        double mean = 0.0;
        for (int j = 0; j < sources; j++)
            mean += scores[p[j] * sources + j].sir;
        mean /= sources;
        if (first || mean > best_mean) {
            best_mean = mean;
            memcpy(best, p, (size_t)sources * sizeof *p);
            first = 0;
        }
    } while (next_permutation(p, sources));
}

static int bss_eval_sources(const float *const *references, const float *const *estimates,
                            int sources, int64_t length, int compute_permutation,
                            mdnmf_bss_result *result, char *message, size_t size)
{
    int status = check_bss_input(references, estimates, sources, length, result, message,
                                 size);
    if (status != MDNMF_OK)
        return status;
    bss_work work;
    bss_scores *scores = malloc((size_t)sources * (size_t)sources * sizeof *scores);
    status = bss_work_allocate(&work, sources, length);
    if (status == MDNMF_OK && scores)
        status = score_pairs(&work, references, estimates, compute_permutation, scores);
    else
        status = MDNMF_ERR_MEMORY;
    bss_work_free(&work);
    if (status == MDNMF_OK) {
        memset(result, 0, sizeof *result);
        for (int j = 0; j < sources; j++)
            result->permutation[j] = j;
        if (compute_permutation)
            best_permutation(scores, sources, result->permutation);
        for (int j = 0; j < sources; j++) {
            bss_scores pair = scores[result->permutation[j] * sources + j];
            result->sdr[j] = pair.sdr;
            result->sir[j] = pair.sir;
            result->sar[j] = pair.sar;
        }
    } else if (status == MDNMF_ERR_MEMORY) {
        message_printf(message, size, "BSS Eval: out of memory for %d sources of %lld samples",
                       sources, (long long)length);
    } else {
        message_printf(message, size, "BSS Eval: the least-squares projection failed");
    }
    free(scores);
    return status;
}

int mdnmf_bss_eval_sources(const float *const *references, const float *const *estimates,
                           int sources, int64_t length, int compute_permutation,
                           mdnmf_bss_result *result, mdnmf_error *error)
{
    char message[MDNMF_ERROR_MESSAGE_SIZE] = "";
    int status = bss_eval_sources(references, estimates, sources, length, compute_permutation,
                                  result, message, sizeof message);
    return error_report(error, status, message);
}
