/* The report of `mdnmf experiment images` (see experiment.h): per part a
 * CSV of per-seed scores, a summary CSV, a figure with error bars and a grid
 * of example separations, and README.md with the setup and the tables. */
#define _POSIX_C_SOURCE 200809L

#include "experiment.h"
#include "options.h"
#include "outputs.h"
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const COMMAND = "experiment images";

/* ===================================================== exp_report */


static void join_path(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* Mean and sample standard deviation of the finite values (n = count). */
typedef struct spread {
    double mean, sd;
    int n;
} spread;

static spread spread_of(const double *values, int count)
{
    spread s = {NAN, NAN, 0};
    int64_t finite = 0;
    mdnmf_aggregate_finite(values, count, MDNMF_AGGREGATE_MEAN, &s.mean, &finite, NULL);
    s.n = (int)finite;
    if (s.n == 0) {
        return s;
    }
    double squares = 0;
    for (int i = 0; i < count; i++) {
        if (isfinite(values[i])) {
            squares += (values[i] - s.mean) * (values[i] - s.mean);
        }
    }
    s.sd = s.n > 1 ? sqrt(squares / (s.n - 1)) : 0.0;
    return s;
}

static double score_value(const exp_score *score)
{
    return score->ok ? score->median : NAN;
}

/* The per-seed medians of one cell of a part. */
static spread rich_spread(const exp_report *rp, int d, int method)
{
    double v[64];
    int n = rp->c->seeds < 64 ? rp->c->seeds : 64;
    for (int s = 0; s < n; s++) {
        v[s] = score_value(exp_rich_score(rp->c, rp->r, s, d, method));
    }
    return spread_of(v, n);
}

/* MDNMF − NMF of the rich part at the d of index `d`, over the seeds. */
static spread rich_gain_spread(const exp_report *rp, int d)
{
    double v[64];
    int n = rp->c->seeds < 64 ? rp->c->seeds : 64;
    for (int s = 0; s < n; s++) {
        v[s] = score_value(exp_rich_score(rp->c, rp->r, s, d, 1)) -
               score_value(exp_rich_score(rp->c, rp->r, s, d, 0));
    }
    return spread_of(v, n);
}

/* The rich part's MDNMF tau_A at (seed, d): --tau-a, or the one chosen
 * on validation (NaN when the choice failed). */
static double rich_tau_A(const exp_report *rp, int seed, int d)
{
    if (!rp->c->tau_auto) {
        return rp->c->tau_A;
    }
    const mdnmf_tau_auto_result *choice = exp_rich_tau(rp->c, rp->r, seed, d);
    return choice->count > 0 ? choice->chosen_tau_A : NAN;
}

static spread tau_spread(const exp_report *rp, int d, int tau)
{
    double v[64];
    int n = rp->c->seeds < 64 ? rp->c->seeds : 64;
    for (int s = 0; s < n; s++) {
        v[s] = score_value(exp_tau_score(rp->c, rp->r, s, d, tau));
    }
    return spread_of(v, n);
}

/* Poor part: the method's median, or its difference to NMF's (delta). */
static spread poor_spread(const exp_report *rp, int other, int method, int delta)
{
    double v[64];
    int n = rp->c->poor_seeds < 64 ? rp->c->poor_seeds : 64;
    for (int s = 0; s < n; s++) {
        double value = score_value(&rp->r->poor[exp_poor_index(rp->c, s, other, method)]);
        double nmf = score_value(&rp->r->poor[exp_poor_index(rp->c, s, other, 0)]);
        v[s] = delta ? value - nmf : value;
    }
    return spread_of(v, n);
}

/* "24.12 ± 0.08" (or "failed"). */
static void format_spread(char *out, size_t size, spread s, int sign)
{
    if (s.n == 0) {
        snprintf(out, size, "failed");
    } else if (s.n == 1) {
        snprintf(out, size, sign ? "%+.2f" : "%.2f", s.mean);
    } else {
        snprintf(out, size, sign ? "%+.2f ± %.2f" : "%.2f ± %.2f", s.mean, s.sd);
    }
}

/* ----------------------------------------------------- CSV files */

/* A CSV field: the message of a failure, without commas or quotes. */
static void clean_field(char *text)
{
    for (char *p = text; *p; p++) {
        if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
}

static void csv_score(FILE *out, const exp_score *score)
{
    if (score->ok) {
        fprintf(out, "%.4f,%.4f,ok,", score->median, score->mean);
    } else {
        char message[sizeof score->message];
        snprintf(message, sizeof message, "%s", score->message);
        clean_field(message);
        fprintf(out, ",,failed,%s", message);
    }
    fprintf(out, "\n");
}

typedef void (*csv_writer)(const exp_report *rp, FILE *out);

static int write_csv(const exp_report *rp, const char *name, csv_writer writer)
{
    char path[1200];
    join_path(path, sizeof path, rp->dir, name);
    cli_output output;
    if (cli_output_open(&output, COMMAND, path) != 0) {
        return -1;
    }
    writer(rp, output.stream);
    return cli_output_commit(&output, COMMAND);
}

static void write_rich_rows(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "dataset,class_a,class_b,seed,d,method,tau_A,n_train,n_test,epochs,"
                 "median_psnr,mean_psnr,status,message\n");
    for (int s = 0; s < c->seeds; s++) {
        for (int k = 0; k < c->atom_count; k++) {
            for (int m = 0; m < RICH_METHODS; m++) {
                exp_method method = exp_rich_methods[m];
                fprintf(out, "%s,%d,%d,%llu,%d,%s,%g,%lld,%lld,%d,", c->dataset, c->class_a,
                        c->class_b, (unsigned long long)(c->seed + (uint64_t)s), c->atoms[k],
                        exp_method_names[method], method == METHOD_MDNMF ? rich_tau_A(rp, s, k) : 0.0,
                        (long long)c->n_train, (long long)c->n_test,
                        method == METHOD_ENMF ? 0 : c->base.common.epochs);
                csv_score(out, exp_rich_score(c, rp->r, s, k, m));
            }
        }
    }
}

/* A number with 4 decimals, or nothing for NaN; then `end`. */
static void write_optional(FILE *out, double value, const char *end)
{
    if (isnan(value))
        fprintf(out, "%s", end);
    else
        fprintf(out, "%.4f%s", value, end);
}

/* --tau-a auto: every grid point's validation score per seed and d. */
static void write_tau_auto_rows(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "dataset,class_a,class_b,seed,d,tau_A,validation_pairs,"
                 "validation_median_psnr,status,chosen,rejected,confirm_nmf_median_psnr,"
                 "confirm_mdnmf_median_psnr\n");
    for (int s = 0; s < c->seeds; s++) {
        for (int k = 0; k < c->atom_count; k++) {
            const mdnmf_tau_auto_result *choice = exp_rich_tau(c, rp->r, s, k);
            for (int t = 0; t < choice->count; t++) {
                fprintf(out, "%s,%d,%d,%llu,%d,%g,%lld,", c->dataset, c->class_a, c->class_b,
                        (unsigned long long)(c->seed + (uint64_t)s), c->atoms[k],
                        choice->tau_A[t], (long long)choice->validation_pairs);
                if (choice->status[t] == MDNMF_OK) {
                    fprintf(out, "%.4f,ok,", choice->metric[t]);
                } else {
                    fprintf(out, ",%s,", mdnmf_strerror(choice->status[t]));
                }
                fprintf(out, "%d,%d,", t == choice->chosen,
                        choice->rejected_tau_A > 0.0 && choice->tau_A[t] == choice->rejected_tau_A);
                write_optional(out, choice->confirm_metric[0], ",");
                write_optional(out, choice->confirm_metric[1], "\n");
            }
        }
    }
}

