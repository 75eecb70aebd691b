/* The streaming denoiser (mdnmf.h, "streaming"; docs/algorithm.md,
 * "Streaming and online noise learning").
 *
 * At the model's rate (the core): every input sample goes into a ring of
 * the last `delay` + 1 samples; frame k (samples k hop - n_fft/2 ..
 * k hop + n_fft/2 - 1, zeros before sample 0, as mdnmf_stft's centred
 * frames) is processed as soon as its last sample arrives, and its speech
 * estimate is added into an overlap-add ring; output sample t is position
 * t - delay of that ring, final once every frame covering it is done
 * (delay >= n_fft - 1 suffices), divided by the window's sum of squares as
 * mdnmf_stft_inverse does.  Everything happens sample by sample, so the
 * output cannot depend on how the input is cut into blocks.
 *
 * At another rate: host samples go through a FIFO into libsoxr in fixed
 * chunks (host -> model), the core, and libsoxr back (model -> host) into
 * an output FIFO primed with zeros; every soxr call sees the same input
 * whatever the blocks, so the output is again independent of them.
 *
 * process allocates nothing (libsoxr sizes its internal buffers on its
 * first calls), takes no lock, calls no BLAS (plain loops: the matrices
 * are small, and OpenBLAS may thread a matrix-vector product) and no
 * OpenMP. */
#include "internal.h"
#include "linalg.h"
#include "rng.h"

#include <float.h>
#include <math.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

/* As in linalg.c: the loops below are also built for AVX2 and AVX-512 and
 * picked at load time, bit-identical (ISO C contracts nothing into FMAs). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FOR_EVERY_CPU __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FOR_EVERY_CPU
#endif

/* Before each frame's updates an activation is at least REVIVE times the
 * uniform level s = Σv / ΣW (W (s 1) has the frame's total): multiplicative
 * updates never bring back an exact zero, and a silent frame (v = 0) zeroes
 * every activation, so without this floor atoms would stay dead forever. */
#define REVIVE 1e-3f
/* Host samples per soxr call: about 4 ms. */
#define CHUNK_PER_SECOND 250
/* Host seconds the create-time dry run feeds the resampling chain to find
 * its largest production lag, and the margin added to it.  libsoxr's output
 * counts per call wander slowly at some ratios (measured over 900 s, as
 * the lag's first time reached and its growth beyond 10 s: 44.1 kHz 1352
 * samples at 8.3 s, +22 by 341 s; 88.2 kHz 2499 at 9.7 s, +62 by 325 s;
 * 48 kHz 1047 at 2.45 s, none after; the other common rates within
 * 1.2 s), so the run covers 10 s and the FIFO starts one chunk (4 ms)
 * fuller than the worst it saw. */
#define DRY_RUN_SECONDS 10.0
#define DRY_RUN_MARGIN_CHUNKS 1
/* The largest model-rate delay added to make the host latency whole. */
#define MAX_ALIGN_EXTRA 4096

typedef struct resampling {
    soxr_t up, down;          /* host -> model (1 channel); model -> host (speech, noise) */
    int64_t chunk;            /* host samples per call of `up` */
    int64_t prime;            /* zeros the output FIFO starts with */
    float *fifo_in;           /* chunk host samples */
    int64_t in_count;
    float *model_in;          /* model samples from one call of `up` */
    float *model_out;         /* their speech and noise, interleaved */
    int64_t model_capacity;
    float *host_out;          /* speech and noise from one call of `down`, interleaved */
    int64_t host_capacity;
    float *fifo_speech, *fifo_noise; /* the output FIFO (a ring) */
    int64_t fifo_capacity, fifo_start, fifo_count;
    int64_t underflows;       /* samples the output FIFO lacked (0 by construction) */
} resampling;

struct mdnmf_stream {
    /* From the model (copies). */
    int64_t m, d;              /* bins, atoms of every source */
    int sources;
    int64_t first[MDNMF_MAX_SOURCES + 1]; /* source s: atoms [first[s], first[s + 1]) */
    int64_t learn_first, d_n;  /* the last source's atoms, the ones that learn */
    float *W, *W_initial;      /* m x d, column-major */
    float *Wt;                 /* d x m: Wᵀ, for Wᵀx as sums of columns */
    float *WtW;                /* d x d (Frobenius) */
    int gram_stale;            /* the noise blocks of WtW lag behind W */
    float *colsum, basis_peak; /* Wᵀ1 (KL) and max W */
    float fixed_peak;          /* max of the atoms that never learn */
    float *mu_H;               /* d */
    float *h_initial;          /* d: Uniform(0,1) from seed */
    mdnmf_divergence divergence;
    double mu_W;
    double model_exponent;
    int power;
    int n_fft, hop, model_rate, rate;
    mdnmf_stft *stft;
    const float *window;

    /* Controls. */
    int steps, interval;
    float exponent, floor;
    int learn;
    float forgetting;

    /* One frame. */
    float *Z;                  /* 2m: the mixture's spectrum */
    float *v;                  /* m: its features */
    float *h;                  /* d: activations, warm from frame to frame */
    float *num, *den;          /* d */
    float *y, *t;              /* m: W h and the β steps' work */
    float *parts;              /* sources x m: W_s h_s (then raised to p) */
    float *sum;                /* m */
    float *gain;               /* m */

