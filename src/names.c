/* The names of the library's enums and what each separator mode needs: the
 * one table the params files, the tools and the error messages read. */
#include "error.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *const mdnmf_mode_names[] = {"std",  "adv",  "exem",     "sup",
                                        "full", "semi", "semi_adv", NULL};
const char *const mdnmf_init_names[] = {"exemplar", "random", NULL};
const char *const mdnmf_true_sample_names[] = {"std", "adv", "min", NULL};
const char *const mdnmf_metric_names[] = {"psnr", "mse", NULL};
const char *const mdnmf_aggregate_names[] = {"median", "mean", NULL};
const char *const mdnmf_divergence_names[] = {"fro", "kl", "is", NULL};

/* What each mode reads of an mdnmf_separation_data (SPEC §6's table). */
#define IGNORED MDNMF_NEED_IGNORED
#define OPTIONAL MDNMF_NEED_OPTIONAL
#define REQUIRED MDNMF_NEED_REQUIRED
static const mdnmf_mode_info MODES[] = {
    /* mode, name, method, U, U_last, V, pairs, adversarial, trains */
    {MDNMF_MODE_STD, "std", "NMF", REQUIRED, REQUIRED, IGNORED, IGNORED, 0, 1},
    {MDNMF_MODE_ADV, "adv", "MDNMF", REQUIRED, REQUIRED, OPTIONAL, IGNORED, 1, 1},
    {MDNMF_MODE_EXEM, "exem", "ENMF", REQUIRED, REQUIRED, IGNORED, IGNORED, 0, 0},
    {MDNMF_MODE_SUP, "sup", "DNMF", IGNORED, IGNORED, IGNORED, REQUIRED, 0, 1},
    {MDNMF_MODE_FULL, "full", "D+MDNMF", REQUIRED, REQUIRED, OPTIONAL, REQUIRED, 1, 1},
    {MDNMF_MODE_SEMI, "semi", "semi-supervised NMF", REQUIRED, IGNORED, REQUIRED, IGNORED, 0,
     1},
    {MDNMF_MODE_SEMI_ADV, "semi_adv", "semi-supervised MDNMF", REQUIRED, IGNORED, REQUIRED,
     IGNORED, 1, 1},
};

const mdnmf_mode_info *mdnmf_mode_describe(mdnmf_mode mode)
{
    return (unsigned)mode < sizeof MODES / sizeof *MODES ? &MODES[mode] : NULL;
}

static const char *const *names_of(mdnmf_enum kind)
{
    switch (kind) {
    case MDNMF_ENUM_MODE: return mdnmf_mode_names;
    case MDNMF_ENUM_INIT: return mdnmf_init_names;
    case MDNMF_ENUM_TRUE_SAMPLE: return mdnmf_true_sample_names;
    case MDNMF_ENUM_METRIC: return mdnmf_metric_names;
    case MDNMF_ENUM_AGGREGATE: return mdnmf_aggregate_names;
    case MDNMF_ENUM_DIVERGENCE: return mdnmf_divergence_names;
    }
    return NULL;
}

/* "a, b, c" of a NULL-terminated list, or of the first `count` names;
 * cut at `size`. */
void join_names(const char *const *names, int count, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; (count < 0 ? names[i] != NULL : i < count) && used < size; i++) {
        const int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

const char *const *search_param_names(mdnmf_search_param param)
{
    switch (param) {
    case MDNMF_SEARCH_MODE: return mdnmf_mode_names;
    case MDNMF_SEARCH_INIT: return mdnmf_init_names;
    case MDNMF_SEARCH_TRUE_SAMPLE: return mdnmf_true_sample_names;
    default: return NULL;
    }
}

const char *mdnmf_search_value_name(mdnmf_search_param param, double value)
{
    const char *const *names = search_param_names(param);
    for (int i = 0; names && names[i]; i++)
        if (i == value)
            return names[i];
    return NULL;
}

static const char *const KIND_NAMES[] = {"mode",   "init",      "true_sample",
                                         "metric", "aggregate", "divergence"};

const char *mdnmf_enum_name(mdnmf_enum kind, int value)
{
    const char *const *names = names_of(kind);
    for (int i = 0; names && names[i]; i++)
        if (i == value)
            return names[i];
    return "?";
}

int mdnmf_enum_value(mdnmf_enum kind, const char *name, int *value, mdnmf_error *error)
{
    const char *const *names = names_of(kind);
    if (!names)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "unknown enum kind %d", (int)kind);
    if (!name || !value)
        return error_fail(error, MDNMF_ERR_ARGUMENT, "%s: name or value is NULL",
                          KIND_NAMES[kind]);
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0) {
            *value = i;
            return error_ok(error);
        }
    char known[128];
    join_names(names, -1, known, sizeof known);
    return error_fail(error, MDNMF_ERR_ARGUMENT, "%s: '%s' is not one of: %s", KIND_NAMES[kind],
                      name, known);
}

/* The library's own short forms (params JSON, messages). */
const char *separator_mode_name(mdnmf_mode mode)
{
    return mdnmf_enum_name(MDNMF_ENUM_MODE, (int)mode);
}

int separator_mode_from_name(const char *name, mdnmf_mode *mode)
{
    int value = 0;
    if (mdnmf_enum_value(MDNMF_ENUM_MODE, name, &value, NULL) != MDNMF_OK)
        return 0;
    *mode = (mdnmf_mode)value;
    return 1;
}