static void write_rich_summary(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "d,method,seeds,mean_median_psnr,sd_median_psnr\n");
    for (int k = 0; k < c->atom_count; k++) {
        for (int m = 0; m < RICH_METHODS; m++) {
            spread s = rich_spread(rp, k, m);
            fprintf(out, "%d,%s,%d,%.4f,%.4f\n", c->atoms[k], exp_method_names[exp_rich_methods[m]],
                    s.n, s.mean, s.sd);
        }
    }
}

static void write_tau_rows(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "dataset,class_a,class_b,seed,d,tau_A,method,n_train,n_test,epochs,"
                 "median_psnr,mean_psnr,status,message\n");
    for (int s = 0; s < c->seeds; s++) {
        for (int k = 0; k < c->tau_atom_count; k++) {
            for (int t = 0; t < c->tau_count; t++) {
                fprintf(out, "%s,%d,%d,%llu,%d,%g,%s,%lld,%lld,%d,", c->dataset, c->class_a,
                        c->class_b, (unsigned long long)(c->seed + (uint64_t)s),
                        c->tau_atoms[k], c->taus[t], t == 0 ? "NMF" : "MDNMF",
                        (long long)c->n_train, (long long)c->n_test, c->base.common.epochs);
                csv_score(out, exp_tau_score(c, rp->r, s, k, t));
            }
        }
    }
}

static void write_tau_summary(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "d,tau_A,seeds,mean_median_psnr,sd_median_psnr\n");
    for (int k = 0; k < c->tau_atom_count; k++) {
        for (int t = 0; t < c->tau_count; t++) {
            spread s = tau_spread(rp, k, t);
            fprintf(out, "%d,%g,%d,%.4f,%.4f\n", c->tau_atoms[k], c->taus[t], s.n, s.mean, s.sd);
        }
    }
}

static const char *const TRUE_SAMPLE_NAMES[] = {"std", "adv", "min"};

