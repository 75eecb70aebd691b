/* mdnmf fit: learn a basis from .npy data and save it as a model (.npz).
 *
 * NMF (mdnmf_fit_std), MDNMF against adversarial data (mdnmf_fit_adv) or
 * exemplar NMF (mdnmf_fit_exem).  The library validates the data; this file
 * turns files and options into a call and the call's failure into one line
 * naming the file at fault.  Nothing is written unless the fit succeeds. */
#include "commands.h"
#include "host.h"
#include "inputs.h"
#include "outputs.h"
#include "progress.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

static const char *const COMMAND = "fit";

typedef enum fit_method { METHOD_STD, METHOD_ADV, METHOD_EXEMPLAR } fit_method;
static const char *const METHOD_NAMES[] = {"std", "adv", "exemplar"};
enum { METHOD_COUNT = sizeof METHOD_NAMES / sizeof METHOD_NAMES[0] };

enum {
    OPT_ADV_WEIGHTS = 256,
    OPT_METHOD,
    OPT_EPOCHS,
    OPT_TEST_EPOCHS,
    OPT_INIT_H_STEPS,
    OPT_BATCH_SIZE,
    OPT_ADV_BATCH_SIZE,
    OPT_TAU_A,
    OPT_TAU_W,
    OPT_MU_W,
    OPT_MU_H,
    OPT_INIT,
    OPT_NORMALIZE,
    OPT_UPDATE_H,
    OPT_TRUE_SAMPLE,
    OPT_WARM_START,
    OPT_SEED,
    OPT_THREADS,
    OPT_LOSS_LOG
};

#define FIELD(name) offsetof(mdnmf_params, name)
#define NO_FIELD CLI_NO_FIELD

