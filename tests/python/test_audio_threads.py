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


def count_beside(work):
    """Run `work` in a thread and the counter in this one until it ends;
    returns (steps per second, fraction of the time stalled, the work's
    result, its seconds)."""
    done, finished = {}, threading.Event()

    def run():
        begin = time.monotonic()
        try:
            done["result"] = work()
        finally:
            done["seconds"] = time.monotonic() - begin
            finished.set()

    worker = threading.Thread(target=run)
    worker.start()
    start = time.monotonic()
    counted, stalled, _ = count_for(60.0, finished)
    during = time.monotonic() - start
    worker.join()
    return counted / during, stalled / during, done.get("result"), done["seconds"]


def gil_free_work(seconds):
    """CPU work of about `seconds` that releases the GIL as a C library
    should: NumPy's matrix products (OpenBLAS on one thread, harness.py)."""
    a = np.random.default_rng(0).random((400, 400), dtype=np.float32)
    def work():
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            a @ a
        return True
    return work


def test_a_fit_in_a_thread_does_not_block_other_threads():
    """Side by side with a control that releases the GIL for certain (NumPy
    products in a thread, before and after the fit), so that the machine's
    load, which also slows the counter, cancels out: a fit that held the GIL
    would let the counter run only at its epoch callbacks (measured with
    ctypes.PyDLL: stalled 85-87 % of the fit)."""
    args, kwargs = long_fit_arguments()
    before, stalled_before, _, _ = count_beside(gil_free_work(1.5))
    rate, stalled, model, seconds = count_beside(lambda: mdnmf.Denoiser().fit(*args, **kwargs))
    after, stalled_after, _, _ = count_beside(gil_free_work(1.5))
    assert model is not None and model.fitted
    control = (before + after) / 2
    control_stalled = max(stalled_before, stalled_after)
    print(f"     fit {seconds:.2f} s in a thread; meanwhile the counter ran {rate:.3g} steps/s "
          f"({100 * rate / control:.0f} % of {control:.3g}/s beside GIL-free NumPy work), "
          f"stalled {100 * stalled:.1f} % of the time (control: {100 * control_stalled:.1f} %)")
    assert seconds > 0.5, "the fit was too short to measure"
    assert rate > 0.5 * control, (rate, control)
    assert stalled < control_stalled + 0.25, (stalled, control_stalled)


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