static void write_poor_rows(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "dataset,anchor,other,seed,method,d,n_weak,n_pairs,n_test,validation_psnr,"
                 "normalize,mu_W,mu_H,epochs,test_epochs,batch_size,batch_size_adv,"
                 "batch_size_sup,true_sample,tau_A,tau_S,median_psnr,mean_psnr,status,message\n");
    for (int s = 0; s < c->poor_seeds; s++) {
        for (int k = 0; k < c->poor_other_count; k++) {
            for (int m = 0; m < POOR_METHODS; m++) {
                int64_t i = exp_poor_index(c, s, k, m);
                const exp_draw *d = &rp->r->poor_draw[i];
                exp_method method = exp_poor_methods[m];
                int adversarial = method == METHOD_MDNMF || method == METHOD_DMDNMF;
                fprintf(out, "%s,%d,%d,%llu,%s,%d,%lld,%lld,%lld,", c->dataset, c->anchor,
                        c->poor_others[k], (unsigned long long)(c->seed + (uint64_t)s),
                        exp_method_names[method], c->poor_d, (long long)c->poor_weak,
                        (long long)c->poor_sup, (long long)rp->r->poor_test_count[k]);
                if (rp->r->poor[i].ok) {
                    fprintf(out, "%.4f,%d,%.3e,%.3e,%d,%d,%lld,%lld,%lld,%s,%.4f,%.4f,",
                            d->validation, d->normalize, d->mu_W, d->mu_H, d->epochs,
                            d->test_epochs, (long long)d->batch, (long long)d->batch_adv,
                            (long long)d->batch_sup, TRUE_SAMPLE_NAMES[d->true_sample],
                            adversarial ? d->tau_A : 0.0,
                            method == METHOD_DMDNMF ? d->tau_S : 0.0);
                } else {
                    fprintf(out, ",,,,,,,,,,,,");
                }
                csv_score(out, &rp->r->poor[i]);
            }
        }
    }
}

static void write_poor_summary(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "anchor,other,method,seeds,mean_median_psnr,sd_median_psnr,"
                 "mean_delta_vs_nmf,sd_delta_vs_nmf\n");
    for (int k = 0; k < c->poor_other_count; k++) {
        for (int m = 0; m < POOR_METHODS; m++) {
            spread s = poor_spread(rp, k, m, 0), delta = poor_spread(rp, k, m, 1);
            fprintf(out, "%d,%d,%s,%d,%.4f,%.4f,%.4f,%.4f\n", c->anchor, c->poor_others[k],
                    exp_method_names[exp_poor_methods[m]], s.n, s.mean, s.sd, delta.mean,
                    delta.sd);
        }
    }
}

/* ----------------------------------------------------- figures */

static const char *dataset_title(const exp_config *c)
{
    return strcmp(c->dataset, "mnist") == 0 ? "MNIST" : "Fashion-MNIST";
}

static int plot_rich(const exp_report *rp)
{
    const exp_config *c = rp->c;
    double x[EXP_MAX_ATOMS], y[RICH_METHODS][EXP_MAX_ATOMS], err[RICH_METHODS][EXP_MAX_ATOMS];
    plot_series series[RICH_METHODS];
    for (int m = 0; m < RICH_METHODS; m++) {
        for (int k = 0; k < c->atom_count; k++) {
            spread s = rich_spread(rp, k, m);
            x[k] = c->atoms[k], y[m][k] = s.mean, err[m][k] = s.sd;
        }
        series[m] = (plot_series){exp_method_names[exp_rich_methods[m]], c->atom_count, x, y[m],
                                  err[m]};
    }
    char title[200], path[1200];
    snprintf(title, sizeof title, "Data rich: %s %d/%d (%lld pairs, %d seed%s)",
             dataset_title(c), c->class_a, c->class_b, (long long)c->n_train, c->seeds,
             c->seeds > 1 ? "s, mean ± sd" : "");
    plot_axes axes = {.title = title, .x_label = "atoms per source d",
                      .y_label = "median PSNR (dB)", .log2_x = 1};
    join_path(path, sizeof path, rp->dir, "rich.png");
    return plot_lines_png(COMMAND, path, &axes, series, RICH_METHODS);
}

static int plot_tau(const exp_report *rp)
{
    const exp_config *c = rp->c;
    double y[EXP_MAX_ATOMS][EXP_MAX_TAUS], err[EXP_MAX_ATOMS][EXP_MAX_TAUS];
    char labels[EXP_MAX_ATOMS][32];
    plot_series series[EXP_MAX_ATOMS];
    for (int k = 0; k < c->tau_atom_count; k++) {
        for (int t = 0; t < c->tau_count; t++) {
            spread s = tau_spread(rp, k, t);
            y[k][t] = s.mean, err[k][t] = s.sd;
        }
        snprintf(labels[k], sizeof labels[k], "d = %d", c->tau_atoms[k]);
        series[k] = (plot_series){labels[k], c->tau_count, c->taus, y[k], err[k]};
    }
    char title[200], path[1200];
    snprintf(title, sizeof title, "MDNMF against τ_A: %s %d/%d (%d seed%s)", dataset_title(c),
             c->class_a, c->class_b, c->seeds, c->seeds > 1 ? "s, mean ± sd" : "");
    plot_axes axes = {.title = title, .x_label = "τ_A (0 = NMF)", .y_label = "median PSNR (dB)"};
    join_path(path, sizeof path, rp->dir, "tau.png");
    return plot_lines_png(COMMAND, path, &axes, series, c->tau_atom_count);
}

