#!/usr/bin/python3
"""The scaling model of a sharded fit (mdnmf-mpi): compute per batch against one all-reduce.

    mpi_model.py [--m 129] [--d 160] [--batch 1000] [--n 200000] [--gflops 60]
                 [--ranks 8,64] [--adv] [--efficiency 0.8]
                 [--check-k1 S --check-k2 S --allreduce-us US]

Prints the predicted parallel efficiency of K ranks on a 10 Gb/s and a 100 Gb/s network, and
the global batch size B needed to keep it at --efficiency (default 80 %).  With --check-k1 /
--check-k2 (measured seconds per epoch with 1 and 2 ranks on this machine) and --allreduce-us
(the measured all-reduce of one batch's buffer with 2 ranks), it calibrates the rate from the
K = 1 time and compares its K = 2 prediction with the measurement.  bench/bench_mpi.py imports
it (`make bench-mpi`); docs/distributed.md, "Scaling model", explains it.

The model (src/nmf.c, sharded_basis_step and the epoch's H step; gemm-equivalent flops, 2·M·N·K
per product, the Gram products counted as full products as bench/bench_fit.c counts them):

  per batch and W-step term (NMF: 1 term; MDNMF: 2, the adversarial batch taken as B too):
    split across the ranks: U_b H_bᵀ (2·m·d·B) and the Gram H_b H_bᵀ (2·d²·B), each rank its
                            B/K columns of the batch;
    done by every rank:     W G (2·m·d²) after the reduction (every rank forms the whole
                            update), the element-wise step;
  per epoch (amortised over its N/B batches), per data set:
    split:                  WᵀU (2·m·d·N) and WᵀW H (2·d²·N), each rank its N/K columns;
    split (MDNMF):          the collapse check W H_s on 64 fixed columns (2·m·64·d);
    done by every rank:     WᵀW (2·d²·m); also the epoch's permutation of the N global
                            columns and the scan of each batch's B indices (not counted);
  communication per batch:  one all-reduce of n = 4·(terms·(m·d + d²) + 1) bytes.

  T_K(B) = (split / K + every rank) / R + allreduce(K, n),   efficiency = T_1 / (K · T_K)

All-reduce (α = latency per message, β = bandwidth):
  Rabenseifner (reduce-scatter by recursive halving, all-gather by recursive doubling):
      2·log2(K)·α + 2·(K−1)/K · n/β     (the headline: MPICH's algorithm for commutative
                                         sums above 2 KiB, also one of Open MPI's)
  ring:
      2·(K−1)·α + 2·(K−1)/K · n/β       (the pessimistic bound: an MPI that picks the ring
                                         for these 185 kB pays K−1 latencies twice)
Both move the bandwidth-optimal 2·(K−1)/K · n bytes per rank; they differ in latency.  The
reduction's own additions ((K−1)/K · n/4 flops at memory speed) and any overlap of
communication with compute (there is none: the reduction is blocking) are left out.
"""

import argparse
import math
import sys

# The networks of the prediction: achievable bandwidth (about 90 % of the line rate) and the
# latency of one small message between two nodes (assumptions, docs/distributed.md).
NETWORKS = (
    ("10 Gb/s Ethernet, TCP", 1.1e9, 30e-6),
    ("100 Gb/s InfiniBand-class, RDMA", 11.0e9, 3e-6),
)
# This machine's measured single-core rate is passed in; this is only the default when run
# without it (the figure `make bench-mpi` measured on the 2-core VM, docs/distributed.md).
DEFAULT_GFLOPS = 100.0
# src/nmf.c's HEALTH_SAMPLE: MDNMF's check multiplies W by H on this many fixed columns.
HEALTH_SAMPLE = 64


def flops(m, d, batch, n, terms):
    """(split, every_rank) gemm-equivalent flops per batch of one epoch of N columns."""
    sets = terms  # MDNMF: the adversarial data is a second data set with its own H step
    w_split = terms * (2.0 * m * d * batch + 2.0 * d * d * batch)
    w_every = terms * 2.0 * m * d * d
    h_split = sets * (2.0 * m * d * batch + 2.0 * d * d * batch)  # N/B batches share N columns
    if terms == 2:  # MDNMF's collapse check: W H on 64 fixed columns once per epoch
        h_split += 2.0 * m * min(n, HEALTH_SAMPLE) * d * batch / n
    h_every = (2.0 * d * d * m) * batch / n  # WᵀW once per epoch
    return w_split + h_split, w_every + h_every


