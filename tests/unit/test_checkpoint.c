/* Resumable fits (include/mdnmf.h, "Checkpoints"): a fit stopped by its
 * epoch callback at any report of any stage -- every epoch of every stage,
 * epoch 0 included -- and resumed from the checkpoint it wrote gives the
 * uninterrupted fit's model bit for bit, and its callback sees the
 * uninterrupted fit's reports (the earlier ones replayed).  Checkpoints of
 * other runs, corrupt and foreign files are refused with a message naming
 * the file and what differs. */
#define _POSIX_C_SOURCE 200809L

#include "mdnmf.h"
#include "test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

enum { M = 10, N = 36, MAX_RECORDS = 512, THREADS = 2 };

/* ------------------------------------------------------------ recording */

typedef struct recorder {
    mdnmf_progress records[MAX_RECORDS];
    int count;      /* reports seen, replayed ones included */
    int cancel_at;  /* stop at this report (0-based); -1: never */
    int replayed;   /* how many were replays */
    const char *copy_from, *copy_to; /* copy this file at every report (a crash's leftover) */
    int copy_at_epoch;
} recorder;

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return;
    FILE *out = fopen(to, "wb");
    char buffer[65536];
    size_t n;
    while (out && (n = fread(buffer, 1, sizeof buffer, in)) > 0)
        fwrite(buffer, 1, n, out);
    fclose(in);
    if (out)
        fclose(out);
}

static int record(void *user, const mdnmf_progress *progress)
{
    recorder *r = user;
    if (r->count < MAX_RECORDS)
        r->records[r->count] = *progress;
    r->replayed += progress->replayed;
    if (r->copy_from && progress->epoch == r->copy_at_epoch && !progress->replayed)
        copy_file(r->copy_from, r->copy_to);
    return r->count++ == r->cancel_at;
}

/* What a run gets besides its scenario's settings. */
typedef struct hooks {
    recorder *recorder;     /* NULL: no callback */
    const char *checkpoint, *resume;
    int every;
    int threads;
    int skip_losses;
    uint64_t seed;          /* added to the scenario's seed */
    int epochs;             /* added to the scenario's epochs */
} hooks;

static void apply_hooks(mdnmf_params *p, const hooks *h)
{
    if (h->recorder) {
        p->on_epoch = record;
        p->on_epoch_user = h->recorder;
    }
    p->checkpoint_path = h->checkpoint;
    p->resume_path = h->resume;
    p->checkpoint_every = h->every;
    p->threads = h->threads;
    p->skip_losses = h->skip_losses;
    p->seed += h->seed;
    p->epochs += h->epochs;
}

/* ------------------------------------------------------------ scenarios */

/* The divergence every scenario fits with (SPEC §11): Frobenius but in
 * test_beta_divergence_resumes_bit_identically. */
static mdnmf_divergence scenario_divergence = MDNMF_DIVERGENCE_FROBENIUS;

typedef struct data {
    float *U[3], *V, *U_sup[3], *V_sup, *U_adv, *omega;
    float *speech[2], *noisy[2];
    int64_t lengths[2];
} data;

typedef struct scenario {
    const char *name;
    int (*run)(const struct scenario *sc, const data *x, const hooks *h, mdnmf_model *model,
               mdnmf_error *error);
    mdnmf_mode mode;
    int sources, warm_start_epochs, normalize, update_H;
} scenario;

static mdnmf_params one_source_params(const scenario *sc, const hooks *h)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 3;
    p.epochs = 4;
    p.test_epochs = 3;
    p.batch_size = 8;
    p.batch_size_adv = 10;
    p.seed = 7;
    p.normalize = sc->normalize;
    p.update_H = sc->update_H;
    p.divergence = scenario_divergence;
    apply_hooks(&p, h);
    return p;
}

static int run_fit_std(const scenario *sc, const data *x, const hooks *h, mdnmf_model *model,
                       mdnmf_error *error)
{
    mdnmf_params p = one_source_params(sc, h);
    mdnmf_model_set_params(model, &p, NULL);
    return mdnmf_fit_std(model, x->U[0], M, N, error);
}

static int run_fit_adv(const scenario *sc, const data *x, const hooks *h, mdnmf_model *model,
                       mdnmf_error *error)
{
    mdnmf_params p = one_source_params(sc, h);
    p.tau_A = 0.2;
    mdnmf_model_set_params(model, &p, NULL);
    return mdnmf_fit_adv(model, x->U[0], M, N, x->U_adv, N, x->omega, error);
}

