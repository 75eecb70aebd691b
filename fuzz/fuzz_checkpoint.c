/* libFuzzer harness: resuming a fit from a checkpoint (src/checkpoint.c),
 * which reads its own stored-zip .npz: an untrusted file like a model.
 *
 * Every input is resumed by two fixed, tiny fits (NMF and MDNMF; each
 * refuses the other's checkpoints at the fingerprint), so that a
 * checkpoint the fit itself wrote passes the fingerprint check and the
 * mutations reach the arrays behind it.  Those genuine checkpoints are the
 * seeds: with FUZZ_CHECKPOINT_SEEDS=DIR the harness writes one per stop
 * (epochs 0 .. EPOCHS - 1 of both fits) into DIR and exits (fuzz/run.sh
 * does this before fuzzing).  A resume either fails with a message (an
 * empty one aborts: every refusal must say why) or finishes the fit, whose
 * basis is read whole. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "mdnmf.h"

#include <string.h>

enum { M = 6, N = 9, ATOMS = 2, EPOCHS = 3 };

static float U[N * M], U_adv[N * M];

static void make_data(void)
{
    for (int i = 0; i < N * M; i++) {
        U[i] = (float)((i * 7 + 3) % 11) / 11.0f;
        U_adv[i] = (float)((i * 5 + 1) % 13) / 13.0f;
    }
}

static void fixed_params(mdnmf_params *p)
{
    mdnmf_params_default(p);
    p->d = ATOMS;
    p->epochs = EPOCHS;
    p->test_epochs = 2;
    p->batch_size = 4;
    p->batch_size_adv = 4;
    p->seed = 1;
    p->threads = 1;
    p->checkpoint_every = 1;
}

/* The fit of this input: 0 NMF, 1 MDNMF. */
static int run_fit(mdnmf_model *model, int adversarial, mdnmf_error *error)
{
    return adversarial ? mdnmf_fit_adv(model, U, M, N, U_adv, N, NULL, error)
                       : mdnmf_fit_std(model, U, M, N, error);
}

static int stop_at;

static int stop_there(void *user, const mdnmf_progress *progress)
{
    (void)user;
    return progress->epoch >= stop_at;
}

/* Seeds: the checkpoint each stop leaves. */
static void write_seeds(const char *folder)
{
    for (int adversarial = 0; adversarial <= 1; adversarial++)
        for (stop_at = 0; stop_at < EPOCHS; stop_at++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s-epoch%d.npz", folder,
                     adversarial ? "adv" : "std", stop_at);
            mdnmf_params p;
            fixed_params(&p);
            p.checkpoint_path = path;
            p.on_epoch = stop_there;
            p.skip_losses = 1;
            mdnmf_model *model = mdnmf_model_create(&p, NULL);
            if (!model)
                fuzz_die("mdnmf_model_create");
            if (run_fit(model, adversarial, NULL) != MDNMF_ERR_CANCELLED)
                fuzz_die("the seed fit did not stop");
            mdnmf_model_destroy(model);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    make_data();
    const char *seeds = getenv("FUZZ_CHECKPOINT_SEEDS");
    if (seeds && *seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

static void resume(const char *path, int adversarial)
{
    mdnmf_params p;
    fixed_params(&p);
    p.resume_path = path;
    mdnmf_model *model = mdnmf_model_create(&p, NULL);
    if (!model)
        fuzz_die("mdnmf_model_create");
    mdnmf_error error;
    if (run_fit(model, adversarial, &error) == MDNMF_OK) {
        int64_t m, d;
        mdnmf_model_shape(model, &m, &d);
        fuzz_touch_floats(mdnmf_model_basis(model), m * d);
    } else if (error.message[0] == '\0') {
        fuzz_die("a refused checkpoint without a message");
    }
    mdnmf_model_destroy(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size);
    resume(path, 0);
    resume(path, 1);
    return 0;
}
