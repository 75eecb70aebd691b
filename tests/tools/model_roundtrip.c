/*
 * model_roundtrip — save and load models through the library, for the
 * NumPy interoperability tests.
 *
 *   model_roundtrip save W.npy OUT.npz [MU_H.npy]
 *       a one-source model with the basis of W.npy (shape (d, m)), optional
 *       per-atom mu_H (shape (d,)), and these non-default parameters:
 *       epochs 7, test_epochs 9, batch_size 5, batch_size_adv 6,
 *       init random, mu_W 0.001, mu_H 0.25, tau_A 0.3, tau_W 1.5,
 *       normalize, update_H, true_sample min, seed 18446744073709551615,
 *       threads 2.
 *   model_roundtrip copy IN.npz OUT.npz
 *       load a model and save it again.
 *
 * Exit status: 0 on success, 1 if the library failed (its message on
 * stderr), 2 on usage.
 */
#include "mdnmf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int status, const char *message)
{
    fprintf(stderr, "model_roundtrip: %s: %s (%s)\n", what, message, mdnmf_strerror(status));
    return 1;
}

static mdnmf_params chosen_params(int d)
{
    mdnmf_params p;
    mdnmf_params_default(&p);
    p.d = d;
    p.epochs = 7;
    p.test_epochs = 9;
    p.batch_size = 5;
    p.batch_size_adv = 6;
    p.init = MDNMF_INIT_RANDOM;
    p.mu_W = 0.001;
    p.mu_H = 0.25;
    p.tau_A = 0.3;
    p.tau_W = 1.5;
    p.normalize = 1;
    p.update_H = 1;
    p.true_sample = MDNMF_SAMPLE_MIN;
    p.seed = UINT64_MAX;
    p.threads = 2;
    return p;
}

static int save(const char *W_path, const char *out, const char *mu_H_path)
{
    mdnmf_error error;
    mdnmf_matrix W, mu_H = {0};
    int status = mdnmf_npy_read(W_path, &W, &error);
    if (status)
        return fail("read W", status, error.message);
    if (mu_H_path && (status = mdnmf_npy_read(mu_H_path, &mu_H, &error))) {
        mdnmf_matrix_free(&W);
        return fail("read mu_H", status, error.message);
    }
    const mdnmf_params p = chosen_params((int)W.n);
    mdnmf_model *model = mdnmf_model_create(&p, &error);
    if (!model) {
        status = fail("create", error.status, error.message);
    } else if ((status = mdnmf_model_set_basis(model, W.data, W.m, W.n, &error))
               || (mu_H.data && (status = mdnmf_model_set_mu_H(model, mu_H.data, mu_H.m, &error)))
               || (status = mdnmf_model_save(model, out, &error))) {
        status = fail("save", status, error.message);
    }
    mdnmf_model_destroy(model);
    mdnmf_matrix_free(&W);
    mdnmf_matrix_free(&mu_H);
    return status ? 1 : 0;
}

static int copy(const char *in, const char *out)
{
    mdnmf_error error;
    mdnmf_model *model = mdnmf_model_load(in, &error);
    if (!model)
        return fail("load", error.status, error.message);
    int status = mdnmf_model_save(model, out, &error);
    if (status)
        status = fail("save", status, error.message);
    mdnmf_model_destroy(model);
    return status ? 1 : 0;
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "save") == 0)
        return save(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 4 && strcmp(argv[1], "copy") == 0)
        return copy(argv[2], argv[3]);
    fprintf(stderr, "usage: model_roundtrip save W.npy OUT.npz [MU_H.npy]\n"
                    "       model_roundtrip copy IN.npz OUT.npz\n");
    return 2;
}
