/* The netspace command line: one function per subcommand (cmd_<name>.c), each parsing its
 * own options with getopt_long, answering --help, and returning the process exit status
 * (0 ok, 1 failure, 2 bad usage). */
#ifndef NS_CLI_H
#define NS_CLI_H

int ns_cmd_model(int argc, char **argv);
int ns_cmd_sample(int argc, char **argv);
int ns_cmd_train(int argc, char **argv);
int ns_cmd_bench(int argc, char **argv);
int ns_cmd_search(int argc, char **argv);
int ns_cmd_query(int argc, char **argv);
int ns_cmd_plot(int argc, char **argv);
int ns_cmd_compare(int argc, char **argv);
int ns_cmd_report(int argc, char **argv);
int ns_cmd_export(int argc, char **argv);

/* Print "netspace CMD: bad usage: MSG; see 'netspace CMD --help'" and return 2. */
int ns_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a whole string as an int/double; 0 ok, -1 with a message naming `opt`. */
int ns_cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int ns_cli_double(const char *cmd, const char *opt, const char *s, double *out);
/* getopt_long (with opterr = 0 and an optstring starting with ':') returned c, '?' or ':',
 * for argv[optind - 1]: print one usage error naming the option ("--db needs a value",
 * "unknown option '--x'") and return 2. */
int ns_cli_bad_option(const char *cmd, int c, char **argv);
/* A comma-separated list option (--study a,b, --trials 1,5): refuse an empty item or an item
 * given twice with a usage error naming opt; 0 or -1 (the message is printed). */
int ns_cli_list_check(const char *cmd, const char *opt, const char *arg);


/* Grow-only list of strings split on commas (--study values; cmd_plot.c). 0, or -1 when out
 * of memory. */
struct ns_cli_names {
    char **v;
    int n;
};
int ns_cli_names_add(struct ns_cli_names *l, const char *arg);
void ns_cli_names_free(struct ns_cli_names *l);
/* --study of plot, compare and report: the list checked (ns_cli_list_check) and added.
 * 0, or the exit status after printing what is wrong (2 bad list, 1 out of memory). */
int ns_cli_study_option(const char *cmd, struct ns_cli_names *l, const char *arg);
/* An option that is one of two words (--error final|best, --failed drop|chance): *second
 * is set when arg is the second. 0, or 2 after a usage error naming opt. */
int ns_cli_either(const char *cmd, const char *opt, const char *arg, const char *first,
                  const char *second, int *is_second);
/* "LO,HI" with LO < HI (--range); 0, or -1 after printing what is wrong. */
int ns_cli_range(const char *cmd, const char *arg, double *lo, double *hi);

#endif