    /* Online noise learning (the last source's atoms, d_n columns). */
    float *A;                  /* m x d_n: Σ λ^age v h_nᵀ */
    float *P;                  /* m x d_n: Σ λ^age (W_f h_f) h_nᵀ, W_f the atoms that stay */
    float *Bn;                 /* d_n x d_n: Σ λ^age h_n h_nᵀ */
    float *WB;                 /* m x d_n work */
    double weight;             /* Σ λ^age: μ_W enters per frame of the statistics */
    int since_update;

    /* Framing at the model rate. */
    int64_t delay;             /* model samples from input to output (>= n_fft - 1) */
    int64_t ring;              /* delay + 1 */
    int64_t received;          /* model samples so far */
    float *input;              /* ring: the last `ring` input samples */
    float *ola;                /* ring: the speech overlap-add */

    resampling rs;             /* when rate != model_rate */
    int64_t latency;           /* at the stream's rate */
};

/* ------------------------------------------------------------ small loops */

/* y (rows) = A x, A rows x cols column-major: a sum of columns, in the
 * same order as the library's per-sample products (one column of them). */
static void columns_times(const float *A, int64_t rows, int64_t cols, const float *x, float *y)
{
    product_AB_by_columns(rows, 1, cols, A, x, y);
}

/* X (rows x cols) <- λ X + a bᵀ. */
FOR_EVERY_CPU
static void decay_add_outer(float *X, int64_t rows, int64_t cols, float lambda, const float *a,
                            const float *b)
{
    for (int64_t k = 0; k < cols; k++) {
        float *x = X + k * rows, c = b[k];
        for (int64_t i = 0; i < rows; i++)
            x[i] = lambda * x[i] + a[i] * c;
    }
}