static int plot_poor(const exp_report *rp)
{
    const exp_config *c = rp->c;
    double x[EXP_MAX_CLASSES], y[POOR_METHODS][EXP_MAX_CLASSES],
        err[POOR_METHODS][EXP_MAX_CLASSES];
    char tick_text[EXP_MAX_CLASSES][16];
    const char *ticks[EXP_MAX_CLASSES];
    plot_series series[POOR_METHODS];
    for (int k = 0; k < c->poor_other_count; k++) {
        x[k] = k;
        snprintf(tick_text[k], sizeof tick_text[k], "%d", c->poor_others[k]);
        ticks[k] = tick_text[k];
    }
    for (int m = 0; m < POOR_METHODS; m++) {
        for (int k = 0; k < c->poor_other_count; k++) {
            spread s = poor_spread(rp, k, m, 1);
            y[m][k] = s.mean, err[m][k] = s.sd;
        }
        series[m] = (plot_series){exp_method_names[exp_poor_methods[m]], c->poor_other_count, x,
                                  y[m], err[m]};
    }
    char title[200], x_label[120], path[1200];
    snprintf(title, sizeof title, "Data poor: %s, class %d against each other class (%d seed%s)",
             dataset_title(c), c->anchor, c->poor_seeds, c->poor_seeds > 1 ? "s, mean ± sd" : "");
    snprintf(x_label, sizeof x_label, "class mixed with class %d", c->anchor);
    plot_axes axes = {.title = title, .x_label = x_label,
                      .y_label = "median PSNR − NMF's (dB)", .x_ticks = x,
                      .x_tick_labels = ticks, .x_tick_count = c->poor_other_count,
                      .zero_line = 1, .width = 900};
    join_path(path, sizeof path, rp->dir, "poor.png");
    return plot_lines_png(COMMAND, path, &axes, series, POOR_METHODS);
}

/* The example grid of a part: per row the mixture, the two true sources,
 * then each column's two estimates with their PSNR. */
static int plot_examples(const exp_report *rp, const exp_examples *e, const char *name,
                         const char *title, const char *const *source_names,
                         const char *const *column_names, const char *const *row_labels,
                         int scale)
{
    int cols = 3 + 2 * e->columns;
    int64_t m = 784, cells = (int64_t)e->count * cols;
    const float **images = calloc((size_t)cells, sizeof *images);
    const char **captions = calloc((size_t)cells, sizeof *captions);
    char (*caption_text)[16] = calloc((size_t)cells, sizeof *caption_text);
    char (*header_text)[48] = calloc((size_t)cols, sizeof *header_text);
    const char **headers = calloc((size_t)cols, sizeof *headers);
    int status = -1;
    if (images && captions && caption_text && header_text && headers) {
        snprintf(header_text[0], sizeof header_text[0], "mixture");
        snprintf(header_text[1], sizeof header_text[1], "true %s", source_names[0]);
        snprintf(header_text[2], sizeof header_text[2], "true %s", source_names[1]);
        for (int k = 0; k < e->columns; k++) {
            for (int s = 0; s < 2; s++) {
                snprintf(header_text[3 + 2 * k + s], sizeof header_text[0], "%s\n%s",
                         column_names[k], source_names[s]);
            }
        }
        for (int c = 0; c < cols; c++) {
            headers[c] = header_text[c];
        }
        for (int r = 0; r < e->count; r++) {
            images[r * cols] = e->mixture + r * m;
            images[r * cols + 1] = e->truth + (r * 2) * m;
            images[r * cols + 2] = e->truth + (r * 2 + 1) * m;
            for (int k = 0; k < e->columns; k++) {
                for (int s = 0; s < 2; s++) {
                    int64_t cell = ((int64_t)r * e->columns + k) * 2 + s;
                    int64_t at = (int64_t)r * cols + 3 + 2 * k + s;
                    images[at] = e->estimate + cell * m;
                    snprintf(caption_text[at], sizeof caption_text[at], "%.1f", e->psnr[cell]);
                    captions[at] = caption_text[at];
                }
            }
        }
        plot_grid grid = {.title = title, .rows = e->count, .cols = cols, .width = 28,
                          .height = 28, .scale = scale, .column_labels = headers,
                          .row_labels = row_labels, .cells = images, .captions = captions};
        char path[1200];
        join_path(path, sizeof path, rp->dir, name);
        status = plot_grid_png(COMMAND, path, &grid);
    } else {
        cli_error(COMMAND, "out of memory");
    }
    free(images), free(captions), free(caption_text), free(header_text), free(headers);
    return status;
}