static const cli_option FIT_OPTIONS[] = {
    {"input", 'i', CLI_KIND_TEXT, "U.npy", NO_FIELD, 0, NULL, cli_required,
     "true data, an (N, m) .npy array: one sample per row"},
    {"adversarial", 'a', CLI_KIND_TEXT, "ADV.npy", NO_FIELD, 0, NULL, "none",
     "adversarial data, an (N_adv, m) .npy array"},
    {"adv-weights", OPT_ADV_WEIGHTS, CLI_KIND_TEXT, "W.npy", NO_FIELD, 0, NULL, "all 1",
     "H-penalty weight of each adversarial sample, 1-D .npy of length N_adv"},
    {"atoms", 'd', CLI_KIND_INT, "D", FIELD(d), 1, NULL, cli_required, "number of atoms"},
    {"output", 'o', CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, cli_required,
     "model file to write"},
    {"method", OPT_METHOD, CLI_KIND_TEXT, "std|adv|exemplar", NO_FIELD, 0, NULL,
     "adv if -a is given and --tau-a > 0, else std",
     "NMF, MDNMF, or exemplar NMF (atoms = random samples, no training)"},
    {"epochs", OPT_EPOCHS, CLI_KIND_INT, "N", FIELD(epochs), 0, NULL, NULL,
     "training epochs"},
    {"test-epochs", OPT_TEST_EPOCHS, CLI_KIND_INT, "N", FIELD(test_epochs), 0, NULL, NULL,
     "update steps of H for a fixed basis"},
    CLI_INIT_H_STEPS_OPTION(OPT_INIT_H_STEPS, FIELD(init_H_steps)),
    {"batch-size", OPT_BATCH_SIZE, CLI_KIND_INT64, "B", FIELD(batch_size), 0, NULL, NULL,
     "true samples per batch, 0 = all"},
    {"adv-batch-size", OPT_ADV_BATCH_SIZE, CLI_KIND_INT64, "B", FIELD(batch_size_adv), 0, NULL,
     NULL, "adversarial samples per batch, 0 = all"},
    {"tau-a", OPT_TAU_A, CLI_KIND_DOUBLE, "X", FIELD(tau_A), 0, NULL, NULL,
     "weight of the adversarial term (0 = plain NMF)"},
    {"tau-w", OPT_TAU_W, CLI_KIND_DOUBLE, "X", FIELD(tau_W), 0, NULL, NULL,
     "weight of the true-data term"},
    {"mu-w", OPT_MU_W, CLI_KIND_DOUBLE, "X", FIELD(mu_W), 0, NULL, NULL, "L1 penalty on W"},
    {"mu-h", OPT_MU_H, CLI_KIND_DOUBLE, "X", FIELD(mu_H), 0, NULL, NULL, "L1 penalty on H"},
    {"init", OPT_INIT, CLI_KIND_CHOICE, "exemplar|random", FIELD(init), 0, cli_init_names,
     NULL, "initial basis: random samples or Uniform(0,1)"},
    {"normalize", OPT_NORMALIZE, CLI_KIND_FLAG, NULL, FIELD(normalize), 0, NULL, NULL,
     "scale atoms to unit norm after every epoch"},
    {"update-h", OPT_UPDATE_H, CLI_KIND_FLAG, NULL, FIELD(update_H), 0, NULL, NULL,
     "update H batch by batch instead of once per epoch"},
    {"true-sample", OPT_TRUE_SAMPLE, CLI_KIND_CHOICE, "std|adv|min", FIELD(true_sample), 0,
     cli_true_sample_names, NULL, "MDNMF batches per epoch: from N, N_adv or the fewer"},
    CLI_DIVERGENCE_OPTION(FIELD(divergence), NULL),
    {"warm-start", OPT_WARM_START, CLI_KIND_TEXT, "MODEL.npz", NO_FIELD, 0, NULL, "none",
     "start from this model's basis (one source, D atoms, m features)"},
    {"seed", OPT_SEED, CLI_KIND_UINT64, "S", FIELD(seed), 0, NULL, NULL, "random seed"},
    {"threads", OPT_THREADS, CLI_KIND_THREADS, "N", FIELD(threads), 0, NULL, NULL,
     CLI_THREADS_HELP},
    {"loss-log", OPT_LOSS_LOG, CLI_KIND_TEXT, "FILE.csv", NO_FIELD, 0, NULL, "none",
     "write epoch,loss_true,loss_adv,objective per epoch (epoch 0 = initial); "
     "'-' for standard output"},
    CLI_CHECKPOINT_OPTIONS(FIELD(checkpoint_every)),
    {"quiet", 'q', CLI_KIND_FLAG, NULL, NO_FIELD, 0, NULL, "off",
     "no progress bar (errors are still printed)"},
    CLI_HELP_OPTION,
};

const cli_command cli_fit_command = {
    "fit",
    "fit -i U.npy [-a ADV.npy [--adv-weights W.npy]] -d D -o MODEL.npz [options]",
    "Fit a basis (NMF, or MDNMF against adversarial data) and save the model.",
    FIT_OPTIONS,
    sizeof FIT_OPTIONS / sizeof FIT_OPTIONS[0],
};

/* What the command line asks for. */
typedef struct fit_request {
    const char *input, *adversarial, *adv_weights, *output, *warm_start, *loss_log;
    int method;       /* fit_method, or -1 until resolved */
    int quiet;
    mdnmf_params params;
} fit_request;

/* What a run holds; released in one place whatever happens. */
typedef struct fit_run {
    mdnmf_matrix U, U_adv, omega;
    mdnmf_model *warm;
    mdnmf_model *model;
    cli_output loss_log;
    cli_progress progress;
} fit_run;

/* ---------------------------------------------------------- command line */

static int store_text_option(void *context, const cli_option *option, const char *value)
{
    fit_request *request = context;
    switch (option->key) {
    case 'i': request->input = value; break;
    case 'a': request->adversarial = value; break;
    case 'o': request->output = value; break;
    case OPT_ADV_WEIGHTS: request->adv_weights = value; break;
    case OPT_WARM_START: request->warm_start = value; break;
    case OPT_LOSS_LOG: request->loss_log = value; break;
    case CLI_OPT_CHECKPOINT: request->params.checkpoint_path = value; break;
    case CLI_OPT_RESUME: request->params.resume_path = value; break;
    case 'q': request->quiet = 1; break;
    case OPT_METHOD:
        return cli_parse_choice(COMMAND, "--method", value, METHOD_NAMES, METHOD_COUNT,
                                &request->method);
    }
    return 0;
}

