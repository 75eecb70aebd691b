/* FFTW's planner (plan creation and destruction) is not thread-safe; every
 * module of the library that plans takes this lock around it.  Executing
 * plans needs no lock. */
#ifndef MDNMF_FFT_LOCK_H
#define MDNMF_FFT_LOCK_H

void fft_planner_lock(void);
void fft_planner_unlock(void);

#endif
