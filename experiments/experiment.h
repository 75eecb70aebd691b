/* `mdnmf experiment images`: the paper's image experiments on MNIST or
 * Fashion-MNIST classes (SPEC §8, §9, §10), part of the experiments program
 * (main.c).  experiment.c reads the command line and the data and writes
 * the report; experiment_images.c builds the seeded splits, runs the
 * separators through the library and collects the scores;
 * experiment_search.c holds the data-poor random search;
 * experiment_report.c writes the report. */
#ifndef MDNMF_EXPERIMENTS_EXPERIMENT_H
#define MDNMF_EXPERIMENTS_EXPERIMENT_H

#include "mdnmf.h"

#include <stdint.h>
#include <stdio.h>

/* The subcommand: argv[0] is "images"; returns the exit code (options.h). */
int cli_experiment_images(int argc, char **argv);

/* Its one-line summary, for `mdnmf experiment --help`. */
extern const char cli_experiment_images_summary[];

enum { EXP_MAX_ATOMS = 8, EXP_MAX_TAUS = 8, EXP_MAX_CLASSES = 10, EXP_EXAMPLES = 4 };

/* The parts of the experiment (bit mask). */
enum { PART_RICH = 1, PART_TAU = 2, PART_POOR = 4 };

/* The methods, in the order of the tables and figures. */
typedef enum exp_method {
    METHOD_NMF = 0, /* separator mode std */
    METHOD_MDNMF,   /* adv, warm-started from the NMF bases */
    METHOD_DNMF,    /* sup, warm-started from the NMF bases */
    METHOD_ENMF,    /* exem */
    METHOD_DMDNMF,  /* full (D+MDNMF), warm-started from the NMF bases */
    METHOD_COUNT
} exp_method;

extern const char *const exp_method_names[METHOD_COUNT]; /* "NMF", "MDNMF", ... */

/* Methods of each part. */
enum { RICH_METHODS = 4, POOR_METHODS = 4 };
extern const exp_method exp_rich_methods[RICH_METHODS]; /* NMF MDNMF DNMF ENMF */
extern const exp_method exp_poor_methods[POOR_METHODS]; /* NMF MDNMF DNMF D+MDNMF */

/* The images of one class: a pool to train from and a pool to test on.
 * When both are the same matrix (MNIST here: one file per digit) every
 * split draws training and test images disjointly from it. */
typedef struct exp_class {
    int label;
    mdnmf_matrix train; /* m x n_train_pool */
    mdnmf_matrix test;  /* m x n_test_pool; test.data == NULL: the train pool */
} exp_class;

/* The data-poor search: what a random draw may take (SPEC §10). */
typedef struct exp_search_space {
    int epochs_max;                     /* epochs ~ U{1..epochs_max} */
    int test_epochs_min, test_epochs_max;
    int64_t batch[2], batch_adv[2];     /* choices */
    int64_t batch_sup;
    double log10_mu_min, log10_mu_max;  /* mu_W, mu_H log-uniform */
    double tau_A_max, tau_S_max;        /* uniform from 0 */
} exp_search_space;

/* Everything that defines a run. */
typedef struct exp_config {
    const char *dataset;   /* "mnist" or "fashion" */
    const char *preset;    /* "scaled", "full" or "tiny" */
    int class_a, class_b;  /* rich and tau parts */
    int anchor;            /* poor part: this class against every other */
    int parts;
    int seeds;             /* repetitions of the rich and tau parts */
    int poor_seeds;        /* repetitions of the poor part */
    uint64_t seed;         /* first seed; seed i uses seed + i */
    int threads;           /* worker threads */
    int quiet;
    const char *scratch_dir; /* folder for temporary model files (warm starts) */

    /* rich and tau: training pairs and test mixtures per seed */
    int64_t n_train, n_test;
    int atoms[EXP_MAX_ATOMS];
    int atom_count;
    int tau_atoms[EXP_MAX_ATOMS];
    int tau_atom_count;
    double taus[EXP_MAX_TAUS]; /* taus[0] = 0: the NMF itself */
    int tau_count;
    int example_d;             /* d of the rich part's example grid */
    int tau_example_d;         /* d of the tau part's example grid */
    double tau_A;              /* MDNMF's weight in the rich part */
    int tau_auto;              /* --tau-a auto: tau_A chosen per seed and d on
                                  validation pairs held out of the training pairs */
    double tau_grid[MDNMF_SEARCH_MAX_CHOICES]; /* its grid (count 0: the library's) */
    int tau_grid_count;
    double validation_fraction; /* share of the training pairs held out */
    double tau_margin;          /* mdnmf_tau_auto.margin (standard errors) */
    int tau_folds;              /* 1: one hold-out; K >= 2: mdnmf_tau_auto.pair_folds */
    int tau_confirm;            /* mdnmf_tau_auto.confirm: the refit MDNMF must separate
                                   the training pairs better than the NMF */
    mdnmf_separator_params base; /* epochs, batches, penalties, normalize */

    /* poor */
    int poor_others[EXP_MAX_CLASSES];
    int poor_other_count;
    int64_t poor_weak, poor_sup, poor_test;
    int poor_d;
    int draws;   /* random draws per method */
    int folds;   /* cross-validation folds over the pairs (DNMF, D+MDNMF) */
    exp_search_space space;
} exp_config;

/* One score: the median over test mixtures of the mean PSNR over sources. */
typedef struct exp_score {
    int ok;            /* 0: the fit failed (e.g. diverged); see message */
    double median;     /* dB */
    double mean;       /* dB, mean over mixtures (finite ones) */
    char message[256];
} exp_score;