FOR_EVERY_CPU
static float dot(const float *a, const float *b, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float peak_of(const float *x, int64_t n)
{
    float peak = 0.0f;
    for (int64_t i = 0; i < n; i++)
        peak = x[i] > peak ? x[i] : peak;
    return peak;
}

/* ------------------------------------------------------------ the basis */

/* Columns [first, d) of W into rows of Wt, their sums and the peak. */
static void basis_changed(mdnmf_stream *s, int64_t first)
{
    int64_t m = s->m, d = s->d;
    for (int64_t k = first; k < d; k++) {
        const float *w = s->W + k * m;
        double sum = 0.0;
        for (int64_t i = 0; i < m; i++) {
            s->Wt[i * d + k] = w[i];
            sum += w[i];
        }
        s->colsum[k] = (float)sum;
    }
    float peak = peak_of(s->W + s->learn_first * m, s->d_n * m);
    s->basis_peak = peak > s->fixed_peak ? peak : s->fixed_peak;
    s->gram_stale = 1;
}

/* Rows and columns [first, d) of WᵀW (plain dots: no BLAS in process). */
static void update_gram(mdnmf_stream *s, int64_t first)
{
    int64_t m = s->m, d = s->d;
    for (int64_t k = first; k < d; k++)
        for (int64_t l = 0; l <= k; l++) {
            float g = dot(s->W + k * m, s->W + l * m, m);
            s->WtW[k * d + l] = g;
            s->WtW[l * d + k] = g;
        }
    s->gram_stale = 0;
}

/* ------------------------------------------------------------ activations */

/* h <- h ⊙ num ⊘ (den + μ_H + guard), or its square root (Itakura–Saito). */
static void mu_step(float *h, const float *num, const float *den, const float *mu, int64_t d,
                    float guard, int root)
{
    for (int64_t k = 0; k < d; k++) {
        float ratio = num[k] / (den[k] + mu[k] + guard);
        h[k] = root ? h[k] * sqrtf(ratio) : h[k] * ratio;
    }
}

/* The warm start, lifted to the revival floor (see REVIVE). */
static void revive(mdnmf_stream *s)
{
    double total_v = 0.0, total_W = 0.0;
    for (int64_t i = 0; i < s->m; i++)
        total_v += s->v[i];
    for (int64_t k = 0; k < s->d; k++)
        total_W += s->colsum[k];
    float least = total_W > 0.0 ? (float)(REVIVE * (total_v / total_W)) : 0.0f;
    for (int64_t k = 0; k < s->d; k++)
        s->h[k] = s->h[k] > least ? s->h[k] : least;
}

/* SPEC §1's H step, `steps` times, for this frame's v (§11 for KL / IS). */
static void frame_activations(mdnmf_stream *s, float frame_peak)
{
    int64_t m = s->m, d = s->d;
    float guard_H, guard_L;
    divergence_guards(s->divergence, frame_peak, s->basis_peak, &guard_H, NULL, &guard_L);
    revive(s);
    if (s->divergence == MDNMF_DIVERGENCE_FROBENIUS) {
        columns_times(s->Wt, d, m, s->v, s->num);
        /* The Gram when the basis stands still; while it learns, Wᵀ(W h)
         * (two m x d passes) is cheaper than refreshing the Gram's noise
         * blocks every frame. */
        if (!s->learn && s->gram_stale)
            update_gram(s, s->learn_first);
        for (int it = 0; it < s->steps; it++) {
            if (s->learn) {
                columns_times(s->W, m, d, s->h, s->y);
                columns_times(s->Wt, d, m, s->y, s->den);
            } else {
                columns_times(s->WtW, d, d, s->h, s->den);
            }
            mu_step(s->h, s->num, s->den, s->mu_H, d, guard_H, 0);
        }
        return;
    }
    int kl = s->divergence == MDNMF_DIVERGENCE_KL;
    for (int it = 0; it < s->steps; it++) {
        columns_times(s->W, m, d, s->h, s->y);
        if (kl) {
            kl_ratio_block(s->y, m, s->v, m, m, 1, guard_L);
            columns_times(s->Wt, d, m, s->y, s->num);
            mu_step(s->h, s->num, s->colsum, s->mu_H, d, guard_H, 0);
        } else {
            is_ratios_block(s->y, s->t, m, s->v, m, m, 1, guard_L);
            columns_times(s->Wt, d, m, s->y, s->num);
            columns_times(s->Wt, d, m, s->t, s->den);
            mu_step(s->h, s->num, s->den, s->mu_H, d, guard_H, 1);
        }
    }
}

/* ------------------------------------------------------------ the mask */

/* mdnmf_separate's Wiener filtering for one frame (separate_chunk, with the
 * frame's peak for the recording's), then apply_magnitude's ratio to the
 * mixture and the floor:
 *   U_0 = clip(v ⊙ Ũ_0^p ⊘ (Σ_s Ũ_s^p + ε peak^p), 0, peak),
 *   gain = max(U_0 / v, floor)   (U_0 where v = 0). */
static void frame_gain(mdnmf_stream *s, float frame_peak)
{
    int64_t m = s->m;
    float p = s->exponent;
    for (int src = 0; src < s->sources; src++) {
        float *part = s->parts + src * m;
        int64_t a = s->first[src];
        columns_times(s->W + a * m, m, s->first[src + 1] - a, s->h + a, part);
        if (p != 1.0f)
            for (int64_t i = 0; i < m; i++)
                part[i] = powf(part[i], p);
    }
    memcpy(s->sum, s->parts, (size_t)m * sizeof *s->sum);
    for (int src = 1; src < s->sources; src++)
        for (int64_t i = 0; i < m; i++)
            s->sum[i] += s->parts[src * m + i];
    float peak = frame_peak;
    float guard = (float)(MDNMF_EPS * pow(peak > 0.0f ? peak : 1.0f, p));
    for (int64_t i = 0; i < m; i++) {
        float v = s->v[i];
        float value = v * s->parts[i] / (s->sum[i] + guard);
        value = value < 0.0f ? 0.0f : value > peak ? peak : value;
        float g = v > 0.0f ? value / v : value;
        s->gain[i] = g > s->floor ? g : s->floor;
    }
}

/* ------------------------------------------------------------ learning */

static void clear_statistics(mdnmf_stream *s)
{
    int64_t m = s->m, n = s->d_n;
    memset(s->A, 0, (size_t)(m * n) * sizeof *s->A);
    memset(s->P, 0, (size_t)(m * n) * sizeof *s->P);
    memset(s->Bn, 0, (size_t)(n * n) * sizeof *s->Bn);
    s->weight = 0.0;
    s->since_update = 0;
}

/* Unit columns of W_n; the statistics and h_n take the scale over, so that
 * W h and the next step are unchanged (no drift of scale between W_n and
 * h_n, which the L1 weights on h would otherwise drive). */
static void normalise_noise(mdnmf_stream *s)
{
    int64_t m = s->m, n = s->d_n;
    float *Wn = s->W + s->learn_first * m, *hn = s->h + s->learn_first;
    for (int64_t k = 0; k < n; k++) {
        float norm = sqrtf(dot(Wn + k * m, Wn + k * m, m));
        if (!(norm > 0.0f))
            continue;
        float inverse = 1.0f / norm;
        for (int64_t i = 0; i < m; i++) {
            Wn[k * m + i] *= inverse;
            s->A[k * m + i] *= norm;
            s->P[k * m + i] *= norm;
        }
        for (int64_t l = 0; l < n; l++) {
            s->Bn[k * n + l] *= norm;
            s->Bn[l * n + k] *= norm;
        }
        hn[k] *= norm;
    }
}

/* After a frame: the statistics, and every `interval` frames the W step
 *   W_n <- W_n ⊙ A ⊘ (W_f B_f + W_n B_n + μ_W Σλ^age + guard)
 * (W_f B_f kept up to date as P, since W_f does not change). */
static void learn_frame(mdnmf_stream *s)
{
    int64_t m = s->m, n = s->d_n, f = s->learn_first;
    const float *hn = s->h + f;
    float lambda = s->forgetting;
    /* W_f h_f: the parts of every source but the last, before the mask's
     * exponent: recomputed here (m x f, as much as the mask's). */
    columns_times(s->W, m, f, s->h, s->y);
    decay_add_outer(s->A, m, n, lambda, s->v, hn);
    decay_add_outer(s->P, m, n, lambda, s->y, hn);
    decay_add_outer(s->Bn, n, n, lambda, hn, hn);
    s->weight = lambda * s->weight + 1.0;
    if (++s->since_update < s->interval)
        return;
    s->since_update = 0;
    float *Wn = s->W + f * m;
    float top = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        float *wb = s->WB + k * m;
        columns_times(Wn, m, n, s->Bn + k * n, wb);
        for (int64_t i = 0; i < m; i++) {
            wb[i] += s->P[k * m + i];
            top = wb[i] > top ? wb[i] : top;
        }
    }
    float add = (float)(s->mu_W * s->weight) + (float)(MDNMF_EPS * top) + FLT_MIN;
    for (int64_t k = 0; k < n; k++) {
        if (!(s->Bn[k * n + k] > 0.0f))
            continue; /* never active since the statistics started: nothing to learn */
        float *w = Wn + k * m;
        const float *a = s->A + k * m, *wb = s->WB + k * m;
        for (int64_t i = 0; i < m; i++)
            w[i] = w[i] * a[i] / (wb[i] + add);
    }
    normalise_noise(s);
    basis_changed(s, f);
}

