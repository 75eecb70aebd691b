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
    char error[512];
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
    float *W, *H, *H_adv;       /* results */
} basis_fit;

int fit_basis(mdnmf_model *report_to, int64_t m, basis_fit *job);

/* Parameters as a flat JSON object (malloc'ed, NUL-terminated) and back.
 * params_from_json updates `p` from the keys it knows and ignores others;
 * it returns MDNMF_OK or MDNMF_ERR_FORMAT with a message in `message`. */
char *params_to_json(const mdnmf_params *p);
int params_from_json(const char *json, size_t length, mdnmf_params *p, char *message,
                     size_t size);

/* Format into a caller's message buffer (NULL or size 0: nothing). */
void message_printf(char *message, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