/* Options that only make sense together, and the method when not given. */
static int resolve_method(fit_request *r)
{
    if (r->adv_weights && !r->adversarial) {
        cli_error(COMMAND, "--adv-weights needs -a ADV.npy: give the adversarial data too");
        return -1;
    }
    if (r->method < 0) {
        r->method = r->adversarial && r->params.tau_A > 0.0 ? METHOD_ADV : METHOD_STD;
        return 0;
    }
    if (r->method == METHOD_ADV && !r->adversarial) {
        cli_error(COMMAND, "--method adv needs -a ADV.npy: give adversarial data");
        return -1;
    }
    if (r->method != METHOD_ADV && r->adversarial) {
        cli_error(COMMAND, "-a is only used by --method adv: drop -a or use --method adv");
        return -1;
    }
    const mdnmf_params *p = &r->params;
    if (r->method == METHOD_EXEMPLAR &&
        (r->loss_log || r->warm_start || p->checkpoint_path || p->resume_path)) {
        const char *pointless = r->loss_log         ? "--loss-log"
                                : r->warm_start     ? "--warm-start"
                                : p->checkpoint_path ? "--checkpoint"
                                                     : "--resume";
        cli_error(COMMAND, "%s: --method exemplar does not train: drop %s", pointless,
                  pointless);
        return -1;
    }
    return 0;
}

