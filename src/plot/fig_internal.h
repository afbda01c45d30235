/* The figure writers' shared pieces (figure.c), for the analysis figures in
 * figure_analysis.c and scaling.c: the same files, script prelude (terminal, palette, grid,
 * labels), quoting and number formats, so every netspace figure restyles the same way. Internal to
 * src/plot. */
#ifndef NS_PLOT_FIG_INTERNAL_H
#define NS_PLOT_FIG_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "plot/plot.h"

struct ns_fig;

/* Open f->gp and f->dat for writing; NULL with ns_err. */
struct ns_fig *ns_fig_open(const struct ns_plot_files *f);
FILE *ns_fig_script(struct ns_fig *g);
FILE *ns_fig_data(struct ns_fig *g);
/* The common head of every script: terminal and output, data file, linetypes, grid, title
 * and axis labels. */
void ns_fig_prelude(struct ns_fig *g, const char *title, const char *xlabel, const char *ylabel);
/* The data file's header for series (index block) i. */
void ns_fig_block(struct ns_fig *g, int i, const char *name, const char *columns);
/* s as a gnuplot single-quoted string; a number at full precision (NaN for gaps). */
void ns_fig_str(FILE *f, const char *s);
void ns_fig_num(FILE *f, double v);
/* v with 4 significant digits and k/M/G from 10^4 up, for labels. */
const char *ns_fig_fmt_num(char *buf, size_t n, double v);
/* The linetypes the prelude sets (series i uses i % ns_fig_palette_size() + 1). */
int ns_fig_palette_size(void);
/* Series i's linetype: i % ns_fig_palette_size() + 1. */
int ns_fig_lt(int i);
/* One clause of the script's plot command, "    datafile index INDEX using USING with STYLE
 * lt LT title 'TITLE'" (notitle when title is NULL), after "plot \" when *first (then
 * cleared), else after ", \". */
void ns_fig_clause(FILE *gp, int *first, int index, const char *using, const char *style, int lt,
                   const char *title);
/* Close both files and free g; rc is the writer's status so far. 0 only if all was
 * written. */
int ns_fig_close(struct ns_fig *g, int rc);

#endif
