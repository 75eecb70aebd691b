/* Line plots and image grids as PNG files, drawn with cairo (see plot.h). */
#include "plot.h"

#include "options.h"
#include "outputs.h"

#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ common */

static const double PI = 3.14159265358979323846;

/* Distinguishable line colours (the "tab10" palette of matplotlib). */
static const double PALETTE[][3] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
    {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
    {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
    {0.090, 0.745, 0.812},
};
enum { PALETTE_SIZE = sizeof PALETTE / sizeof PALETTE[0] };

static cairo_status_t write_to_stream(void *closure, const unsigned char *data,
                                      unsigned int length)
{
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

/* Encode the surface as PNG into `path`, atomically. */
static int write_png(const char *command, const char *path, cairo_surface_t *surface)
{
    cli_output output;
    if (cli_output_open(&output, command, path) != 0) {
        return -1;
    }
    cairo_status_t status = cairo_surface_write_to_png_stream(surface, write_to_stream,
                                                              output.stream);
    if (status != CAIRO_STATUS_SUCCESS) {
        cli_error(command, "%s: cannot encode the PNG: %s", path,
                  cairo_status_to_string(status));
        cli_output_discard(&output);
        return -1;
    }
    return cli_output_commit(&output, command);
}

static int drawing_failed(const char *command, const char *path, cairo_t *cr)
{
    cairo_status_t status = cairo_status(cr);
    if (status == CAIRO_STATUS_SUCCESS) {
        return 0;
    }
    cli_error(command, "%s: cannot draw the figure: %s", path, cairo_status_to_string(status));
    return -1;
}

static void set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Draw `text` with its anchor at (x, y): align_x 0 = left, 0.5 = centre,
 * 1 = right; align_y likewise from top (0) to bottom (1) of the ink. */
static void draw_text(cairo_t *cr, const char *text, double x, double y, double align_x,
                      double align_y)
{
    cairo_text_extents_t extents;
    cairo_text_extents(cr, text, &extents);
    double left = x - extents.x_advance * align_x;
    double top = y - extents.height * align_y;
    cairo_move_to(cr, left, top - extents.y_bearing);
    cairo_show_text(cr, text);
}

static double text_width(cairo_t *cr, const char *text)
{
    cairo_text_extents_t extents;
    cairo_text_extents(cr, text, &extents);
    return extents.x_advance;
}

/* ------------------------------------------------------------ line plots */

typedef struct frame {
    double left, top, right, bottom; /* plot area in pixels */
    double x_min, x_max, y_min, y_max;
    int log2_x;
} frame;

static double frame_x(const frame *f, double x)
{
    double u = f->log2_x ? log2(x) : x;
    return f->left + (u - f->x_min) / (f->x_max - f->x_min) * (f->right - f->left);
}

static double frame_y(const frame *f, double y)
{
    return f->bottom - (y - f->y_min) / (f->y_max - f->y_min) * (f->bottom - f->top);
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` ticks. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks;
    double power = pow(10.0, floor(log10(raw)));
    double fraction = raw / power;
    double nice = fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10;
    return nice * power;
}

static void widen(double value, double *low, double *high)
{
    if (isfinite(value)) {
        *low = fmin(*low, value);
        *high = fmax(*high, value);
    }
}

/* Data ranges of all points (with error bars), padded a little. */
static void fit_ranges(frame *f, const plot_axes *axes, const plot_series *series, int count)
{
    double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
    for (int s = 0; s < count; s++) {
        for (int i = 0; i < series[s].count; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!isfinite(y) || (f->log2_x && x <= 0)) {
                continue;
            }
            widen(f->log2_x ? log2(x) : x, &x_low, &x_high);
            double e = series[s].err && isfinite(series[s].err[i]) ? fabs(series[s].err[i]) : 0;
            widen(y - e, &y_low, &y_high);
            widen(y + e, &y_low, &y_high);
        }
    }
    for (int i = 0; axes->x_ticks && i < axes->x_tick_count; i++) {
        double x = axes->x_ticks[i];
        if (!f->log2_x || x > 0) {
            widen(f->log2_x ? log2(x) : x, &x_low, &x_high);
        }
    }
    if (axes->zero_line) {
        widen(0.0, &y_low, &y_high);
    }
    if (!isfinite(x_low)) {
        x_low = 0, x_high = 1;
    }
    if (!isfinite(y_low)) {
        y_low = 0, y_high = 1;
    }
    if (x_high - x_low < 1e-12) {
        x_low -= 0.5, x_high += 0.5;
    }
    if (y_high - y_low < 1e-9) {
        y_low -= 0.5, y_high += 0.5;
    }
    double x_pad = 0.05 * (x_high - x_low), y_pad = 0.08 * (y_high - y_low);
    f->x_min = x_low - x_pad, f->x_max = x_high + x_pad;
    f->y_min = y_low - y_pad, f->y_max = y_high + y_pad;
}

static void draw_y_axis(cairo_t *cr, const frame *f, const plot_axes *axes)
{
    double step = nice_step(f->y_max - f->y_min, 6);
    set_font(cr, 12, 0);
    for (double y = ceil(f->y_min / step) * step; y <= f->y_max + 1e-9 * step; y += step) {
        double py = frame_y(f, y);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, f->left, py);
        cairo_line_to(cr, f->right, py);
        cairo_stroke(cr);
        char label[32];
        snprintf(label, sizeof label, "%g", fabs(y) < 1e-9 * step ? 0.0 : y);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, label, f->left - 6, py, 1.0, 0.5);
    }
    if (axes->zero_line && f->y_min < 0 && f->y_max > 0) {
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        cairo_move_to(cr, f->left, frame_y(f, 0));
        cairo_line_to(cr, f->right, frame_y(f, 0));
        cairo_stroke(cr);
    }
    if (axes->y_label) {
        set_font(cr, 14, 0);
        cairo_save(cr);
        cairo_translate(cr, 18, (f->top + f->bottom) / 2);
        cairo_rotate(cr, -PI / 2);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_text(cr, axes->y_label, 0, 0, 0.5, 0.5);
        cairo_restore(cr);
    }
}

static void draw_x_tick(cairo_t *cr, const frame *f, double x, const char *label)
{
    double px = frame_x(f, x);
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, px, f->top);
    cairo_line_to(cr, px, f->bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, label, px, f->bottom + 6, 0.5, 0.0);
}

static void draw_x_axis(cairo_t *cr, const frame *f, const plot_axes *axes,
                        const plot_series *first)
{
    set_font(cr, 12, 0);
    const double *ticks = axes->x_ticks ? axes->x_ticks : first ? first->x : NULL;
    int count = axes->x_ticks ? axes->x_tick_count : first ? first->count : 0;
    for (int i = 0; ticks && i < count; i++) {
        if (f->log2_x && ticks[i] <= 0) {
            continue;
        }
        char number[32];
        snprintf(number, sizeof number, "%g", ticks[i]);
        const char *label = axes->x_ticks && axes->x_tick_labels ? axes->x_tick_labels[i]
                                                                 : number;
        draw_x_tick(cr, f, ticks[i], label);
    }
    if (axes->x_label) {
        set_font(cr, 14, 0);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_text(cr, axes->x_label, (f->left + f->right) / 2, f->bottom + 28, 0.5, 0.0);
    }
}

static void draw_series(cairo_t *cr, const frame *f, const plot_series *s, int index)
{
    const double *rgb = PALETTE[index % PALETTE_SIZE];
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 2.0);
    int pen_down = 0;
    for (int i = 0; i < s->count; i++) {
        if (!isfinite(s->y[i]) || (f->log2_x && s->x[i] <= 0)) {
            pen_down = 0;
            continue;
        }
        double px = frame_x(f, s->x[i]), py = frame_y(f, s->y[i]);
        if (pen_down) {
            cairo_line_to(cr, px, py);
        } else {
            cairo_move_to(cr, px, py);
        }
        pen_down = 1;
    }
    cairo_stroke(cr);
    cairo_set_line_width(cr, 1.5);
    for (int i = 0; i < s->count; i++) {
        if (!isfinite(s->y[i]) || (f->log2_x && s->x[i] <= 0)) {
            continue;
        }
        double px = frame_x(f, s->x[i]), py = frame_y(f, s->y[i]);
        double e = s->err ? s->err[i] : 0;
        if (isfinite(e) && e > 0) {
            double top = frame_y(f, s->y[i] + e), bottom = frame_y(f, s->y[i] - e);
            cairo_move_to(cr, px, top);
            cairo_line_to(cr, px, bottom);
            cairo_move_to(cr, px - 4, top);
            cairo_line_to(cr, px + 4, top);
            cairo_move_to(cr, px - 4, bottom);
            cairo_line_to(cr, px + 4, bottom);
            cairo_stroke(cr);
        }
        cairo_arc(cr, px, py, 3.5, 0, 2 * PI);
        cairo_fill(cr);
    }
}

/* How many points of the series fall inside the box (x, y, w, h). */
static int points_inside(const frame *f, const plot_series *series, int count, double x,
                         double y, double w, double h)
{
    int inside = 0;
    for (int s = 0; s < count; s++) {
        for (int i = 0; i < series[s].count; i++) {
            if (!isfinite(series[s].y[i]) || (f->log2_x && series[s].x[i] <= 0)) {
                continue;
            }
            double px = frame_x(f, series[s].x[i]), py = frame_y(f, series[s].y[i]);
            inside += px >= x - 4 && px <= x + w + 4 && py >= y - 4 && py <= y + h + 4;
        }
    }
    return inside;
}

/* The legend in a white box in the corner of the plot that hides the
 * fewest points (the first of equals: top left, top right, bottom left,
 * bottom right). */
static void draw_legend(cairo_t *cr, const frame *f, const plot_series *series, int count)
{
    set_font(cr, 12, 0);
    double widest = 0;
    for (int s = 0; s < count; s++) {
        widest = fmax(widest, text_width(cr, series[s].label ? series[s].label : ""));
    }
    double box_w = widest + 44, box_h = 20.0 * count + 8;
    double corners[4][2] = {{f->left + 8, f->top + 8},
                            {f->right - 8 - box_w, f->top + 8},
                            {f->left + 8, f->bottom - 8 - box_h},
                            {f->right - 8 - box_w, f->bottom - 8 - box_h}};
    int best = 0, fewest = -1;
    for (int c = 0; c < 4; c++) {
        int inside = points_inside(f, series, count, corners[c][0], corners[c][1], box_w, box_h);
        if (fewest < 0 || inside < fewest) {
            best = c, fewest = inside;
        }
    }
    double x = corners[best][0], y = corners[best][1];
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, x, y, box_w, box_h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int s = 0; s < count; s++) {
        const double *rgb = PALETTE[s % PALETTE_SIZE];
        double row = y + 14 + 20.0 * s;
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, x + 8, row);
        cairo_line_to(cr, x + 32, row);
        cairo_stroke(cr);
        cairo_arc(cr, x + 20, row, 3.5, 0, 2 * PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_text(cr, series[s].label ? series[s].label : "", x + 38, row, 0.0, 0.5);
    }
}

int plot_lines_png(const char *command, const char *path, const plot_axes *axes,
                   const plot_series *series, int series_count)
{
    int width = axes->width > 0 ? axes->width : 800;
    int height = axes->height > 0 ? axes->height : 500;
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    frame f = {.left = 72, .top = axes->title ? 44 : 16, .right = width - 20,
               .bottom = height - 56, .log2_x = axes->log2_x};
    fit_ranges(&f, axes, series, series_count);

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_line_width(cr, 1);
    draw_y_axis(cr, &f, axes);
    draw_x_axis(cr, &f, axes, series_count > 0 ? &series[0] : NULL);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
    cairo_stroke(cr);
    cairo_save(cr);
    cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
    cairo_clip(cr);
    for (int s = 0; s < series_count; s++) {
        draw_series(cr, &f, &series[s], s);
    }
    cairo_restore(cr);
    if (series_count > 0) {
        draw_legend(cr, &f, series, series_count);
    }
    if (axes->title) {
        set_font(cr, 16, 1);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_text(cr, axes->title, width / 2.0, 12, 0.5, 0.0);
    }
    int status = drawing_failed(command, path, cr);
    cairo_destroy(cr);
    if (status == 0) {
        status = write_png(command, path, surface);
    }
    cairo_surface_destroy(surface);
    return status;
}

/* ------------------------------------------------------------ image grids */

enum { GRID_GAP = 4, GRID_TITLE = 30, GRID_HEADER_LINE = 14, GRID_ROW_LABEL = 70 };

/* Lines of the tallest column label ('\n' separates lines). */
static int header_lines(const plot_grid *grid)
{
    int most = 0;
    for (int c = 0; grid->column_labels && c < grid->cols; c++) {
        int lines = 1;
        for (const char *p = grid->column_labels[c]; p && *p; p++) {
            lines += *p == '\n';
        }
        most = lines > most ? lines : most;
    }
    return most;
}

static int header_height(const plot_grid *grid)
{
    int lines = header_lines(grid);
    return lines ? 8 + GRID_HEADER_LINE * lines : 0;
}

static int grid_has_row_labels(const plot_grid *grid)
{
    return grid->row_labels != NULL;
}

void plot_grid_size(const plot_grid *grid, int *width, int *height)
{
    int cell_w = grid->width * grid->scale, cell_h = grid->height * grid->scale;
    *width = (grid_has_row_labels(grid) ? GRID_ROW_LABEL : GRID_GAP) +
             grid->cols * (cell_w + GRID_GAP);
    *height = (grid->title ? GRID_TITLE : 0) + header_height(grid) +
              grid->rows * (cell_h + GRID_GAP) + GRID_GAP;
}

/* The largest finite value of a row's images: its common white level. */
static float row_peak(const plot_grid *grid, int row)
{
    float peak = 0;
    int64_t pixels = (int64_t)grid->width * grid->height;
    for (int c = 0; c < grid->cols; c++) {
        const float *image = grid->cells[row * grid->cols + c];
        for (int64_t i = 0; image && i < pixels; i++) {
            if (isfinite(image[i]) && image[i] > peak) {
                peak = image[i];
            }
        }
    }
    return peak > 0 ? peak : 1;
}

/* One image into the surface's pixels at (x0, y0), enlarged. */
static void blit_image(unsigned char *pixels, int stride, int x0, int y0, const plot_grid *grid,
                       const float *image, float peak)
{
    for (int r = 0; r < grid->height * grid->scale; r++) {
        uint32_t *line = (uint32_t *)(pixels + (size_t)(y0 + r) * stride) + x0;
        for (int c = 0; c < grid->width * grid->scale; c++) {
            float v = image[(r / grid->scale) * grid->width + c / grid->scale] / peak;
            v = isfinite(v) ? fminf(fmaxf(v, 0.0f), 1.0f) : 0.0f;
            uint32_t grey = (uint32_t)lrintf(v * 255.0f);
            line[c] = 0xff000000u | grey << 16 | grey << 8 | grey;
        }
    }
}

static void grid_labels(cairo_t *cr, const plot_grid *grid, int left, int top, int width)
{
    int cell_w = grid->width * grid->scale, cell_h = grid->height * grid->scale;
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (grid->title) {
        set_font(cr, 15, 1);
        draw_text(cr, grid->title, width / 2.0, 8, 0.5, 0.0);
    }
    set_font(cr, 11, 0);
    for (int c = 0; grid->column_labels && c < grid->cols; c++) {
        const char *label = grid->column_labels[c];
        double x = left + c * (cell_w + GRID_GAP) + cell_w / 2.0;
        int own = 1;
        for (const char *p = label; p && *p; p++) {
            own += *p == '\n';
        }
        /* One line at a time, the last one just above the images. */
        for (int line = 0; label && line < own; line++) {
            const char *end = strchr(label, '\n');
            size_t length = end ? (size_t)(end - label) : strlen(label);
            char text[128];
            snprintf(text, sizeof text, "%.*s", (int)length, label);
            draw_text(cr, text, x, top - 4 - GRID_HEADER_LINE * (own - line - 1), 0.5, 1.0);
            label = end ? end + 1 : NULL;
        }
    }
    for (int r = 0; grid->row_labels && r < grid->rows; r++) {
        if (grid->row_labels[r]) {
            draw_text(cr, grid->row_labels[r], 6, top + r * (cell_h + GRID_GAP) + cell_h / 2.0,
                      0.0, 0.5);
        }
    }
}

static void grid_captions(cairo_t *cr, const plot_grid *grid, int left, int top)
{
    int cell_w = grid->width * grid->scale, cell_h = grid->height * grid->scale;
    set_font(cr, 10, 0);
    for (int r = 0; grid->captions && r < grid->rows; r++) {
        for (int c = 0; c < grid->cols; c++) {
            const char *caption = grid->captions[r * grid->cols + c];
            if (caption) {
                double x = left + c * (cell_w + GRID_GAP) + 2;
                double y = top + r * (cell_h + GRID_GAP) + cell_h - 2;
                cairo_set_source_rgb(cr, 1.0, 0.85, 0.2);
                draw_text(cr, caption, x, y, 0.0, 1.0);
            }
        }
    }
}

int plot_grid_png(const char *command, const char *path, const plot_grid *grid)
{
    int width, height;
    plot_grid_size(grid, &width, &height);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_surface_flush(surface);

    int left = grid_has_row_labels(grid) ? GRID_ROW_LABEL : GRID_GAP;
    int top = (grid->title ? GRID_TITLE : 0) + header_height(grid);
    int cell_w = grid->width * grid->scale, cell_h = grid->height * grid->scale;
    unsigned char *pixels = cairo_image_surface_get_data(surface);
    int stride = cairo_image_surface_get_stride(surface);
    for (int r = 0; pixels && r < grid->rows; r++) {
        float peak = row_peak(grid, r);
        for (int c = 0; c < grid->cols; c++) {
            const float *image = grid->cells[r * grid->cols + c];
            if (image) {
                blit_image(pixels, stride, left + c * (cell_w + GRID_GAP),
                           top + r * (cell_h + GRID_GAP), grid, image, peak);
            }
        }
    }
    cairo_surface_mark_dirty(surface);
    grid_labels(cr, grid, left, top, width);
    grid_captions(cr, grid, left, top);
    int status = drawing_failed(command, path, cr);
    cairo_destroy(cr);
    if (status == 0) {
        status = write_png(command, path, surface);
    }
    cairo_surface_destroy(surface);
    return status;
}

void plot_release_fonts(void)
{
    cairo_debug_reset_static_data();
}