static mdnmf_separator_params separator_params(const scenario *sc, const hooks *h)
{
    mdnmf_separator_params p;
    mdnmf_separator_params_default(&p, sc->sources);
    p.mode = sc->mode;
    for (int s = 0; s < sc->sources; s++) {
        p.d[s] = 2 + s % 2;
        p.tau_A[s] = 0.1 + 0.05 * s;
    }
    p.common.epochs = 3;
    p.common.test_epochs = 3;
    p.common.batch_size = 9;
    p.common.batch_size_adv = 12;
    p.batch_size_sup = 6;
    p.warm_start_epochs = sc->warm_start_epochs;
    p.common.normalize = sc->normalize;
    p.common.update_H = sc->update_H;
    p.common.seed = 11;
    p.common.divergence = scenario_divergence;
    apply_hooks(&p.common, h);
    return p;
}

static int run_separator(const scenario *sc, const data *x, const hooks *h, mdnmf_model *model,
                         mdnmf_error *error)
{
    mdnmf_separator_params p = separator_params(sc, h);
    mdnmf_separation_data d;
    memset(&d, 0, sizeof d);
    d.m = M;
    const mdnmf_mode_info *info = mdnmf_mode_describe(sc->mode);
    for (int s = 0; s < sc->sources; s++) {
        int last = s == sc->sources - 1;
        if ((last ? info->U_last : info->U) != MDNMF_NEED_IGNORED)
            d.U[s] = x->U[s], d.n[s] = N;
        if (info->pairs != MDNMF_NEED_IGNORED)
            d.U_sup[s] = x->U_sup[s];
    }
    if (info->V != MDNMF_NEED_IGNORED)
        d.V = x->V, d.n_V = N;
    if (info->pairs != MDNMF_NEED_IGNORED)
        d.V_sup = x->V_sup, d.n_sup = N / 2;
    return mdnmf_separator_fit(model, &p, &d, error);
}

enum { RATE = 8000, N_FFT = 32, SIGNAL = 600 };

/* mdnmf_separator_fit_signals: the magnitudes are computed, then the fit. */
static int run_denoiser(const scenario *sc, const data *x, const hooks *h, mdnmf_model *model,
                        mdnmf_error *error)
{
    mdnmf_separator_params p = separator_params(sc, h);
    p.d[0] = 4, p.d[1] = 2;
    mdnmf_signal_data d;
    memset(&d, 0, sizeof d);
    d.clean[0] = (mdnmf_signals){.samples = (const float *const *)x->speech,
                                 .lengths = x->lengths, .count = 2};
    d.mixtures = (mdnmf_signals){.samples = (const float *const *)x->noisy,
                                 .lengths = x->lengths, .count = 2};
    mdnmf_audio_params audio = {.sample_rate = RATE, .n_fft = N_FFT};
    return mdnmf_separator_fit_signals(model, &p, &audio, &d, error);
}

static const scenario SCENARIOS[] = {
    {"fit std", run_fit_std, 0, 1, 0, 0, 0},
    {"fit std normalize update_H", run_fit_std, 0, 1, 0, 1, 1},
    {"fit adv", run_fit_adv, 0, 1, 0, 0, 0},
    {"fit adv update_H", run_fit_adv, 0, 1, 0, 0, 1},
    {"separator std", run_separator, MDNMF_MODE_STD, 3, 0, 1, 0},
    {"separator adv warm-up", run_separator, MDNMF_MODE_ADV, 2, 2, 0, 0},
    {"separator sup warm-up", run_separator, MDNMF_MODE_SUP, 2, 1, 0, 0},
    {"separator sup", run_separator, MDNMF_MODE_SUP, 2, 0, 1, 1},
    {"separator full warm-up", run_separator, MDNMF_MODE_FULL, 2, 1, 0, 0},
    {"separator full", run_separator, MDNMF_MODE_FULL, 3, 0, 1, 0},
    {"separator semi", run_separator, MDNMF_MODE_SEMI, 3, 0, 0, 0},
    {"separator semi_adv warm-up", run_separator, MDNMF_MODE_SEMI_ADV, 2, 1, 1, 1},
    {"denoise semi_adv", run_denoiser, MDNMF_MODE_SEMI_ADV, 2, 1, 0, 0},
};
enum { SCENARIO_COUNT = sizeof SCENARIOS / sizeof SCENARIOS[0] };