static int check_request(fit_request *r)
{
    if (resolve_method(r) != 0 ||
        cli_check_checkpoint_options(COMMAND, &r->params, r->output, r->loss_log) != 0) {
        return -1;
    }
    mdnmf_error error;
    if (mdnmf_params_check(&r->params, &error) != MDNMF_OK) {
        cli_error(COMMAND, "%s (see '%s fit --help')", error.message, cli_program);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, or the exit code. */
static int parse_request(int argc, char **argv, fit_request *request)
{
    memset(request, 0, sizeof *request);
    request->method = -1;
    mdnmf_params_default(&request->params);
    int parsed = cli_parse_exit(cli_parse_command(&cli_fit_command, argc, argv,
                                                  &request->params, NULL, store_text_option,
                                                  request));
    if (parsed >= 0) {
        return parsed;
    }
    return check_request(request) == 0 ? -1 : CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------- the run */

/* Fail fast: a long fit must not end in an unwritable folder.  The loss
 * log is opened now (its temporary file collects the rows as they come);
 * the model's folder is probed, the library writes the model itself. */
static int prepare_outputs(const fit_request *r, fit_run *run)
{
    const char *paths[] = {r->input, r->adversarial, r->adv_weights, r->warm_start};
    cli_input_files inputs = {0};
    int refused = cli_inputs_note(COMMAND, &inputs, paths, 4) != 0 ||
                  cli_refuse_fit_outputs(COMMAND, &inputs, r->output, r->loss_log,
                                         r->params.checkpoint_path) != 0;
    cli_inputs_free(&inputs);
    if (refused || cli_output_check_writable(COMMAND, r->output) != 0 ||
        cli_check_checkpoint_files(COMMAND, &r->params) != 0 ||
        cli_loss_log_open(&run->loss_log, COMMAND, r->loss_log, 0) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* The weights come as a 1-D array (m = N_adv, n = 1); an (N_adv, 1) array
 * (m = 1, n = N_adv) holds the same numbers in the same order. */
static int check_weights_length(const fit_request *r, const fit_run *run)
{
    const mdnmf_matrix *w = &run->omega;
    if (w->n != 1 && w->m != 1) {
        cli_error(COMMAND, "%s: a (%" PRId64 ", %" PRId64 ") array: give a 1-D array of one "
                  "weight per sample of %s",
                  r->adv_weights, w->n, w->m, r->adversarial);
        return -1;
    }
    int64_t count = w->m * w->n;
    if (count != run->U_adv.n) {
        cli_error(COMMAND, "%s: %" PRId64 " weights but %s has %" PRId64 " samples: give one "
                  "weight per adversarial sample",
                  r->adv_weights, count, r->adversarial, run->U_adv.n);
        return -1;
    }
    return 0;
}

static int read_warm_start(const fit_request *r, fit_run *run)
{
    run->warm = cli_load_model(COMMAND, r->warm_start);
    if (!run->warm) {
        return -1;
    }
    int64_t m = 0, atoms = 0;
    mdnmf_model_shape(run->warm, &m, &atoms);
    int sources = mdnmf_model_source_count(run->warm);
    if (sources != 1) {
        cli_error(COMMAND, "%s: the model has %d sources: --warm-start needs a one-source model",
                  r->warm_start, sources);
        return -1;
    }
    if (atoms != r->params.d) {
        cli_error(COMMAND, "%s: the model has %" PRId64 " atoms but -d is %d: use -d %" PRId64,
                  r->warm_start, atoms, r->params.d, atoms);
        return -1;
    }
    return cli_check_features(COMMAND, r->input, run->U.m, r->warm_start, m);
}

/* Between the files, a caught signal ends the run.  On a host of several
 * processes each reads its own rows of the data and the weights. */
static int read_inputs(const cli_host *host, const fit_request *r, fit_run *run)
{
    if (host->read_matrix(host, COMMAND, r->input, &run->U) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    if (cli_interrupted()) {
        return CLI_EXIT_INTERRUPTED;
    }
    if (r->adversarial) {
        if (host->read_matrix(host, COMMAND, r->adversarial, &run->U_adv) != 0 ||
            cli_check_features(COMMAND, r->adversarial, run->U_adv.m, r->input, run->U.m) != 0) {
            return CLI_EXIT_RUNTIME;
        }
    }
    if (r->adv_weights) {
        if (host->read_matrix(host, COMMAND, r->adv_weights, &run->omega) != 0 ||
            check_weights_length(r, run) != 0) {
            return CLI_EXIT_RUNTIME;
        }
    }
    if (r->warm_start && read_warm_start(r, run) != 0) {
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Only the first process shows progress and writes the loss log. */
static int create_model(const cli_host *host, const fit_request *r, fit_run *run)
{
    mdnmf_params params = r->params;
    params.warm_start = r->warm_start != NULL;
    cli_progress_attach(&run->progress, &params, r->quiet || host->rank != 0,
                        r->method == METHOD_ADV, &run->loss_log, 0);
    cli_progress_watch(&run->progress, &params, params.checkpoint_path);
    cli_host_align_progress(host, &params);
    mdnmf_error error;
    run->model = mdnmf_model_create(&params, &error);
    if (!run->model) {
        cli_error(COMMAND, "cannot create the model: %s", mdnmf_strerror(error.status));
        return error.status == MDNMF_ERR_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
    }
    if (run->warm) {
        int64_t m = 0, atoms = 0;
        mdnmf_model_shape(run->warm, &m, &atoms);
        if (mdnmf_model_set_basis(run->model, mdnmf_model_basis(run->warm), m, atoms, &error) !=
            MDNMF_OK) {
            cli_error(COMMAND, "%s: %s", r->warm_start, error.message);
            return CLI_EXIT_RUNTIME;
        }
    }
    return CLI_EXIT_OK;
}

/* The library names the data set at fault at the start of its message
 * ("data ...", "adversarial data ...", "adversarial weight ..."); the
 * user knows them by their files. */
static const char *file_at_fault(const fit_request *r, const char *message)
{
    if (r->adv_weights && strncmp(message, "adversarial weight", 18) == 0) {
        return r->adv_weights;
    }
    if (r->adversarial && strncmp(message, "adversarial", 11) == 0) {
        return r->adversarial;
    }
    return r->input;
}

static int report_fit_failure(const fit_request *r, const mdnmf_error *error)
{
    int status = error->status;
    const char *message = error->message;
    if (status == MDNMF_ERR_DATA || status == MDNMF_ERR_SHAPE) {
        cli_error(COMMAND, "%s: %s", file_at_fault(r, message), message);
    } else {
        cli_error(COMMAND, "%s", message);
    }
    return CLI_EXIT_RUNTIME;
}

static int run_fit(const fit_request *r, fit_run *run)
{
    const mdnmf_matrix *U = &run->U;
    mdnmf_error error;
    int status;
    switch (r->method) {
    case METHOD_ADV:
        status = mdnmf_fit_adv(run->model, U->data, U->m, U->n, run->U_adv.data, run->U_adv.n,
                               run->omega.data, &error);
        break;
    case METHOD_EXEMPLAR:
        status = mdnmf_fit_exem(run->model, U->data, U->m, U->n, &error);
        break;
    default:
        status = mdnmf_fit_std(run->model, U->data, U->m, U->n, &error);
        break;
    }
    int code = cli_progress_finish(&run->progress, COMMAND, status);
    return code >= 0 ? code : report_fit_failure(r, &error);
}

/* A loss log that cannot be written stops the run before the model is. */
static int write_outputs(const fit_request *r, fit_run *run)
{
    if (run->loss_log.stream && fflush(run->loss_log.stream) != 0) {
        cli_error(COMMAND, "%s: cannot write the loss log: check the free space",
                  r->loss_log);
        return CLI_EXIT_RUNTIME;
    }
    return cli_save_model_and_log(COMMAND, run->model, r->output, &run->loss_log,
                                  r->params.checkpoint_path);
}

static void release_run(fit_run *run)
{
    cli_output_discard(&run->loss_log);
    mdnmf_model_destroy(run->model);
    mdnmf_model_destroy(run->warm);
    mdnmf_matrix_free(&run->U);
    mdnmf_matrix_free(&run->U_adv);
    mdnmf_matrix_free(&run->omega);
}

/* A signal caught by any process stops all (collective). */
static int interrupted_anywhere(const cli_host *host)
{
    return (int)host->combine(host, cli_interrupted(), CLI_HOST_MAX);
}

int cli_fit(int argc, char **argv)
{
    return cli_fit_on(&cli_alone, argc, argv);
}

/* Each step's exit code is agreed by all processes before the next (a
 * no-op alone), so every process takes the same path; only the first
 * process checks and writes the outputs. */
int cli_fit_on(const cli_host *host, int argc, char **argv)
{
    fit_request request;
    int code = parse_request(argc, argv, &request);
    if (code < 0 && cli_host_checkpoint_files(host, COMMAND, &request.params) != 0) {
        code = CLI_EXIT_USAGE;
    }
    if (code >= 0) {
        return host->agree(host, code);
    }
    const int leads = host->rank == 0;
    fit_run run;
    memset(&run, 0, sizeof run);
    /* From here on a signal ends the run through release_run, which
     * removes the loss log's temporary file. */
    cli_signals_install();
    code = leads ? prepare_outputs(&request, &run) : CLI_EXIT_OK;
    if (code == CLI_EXIT_OK) {
        code = read_inputs(host, &request, &run);
    }
    code = host->agree(host, code);
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, create_model(host, &request, &run));
    }
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, cli_host_shard_model(host, COMMAND, run.model));
    }
    if (code == CLI_EXIT_OK && interrupted_anywhere(host)) {
        code = CLI_EXIT_INTERRUPTED;
    } else if (code == CLI_EXIT_OK) {
        code = run_fit(&request, &run);
    }
    code = cli_host_fit_ended(host, COMMAND, code, run.model);
    if (code == CLI_EXIT_OK) {
        code = host->agree(host, leads ? write_outputs(&request, &run) : CLI_EXIT_OK);
    }
    if (code == CLI_EXIT_OK) {
        cli_host_remove_checkpoint(host, &request.params);
    }
    release_run(&run);
    return code;
}