static int plot_all_examples(const exp_report *rp)
{
    const exp_config *c = rp->c;
    exp_results *r = rp->r;
    char title[240], truth_text[2][32];
    const char *truth[2] = {truth_text[0], truth_text[1]};
    snprintf(truth_text[0], sizeof truth_text[0], "%d", c->class_a);
    snprintf(truth_text[1], sizeof truth_text[1], "%d", c->class_b);
    int status = 0;
    if (!status && (c->parts & PART_RICH)) {
        const char *names[RICH_METHODS];
        for (int m = 0; m < RICH_METHODS; m++) {
            names[m] = exp_method_names[exp_rich_methods[m]];
        }
        snprintf(title, sizeof title, "Data rich, d = %d: the first test mixtures of seed %llu, "
                 "each method's two estimates (PSNR in dB)", c->example_d,
                 (unsigned long long)c->seed);
        status = plot_examples(rp, &r->rich_examples, "rich-examples.png", title, truth, names,
                               NULL, 3);
    }
    if (!status && (c->parts & PART_TAU)) {
        char text[EXP_MAX_TAUS][24];
        const char *names[EXP_MAX_TAUS];
        for (int t = 0; t < c->tau_count; t++) {
            snprintf(text[t], sizeof text[t], "τ_A %g", c->taus[t]);
            names[t] = text[t];
        }
        snprintf(title, sizeof title, "MDNMF against τ_A, d = %d: the first test mixtures of "
                 "seed %llu", c->tau_example_d, (unsigned long long)c->seed);
        status = plot_examples(rp, &r->tau_examples, "tau-examples.png", title, truth, names,
                               NULL, 2);
    }
    if (!status && (c->parts & PART_POOR)) {
        const char *names[POOR_METHODS], *rows[EXP_MAX_CLASSES];
        char row_text[EXP_MAX_CLASSES][24];
        for (int m = 0; m < POOR_METHODS; m++) {
            names[m] = exp_method_names[exp_poor_methods[m]];
        }
        for (int k = 0; k < c->poor_other_count; k++) {
            snprintf(row_text[k], sizeof row_text[k], "%d + %d", c->anchor, c->poor_others[k]);
            rows[k] = row_text[k];
        }
        snprintf(title, sizeof title, "Data poor: the first test mixture of each pair, seed %llu",
                 (unsigned long long)c->seed);
        snprintf(truth_text[0], sizeof truth_text[0], "%d", c->anchor);
        snprintf(truth_text[1], sizeof truth_text[1], "other");
        status = plot_examples(rp, &r->poor_examples, "poor-examples.png", title, truth, names,
                               rows, 2);
    }
    return status;
}

/* ----------------------------------------------------- tables */

static void table_rich(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "| d |");
    for (int m = 0; m < RICH_METHODS; m++) {
        fprintf(out, " %s |", exp_method_names[exp_rich_methods[m]]);
    }
    fprintf(out, "\n| --- |");
    for (int m = 0; m < RICH_METHODS; m++) {
        fprintf(out, " --- |");
    }
    fprintf(out, "\n");
    for (int k = 0; k < c->atom_count; k++) {
        fprintf(out, "| %d |", c->atoms[k]);
        for (int m = 0; m < RICH_METHODS; m++) {
            char cell[64];
            format_spread(cell, sizeof cell, rich_spread(rp, k, m), 0);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, "\n");
    }
}

/* --tau-a auto: the tau_A chosen per seed and d, and MDNMF's gain. */
static void table_tau_choice(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "| d |");
    for (int s = 0; s < c->seeds; s++) {
        fprintf(out, " τ_A, seed %llu |", (unsigned long long)(c->seed + (uint64_t)s));
    }
    fprintf(out, " MDNMF − NMF |\n| --- |");
    for (int s = 0; s <= c->seeds; s++) {
        fprintf(out, " ---: |");
    }
    fprintf(out, "\n");
    for (int k = 0; k < c->atom_count; k++) {
        fprintf(out, "| %d |", c->atoms[k]);
        for (int s = 0; s < c->seeds; s++) {
            double tau_A = rich_tau_A(rp, s, k);
            double rejected = exp_rich_tau(c, rp->r, s, k)->rejected_tau_A;
            if (isnan(tau_A)) {
                fprintf(out, " failed |");
            } else if (rejected > 0.0) {
                fprintf(out, " %g (%g rejected) |", tau_A, rejected);
            } else {
                fprintf(out, " %g |", tau_A);
            }
        }
        char cell[64];
        format_spread(cell, sizeof cell, rich_gain_spread(rp, k), 1);
        fprintf(out, " %s |\n", cell);
    }
}