/* Hyper-parameters a data-poor search settled on. */
typedef struct exp_draw {
    int normalize, epochs, test_epochs;
    int64_t batch, batch_adv, batch_sup;
    int true_sample;
    double mu_W, mu_H, tau_A, tau_S;
    double validation; /* the search's score of this draw (dB) */
} exp_draw;

/* Example separations kept for the grids: for EXP_EXAMPLES test mixtures
 * (or one per class in the poor part), the mixture, both true sources and
 * each method's (or tau's) two estimates, m floats each. */
typedef struct exp_examples {
    int count;     /* examples kept */
    int columns;   /* estimate pairs per example */
    float *mixture;  /* count x m */
    float *truth;    /* count x 2 x m */
    float *estimate; /* count x columns x 2 x m */
    double *psnr;    /* count x columns x 2 */
} exp_examples;

/* Results of a run, filled by exp_run. */
typedef struct exp_results {
    /* rich: [seed][d][method] */
    exp_score *rich;
    /* tau: [seed][d][tau] */
    exp_score *tau;
    /* poor: [seed][other][method] test scores and the chosen draws */
    exp_score *poor;
    exp_draw *poor_draw;
    int64_t poor_test_count[EXP_MAX_CLASSES]; /* test mixtures of each pair (seed 0) */
    exp_examples rich_examples, tau_examples, poor_examples;
    /* rich with tau_auto: [seed][d] the choice of tau_A on validation */
    mdnmf_tau_auto_result *rich_tau;
    double seconds[3]; /* work time of each part, summed over workers */
} exp_results;

static inline exp_score *exp_rich_score(const exp_config *c, exp_results *r, int seed, int d,
                                        int method)
{
    return &r->rich[((int64_t)seed * c->atom_count + d) * RICH_METHODS + method];
}
static inline mdnmf_tau_auto_result *exp_rich_tau(const exp_config *c, exp_results *r,
                                                  int seed, int d)
{
    return &r->rich_tau[(int64_t)seed * c->atom_count + d];
}
static inline exp_score *exp_tau_score(const exp_config *c, exp_results *r, int seed, int d,
                                       int tau)
{
    return &r->tau[((int64_t)seed * c->tau_atom_count + d) * c->tau_count + tau];
}
static inline int64_t exp_poor_index(const exp_config *c, int seed, int other, int method)
{
    return ((int64_t)seed * c->poor_other_count + other) * POOR_METHODS + method;
}

/* Run the parts of `config` on the classes (indexed by label; entries not
 * needed may be empty).  Progress goes to stderr unless config->quiet.
 * Returns 0; 1 when Ctrl-C stopped it (between jobs); or -1 after printing
 * one line (out of memory, a split larger than the data, a library error
 * other than a failed fit, which is a result). */
int exp_run(const exp_config *config, const exp_class *classes, exp_results *results);

void exp_results_free(exp_results *results);

/* --- experiment_report.c */

/* What a report shows: the run, its results and where it goes. */
typedef struct exp_report {
    const exp_config *c;
    exp_results *r;
    const char *dir;          /* the report folder (exists) */
    const char *command_line; /* for README.md */
    const char *source;       /* where the data came from */
    double seconds;           /* wall time of the run */
} exp_report;

/* Write the CSVs, figures and README.md; -1 after printing one line. */
int exp_write_report(const exp_report *report);

/* The summary tables (Markdown) of the parts run, each after `heading`. */
void exp_print_tables(const exp_report *report, FILE *out, const char *heading);

/* --- experiment_search.c */

/* The data of one data-poor problem (two sources): weak clean sets, paired
 * sources with their mixtures, and test mixtures. */
typedef struct exp_poor_data {
    int64_t m;
    const float *weak[2];
    int64_t n_weak;
    const float *pair_truth[2], *pair_mix;
    int64_t n_pairs;
    const float *test_truth[2], *test_mix;
    int64_t n_test;
} exp_poor_data;

/* Tune `method` by config->draws random draws (every fit warm-started
 * from the bases of `start`, the tuned NMF model, borrowed; NULL for NMF
 * itself), refit the best draw on all training data into a new model
 * returned in *best, and report the draw.  `stream` seeds the draws,
 * `fit_seed` the fits.  Returns 0, or a status with `message` set. */
int exp_search(const exp_config *config, exp_method method, const exp_poor_data *data,
               const mdnmf_model *start, uint64_t stream, uint64_t fit_seed,
               mdnmf_model **best, exp_draw *draw, char *message, size_t size);

/* --- shared helpers */

/* Score a fitted separator on test mixtures (m x n): per mixture the mean
 * PSNR over the two sources, then the median.  The estimates of the first
 * `keep` mixtures are copied to kept[s] (keep x m each, s = 0, 1) with
 * their PSNR in kept_psnr[2 * k + s].  Returns a status (message in
 * *error). */
int exp_evaluate(mdnmf_model *model, int64_t m, const float *mixtures,
                 const float *const *truth, int64_t n, exp_score *score, int keep,
                 float *const *kept, double *kept_psnr, mdnmf_error *error);

/* A fitted model written to `path` (a scratch file) and loaded back as a
 * new model: the same bases, per-atom penalties and components.  NULL on
 * failure with `message` set. */
mdnmf_model *exp_clone_model(mdnmf_model *model, const char *path, char *message,
                             size_t size);

/* Load a scratch model saved before. */
mdnmf_model *exp_load_model(const char *path, char *message, size_t size);

/* Mark a score as failed with the model's message. */
void exp_score_fail(exp_score *score, const char *what, const char *why);

#endif