/* ------------------------------------------------------------ one frame */

/* Frame k, whose last sample has just arrived (s->received samples in all):
 * it covers positions [received - n_fft, received). */
static void process_frame(mdnmf_stream *s)
{
    int64_t m = s->m, n_fft = s->n_fft, ring = s->ring, start = s->received - n_fft;
    float *frame = stft_frame_buffer(s->stft), *bins = stft_bins_buffer(s->stft);
    for (int64_t j = 0; j < n_fft; j++) {
        int64_t p = start + j;
        frame[j] = p >= 0 ? s->input[p % ring] * s->window[j] : 0.0f;
    }
    stft_execute_forward(s->stft);
    memcpy(s->Z, bins, (size_t)(2 * m) * sizeof *s->Z);
    /* |Z| as stft.c's store_polar computes it; powers as features_of_magnitudes. */
    for (int64_t f = 0; f < m; f++) {
        double re = s->Z[2 * f], im = s->Z[2 * f + 1];
        float magnitude = (float)sqrt(re * re + im * im);
        s->v[f] = s->power ? magnitude * magnitude : magnitude;
    }
    float peak = peak_of(s->v, m);
    frame_activations(s, peak);
    frame_gain(s, peak);
    if (s->learn)
        learn_frame(s);
    /* apply_magnitude's product (the mixture's phase kept), then the
     * inverse transform, windowed and overlapped as stft.c's inverse_frames. */
    for (int64_t f = 0; f < m; f++) {
        float g = s->gain[f];
        bins[2 * f] = s->Z[2 * f] * g; /* v = 0 only where Z = 0 */
        bins[2 * f + 1] = s->Z[2 * f + 1] * g;
    }
    stft_execute_inverse(s->stft);
    const float scale = 1.0f / (float)n_fft;
    for (int64_t j = 0; j < n_fft; j++) {
        int64_t p = start + j;
        if (p >= 0)
            s->ola[p % ring] += frame[j] * scale * s->window[j];
    }
}

/* One sample through the core: in, maybe a frame, out. */
static inline void core_sample(mdnmf_stream *s, float x, float *speech, float *noise)
{
    int64_t ring = s->ring, half = s->n_fft / 2;
    s->input[s->received % ring] = isfinite(x) ? x : 0.0f;
    int64_t received = ++s->received;
    if (received >= half && (received - half) % s->hop == 0)
        process_frame(s);
    int64_t position = received - 1 - s->delay;
    if (position < 0) {
        *speech = *noise = 0.0f;
        return;
    }
    int64_t slot = position % ring;
    float acc = s->ola[slot];
    double norm = stft_open_norm(s->stft, position + half);
    float out = norm > FLT_MIN ? (float)(acc / norm) : acc;
    *speech = out;
    *noise = s->input[slot] - out;
    s->ola[slot] = 0.0f;
}

/* ------------------------------------------------------------ resampling */

static void fifo_push(resampling *r, const float *interleaved, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        if (r->fifo_count == r->fifo_capacity)
            return; /* cannot happen: capacity from the dry run */
        int64_t at = (r->fifo_start + r->fifo_count) % r->fifo_capacity;
        r->fifo_speech[at] = interleaved[2 * i];
        r->fifo_noise[at] = interleaved[2 * i + 1];
        r->fifo_count++;
    }
}

/* One chunk of host samples (r->fifo_in) through up, the core and down. */
static void run_chunk(mdnmf_stream *s)
{
    resampling *r = &s->rs;
    size_t used = 0, made = 0;
    soxr_process(r->up, r->fifo_in, (size_t)r->chunk, &used, r->model_in,
                 (size_t)r->model_capacity, &made);
    for (size_t i = 0; i < made; i++)
        core_sample(s, r->model_in[i], &r->model_out[2 * i], &r->model_out[2 * i + 1]);
    /* down may hold back part of its input when its output buffer is full:
     * call again until it took everything. */
    size_t fed = 0;
    do {
        size_t took = 0, out = 0;
        soxr_process(r->down, r->model_out + 2 * fed, made - fed, &took, r->host_out,
                     (size_t)r->host_capacity, &out);
        fifo_push(r, r->host_out, (int64_t)out);
        fed += took;
        if (!took && !out)
            break;
    } while (fed < made);
    r->in_count = 0;
}

/* The output FIFO's first `count` samples (zeros for any it lacks). */
static void fifo_pop(resampling *r, float *speech, float *noise, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        float a = 0.0f, b = 0.0f;
        if (r->fifo_count > 0) {
            a = r->fifo_speech[r->fifo_start];
            b = r->fifo_noise[r->fifo_start];
            r->fifo_start = (r->fifo_start + 1) % r->fifo_capacity;
            r->fifo_count--;
        } else {
            r->underflows++;
        }
        speech[i] = a;
        if (noise)
            noise[i] = b;
    }
}

/* Host samples in[0..count) through the FIFOs, at most a chunk at a time
 * so that the output FIFO never holds more than the dry run saw: each
 * piece is read before its outputs are written (in place is safe). */
