/* mpi_allreduce: the cost of the one all-reduce per batch of a sharded fit
 * on this MPI and this machine (bench/bench_mpi.py, docs/distributed.md).
 *
 *   mpirun -np K mpi_allreduce [--repeats R] COUNT...
 *
 * For every COUNT (floats), times R in-place MPI_Allreduce(MPI_SUM, float)
 * calls, the call the tool's reduction makes (mpi/main.c, mpi_reduce),
 * after a barrier and a few untimed calls.  Prints on rank 0 one line per
 * count: "allreduce<TAB>count=C<TAB>bytes=B<TAB>ranks=K<TAB>median_us=M<TAB>
 * min_us=L" (the slowest rank's time of each call; median and minimum over
 * the calls).  COUNT 1 gives the latency α of this transport; the m·d + d² + 1
 * floats of a batch give the time the scaling model charges per batch.
 * Exit 0, or 1 on a usage error or failed allocation. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNTS 16
#define WARM_UP 5

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of each of `repeats` calls, as the slowest rank saw it. */
static int time_calls(float *buffer, int count, int repeats, double *seconds)
{
    for (int i = 0; i < count; i++)
        buffer[i] = 1.0f;
    for (int r = 0; r < WARM_UP; r++)
        MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int r = 0; r < repeats; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        if (MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return 0;
        seconds[r] = MPI_Wtime() - start;
    }
    MPI_Allreduce(MPI_IN_PLACE, seconds, repeats, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return 1;
}

static int usage(int rank)
{
    if (rank == 0)
        fprintf(stderr, "usage: mpirun -np K mpi_allreduce [--repeats R] COUNT...\n");
    return 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    int repeats = 200, counts[MAX_COUNTS], count_total = 0, largest = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
            repeats = atoi(argv[++i]);
        } else if (count_total < MAX_COUNTS && atoi(argv[i]) > 0) {
            counts[count_total] = atoi(argv[i]);
            largest = counts[count_total] > largest ? counts[count_total] : largest;
            count_total++;
        } else {
            MPI_Finalize();
            return usage(rank);
        }
    }
    if (count_total == 0 || repeats < 1) {
        MPI_Finalize();
        return usage(rank);
    }
    float *buffer = malloc((size_t)largest * sizeof *buffer);
    double *seconds = malloc((size_t)repeats * sizeof *seconds);
    int ok = buffer && seconds;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD); /* all go on or none */
    for (int c = 0; c < count_total && ok; c++) {
        ok = time_calls(buffer, counts[c], repeats, seconds);
        qsort(seconds, (size_t)repeats, sizeof *seconds, compare_doubles);
        if (ok && rank == 0)
            printf("allreduce\tcount=%d\tbytes=%zu\tranks=%d\tmedian_us=%.3f\tmin_us=%.3f\n",
                   counts[c], (size_t)counts[c] * sizeof(float), ranks,
                   1e6 * seconds[repeats / 2], 1e6 * seconds[0]);
    }
    if (!ok && rank == 0)
        fprintf(stderr, "mpi_allreduce: out of memory or MPI_Allreduce failed\n");
    free(buffer);
    free(seconds);
    MPI_Finalize();
    return ok ? 0 : 1;
}
