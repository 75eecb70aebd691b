/* Figures of the experiments program, drawn with cairo and written as PNG files:
 * line plots with error bars (the paper's figures) and grids of small grey
 * images (example separations).  Every file is written under a temporary
 * name and renamed into place (cli/outputs.h), so a failure leaves nothing.
 * Text uses cairo's toy font API with the system's "sans-serif" face. */
#ifndef MDNMF_EXPERIMENTS_PLOT_H
#define MDNMF_EXPERIMENTS_PLOT_H

#include <stddef.h>

/* One line of a line plot: `count` points (x[i], y[i]) joined in order,
 * each with a vertical error bar of half-length err[i] (err may be NULL;
 * err[i] <= 0 or NaN draws none).  A non-finite y[i] leaves a gap. */
typedef struct plot_series {
    const char *label; /* legend text */
    int count;
    const double *x;
    const double *y;
    const double *err;
} plot_series;

/* What the axes show. */
typedef struct plot_axes {
    const char *title;
    const char *x_label;
    const char *y_label;
    int log2_x;           /* x positions on a log2 scale (all x > 0) */
    /* Ticks on the x axis: at x_ticks[i] labelled x_tick_labels[i] (or the
     * number if the labels are NULL).  NULL x_ticks: ticks at every x of
     * the first series. */
    const double *x_ticks;
    const char *const *x_tick_labels;
    int x_tick_count;
    int zero_line;        /* draw y = 0 as a darker line (differences) */
    int width, height;    /* pixels; 0 = 800 x 500 */
} plot_axes;

/* Draw the series on the axes and write the PNG to `path`.  Returns 0, or
 * -1 after printing one line "mdnmf COMMAND: PATH: reason". */
int plot_lines_png(const char *command, const char *path, const plot_axes *axes,
                   const plot_series *series, int series_count);

/* A grid of grey images: rows x cols cells, each a width x height image in
 * row-major order (a flattened 28 x 28 MNIST image is exactly that), drawn
 * `scale` times enlarged, white on black.  Values map linearly from 0
 * (black) to the row's largest value (white), so estimates and the truth
 * of one example share a scale. */
typedef struct plot_grid {
    const char *title;
    int rows, cols;
    int width, height;                /* pixels of one image, e.g. 28 x 28 */
    int scale;                        /* enlargement, e.g. 3 */
    const char *const *column_labels; /* cols entries, may be NULL; '\n' breaks a
                                         label into lines */
    const char *const *row_labels;    /* rows entries, may be NULL */
    const float *const *cells;        /* rows * cols images, row by row; NULL = blank */
    const char *const *captions;      /* rows * cols short texts drawn in the cell's corner
                                         (e.g. a PSNR), or NULL; entries may be NULL */
} plot_grid;

/* Draw the grid and write the PNG to `path`: as plot_lines_png. */
int plot_grid_png(const char *command, const char *path, const plot_grid *grid);

/* Release cairo's font caches (call once, after the last figure): keeps
 * leak checkers quiet about memory cairo would otherwise hold to exit. */
void plot_release_fonts(void);

/* The pixel size plot_grid_png gives `grid` (for callers and tests). */
void plot_grid_size(const plot_grid *grid, int *width, int *height);

#endif