static void process_resampled(mdnmf_stream *s, const float *in, int64_t count, float *speech,
                              float *noise)
{
    resampling *r = &s->rs;
    int64_t done = 0;
    while (done < count) {
        int64_t piece = r->chunk - r->in_count;
        if (piece > count - done)
            piece = count - done;
        for (int64_t i = 0; i < piece; i++) {
            float x = in[done + i];
            r->fifo_in[r->in_count++] = isfinite(x) ? x : 0.0f;
        }
        if (r->in_count == r->chunk)
            run_chunk(s);
        fifo_pop(r, speech + done, noise ? noise + done : NULL, piece);
        done += piece;
    }
}

static soxr_t make_soxr(double from, double to, unsigned channels, const char **problem)
{
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    /* Low quality (16-bit precision, 0.8 of the band passed): a quarter of
     * the high quality's production lag (at 48 kHz 54 ms of latency in all
     * instead of 180 ms), and still 96 dB of stop band. */
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_LQ, 0);
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1); /* no threads of its own */
    /* Small DFT blocks: the same filter, with 2.5 times less production lag
     * (measured, high quality: 8 kHz -> 44.1 kHz needs 2418 samples primed
     * instead of 5986) at a negligible cost at these rates. */
    runtime.log2_min_dft_size = 6;
    runtime.log2_large_dft_size = 8;
    soxr_error_t error = NULL;
    soxr_t made = soxr_create(from, to, channels, &error, &io, &quality, &runtime);
    if (error) {
        *problem = error;
        soxr_delete(made);
        return NULL;
    }
    return made;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

/* ------------------------------------------------------------ state */

static void reset_core(mdnmf_stream *s)
{
    memcpy(s->W, s->W_initial, (size_t)(s->m * s->d) * sizeof *s->W);
    basis_changed(s, 0);
    memcpy(s->h, s->h_initial, (size_t)s->d * sizeof *s->h);
    clear_statistics(s);
    s->received = 0;
    memset(s->input, 0, (size_t)s->ring * sizeof *s->input);
    memset(s->ola, 0, (size_t)s->ring * sizeof *s->ola);
}

static void reset_resampling(mdnmf_stream *s)
{
    resampling *r = &s->rs;
    if (!r->up)
        return;
    soxr_clear(r->up);
    soxr_clear(r->down);
    r->in_count = 0;
    r->fifo_start = 0;
    r->fifo_count = 0;
    r->underflows = 0;
    for (int64_t i = 0; i < r->prime; i++) {
        r->fifo_speech[i] = r->fifo_noise[i] = 0.0f;
        r->fifo_count++;
    }
}

void mdnmf_stream_reset(mdnmf_stream *s)
{
    if (!s)
        return;
    reset_core(s);
    reset_resampling(s);
}

/* ------------------------------------------------------------ create */

void mdnmf_stream_params_default(mdnmf_stream_params *p)
{
    if (p)
        *p = (mdnmf_stream_params){0};
}

static const char *params_problem_of(const mdnmf_stream_params *p)
{
    if (p->sample_rate != 0 &&
        (p->sample_rate < MDNMF_AUDIO_MIN_RATE || p->sample_rate > MDNMF_AUDIO_MAX_RATE))
        return "sample_rate must be 0 (the model's) or lie in the accepted range";
    if (p->steps < 0 || p->steps > 10000)
        return "steps must be between 0 (the default) and 10000";
    if (!(p->wiener_exponent >= 0.0 && p->wiener_exponent <= 8.0))
        return "wiener_exponent must be between 0 (the model's) and 8";
    if (!(p->floor >= 0.0 && p->floor <= 1.0))
        return "floor must be between 0 and 1";
    if (p->learn_noise != 0 && p->learn_noise != 1)
        return "learn_noise must be 0 or 1";
    if (p->noise_atoms < 0 || p->noise_atoms > 100000)
        return "noise_atoms must be between 0 and 100000";
    if (p->noise_atoms > 0 && !p->learn_noise)
        return "noise_atoms > 0 needs learn_noise (fresh atoms must learn)";
    if (!(p->forgetting == 0.0 || (p->forgetting > 0.0 && p->forgetting < 1.0)))
        return "forgetting must be in (0, 1) (0 = the default)";
    if (p->noise_interval < 0 || p->noise_interval > 1000000)
        return "noise_interval must be >= 0 (0 = every frame)";
    return NULL;
}

static void *take(size_t count, size_t size, int *failed)
{
    void *x = calloc(count ? count : 1, size);
    if (!x)
        *failed = 1;
    return x;
}

void mdnmf_stream_destroy(mdnmf_stream *s)
{
    if (!s)
        return;
    mdnmf_stft_destroy(s->stft);
    free(s->W), free(s->W_initial), free(s->Wt), free(s->WtW), free(s->colsum);
    free(s->mu_H), free(s->h_initial), free(s->Z), free(s->v), free(s->h), free(s->num);
    free(s->den), free(s->y), free(s->t), free(s->parts), free(s->sum), free(s->gain);
    free(s->A), free(s->P), free(s->Bn), free(s->WB), free(s->input), free(s->ola);
    resampling *r = &s->rs;
    soxr_delete(r->up);
    soxr_delete(r->down);
    free(r->fifo_in), free(r->model_in), free(r->model_out), free(r->host_out);
    free(r->fifo_speech), free(r->fifo_noise);
    free(s);
}