static data make_data(void)
{
    test_rng r = test_rng_make(42);
    data x;
    memset(&x, 0, sizeof x);
    for (int s = 0; s < 3; s++) {
        x.U[s] = test_random_matrix(&r, M, N, 0.0, 1.0);
        x.U_sup[s] = test_random_matrix(&r, M, N / 2, 0.0, 1.0);
    }
    x.V = test_random_matrix(&r, M, N, 0.0, 2.0);
    x.V_sup = test_random_matrix(&r, M, N / 2, 0.0, 2.0);
    x.U_adv = test_random_matrix(&r, M, N, 0.0, 1.0);
    x.omega = test_random_matrix(&r, 1, N, 0.5, 1.5);
    for (int k = 0; k < 2; k++) {
        x.lengths[k] = SIGNAL + 100 * k;
        x.speech[k] = test_random_matrix(&r, 1, x.lengths[k], -0.5, 0.5);
        x.noisy[k] = test_random_matrix(&r, 1, x.lengths[k], -0.8, 0.8);
    }
    return x;
}

static void free_data(data *x)
{
    for (int s = 0; s < 3; s++)
        free(x->U[s]), free(x->U_sup[s]);
    free(x->V), free(x->V_sup), free(x->U_adv), free(x->omega);
    for (int k = 0; k < 2; k++)
        free(x->speech[k]), free(x->noisy[k]);
}

/* ------------------------------------------------------------ running */

typedef struct fixture {
    data x;
    char folder[64];
    char path[128], other[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->x = make_data();
    snprintf(f->folder, sizeof f->folder, "/tmp/mdnmf-checkpoint-XXXXXX");
    if (!mkdtemp(f->folder))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/fit.ckpt.npz", f->folder);
    snprintf(f->other, sizeof f->other, "%s/copy.ckpt.npz", f->folder);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    unlink(f->other);
    rmdir(f->folder);
    free_data(&f->x);
    free(f);
    return 0;
}

static mdnmf_model *empty_model(void)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 1;
    return mdnmf_model_create(&p, NULL);
}

/* A run's basis (malloc'ed copy), its status and its error. */
typedef struct outcome {
    int status;
    mdnmf_error error;
    float *W;
    int64_t count;
} outcome;

static outcome run(const scenario *sc, const data *x, const hooks *h)
{
    outcome o = {0};
    mdnmf_model *model = empty_model();
    o.status = sc->run(sc, x, h, model, &o.error);
    int64_t m = 0, d = 0;
    mdnmf_model_shape(model, &m, &d);
    if (o.status == MDNMF_OK) {
        o.count = m * d;
        o.W = test_copy(mdnmf_model_basis(model), m * d);
    }
    mdnmf_model_destroy(model);
    return o;
}

static void assert_same_records(const recorder *a, const recorder *b)
{
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count && i < MAX_RECORDS; i++) {
        const mdnmf_progress *x = &a->records[i], *y = &b->records[i];
        assert_int_equal(x->stage, y->stage);
        assert_int_equal(x->stages, y->stages);
        assert_int_equal(x->epoch, y->epoch);
        assert_int_equal(x->epochs, y->epochs);
        /* Bit for bit, NaN (skip_losses) included. */
        assert_memory_equal(&x->loss_true, &y->loss_true, sizeof(double));
        assert_memory_equal(&x->loss_adv, &y->loss_adv, sizeof(double));
        assert_memory_equal(&x->objective, &y->objective, sizeof(double));
    }
}

static void assert_same_basis(const outcome *a, const outcome *b, const char *name, int cut)
{
    if (a->count != b->count || memcmp(a->W, b->W, (size_t)a->count * sizeof(float)) != 0)
        fail_msg("%s: stopped at report %d and resumed: another basis", name, cut);
}

/* Stop at report `cut`, resume from the checkpoint: the uninterrupted run's
 * basis and reports. */