def buffer_bytes(m, d, terms):
    """The all-reduce of one batch: each term's U_b H_bᵀ and Gram, and the voiced flag."""
    return 4.0 * (terms * (m * d + d * d) + 1)


def allreduce_seconds(ranks, size, bandwidth, latency, algorithm):
    if ranks <= 1:
        return 0.0
    volume = 2.0 * (ranks - 1) / ranks * size / bandwidth
    if algorithm == "ring":
        return 2.0 * (ranks - 1) * latency + volume
    return 2.0 * math.ceil(math.log2(ranks)) * latency + volume


def batch_seconds(ranks, m, d, batch, n, terms, rate, comm, split_wg=False):
    """Seconds per batch on `ranks` ranks; comm(ranks, bytes) is the all-reduce's time.
    split_wg: the W G product shared out by rows (a reduce-scatter design, not the code)."""
    split, every = flops(m, d, batch, n, terms)
    if split_wg:
        wg = terms * 2.0 * m * d * d
        split, every = split + wg, every - wg
    return (split / ranks + every) / rate + comm(ranks, buffer_bytes(m, d, terms))


def efficiency(ranks, m, d, batch, n, terms, rate, comm, split_wg=False):
    one = batch_seconds(1, m, d, batch, n, terms, rate, comm, split_wg)
    return one / (ranks * batch_seconds(ranks, m, d, batch, n, terms, rate, comm, split_wg))


def batch_for(target, ranks, m, d, n, terms, rate, comm, split_wg=False, limit=10 ** 9):
    """The smallest global batch size with efficiency >= target (None above `limit`).
    Efficiency grows with B (the split work grows, the rest does not): bisection."""
    def good(batch):
        return efficiency(ranks, m, d, batch, max(n, batch), terms, rate, comm,
                          split_wg) >= target
    if not good(limit):
        return None
    low, high = 0, limit  # good(high), not good(low)
    while high - low > 1:
        middle = (low + high) // 2
        if good(middle):
            high = middle
        else:
            low = middle
    return high


def network_comm(bandwidth, latency, algorithm):
    return lambda ranks, size: allreduce_seconds(ranks, size, bandwidth, latency, algorithm)


def prediction_rows(m, d, batch, n, rate, ranks_list, target, methods=("NMF", "MDNMF")):
    rows = []
    for method in methods:
        terms = 2 if method == "MDNMF" else 1
        for name, bandwidth, latency in NETWORKS:
            rab = network_comm(bandwidth, latency, "rabenseifner")
            ring = network_comm(bandwidth, latency, "ring")
            for ranks in ranks_list:
                split, every = flops(m, d, batch, n, terms)
                size = buffer_bytes(m, d, terms)
                rows.append(dict(
                    method=method, network=name, ranks=ranks,
                    compute_ms=1e3 * (split / ranks + every) / rate,
                    comm_ms=1e3 * rab(ranks, size), ring_ms=1e3 * ring(ranks, size),
                    eff=efficiency(ranks, m, d, batch, n, terms, rate, rab),
                    eff_ring=efficiency(ranks, m, d, batch, n, terms, rate, ring),
                    b80=batch_for(target, ranks, m, d, n, terms, rate, rab),
                    b80_ring=batch_for(target, ranks, m, d, n, terms, rate, ring),
                    b80_split=batch_for(target, ranks, m, d, n, terms, rate, rab, True),
                    eff_no_comm=efficiency(ranks, m, d, batch, n, terms, rate,
                                           lambda k, s: 0.0)))
    return rows


def check_k2(m, d, batch, n, terms, seconds_k1, seconds_k2, allreduce_us):
    """Calibrate the rate on the measured K = 1 epoch, predict K = 2 with the measured
    all-reduce.  Returns a dict of the figures."""
    batches = n // batch
    split, every = flops(m, d, batch, n, terms)
    epoch_flops = batches * (split + every)
    rate = epoch_flops / seconds_k1
    comm = batches * allreduce_us * 1e-6
    predicted = batches * (split / 2 + every) / rate + comm
    return dict(rate=rate, epoch_gflop=epoch_flops / 1e9, predicted=predicted,
                measured=seconds_k2, comm=comm, error=(seconds_k2 - predicted) / predicted,
                speedup_predicted=seconds_k1 / predicted, speedup_measured=seconds_k1 / seconds_k2)