/* The model's bases, with the last source replaced (or, for a speech-only
 * model, added) when fresh noise atoms are asked for. */
static int copy_model(mdnmf_stream *s, const mdnmf_model *model, const mdnmf_stream_params *p,
                      mdnmf_error *error)
{
    int64_t m = model->m;
    int fresh = p->noise_atoms > 0;
    int kept = fresh && model->sources > 1 ? model->sources - 1 : model->sources;
    s->sources = fresh ? kept + 1 : kept;
    if (s->sources > MDNMF_MAX_SOURCES)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream: too many sources");
    int64_t d = 0;
    for (int src = 0; src < kept; src++) {
        s->first[src] = d;
        d += model->components[src];
    }
    int64_t kept_atoms = d;
    if (fresh) {
        s->first[kept] = d;
        d += p->noise_atoms;
    }
    s->first[s->sources] = d;
    s->m = m, s->d = d;
    s->learn_first = s->first[s->sources - 1];
    s->d_n = d - s->learn_first;
    int failed = 0;
    s->W = take((size_t)(m * d), sizeof(float), &failed);
    s->W_initial = take((size_t)(m * d), sizeof(float), &failed);
    s->mu_H = take((size_t)d, sizeof(float), &failed);
    if (failed)
        return error_fail(error, MDNMF_ERR_MEMORY, "stream: out of memory for the basis");
    memcpy(s->W_initial, model->W, (size_t)(m * kept_atoms) * sizeof(float));
    memcpy(s->mu_H, model->mu_H, (size_t)kept_atoms * sizeof(float));
    if (fresh) {
        rng draws;
        rng_seed(&draws, p->seed, 1);
        rng_fill_uniform(&draws, s->W_initial + kept_atoms * m, p->noise_atoms * m);
        /* mu_H of the last source when the model had one, else the speech's. */
        float mu = model->sources > 1 ? model->mu_H[model->atoms - 1] : model->mu_H[0];
        for (int64_t k = kept_atoms; k < d; k++)
            s->mu_H[k] = mu;
    }
    s->fixed_peak = peak_of(s->W_initial, s->learn_first * m);
    return MDNMF_OK;
}

static int allocate_core(mdnmf_stream *s)
{
    int64_t m = s->m, d = s->d, n = s->d_n;
    int failed = 0;
    s->Wt = take((size_t)(d * m), sizeof(float), &failed);
    s->WtW = take((size_t)(d * d), sizeof(float), &failed);
    s->colsum = take((size_t)d, sizeof(float), &failed);
    s->h_initial = take((size_t)d, sizeof(float), &failed);
    s->h = take((size_t)d, sizeof(float), &failed);
    s->num = take((size_t)d, sizeof(float), &failed);
    s->den = take((size_t)d, sizeof(float), &failed);
    s->Z = take((size_t)(2 * m), sizeof(float), &failed);
    s->v = take((size_t)m, sizeof(float), &failed);
    s->y = take((size_t)m, sizeof(float), &failed);
    s->t = take((size_t)m, sizeof(float), &failed);
    s->parts = take((size_t)(s->sources * m), sizeof(float), &failed);
    s->sum = take((size_t)m, sizeof(float), &failed);
    s->gain = take((size_t)m, sizeof(float), &failed);
    s->A = take((size_t)(m * n), sizeof(float), &failed);
    s->P = take((size_t)(m * n), sizeof(float), &failed);
    s->Bn = take((size_t)(n * n), sizeof(float), &failed);
    s->WB = take((size_t)(m * n), sizeof(float), &failed);
    s->input = take((size_t)s->ring, sizeof(float), &failed);
    s->ola = take((size_t)s->ring, sizeof(float), &failed);
    return failed ? MDNMF_ERR_MEMORY : MDNMF_OK;
}

/* The chain's largest production lag (host samples the output FIFO must
 * start with) and the most it ever holds, by running it on zeros: how many
 * samples soxr returns per call depends on the counts alone, never on the
 * values. */
static int dry_run(mdnmf_stream *s, int64_t *prime, int64_t *most, const char **problem)
{
    resampling *r = &s->rs;
    int64_t chunks = (int64_t)(DRY_RUN_SECONDS * s->rate) / r->chunk + 4;
    int64_t produced = 0, deficit = 0, surplus = 0;
    memset(r->fifo_in, 0, (size_t)r->chunk * sizeof *r->fifo_in);
    for (int64_t c = 0; c < chunks; c++) {
        /* Before chunk c completes, c * chunk + chunk - 1 samples are in
         * and must be out: the deficit is largest just then. */
        int64_t needed = (c + 1) * r->chunk - 1;
        if (needed - produced > deficit)
            deficit = needed - produced;
        size_t used = 0, made = 0;
        soxr_error_t e = soxr_process(r->up, r->fifo_in, (size_t)r->chunk, &used, r->model_in,
                                      (size_t)r->model_capacity, &made);
        if (e || used != (size_t)r->chunk) {
            *problem = e ? e : "libsoxr held back input";
            return MDNMF_ERR_STATE;
        }
        memset(r->model_out, 0, 2 * made * sizeof *r->model_out);
        size_t fed = 0;
        do {
            size_t took = 0, out = 0;
            e = soxr_process(r->down, r->model_out + 2 * fed, made - fed, &took, r->host_out,
                             (size_t)r->host_capacity, &out);
            if (e) {
                *problem = e;
                return MDNMF_ERR_STATE;
            }
            produced += (int64_t)out;
            fed += took;
            if (!took && !out)
                break;
        } while (fed < made);
        int64_t ahead = produced - (c + 1) * r->chunk;
        if (ahead > surplus)
            surplus = ahead;
    }
    *prime = deficit + DRY_RUN_MARGIN_CHUNKS * r->chunk;
    *most = *prime + surplus;
    return MDNMF_OK;
}