static void check_resume_at(fixture *f, const scenario *sc, const outcome *reference,
                            const recorder *reports, int cut, int skip_losses)
{
    recorder *stopped = calloc(1, sizeof *stopped), *resumed = calloc(1, sizeof *resumed);
    stopped->cancel_at = cut;
    resumed->cancel_at = -1;
    hooks first = {.recorder = stopped, .checkpoint = f->path, .threads = THREADS,
                   .skip_losses = skip_losses};
    unlink(f->path);
    outcome o = run(sc, &f->x, &first);
    if (o.status != MDNMF_ERR_CANCELLED)
        fail_msg("%s: stop at report %d: status %d (%s)", sc->name, cut, o.status,
                 o.error.message);
    assert_int_equal(access(f->path, R_OK), 0);
    hooks second = {.recorder = resumed, .checkpoint = f->path, .resume = f->path,
                    .threads = THREADS, .skip_losses = skip_losses};
    outcome r = run(sc, &f->x, &second);
    if (r.status != MDNMF_OK)
        fail_msg("%s: resume after report %d: %s", sc->name, cut, r.error.message);
    assert_same_basis(reference, &r, sc->name, cut);
    assert_same_records(reports, resumed);
    /* Replayed: the reports before the stop, or before its stage when it
     * stopped at an epoch 0 (the stage is re-run from its start). */
    int stage_start = cut;
    while (stage_start > 0 &&
           reports->records[stage_start - 1].stage == reports->records[cut].stage)
        stage_start--;
    if (reports->records[cut].epoch == 0)
        assert_int_equal(resumed->replayed, stage_start);
    else
        assert_true(resumed->replayed >= cut + 1);
    free(o.W), free(r.W), free(stopped), free(resumed);
}

static void check_scenario(fixture *f, const scenario *sc, int skip_losses)
{
    hooks plain = {.threads = THREADS};
    outcome reference = run(sc, &f->x, &plain);
    if (reference.status != MDNMF_OK)
        fail_msg("%s: %s", sc->name, reference.error.message);
    /* The reports of an uninterrupted run (computing them changes nothing). */
    recorder *reports = calloc(1, sizeof *reports);
    reports->cancel_at = -1;
    hooks watched = {.recorder = reports, .threads = THREADS, .skip_losses = skip_losses};
    outcome again = run(sc, &f->x, &watched);
    assert_int_equal(again.status, MDNMF_OK);
    assert_same_basis(&reference, &again, sc->name, -1);
    assert_true(reports->count > 3 && reports->count < MAX_RECORDS);
    for (int cut = 0; cut < reports->count; cut++)
        check_resume_at(f, sc, &reference, reports, cut, skip_losses);
    free(reference.W), free(again.W), free(reports);
}

static void test_every_stop_resumes_bit_identically(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < SCENARIO_COUNT; i++)
        check_scenario(f, &SCENARIOS[i], 0);
}

static void test_resumes_without_losses(void **state)
{
    fixture *f = *state;
    check_scenario(f, &SCENARIOS[2], 1);
    check_scenario(f, &SCENARIOS[8], 1);
}

/* Stopped twice: the second run resumes and is stopped again, the third
 * finishes. */
static void test_stopped_twice(void **state)
{
    fixture *f = *state;
    const scenario *sc = &SCENARIOS[5]; /* adv with warm-ups: four stages */
    hooks plain = {.threads = THREADS};
    outcome reference = run(sc, &f->x, &plain);
    recorder *r = calloc(1, sizeof *r);
    r->cancel_at = 5;
    hooks first = {.recorder = r, .checkpoint = f->path, .threads = THREADS};
    unlink(f->path);
    assert_int_equal(run(sc, &f->x, &first).status, MDNMF_ERR_CANCELLED);
    memset(r, 0, sizeof *r);
    r->cancel_at = 11; /* counts the replayed reports too */
    hooks second = {.recorder = r, .checkpoint = f->path, .resume = f->path,
                    .threads = THREADS};
    assert_int_equal(run(sc, &f->x, &second).status, MDNMF_ERR_CANCELLED);
    r->cancel_at = -1;
    outcome last = run(sc, &f->x, &second);
    assert_int_equal(last.status, MDNMF_OK);
    assert_same_basis(&reference, &last, sc->name, 11);
    free(reference.W), free(last.W), free(r);
}

/* The periodic checkpoints: what a crash (kill -9) at epoch 3 leaves is the
 * checkpoint of epoch 2, and resuming from it gives the same model.  A run
 * that finishes leaves its last checkpoint. */
