"""A Denoiser fit releases the GIL (another Python thread keeps running,
measured) and stops cleanly on KeyboardInterrupt, leaving the object as it
was (issue 15: "a fit running in a Python thread does not block another
Python thread (measured)", "KeyboardInterrupt stops a fit cleanly")."""

import _thread
import atexit
import os
import signal
import threading
import time

import numpy as np

from audio_fixture import RATE, cleanup, folders, prompts
from harness import raises, run_tests

import mdnmf

atexit.register(cleanup)


def long_fit_arguments():
    """A fit of a few seconds: every digit prompt, many epochs, one thread."""
    speech = [mdnmf.read_audio(f)[0] for f in prompts()]
    rng = np.random.default_rng(0)
    noisy = [x + 0.05 * rng.standard_normal(x.size) for x in speech]
    return (speech, noisy), dict(sample_rate=RATE, atoms=(128, 64), epochs=6, n_fft=1024,
                                 threads=1)


STALL = 0.02  # seconds without a single step of the counter


def count_for(seconds, stop=None):
    """Run a pure-Python counter (it needs the GIL) for `seconds` or until
    `stop` is set; returns (steps, seconds spent in stalls longer than
    STALL, the longest stall).  A thread holding the GIL stalls it."""
    count, stalled, longest = 0, 0.0, 0.0
    last = start = time.monotonic()
    while last - start < seconds and not (stop is not None and stop.is_set()):
        now = time.monotonic()
        gap = now - last
        if gap > STALL:
            stalled += gap
        longest = max(longest, gap)
        last = now
        count += 1
    return count, stalled, longest


def test_a_fit_in_a_thread_does_not_block_other_threads():
    args, kwargs = long_fit_arguments()
    done, finished = {}, threading.Event()

    def fit():
        start = time.monotonic()
        try:
            done["model"] = mdnmf.Denoiser().fit(*args, **kwargs)
        finally:
            done["seconds"] = time.monotonic() - start
            finished.set()

    baseline, _, _ = count_for(0.5)
    worker = threading.Thread(target=fit)
    worker.start()
    start = time.monotonic()
    counted, stalled, longest = count_for(60.0, finished)
    during = time.monotonic() - start
    worker.join()
    assert done.get("model") is not None and done["model"].fitted
    rate, alone = counted / during, baseline / 0.5
    print(f"     fit {done['seconds']:.2f} s in a thread; meanwhile the counter ran "
          f"{rate:.3g} steps/s ({100 * rate / alone:.0f} % of {alone:.3g}/s alone), stalled "
          f"{stalled:.3f} s in all ({100 * stalled / during:.1f} %), longest stall "
          f"{1000 * longest:.1f} ms")
    assert during > 0.5, "the fit was too short to measure"
    # A fit holding the GIL would stall the counter for whole epochs (it only
    # runs at the epoch callbacks): most of the fit.  Released, only the
    # machine's own scheduling stalls it.
    assert stalled < 0.25 * during, (stalled, during)
    assert rate > 0.2 * alone, (rate, alone)


def interrupted_fit(trigger):
    """Fit a fitted Denoiser again, interrupted by `trigger` after 0.3 s;
    returns (seconds until KeyboardInterrupt after the trigger, basis before,
    the Denoiser)."""
    speech_dir, noisy_dir, _ = folders()
    den = mdnmf.Denoiser().fit(speech_dir, noisy_dir, atoms=(16, 8), epochs=5, n_fft=256)
    before = den.basis
    args, kwargs = long_fit_arguments()
    fired = {}

    def fire():
        fired["at"] = time.monotonic()
        trigger()

    timer = threading.Timer(0.3, fire)
    timer.start()
    try:
        den.fit(*args, **kwargs)
    except KeyboardInterrupt:
        latency = time.monotonic() - fired["at"]
    else:
        raise AssertionError("the fit ended without KeyboardInterrupt")
    finally:
        timer.cancel()
    return latency, before, den


def test_keyboard_interrupt_stops_a_fit_and_leaves_the_denoiser_unchanged():
    for name, trigger in (("interrupt_main", _thread.interrupt_main),
                          ("SIGINT", lambda: os.kill(os.getpid(), signal.SIGINT))):
        latency, before, den = interrupted_fit(trigger)
        print(f"     {name}: KeyboardInterrupt {1000 * latency:.0f} ms after the signal")
        assert latency < 2.0, latency
        assert np.array_equal(den.basis, before)  # the old model stays
        assert den.atoms == (16, 8)
        # Python's own handler is back: Ctrl-C after the fit interrupts as usual
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupted_fresh_denoiser_stays_unfitted():
    args, kwargs = long_fit_arguments()
    den = mdnmf.Denoiser()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    raises(KeyboardInterrupt, den.fit, *args, **kwargs)
    timer.cancel()
    assert not den.fitted
    raises(mdnmf.NotFittedError, den.apply, np.ones(100))


if __name__ == "__main__":
    run_tests(globals())