static void table_tau(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "| τ_A |");
    for (int k = 0; k < c->tau_atom_count; k++) {
        fprintf(out, " d = %d |", c->tau_atoms[k]);
    }
    fprintf(out, "\n| --- |");
    for (int k = 0; k < c->tau_atom_count; k++) {
        fprintf(out, " --- |");
    }
    fprintf(out, "\n");
    for (int t = 0; t < c->tau_count; t++) {
        fprintf(out, "| %g%s |", c->taus[t], t == 0 ? " (NMF)" : "");
        for (int k = 0; k < c->tau_atom_count; k++) {
            char cell[64];
            format_spread(cell, sizeof cell, tau_spread(rp, k, t), 0);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, "\n");
    }
}

static void table_poor(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "| %d + | NMF | MDNMF − NMF | DNMF − NMF | D+MDNMF − NMF |\n"
                 "| --- | --- | --- | --- | --- |\n", c->anchor);
    for (int k = 0; k < c->poor_other_count; k++) {
        fprintf(out, "| %d |", c->poor_others[k]);
        for (int m = 0; m < POOR_METHODS; m++) {
            char cell[64];
            format_spread(cell, sizeof cell, poor_spread(rp, k, m, m > 0), m > 0);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, "\n");
    }
}

void exp_print_tables(const exp_report *rp, FILE *out, const char *heading)
{
    const exp_config *c = rp->c;
    if (c->parts & PART_RICH) {
        fprintf(out, "%s(a) Data rich: median PSNR (dB) against d, %s %d/%d\n\n", heading,
                dataset_title(c), c->class_a, c->class_b);
        table_rich(rp, out);
        fprintf(out, "\n");
        if (c->tau_auto) {
            fprintf(out, "%sMDNMF's τ_A chosen on validation pairs (per seed) and MDNMF − NMF, "
                    "%s %d/%d\n\n", heading, dataset_title(c), c->class_a, c->class_b);
            table_tau_choice(rp, out);
            fprintf(out, "\n");
        }
    }
    if (c->parts & PART_TAU) {
        fprintf(out, "%s(b) MDNMF against τ_A: median PSNR (dB), %s %d/%d\n\n", heading,
                dataset_title(c), c->class_a, c->class_b);
        table_tau(rp, out);
        fprintf(out, "\n");
    }
    if (c->parts & PART_POOR) {
        fprintf(out, "%s(c) Data poor: median PSNR (dB) of NMF and each method's gain over it, "
                "%s class %d against each other class\n\n", heading, dataset_title(c),
                c->anchor);
        table_poor(rp, out);
        fprintf(out, "\n");
    }
}

/* ----------------------------------------------------- README.md */

/* --tau-a auto: how the rich part's tau_A was chosen. */
static void describe_tau_auto(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    const mdnmf_tau_auto_result *first = exp_rich_tau(c, rp->r, 0, 0);
    fprintf(out, "**τ_A chosen on validation data (`--tau-a auto`)**, per seed and d: %lld of the "
            "seed's %lld training pairs (--validation-fraction %g, a seeded draw, the same for "
            "every d) are held out as validation pairs; NMF and MDNMF at every τ_A of the grid",
            (long long)first->validation_pairs, (long long)c->n_train, c->validation_fraction);
    for (int t = 0; t < first->count; t++) {
        fprintf(out, "%s%g", t ? ", " : " ", first->tau_A[t]);
    }
    fprintf(out, " (warm-started from that NMF) are fitted on the other training pairs as above "
            "and scored on the validation pairs (median PSNR); τ_A = 0 is that NMF itself.  ");
    if (c->tau_margin > 0.0)
        fprintf(out, "Walking up the grid from τ_A = 0, a τ_A replaces the one chosen so far only "
                "when its validation score is higher and, per validation pair, its PSNR (mean "
                "over sources) minus the chosen one's has a mean above %g standard error%s of "
                "those differences (--tau-margin), ",
                c->tau_margin, c->tau_margin == 1.0 ? "" : "s");
    else
        fprintf(out, "The best τ_A is chosen (a τ_A > 0 only when it beats τ_A = 0; ties go to "
                "the smaller; --tau-margin 0), ");
    fprintf(out, "then MDNMF is fitted with it on all training pairs from the NMF of the table, and "
            "with τ_A = 0 the MDNMF column is that NMF.  ");
    if (c->tau_confirm)
        fprintf(out, "That refit is kept only when it separates the training pairs (which it "
                "has seen) better than the NMF does (median PSNR); otherwise the MDNMF column "
                "is the NMF and the table shows the τ_A as rejected (--no-tau-confirm keeps "
                "it).  ");
    fprintf(out, "The test mixtures play no part in the choice.  Every grid point's validation "
            "score and the confirmation's scores: `tau-auto.csv`.\n\n");
}

