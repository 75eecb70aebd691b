/* Fit an NMF basis to the samples of a .npy file and write the activations
 * of a second file: the smallest complete use of libmdnmf.
 *
 *     fit_transform TRAIN.npy TEST.npy ATOMS MODEL.npz H.npy
 *
 * TRAIN and TEST are (N, m) arrays, one sample per row (NumPy's layout);
 * MODEL.npz receives the basis, H.npy the (N_test, ATOMS) activations.
 * Build against an installed library:
 *     cc fit_transform.c $(pkg-config --cflags --libs mdnmf) */
#include <mdnmf.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: fit_transform TRAIN.npy TEST.npy ATOMS MODEL.npz H.npy\n");
        return 2;
    }
    mdnmf_params params;
    mdnmf_params_default(&params);
    params.d = atoi(argv[3]);
    params.epochs = 100;

    mdnmf_error error = {0};
    mdnmf_matrix train = {0}, test = {0};
    mdnmf_model *model = NULL;
    float *H = NULL;
    int status = mdnmf_npy_read(argv[1], &train, &error);
    if (!status)
        status = mdnmf_npy_read(argv[2], &test, &error);
    if (!status && !(model = mdnmf_model_create(&params, &error)))
        status = error.status;
    if (!status)
        status = mdnmf_fit_std(model, train.data, train.m, train.n, &error);
    if (!status && !(H = malloc(sizeof *H * (size_t)params.d * (size_t)test.n)))
        status = MDNMF_ERR_MEMORY;
    if (!status)
        status = mdnmf_transform(model, test.data, test.m, test.n, H, &error);
    if (!status)
        status = mdnmf_model_save(model, argv[4], &error);
    if (!status)
        status = mdnmf_npy_write(argv[5], H, params.d, test.n, &error);

    if (status)
        fprintf(stderr, "fit_transform: %s\n",
                error.status ? error.message : mdnmf_strerror(status));
    free(H);
    mdnmf_model_destroy(model);
    mdnmf_matrix_free(&train);
    mdnmf_matrix_free(&test);
    return status ? 1 : 0;
}