static int open_resampling(mdnmf_stream *s, mdnmf_error *error)
{
    resampling *r = &s->rs;
    const char *problem = NULL;
    double ratio = (double)s->model_rate / s->rate;
    r->chunk = (s->rate + CHUNK_PER_SECOND - 1) / CHUNK_PER_SECOND;
    r->model_capacity = (int64_t)ceil(r->chunk * ratio) + 64;
    r->host_capacity = (int64_t)ceil(r->model_capacity / ratio) + 64;
    int failed = 0;
    r->fifo_in = take((size_t)r->chunk, sizeof(float), &failed);
    r->model_in = take((size_t)r->model_capacity, sizeof(float), &failed);
    r->model_out = take((size_t)(2 * r->model_capacity), sizeof(float), &failed);
    r->host_out = take((size_t)(2 * r->host_capacity), sizeof(float), &failed);
    if (failed)
        return error_fail(error, MDNMF_ERR_MEMORY, "stream: out of memory for resampling");
    if (!(r->up = make_soxr(s->rate, s->model_rate, 1, &problem)) ||
        !(r->down = make_soxr(s->model_rate, s->rate, 2, &problem)))
        return error_fail(error, MDNMF_ERR_STATE, "stream: libsoxr cannot convert %d Hz to "
                          "%d Hz: %s", s->rate, s->model_rate, problem);
    int64_t prime = 0, most = 0;
    int status = dry_run(s, &prime, &most, &problem);
    if (status)
        return error_fail(error, status, "stream: libsoxr: %s", problem);
    r->prime = prime;
    r->fifo_capacity = most + 2 * r->host_capacity + r->chunk;
    r->fifo_speech = take((size_t)r->fifo_capacity, sizeof(float), &failed);
    r->fifo_noise = take((size_t)r->fifo_capacity, sizeof(float), &failed);
    if (failed)
        return error_fail(error, MDNMF_ERR_MEMORY, "stream: out of memory for resampling");
    /* soxr aligns its output with its input (the filter's delay removed),
     * so the chain delays by `delay` model samples = delay * rate /
     * model_rate host samples, whole by the choice of delay, plus the
     * primed zeros. */
    s->latency = prime + s->delay * s->rate / s->model_rate;
    return MDNMF_OK;
}

/* The core's delay: n_fft - 1 model samples, raised to the next multiple
 * of model_rate / gcd(rate, model_rate) when resampling so that it is a
 * whole number of host samples too (when that costs more than
 * MAX_ALIGN_EXTRA samples, n_fft - 1 and a latency rounded down). */
static int64_t core_delay(int n_fft, int rate, int model_rate)
{
    int64_t least = n_fft - 1;
    if (rate == model_rate)
        return least;
    int64_t step = model_rate / gcd64(rate, model_rate);
    int64_t aligned = (least + step - 1) / step * step;
    return aligned - least <= MAX_ALIGN_EXTRA ? aligned : least;
}

