/* The streaming denoiser (mdnmf.h, "streaming").  A placeholder: the
 * implementation lands with issue 14's library work. */
#include "internal.h"

#include <stdlib.h>

void mdnmf_stream_params_default(mdnmf_stream_params *p)
{
    if (p)
        *p = (mdnmf_stream_params){0};
}

mdnmf_stream *mdnmf_stream_create(const mdnmf_model *model, const mdnmf_stream_params *p,
                                  mdnmf_error *error)
{
    (void)model;
    (void)p;
    error_fail(error, MDNMF_ERR_STATE, "streaming is not implemented yet");
    return NULL;
}

void mdnmf_stream_destroy(mdnmf_stream *stream) { (void)stream; }

int mdnmf_stream_process(mdnmf_stream *stream, const float *in, int64_t count, float *speech,
                         float *noise, mdnmf_error *error)
{
    (void)stream, (void)in, (void)count, (void)speech, (void)noise;
    return error_fail(error, MDNMF_ERR_STATE, "streaming is not implemented yet");
}

int64_t mdnmf_stream_latency(const mdnmf_stream *stream)
{
    (void)stream;
    return 0;
}

int mdnmf_stream_set_mask(mdnmf_stream *stream, double wiener_exponent, double floor,
                          mdnmf_error *error)
{
    (void)stream, (void)wiener_exponent, (void)floor;
    return error_fail(error, MDNMF_ERR_STATE, "streaming is not implemented yet");
}

int mdnmf_stream_set_learn_noise(mdnmf_stream *stream, int learn_noise, mdnmf_error *error)
{
    (void)stream, (void)learn_noise;
    return error_fail(error, MDNMF_ERR_STATE, "streaming is not implemented yet");
}

void mdnmf_stream_reset(mdnmf_stream *stream) { (void)stream; }

const float *mdnmf_stream_noise_basis(const mdnmf_stream *stream, int64_t *m, int64_t *d)
{
    (void)stream;
    if (m)
        *m = 0;
    if (d)
        *d = 0;
    return NULL;
}
