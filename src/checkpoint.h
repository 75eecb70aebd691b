/* Resumable fits: a fit's state at an epoch boundary, written to and read
 * back from a checkpoint file (the header's "Checkpoints").  Private to the
 * library.
 *
 * A fit is a sequence of stages (one for mdnmf_fit_std/adv; per source,
 * warm-up, joint fits for a separator), each a loop of epochs.  The fits
 * tell the checkpoint where they are (checkpoint_stage_begins,
 * checkpoint_epoch_ends) and which of their arrays make up their state
 * (checkpoint_track); a write saves the tracked arrays, and a resumed run
 * skips the stages before the saved one (checkpoint_skips), restores the
 * saved stage's arrays (checkpoint_restore) and starts its loop after the
 * saved epoch (checkpoint_first_epoch).
 *
 * A position (stage, epoch >= 1) saves every tracked array; (stage, 0)
 * means "stage `stage` from its start" and saves only the arrays tracked as
 * lasting the whole run (a separator's bases): a stage is always re-run
 * from its start rather than from its epoch 0, so initialisation needs no
 * saving.  Every function takes a NULL checkpoint (no checkpointing) and
 * then does nothing. */
#ifndef MDNMF_CHECKPOINT_H
#define MDNMF_CHECKPOINT_H

#include "internal.h"

#include <stdint.h>

typedef struct checkpoint checkpoint;

typedef enum checkpoint_kind {
    CHECKPOINT_F32, /* float */
    CHECKPOINT_F64, /* double */
    CHECKPOINT_U64  /* uint64_t (random streams) */
} checkpoint_kind;

/* The checkpointing a fit's parameters ask for, reporting to `model`:
 * NULL with *status MDNMF_OK when they ask for none (no checkpoint_path,
 * no resume_path), NULL with an error on `model` when they are unusable. */
checkpoint *checkpoint_create(mdnmf_model *model, const mdnmf_params *p, int *status);
void checkpoint_destroy(checkpoint *ck);

/* The run's fingerprint, one "key=value" line each; call before
 * checkpoint_begin.  A matrix is noted as its shape and the CRC-32 of its
 * bytes (NULL: "none"). */
void checkpoint_note(checkpoint *ck, const char *key, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void checkpoint_note_floats(checkpoint *ck, const char *key, const float *X, int64_t m,
                            int64_t n);

/* The parameters of `p` that shape the result, and the thread count in
 * use (linalg_threads: set it first); d, mu_H and tau_A only when
 * `one_source` (a separator has its own per source). */
void checkpoint_note_params(checkpoint *ck, const mdnmf_params *p, int one_source);

/* The number of stages of the run (noted, and the bound of a saved
 * position; 1 if never said). */
void checkpoint_note_stages(checkpoint *ck, int stages);

/* A sharded fit (shard->ranks >= 1: rank mode; 0: explicit ranges):
 * notes the rank, the process count and the `sets` global column counts
 * (explicit mode: the shard's ranges) so that another process's file or a
 * file of another process count is refused, and makes checkpoint_begin
 * and the writes collective (see checkpoint_begin).  Every process of the
 * fit must have the same checkpoint options. */
void checkpoint_note_shard(checkpoint *ck, const mdnmf_shard *shard, int sets,
                           const int64_t *n_global);

/* After the fingerprint: with a resume path, read the file, check it
 * against the run, and replay its recorded epochs to the epoch callback.
 * MDNMF_OK, or the error (on the model) naming the file and what is
 * wrong; MDNMF_ERR_CANCELLED if the callback stopped the replay (the
 * loaded checkpoint is then written to the checkpoint path). */
int checkpoint_begin(checkpoint *ck);
/* Sharded (checkpoint_note_shard), checkpoint_begin is collective: the
 * processes learn whether one failed to read its file, then agree that
 * they all resume (or none does) the same stage and epoch, and fail
 * together with MDNMF_ERR_FORMAT naming the epochs if not; the replay's
 * stop is combined (one process's stop stops all).  A write that fails on
 * one process fails every process's checkpoint_epoch_ends. */

/* Arrays saved with every checkpoint: `lasting` ones at every position
 * (they live for the whole run), the others only at positions inside a
 * stage (they belong to the stage's open fits).  Names are unique; the
 * pointer must stay valid until checkpoint_untrack of a prefix of it.
 * MDNMF_ERR_MEMORY on the model if the table cannot grow. */
int checkpoint_track(checkpoint *ck, const char *name, checkpoint_kind kind, void *data,
                     int64_t count, int lasting);
/* Stop tracking every array whose name starts with `prefix`. */
void checkpoint_untrack(checkpoint *ck, const char *prefix);

/* Resuming: whether stage `stage` is done already (a later one is
 * resumed), whether it continues from restored arrays (it is the resumed
 * stage and the saved epoch is >= 1), and the first epoch its loop runs:
 * the saved epoch + 1 for the resumed stage, else 1 (this ends the resume:
 * from then on the run is an ordinary one). */
int checkpoint_skips(const checkpoint *ck, int stage);
int checkpoint_restores(const checkpoint *ck, int stage);
int checkpoint_first_epoch(checkpoint *ck, int stage);

/* Whether a resume was asked for and its stage never came (the file does
 * not fit the run's stages). */
int checkpoint_pending(const checkpoint *ck);

/* Copy the saved array `name` (of `kind`, exactly `count` values) into
 * `data`.  MDNMF_ERR_FORMAT naming the file and the member when it is
 * missing or of another type or size. */
int checkpoint_restore(checkpoint *ck, const char *name, checkpoint_kind kind, void *data,
                       int64_t count);

/* A stage starts: a stop before its first epoch ends saves it from its
 * start. */
void checkpoint_stage_begins(checkpoint *ck, int stage);

/* An epoch's progress record, kept for the replay of a resumed run. */
void checkpoint_record(checkpoint *ck, const mdnmf_progress *progress);

/* Epoch `epoch` (0: initialisation) of stage `stage` ended with `status`.
 * MDNMF_OK: the position moves there and the checkpoint is written when
 * epoch is a multiple of checkpoint_every; MDNMF_ERR_CANCELLED: the
 * position moves there and the checkpoint is written; other statuses
 * change nothing.  Returns `status`, or the write's MDNMF_ERR_IO /
 * MDNMF_ERR_MEMORY. */
int checkpoint_epoch_ends(checkpoint *ck, int stage, int epoch, int status);

/* Whether a checkpoint is being written (a stopped epoch of D+MDNMF is
 * finished for every source first, so that it can be saved). */
int checkpoint_writes(const checkpoint *ck);

#endif