static void describe_setup(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    const mdnmf_separator_params *p = &c->base;
    int minutes = (int)(rp->seconds / 60), seconds = (int)rp->seconds % 60;
    if (strcmp(c->preset, "scaled") == 0) {
        fprintf(out, "**Scaled run (the default)**: sized to finish in about 10 minutes on 2 "
                "cores (this one took %d min %02d s with %d worker thread%s). `--full` runs the "
                "paper's sizes: 5 seeds, d up to 512, 5000 training pairs and 1000 test "
                "mixtures where the data has them.\n\n", minutes, seconds, c->threads,
                c->threads > 1 ? "s" : "");
    } else {
        fprintf(out, "**%s run** (took %d min %02d s with %d worker thread%s).\n\n",
                strcmp(c->preset, "full") == 0 ? "Full (`--full`)" : "Tiny (`--tiny`, a smoke test)",
                minutes, seconds, c->threads, c->threads > 1 ? "s" : "");
    }
    fprintf(out, "Command: `%s`\n\nData: %s.\n\n", rp->command_line, rp->source);
    fprintf(out, "Time spent in each part, summed over the workers:");
    static const char *const part_names[3] = {"rich", "τ_A", "poor"};
    for (int k = 0, shown = 0; k < 3; k++) {
        if (c->parts & (1 << k)) {
            fprintf(out, "%s %s %.0f s", shown++ ? "," : "", part_names[k], rp->r->seconds[k]);
        }
    }
    fprintf(out, ".\n\n");
    fprintf(out, "Every seed draws its own disjoint split of the images (SPEC §8): training pairs "
            "and test mixtures of images never seen in training, weights 1/2 (deterministic); the "
            "truth of a source is its weighted image.  A score is the median over test mixtures "
            "of the mean PSNR over the two sources (peak = the true source's maximum, SPEC §9); "
            "tables give the mean ± sample standard deviation of that median over the seeds "
            "(%d for the rich and τ_A parts, %d for the poor part; seeds %llu, %llu, ...), and "
            "the figures' error bars are ± one standard deviation.\n\n",
            c->seeds, c->poor_seeds, (unsigned long long)c->seed,
            (unsigned long long)(c->seed + 1));
    if (c->parts & (PART_RICH | PART_TAU)) {
        fprintf(out, "Rich and τ_A parts: %lld training pairs and %lld test mixtures per seed; "
                "NMF (mode std) and ENMF (exem) learn from the pairs' clean sources, MDNMF (adv, "
                "warm-started from the NMF bases) against the other source and the training "
                "mixtures (SPEC §4, β = 1), DNMF (sup, warm-started from the NMF bases) from the "
                "pairs.  %d epochs, %d test epochs, batch %lld, adversarial batch %lld, paired "
                "batch %lld, μ_W = %g, μ_H = %g, unit-norm atoms, exemplar initialisation, "
                "Wiener filtering; MDNMF's τ_A = %g in the rich part.\n\n",
                (long long)c->n_train, (long long)c->n_test, p->common.epochs,
                p->common.test_epochs, (long long)p->common.batch_size,
                (long long)p->common.batch_size_adv, (long long)p->batch_size_sup, p->common.mu_W,
                p->mu_H[0], c->tau_A);
    }
    if ((c->parts & PART_RICH) && c->tau_auto) {
        describe_tau_auto(rp, out);
    }
    if (c->parts & PART_POOR) {
        const exp_search_space *s = &c->space;
        fprintf(out, "Poor part: per pair (class %d + another) %lld clean images per class (weak "
                "supervision), %lld pairs (strong supervision) and up to %lld test mixtures, d = "
                "%d per source.  A random search of %d draws per method picks epochs in 1..%d, "
                "test epochs in %d..%d, batch %lld or %lld, adversarial batch %lld or %lld, "
                "paired batch %lld, μ_W and μ_H log-uniform in [1e%g, 1e%g], normalisation on or "
                "off, τ_A uniform in [0, %g] (MDNMF, D+MDNMF), τ_S in [0, %g] (D+MDNMF).  NMF and "
                "MDNMF train on the weak sets and are scored on the pairs; DNMF and D+MDNMF are "
                "scored by %d-fold cross-validation over the pairs and the best draw is refitted "
                "on all of them; MDNMF, DNMF and D+MDNMF start from the tuned NMF's bases.  The "
                "search is this command's own loop (`experiments/experiment_search.c`).\n\n",
                c->anchor, (long long)c->poor_weak, (long long)c->poor_sup,
                (long long)c->poor_test, c->poor_d, c->draws, s->epochs_max, s->test_epochs_min,
                s->test_epochs_max, (long long)s->batch[0], (long long)s->batch[1],
                (long long)s->batch_adv[0], (long long)s->batch_adv[1], (long long)s->batch_sup,
                s->log10_mu_min, s->log10_mu_max, s->tau_A_max, s->tau_S_max, c->folds);
    }
}