mdnmf_stream *mdnmf_stream_create(const mdnmf_model *model, const mdnmf_stream_params *params,
                                  mdnmf_error *error)
{
    mdnmf_stream_params defaults;
    mdnmf_stream_params_default(&defaults);
    const mdnmf_stream_params *p = params ? params : &defaults;
    const char *problem = model ? params_problem_of(p) : "the model is NULL";
    if (problem) {
        error_fail(error, MDNMF_ERR_ARGUMENT, "stream: %s", problem);
        return NULL;
    }
    const mdnmf_audio_params *audio = &model->audio;
    if (!model->W || audio->sample_rate == 0) {
        error_fail(error, MDNMF_ERR_STATE, "stream: %s", !model->W
                   ? "the model has no basis: fit or load one first"
                   : "the model has no audio front end (sample rate, STFT sizes)");
        return NULL;
    }
    if (audio->context != 0) {
        error_fail(error, MDNMF_ERR_STATE, "stream: the model's features stack %d frames of "
                   "context; the stream takes only models without context (train one with "
                   "context 0)", audio->context);
        return NULL;
    }
    if (model->sources < 2 && p->noise_atoms == 0) {
        error_fail(error, MDNMF_ERR_STATE, "stream: the model has no noise basis (one "
                   "source): give noise_atoms > 0 with learn_noise to learn one");
        return NULL;
    }
    if (p->learn_noise && model->params.divergence != MDNMF_DIVERGENCE_FROBENIUS) {
        error_fail(error, MDNMF_ERR_STATE, "stream: online noise learning is implemented for "
                   "the Frobenius divergence only; this model uses %s",
                   model->params.divergence == MDNMF_DIVERGENCE_KL ? "Kullback-Leibler"
                                                                   : "Itakura-Saito");
        return NULL;
    }
    mdnmf_stream *s = calloc(1, sizeof *s);
    if (!s) {
        error_fail(error, MDNMF_ERR_MEMORY, "stream: out of memory");
        return NULL;
    }
    s->model_rate = audio->sample_rate;
    s->rate = p->sample_rate ? p->sample_rate : s->model_rate;
    s->power = audio->power;
    s->divergence = model->params.divergence;
    s->mu_W = model->params.mu_W;
    s->model_exponent = model->is_separator ? model->separator.wiener_exponent : 0.0;
    s->steps = p->steps ? p->steps : MDNMF_STREAM_DEFAULT_STEPS;
    s->interval = p->noise_interval ? p->noise_interval : 1;
    s->exponent = (float)(p->wiener_exponent > 0.0 ? p->wiener_exponent
                          : s->model_exponent > 0.0 ? s->model_exponent : 1.0);
    s->floor = (float)p->floor;
    s->learn = p->learn_noise;
    s->forgetting = (float)(p->forgetting > 0.0 ? p->forgetting
                                                : MDNMF_STREAM_DEFAULT_FORGETTING);
    int status = copy_model(s, model, p, error);
    if (status) {
        mdnmf_stream_destroy(s);
        return NULL;
    }
    s->stft = mdnmf_stft_create(audio->n_fft, audio->hop_length, audio->win_length, error);
    if (!s->stft) {
        mdnmf_stream_destroy(s);
        return NULL;
    }
    s->window = stft_window(s->stft);
    s->n_fft = audio->n_fft;
    s->hop = mdnmf_stft_hop_length(s->stft);
    if (mdnmf_stft_bins(s->stft) != s->m) {
        error_fail(error, MDNMF_ERR_STATE, "stream: the basis has %lld rows, the front end "
                   "%lld bins", (long long)s->m, (long long)mdnmf_stft_bins(s->stft));
        mdnmf_stream_destroy(s);
        return NULL;
    }
    s->delay = core_delay(s->n_fft, s->rate, s->model_rate);
    s->ring = s->delay + 1;
    s->latency = s->delay;
    if (allocate_core(s)) {
        error_fail(error, MDNMF_ERR_MEMORY, "stream: out of memory");
        mdnmf_stream_destroy(s);
        return NULL;
    }
    rng draws;
    rng_seed(&draws, p->seed, 0);
    rng_fill_uniform(&draws, s->h_initial, s->d);
    memcpy(s->W, s->W_initial, (size_t)(s->m * s->d) * sizeof *s->W);
    basis_changed(s, 0);
    update_gram(s, 0);
    if (s->rate != s->model_rate && open_resampling(s, error)) {
        mdnmf_stream_destroy(s);
        return NULL;
    }
    mdnmf_stream_reset(s);
    error_ok(error);
    return s;
}

/* ------------------------------------------------------------ process */

int mdnmf_stream_process(mdnmf_stream *s, const float *in, int64_t count, float *speech,
                         float *noise, mdnmf_error *error)
{
    if (!s || count < 0 || (count > 0 && (!in || !speech)))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream process: %s",
                          !s ? "the stream is NULL" : count < 0 ? "count < 0"
                                                                : "in or speech is NULL");
    if (noise && noise == speech && count > 0)
        return error_fail(error, MDNMF_ERR_ARGUMENT,
                          "stream process: speech and noise are the same buffer");
    if (s->rate != s->model_rate) {
        process_resampled(s, in, count, speech, noise);
    } else {
        for (int64_t i = 0; i < count; i++) {
            float a, b;
            core_sample(s, in[i], &a, &b);
            speech[i] = a;
            if (noise)
                noise[i] = b;
        }
    }
    return error_ok(error);
}

int64_t mdnmf_stream_latency(const mdnmf_stream *s)
{
    return s ? s->latency : 0;
}

int mdnmf_stream_set_mask(mdnmf_stream *s, double wiener_exponent, double floor,
                          mdnmf_error *error)
{
    if (!s)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream: the stream is NULL");
    if (!(wiener_exponent >= 0.0 && wiener_exponent <= 8.0) || !(floor >= 0.0 && floor <= 1.0))
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream: wiener_exponent must be in 0..8 "
                          "and floor in 0..1 (got %g and %g)", wiener_exponent, floor);
    s->exponent = (float)(wiener_exponent > 0.0 ? wiener_exponent
                          : s->model_exponent > 0.0 ? s->model_exponent : 1.0);
    s->floor = (float)floor;
    return error_ok(error);
}

int mdnmf_stream_set_learn_noise(mdnmf_stream *s, int learn_noise, mdnmf_error *error)
{
    if (!s)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream: the stream is NULL");
    if (learn_noise != 0 && learn_noise != 1)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "stream: learn_noise must be 0 or 1");
    if (learn_noise && s->divergence != MDNMF_DIVERGENCE_FROBENIUS)
        return error_fail(error, MDNMF_ERR_STATE, "stream: online noise learning is "
                          "implemented for the Frobenius divergence only");
    if (learn_noise && !s->learn)
        clear_statistics(s);
    s->learn = learn_noise;
    return error_ok(error);
}

const float *mdnmf_stream_noise_basis(const mdnmf_stream *s, int64_t *m, int64_t *d)
{
    if (m)
        *m = s ? s->m : 0;
    if (d)
        *d = s ? s->d_n : 0;
    return s ? s->W + s->learn_first * s->m : NULL;
}

/* For the tests (src/internal.h): samples the output FIFO lacked. */
int64_t stream_underflows(const mdnmf_stream *s)
{
    return s ? s->rs.underflows : 0;
}