static void test_periodic_checkpoint_resumes(void **state)
{
    fixture *f = *state;
    const scenario *sc = &SCENARIOS[0];
    hooks plain = {.threads = THREADS};
    outcome reference = run(sc, &f->x, &plain);
    recorder *r = calloc(1, sizeof *r);
    r->cancel_at = -1;
    r->copy_from = f->path, r->copy_to = f->other, r->copy_at_epoch = 3;
    hooks writing = {.recorder = r, .checkpoint = f->path, .every = 2, .threads = THREADS};
    unlink(f->path), unlink(f->other);
    outcome full = run(sc, &f->x, &writing);
    assert_int_equal(full.status, MDNMF_OK);
    assert_same_basis(&reference, &full, sc->name, -1);
    assert_int_equal(access(f->path, R_OK), 0);
    assert_int_equal(access(f->other, R_OK), 0);
    hooks resume = {.resume = f->other, .threads = THREADS};
    outcome resumed = run(sc, &f->x, &resume);
    assert_int_equal(resumed.status, MDNMF_OK);
    assert_same_basis(&reference, &resumed, sc->name, 3);
    free(reference.W), free(full.W), free(resumed.W), free(r);
}

/* ------------------------------------------------------------ refusals */

static void write_stopped_checkpoint(fixture *f, const scenario *sc)
{
    recorder *r = calloc(1, sizeof *r);
    r->cancel_at = 3;
    hooks first = {.recorder = r, .checkpoint = f->path, .threads = THREADS};
    unlink(f->path);
    assert_int_equal(run(sc, &f->x, &first).status, MDNMF_ERR_CANCELLED);
    free(r);
}

static void expect_refusal(fixture *f, const scenario *sc, const data *x, hooks h, int status,
                           const char *words)
{
    h.resume = f->path;
    outcome o = run(sc, x, &h);
    if (o.status != status || !strstr(o.error.message, words))
        fail_msg("%s: expected status %d with '%s', got %d: %s", sc->name, status, words,
                 o.status, o.error.message);
    if (status != MDNMF_ERR_IO)
        assert_non_null(strstr(o.error.message, f->path)); /* names the file */
    free(o.W);
}

static void test_another_run_is_refused(void **state)
{
    fixture *f = *state;
    const scenario *std = &SCENARIOS[0], *adv = &SCENARIOS[2], *sep = &SCENARIOS[5];
    write_stopped_checkpoint(f, std);
    hooks h = {.threads = THREADS};
    hooks seed = h, epochs = h, threads = h;
    seed.seed = 1, epochs.epochs = 1, threads.threads = 1;
    expect_refusal(f, std, &f->x, seed, MDNMF_ERR_FORMAT, "seed is 7 there but 8 here");
    expect_refusal(f, std, &f->x, epochs, MDNMF_ERR_FORMAT, "epochs");
    expect_refusal(f, std, &f->x, threads, MDNMF_ERR_FORMAT, "same thread count");
    expect_refusal(f, adv, &f->x, h, MDNMF_ERR_FORMAT, "fit is std there but adv here");
    expect_refusal(f, sep, &f->x, h, MDNMF_ERR_FORMAT, "another run");
    data other = f->x;
    float *changed = test_copy(f->x.U[0], M * N);
    changed[17] += 0.5f;
    other.U[0] = changed;
    expect_refusal(f, std, &other, h, MDNMF_ERR_FORMAT, "data is");
    free(changed);
    /* A separator's checkpoint with another source's data. */
    write_stopped_checkpoint(f, sep);
    other = f->x;
    other.U[1] = f->x.U[2];
    expect_refusal(f, sep, &other, h, MDNMF_ERR_FORMAT, "source 1 data");
}

/* KL and IS fits keep their guard on Λ in the checkpoint: every stop of
 * every kind of run resumes bit for bit (a fit, MDNMF, a joint fit over
 * mixtures, D+MDNMF's interleaved fits, a denoiser). */