static void readme_figures(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    if (c->parts & PART_RICH) {
        fprintf(out, "![data rich](rich.png)\n\n![data rich examples](rich-examples.png)\n\n");
    }
    if (c->parts & PART_TAU) {
        fprintf(out, "![tau sweep](tau.png)\n\n![tau examples](tau-examples.png)\n\n");
    }
    if (c->parts & PART_POOR) {
        fprintf(out, "![data poor](poor.png)\n\n![data poor examples](poor-examples.png)\n\n");
    }
    fprintf(out, "Files: ");
    if (c->parts & PART_RICH) fprintf(out, "`rich.csv` (per seed), `rich-summary.csv`, ");
    if ((c->parts & PART_RICH) && c->tau_auto) fprintf(out, "`tau-auto.csv`, ");
    if (c->parts & PART_TAU) fprintf(out, "`tau.csv`, `tau-summary.csv`, ");
    if (c->parts & PART_POOR) fprintf(out, "`poor.csv` (with each search's chosen parameters), "
                                           "`poor-summary.csv`, ");
    fprintf(out, "and the figures above.\n");
}

/* Failed fits (e.g. MDNMF diverging at a large τ_A), listed once each. */
static void readme_failures(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    int listed = 0;
    for (int s = 0; (c->parts & PART_TAU) && s < c->seeds; s++) {
        for (int k = 0; k < c->tau_atom_count; k++) {
            for (int t = 0; t < c->tau_count; t++) {
                const exp_score *score = exp_tau_score(c, rp->r, s, k, t);
                if (!score->ok) {
                    fprintf(out, "%s- τ_A part, seed %d, d = %d, τ_A = %g: %s\n",
                            listed++ ? "" : "Failed fits (left out of the means):\n\n", s + 1,
                            c->tau_atoms[k], c->taus[t], score->message);
                }
            }
        }
    }
    for (int s = 0; (c->parts & PART_RICH) && s < c->seeds; s++) {
        for (int k = 0; k < c->atom_count; k++) {
            for (int m = 0; m < RICH_METHODS; m++) {
                const exp_score *score = exp_rich_score(c, rp->r, s, k, m);
                if (!score->ok) {
                    fprintf(out, "%s- rich part, seed %d, d = %d, %s: %s\n",
                            listed++ ? "" : "Failed fits (left out of the means):\n\n", s + 1,
                            c->atoms[k], exp_method_names[exp_rich_methods[m]], score->message);
                }
            }
        }
    }
    for (int64_t i = 0; (c->parts & PART_POOR) && i < (int64_t)c->poor_seeds * c->poor_other_count *
                                                        POOR_METHODS; i++) {
        if (!rp->r->poor[i].ok) {
            fprintf(out, "%s- poor part, seed %lld, pair %d + %d, %s: %s\n",
                    listed++ ? "" : "Failed fits (left out of the means):\n\n",
                    (long long)(i / (c->poor_other_count * POOR_METHODS) + 1), c->anchor,
                    c->poor_others[(i / POOR_METHODS) % c->poor_other_count],
                    exp_method_names[exp_poor_methods[i % POOR_METHODS]], rp->r->poor[i].message);
        }
    }
    if (listed) {
        fprintf(out, "\n");
    }
}

static void write_readme_body(const exp_report *rp, FILE *out)
{
    const exp_config *c = rp->c;
    fprintf(out, "# mdnmf experiment images: %s", dataset_title(c));
    if (c->parts & (PART_RICH | PART_TAU)) {
        fprintf(out, " %d/%d", c->class_a, c->class_b);
    }
    fprintf(out, "\n\n");
    describe_setup(rp, out);
    exp_print_tables(rp, out, "## ");
    readme_failures(rp, out);
    readme_figures(rp, out);
}

static int write_readme(const exp_report *rp)
{
    char path[1200];
    join_path(path, sizeof path, rp->dir, "README.md");
    cli_output output;
    if (cli_output_open(&output, COMMAND, path) != 0) {
        return -1;
    }
    write_readme_body(rp, output.stream);
    return cli_output_commit(&output, COMMAND);
}

int exp_write_report(const exp_report *rp)
{
    const exp_config *c = rp->c;
    int status = 0;
    if (c->parts & PART_RICH) {
        status = status || write_csv(rp, "rich.csv", write_rich_rows) ||
                 write_csv(rp, "rich-summary.csv", write_rich_summary) || plot_rich(rp);
        if (c->tau_auto) {
            status = status || write_csv(rp, "tau-auto.csv", write_tau_auto_rows);
        }
    }
    if (c->parts & PART_TAU) {
        status = status || write_csv(rp, "tau.csv", write_tau_rows) ||
                 write_csv(rp, "tau-summary.csv", write_tau_summary) || plot_tau(rp);
    }
    if (c->parts & PART_POOR) {
        status = status || write_csv(rp, "poor.csv", write_poor_rows) ||
                 write_csv(rp, "poor-summary.csv", write_poor_summary) || plot_poor(rp);
    }
    status = status || plot_all_examples(rp) || write_readme(rp);
    return status ? -1 : 0;
}

