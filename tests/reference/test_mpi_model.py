"""The scaling model of bench/mpi_model.py (`make bench-mpi`, docs/distributed.md).

  - its flops per epoch are the flops the library asks BLAS for: bench_fit counts every
    cblas_sgemm / cblas_ssyrk call of mdnmf_fit_std and mdnmf_fit_adv (blas_count.c) and
    prints that count; the model must give the same number for NMF and MDNMF at two shapes
    (with the adversarial batch equal to the true one, as the model assumes);
  - the all-reduce formulas at K = 1 (free), K = 2 (one exchange: n/β + 2α for both
    algorithms) and K = 64 (Rabenseifner 12 latencies, ring 126; same volume);
  - efficiency is 1 at K = 1, and the batch size it returns for 80 % is the smallest one
    (one less misses), checked by brute force on a small case.

Run by ctest with MDNMF_BUILD (bench_fit in MDNMF_BUILD/bench; skipped when not built).
"""
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import mpi_model  # noqa: E402

BUILD = os.environ.get("MDNMF_BUILD", os.path.join(HERE, "..", "..", "build"))
BENCH_FIT = os.path.join(BUILD, "bench", "bench_fit")


def counted_flops(d, n, batch):
    """{case: the library's counted flops per epoch} from bench_fit (synthetic digits)."""
    out = subprocess.run([BENCH_FIT, "--d", str(d), "--n", str(n), "--batch", str(batch),
                          "--batch-adv", str(batch), "--epochs", "1", "--repeats", "1",
                          "--synthetic", "--format", "tsv"], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr
    counts = {}
    for line in out.stdout.splitlines():
        fields = line.split("\t")
        if fields[0] != "result":
            continue
        record = dict(f.split("=", 1) for f in fields[1:])
        assert record["flops_checked"] == "1", "bench_fit's own flop model disagrees"
        counts[record["case"]] = (int(record["m"]), float(record["counted_flop_per_epoch"]))
    return counts


def test_flops_are_the_library_blas_calls():
    if not os.access(BENCH_FIT, os.X_OK):
        print("bench_fit not built: flop check skipped")
        return False
    for d, n, batch in ((32, 2000, 500), (48, 3000, 1000)):
        for case, (m, counted) in counted_flops(d, n, batch).items():
            terms = 2 if case == "fit_adv" else 1
            split, every = mpi_model.flops(m, d, batch, n, terms)
            model = (n // batch) * (split + every)
            # bench_fit prints 6 significant digits
            assert abs(model - counted) <= 5e-6 * counted, (case, d, n, batch, model, counted)
    return True


def test_allreduce_formulas():
    size, bandwidth, latency = 184964.0, 1.1e9, 30e-6
    for algorithm in ("rabenseifner", "ring"):
        assert mpi_model.allreduce_seconds(1, size, bandwidth, latency, algorithm) == 0.0
        two = mpi_model.allreduce_seconds(2, size, bandwidth, latency, algorithm)
        assert math.isclose(two, size / bandwidth + 2 * latency, rel_tol=1e-12)
    volume = 2 * 63 / 64 * size / bandwidth
    assert math.isclose(mpi_model.allreduce_seconds(64, size, bandwidth, latency,
                                                    "rabenseifner"),
                        12 * latency + volume, rel_tol=1e-12)
    assert math.isclose(mpi_model.allreduce_seconds(64, size, bandwidth, latency, "ring"),
                        126 * latency + volume, rel_tol=1e-12)
    assert mpi_model.buffer_bytes(129, 160, 1) == 4 * (129 * 160 + 160 * 160 + 1)
    assert mpi_model.buffer_bytes(129, 160, 2) == 4 * (2 * (129 * 160 + 160 * 160) + 1)


def test_efficiency_and_batch_for_80_percent():
    comm = mpi_model.network_comm(1.1e9, 30e-6, "rabenseifner")
    rate = 60e9
    for terms in (1, 2):
        assert math.isclose(mpi_model.efficiency(1, 129, 160, 1000, 200000, terms, rate, comm),
                            1.0, rel_tol=1e-12)
    # Small enough for brute force: m = 20, d = 8, K = 4.
    m, d, n, ranks = 20, 8, 10 ** 6, 4
    found = mpi_model.batch_for(0.8, ranks, m, d, n, 1, rate, comm)
    first = next(b for b in range(1, 10 ** 6)
                 if mpi_model.efficiency(ranks, m, d, b, n, 1, rate, comm) >= 0.8)
    assert found == first, (found, first)
    # Without communication the only limit is the W G product every rank repeats.
    free = mpi_model.efficiency(64, 129, 160, 1000, 200000, 1, rate, lambda k, s: 0.0)
    split, every = mpi_model.flops(129, 160, 1000, 200000, 1)
    assert math.isclose(free, (split + every) / (64 * (split / 64 + every)), rel_tol=1e-12)


def main():
    checked = test_flops_are_the_library_blas_calls()
    test_allreduce_formulas()
    test_efficiency_and_batch_for_80_percent()
    print("mpi_model: %s, all-reduce formulas, efficiency and the 80 %% batch: ok"
          % ("flops = the library's BLAS calls" if checked else "flops not checked"))


if __name__ == "__main__":
    main()
