/* Private declarations shared by the library's modules.  Not installed. */
#ifndef MDNMF_INTERNAL_H
#define MDNMF_INTERNAL_H

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

/* One basis fitted by NMF (n_adv == 0) or MDNMF (SPEC §2–§3): the engine
 * behind mdnmf_fit_std / mdnmf_fit_adv and every separator mode.  Inputs are
 * borrowed; on MDNMF_OK or MDNMF_ERR_CANCELLED the results W (m x d),
 * H (d x n) and H_adv (d x n_adv, MDNMF only) are malloc'ed for the caller.
 * Errors are reported on `report_to`. */
/* The supervised term of D+MDNMF (SPEC §6 `full`) for one source: paired
 * clean data and the activations of the paired mixtures, which the caller
 * updates between epochs. */
typedef struct supervised_term {
    const float *U;        /* m x n: this source's clean half of the pairs */
    float *H;              /* rows x n: activations of the mixtures (all atoms) */
    int64_t n;
    int64_t rows;          /* all atoms of the separator */
    int64_t offset;        /* this source's atoms are rows [offset, offset + d) */
    const int64_t *perm;   /* n: the epoch's permutation of the pairs */
    int64_t batch;
    double tau_S;
} supervised_term;

typedef struct basis_fit {
    const mdnmf_params *params; /* params->d atoms, epochs, batches, seed... */
    const float *lambda;        /* d per-atom L1 weights on H */
    const float *W_start;       /* m x d warm start, or NULL: params->init */
    const float *U;             /* m x n true data */
    int64_t n;
    const float *U_adv;         /* m x n_adv adversarial data; n_adv 0: NMF */
    int64_t n_adv;
    const float *omega;         /* n_adv penalty weights, or NULL */
    double tau_A, tau_W;
    const supervised_term *supervised; /* D+MDNMF only, else NULL */
    int stage, stages;          /* reported to the epoch callback */
    float *W, *H, *H_adv;       /* results */
} basis_fit;

int fit_basis(mdnmf_model *report_to, int64_t m, basis_fit *job);

/* The same fit one epoch at a time, for drivers that interleave several
 * bases (D+MDNMF).  fit_open initialises (basis, activations, epoch-0
 * callback); fit_epoch runs one epoch with its checks; fit_close hands the
 * results to `job` when `keep` and frees the rest. */
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

/* Fewer columns per thread than this are not worth a parallel region. */
#define SHARED_MIN_COLUMNS 64

/* The same with the columns shared out between linalg_threads() threads;
 * num and den hold that many d x work_cols slices. */
void update_activations_shared(const float *W, const float *WtW, const float *U, float *H,
                               int64_t m, int64_t d, int64_t n, int iterations,
                               const float *lambda, const float *omega, float guard, float *num,
                               float *den, int64_t work_cols);

/* The division guards of docs/algorithm.md from the data and basis peaks. */
void scaled_guards(float data_peak, float basis_peak, float *guard_H, float *guard_W);

/* d = p->d distinct random columns of U (seed p->seed, true stream),
 * normalised if p->normalize; *W_out is malloc'ed m x d. */
int exemplar_basis(mdnmf_model *report_to, const mdnmf_params *p, const float *U, int64_t m,
                   int64_t n, float **W_out);

/* Separator modes by name ("std", "adv", …, "semi_adv") and back. */
const char *separator_mode_name(mdnmf_mode mode);
int separator_mode_from_name(const char *name, mdnmf_mode *mode);

/* Check data is a non-empty, non-negative, finite m x n matrix. */
int check_matrix(mdnmf_model *model, const char *name, const float *X, int64_t m, int64_t n);

/* Parameters as a flat JSON object (malloc'ed, NUL-terminated) and back.
 * params_from_json updates `p` from the keys it knows and ignores others;
 * it returns MDNMF_OK, MDNMF_ERR_FORMAT with a message in `message`, or
 * MDNMF_ERR_MEMORY when the C locale cannot be created. */
char *params_to_json(const mdnmf_params *p);
/* The same with a separator's keys in a "separator" object and the audio
 * front end in an "audio" object, each when not NULL. */
char *model_params_to_json(const mdnmf_params *p, const mdnmf_separator_params *sep,
                           const mdnmf_audio_params *audio);
/* Read the "audio" object of a params JSON (keys it has); *found says
 * whether there was one. */
int audio_from_json(const char *json, size_t length, mdnmf_audio_params *audio, int *found,
                    char *message, size_t size);
/* Read the "separator" object of a params JSON into *sep (keys it has);
 * *found says whether there was one.  MDNMF_ERR_FORMAT on malformed JSON. */
int separator_from_json(const char *json, size_t length, mdnmf_separator_params *sep,
                        int *found, char *message, size_t size);
int params_from_json(const char *json, size_t length, mdnmf_params *p, char *message,
                     size_t size);

/* The public calls report through `mdnmf_error *error` (the header's
 * Conventions); inside, the library keeps reporting as before, to a message
 * buffer or the model's message, and each public entry point hands the
 * outcome over with one of these.  All return `status`. */

/* Fill *error (if not NULL): status, and on failure `message`, or
 * mdnmf_strerror(status) when the message is NULL or empty; on success "". */
int error_report(mdnmf_error *error, int status, const char *message);
/* The same with a printf-style message. */
int error_fail(mdnmf_error *error, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* A public call on a model starts with model_clear_error (no stale message)
 * and ends with model_report (the model's message to *error). */
void model_clear_error(mdnmf_model *model);
int model_report(const mdnmf_model *model, int status, mdnmf_error *error);

/* The check functions' messages: NULL if usable, else a static message. */
const char *params_problem(const mdnmf_params *p);
const char *separator_params_problem(const mdnmf_separator_params *p);

/* Format into a caller's message buffer (NULL or size 0: nothing). */
void message_printf(char *message, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