def text_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def batch_text(value):
    return "> 1e9" if value is None else "{:,}".format(value)


PREDICTION_HEADER = ["method", "network", "K", "compute ms/batch", "all-reduce ms (Rab./ring)",
                     "efficiency at B (Rab./ring)", "no comm", "B for {t} (Rab.)",
                     "B for {t} (ring)", "B for {t}, W G split"]


def prediction_table(rows, target):
    header = [h.format(t="%d %%" % round(100 * target)) for h in PREDICTION_HEADER]
    body = [[r["method"], r["network"], r["ranks"], "%.2f" % r["compute_ms"],
             "%.3f / %.3f" % (r["comm_ms"], r["ring_ms"]),
             "%.0f %% / %.0f %%" % (100 * r["eff"], 100 * r["eff_ring"]),
             "%.0f %%" % (100 * r["eff_no_comm"]), batch_text(r["b80"]),
             batch_text(r["b80_ring"]), batch_text(r["b80_split"])] for r in rows]
    return header, body


def describe_networks():
    return "; ".join("%s: %.3g GB/s, latency %g us" % (name, bandwidth / 1e9, 1e6 * latency)
                     for name, bandwidth, latency in NETWORKS)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--m", type=int, default=129)
    parser.add_argument("--d", type=int, default=160)
    parser.add_argument("--batch", type=int, default=1000, help="global batch size B")
    parser.add_argument("--n", type=int, default=200000, help="global columns N per epoch")
    parser.add_argument("--gflops", type=float, default=DEFAULT_GFLOPS,
                        help="one rank's GFLOP/s (gemm-equivalent; K = 1 run's rate)")
    parser.add_argument("--ranks", default="8,64")
    parser.add_argument("--efficiency", type=float, default=0.8)
    parser.add_argument("--adv", action="store_true", help="MDNMF only (default: both)")
    parser.add_argument("--nmf", action="store_true", help="NMF only (default: both)")
    parser.add_argument("--check-k1", type=float, help="measured s/epoch, 1 rank")
    parser.add_argument("--check-k2", type=float, help="measured s/epoch, 2 ranks")
    parser.add_argument("--allreduce-us", type=float,
                        help="measured all-reduce of one batch's buffer, 2 ranks, us")
    return parser.parse_args()


def main():
    args = parse_arguments()
    try:
        ranks_list = [int(x) for x in args.ranks.split(",") if x]
    except ValueError:
        print("mpi_model: --ranks takes comma-separated integers", file=sys.stderr)
        return 2
    if args.batch < 1 or args.n < args.batch or args.gflops <= 0 or min(ranks_list) < 1:
        print("mpi_model: need 1 <= batch <= n, gflops > 0, ranks >= 1", file=sys.stderr)
        return 2
    methods = ("MDNMF",) if args.adv else ("NMF",) if args.nmf else ("NMF", "MDNMF")
    rate = args.gflops * 1e9
    if args.check_k1 and args.check_k2 and args.allreduce_us is not None:
        check = check_k2(args.m, args.d, args.batch, args.n, 2 if args.adv else 1,
                         args.check_k1, args.check_k2, args.allreduce_us)
        rate = check["rate"]
        print("check on this machine (K = 2, shared memory): %.3f GFLOP per epoch, rate %.1f "
              "GFLOP/s from K = 1; predicted %.1f ms/epoch (all-reduce %.1f ms of it), "
              "measured %.1f ms: %+.1f %%" % (
                  check["epoch_gflop"], check["rate"] / 1e9, 1e3 * check["predicted"],
                  1e3 * check["comm"], 1e3 * check["measured"], 100 * check["error"]))
    print("model: m = %d, d = %d, B = %d, N = %d, %.1f GFLOP/s per rank; %s" % (
        args.m, args.d, args.batch, args.n, rate / 1e9, describe_networks()))
    header, body = prediction_table(
        prediction_rows(args.m, args.d, args.batch, args.n, rate, ranks_list, args.efficiency,
                        methods), args.efficiency)
    print(text_table(header, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