static void test_beta_divergence_resumes_bit_identically(void **state)
{
    fixture *f = *state;
    static const int kl[] = {0, 3, 7, 9, 10, 11, 12}, is[] = {1, 2, 10};
    scenario_divergence = MDNMF_DIVERGENCE_KL;
    for (size_t i = 0; i < sizeof kl / sizeof *kl; i++)
        check_scenario(f, &SCENARIOS[kl[i]], 0);
    scenario_divergence = MDNMF_DIVERGENCE_IS;
    for (size_t i = 0; i < sizeof is / sizeof *is; i++)
        check_scenario(f, &SCENARIOS[is[i]], 0);
    /* A KL run's checkpoint is no Frobenius run's. */
    scenario_divergence = MDNMF_DIVERGENCE_KL;
    write_stopped_checkpoint(f, &SCENARIOS[0]);
    scenario_divergence = MDNMF_DIVERGENCE_FROBENIUS;
    expect_refusal(f, &SCENARIOS[0], &f->x, (hooks){.threads = THREADS}, MDNMF_ERR_FORMAT,
                   "divergence");
}

static void rewrite(const char *path, long offset, const char *bytes, size_t length,
                    long truncate_to)
{
    FILE *file = fopen(path, "r+b");
    assert_non_null(file);
    if (bytes) {
        fseek(file, offset, SEEK_SET);
        fwrite(bytes, 1, length, file);
    }
    fclose(file);
    if (truncate_to >= 0)
        assert_int_equal(truncate(path, truncate_to), 0);
}

static long file_size(const char *path)
{
    FILE *file = fopen(path, "rb");
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fclose(file);
    return size;
}

static void test_damaged_files_are_refused(void **state)
{
    fixture *f = *state;
    const scenario *sc = &SCENARIOS[5];
    hooks h = {.threads = THREADS};
    write_stopped_checkpoint(f, sc);
    long size = file_size(f->path);
    /* Every byte flipped in turn (a stride keeps it quick): refused or, where
     * the byte is one libzip and NumPy ignore, the same fit; never a crash. */
    outcome reference = run(sc, &f->x, &h);
    for (long at = 0; at < size; at += size / 97 + 1) {
        write_stopped_checkpoint(f, sc);
        FILE *file = fopen(f->path, "r+b");
        fseek(file, at, SEEK_SET);
        int c = fgetc(file);
        fseek(file, at, SEEK_SET);
        fputc(c ^ 0x5A, file);
        fclose(file);
        hooks resume = h;
        resume.resume = f->path;
        outcome o = run(sc, &f->x, &resume);
        if (o.status == MDNMF_OK)
            assert_same_basis(&reference, &o, "flipped byte", (int)at);
        else
            assert_true(o.status == MDNMF_ERR_FORMAT || o.status == MDNMF_ERR_IO);
        free(o.W);
    }
    write_stopped_checkpoint(f, sc);
    rewrite(f->path, 0, NULL, 0, size / 2);
    expect_refusal(f, sc, &f->x, h, MDNMF_ERR_FORMAT, "not a usable checkpoint");
    rewrite(f->path, 0, "not a zip", 9, 9);
    expect_refusal(f, sc, &f->x, h, MDNMF_ERR_FORMAT, "not a usable checkpoint");
    unlink(f->path);
    expect_refusal(f, sc, &f->x, h, MDNMF_ERR_IO, "cannot open the checkpoint");
    /* A model file is not a checkpoint. */
    mdnmf_model *model = empty_model();
    float W[M * 2];
    for (int i = 0; i < M * 2; i++)
        W[i] = 1.0f;
    mdnmf_model_set_basis(model, W, M, 2, NULL);
    assert_int_equal(mdnmf_model_save(model, f->path, NULL), MDNMF_OK);
    mdnmf_model_destroy(model);
    expect_refusal(f, sc, &f->x, h, MDNMF_ERR_FORMAT, "checkpoint");
    free(reference.W);
}

/* A checkpoint that cannot be written fails the fit (the previous one stays). */
static void test_unwritable_checkpoint_fails(void **state)
{
    fixture *f = *state;
    hooks h = {.checkpoint = "/nonexistent-folder/fit.ckpt.npz", .every = 1,
               .threads = THREADS};
    outcome o = run(&SCENARIOS[0], &f->x, &h);
    assert_int_equal(o.status, MDNMF_ERR_IO);
    assert_non_null(strstr(o.error.message, "/nonexistent-folder/fit.ckpt.npz"));
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = 2;
    p.checkpoint_every = -1;
    assert_int_equal(mdnmf_params_check(&p, NULL), MDNMF_ERR_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_stop_resumes_bit_identically, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resumes_without_losses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beta_divergence_resumes_bit_identically, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_periodic_checkpoint_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_run_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_checkpoint_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
