/* The coordinator's state machine, driven through the in-memory transport with scripted
 * worker messages, a scripted clock and a temporary db: hand-out, results, put-back on an
 * interrupt, attempts across dead runs, a stalled worker's trial handed to another, a db
 * locked by another process, and the early-exit paths that must still stop the workers. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "search/coord.h"
#include "search/transport.h"
#include "store/store.h"
#include "util/err.h"

#define SPACE                                                                                      \
    "{\"name\": \"t\", \"kind\": \"regnet\", \"block\": \"x\", \"stem\": {\"type\": \"cifar\", "   \
    "\"w\": 8}, \"input\": {\"in_ch\": 1, \"im_size\": 16, \"classes\": 10}, \"first_stride\": "   \
    "1, \"params\": {\"depth\": {\"dist\": \"uniform\", \"lo\": 2, "                               \
    "\"hi\": 8, \"q\": 1}, \"w0\": {\"dist\": \"log_uniform\", \"lo\": 8, \"hi\": 32, \"q\": 8}, " \
    "\"wa\": {\"dist\": \"log_uniform\", \"lo\": 2, \"hi\": 32, \"q\": 0.01}, \"wm\": "            \
    "{\"dist\": \"log_uniform\", \"lo\": 1.5, \"hi\": 3.0, \"q\": 0.01}, \"group_w\": {\"dist\": " \
    "\"pow2\", \"lo\": 1, \"hi\": 8}, \"bot_mul\": 1}, \"constraints\": {\"stages\": [2, 4]}}"

/* A study of `samples` trials of 2 epochs on synthetic data; `limits` is "" or ", \"limits\":
 * {...}". */
struct rig {
    char dir[64], db[96], exp[96];
    struct ns_mem_net *net;
    struct ns_coord *c;
    struct ns_search_report rep;
    double clock;
    struct ns_clock clk;
    struct ns_inbox in;
    int size;
};

static double fake_now(void *ctx)
{
    return ((struct rig *)ctx)->clock;
}

static void fake_sleep(void *ctx, double s)
{
    ((struct rig *)ctx)->clock += s;
}

static void write_experiment(struct rig *r, int samples, const char *limits)
{
    FILE *f = fopen(r->exp, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"name\": \"unit\", \"samples\": %d, \"seed\": 3, \"space\": " SPACE
            ", \"data\": {\"name\": \"synthetic\", \"n\": 64, \"size\": 16}, \"recipe\": "
            "{\"epochs\": 2, \"batch\": 16}%s}",
            samples, limits);
    fclose(f);
}

static void rig_open(struct rig *r)
{
    struct ns_search_opts o = {.experiment = r->exp, .db = r->db, .progress = NULL, .use_mpi = 0};
    r->c = ns_coord_open(&o, &r->rep, &r->clk);
    if (!r->c)
        fail_msg("open: %s", ns_errmsg());
}

/* Workers 1..size-1 on a new in-memory net; the coordinator has sent SETUP to each. */
static void rig_begin(struct rig *r, int size)
{
    r->size = size;
    r->net = ns_mem_net_new(size);
    assert_non_null(r->net);
    ns_coord_begin(r->c, ns_mem_net_end(r->net, 0));
}

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/ns_coord_XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->db, sizeof r->db, "%s/r.db", r->dir);
    snprintf(r->exp, sizeof r->exp, "%s/e.json", r->dir);
    r->clk = (struct ns_clock){fake_now, fake_sleep, r};
    r->clock = 1000;
    atomic_store(&ns_search_signal, 0);
    *state = r;
    return 0;
}

static void rig_close(struct rig *r)
{
    ns_coord_close(r->c);
    r->c = NULL;
    ns_mem_net_free(r->net);
    r->net = NULL;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    rig_close(r);
    ns_inbox_free(&r->in);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    assert_int_equal(system(cmd), 0);
    atomic_store(&ns_search_signal, 0);
    free(r);
    return 0;
}

/* Step until the coordinator has no message waiting and has napped once; returns what the
 * last step returned (0: the run is over). */
static int settle(struct rig *r)
{
    for (int i = 0; i < 1000; i++) {
        int waiting = ns_mem_net_pending(r->net, 0);
        if (!ns_coord_step(r->c))
            return 0;
        if (!waiting)
            return 1;
    }
    fail_msg("the coordinator does not settle");
    return -1;
}

/* The next message for worker w: it must be of `kind`. */
static void expect(struct rig *r, int w, int kind)
{
    int got = ns_poll(ns_mem_net_end(r->net, w), &r->in, NS_COORD, NS_ANY);
    if (got != 1)
        fail_msg("worker %d: no message (want %d)", w, kind);
    if (r->in.kind != kind)
        fail_msg("worker %d: message %d, want %d", w, r->in.kind, kind);
}

static void nothing_for(struct rig *r, int w)
{
    assert_int_equal(ns_mem_net_pending(r->net, w), 0);
}

/* Worker w's ASSIGN: its trial. */
static int expect_assign(struct rig *r, int w)
{
    expect(r, w, NS_MSG_ASSIGN);
    struct ns_msg_assign a;
    assert_int_equal(ns_msg_unpack_assign(r->in.buf, r->in.len, &a), 0);
    return a.trial;
}

static void send_ready_fp(struct rig *r, int w, const char *fp)
{
    struct ns_msgbuf b = {0};
    struct ns_msg_ready m = {.threads = 1};
    snprintf(m.data_fp, sizeof m.data_fp, "%s", fp);
    snprintf(m.host, sizeof m.host, "host%d", w);
    assert_int_equal(ns_msg_pack_ready(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, NS_MSG_READY, &b), 0);
    ns_msgbuf_free(&b);
}

static void send_ready(struct rig *r, int w)
{
    send_ready_fp(r, w, "");
}

static void send_empty(struct rig *r, int w, int kind)
{
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, kind, &b), 0);
}

static void send_epoch(struct rig *r, int w, int trial, int epoch, double err)
{
    struct ns_msgbuf b = {0};
    struct ns_msg_epoch m = {.trial = trial, .m = {epoch, 1.0, err, err, 0.5, 100}};
    assert_int_equal(ns_msg_pack_epoch(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, NS_MSG_EPOCH, &b), 0);
    ns_msgbuf_free(&b);
}

/* Both epochs and the result of a trial: `status` with test error err. */
static void send_result(struct rig *r, int w, int trial, int status, double err)
{
    struct ns_msgbuf b = {0};
    struct ns_msg_result m = {.trial = trial};
    m.r.status = status;
    m.r.epochs_done = status == NS_TRAIN_OK ? 2 : 0;
    m.r.train_err = m.r.test_err = m.r.best_test_err = err;
    m.r.seconds = 1;
    if (status == NS_TRAIN_ERROR)
        snprintf(m.r.reason, sizeof m.r.reason, "error: scripted");
    if (status == NS_TRAIN_OK) {
        send_epoch(r, w, trial, 1, err + 1);
        send_epoch(r, w, trial, 2, err);
    }
    assert_int_equal(ns_msg_pack_result(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, NS_MSG_RESULT, &b), 0);
    ns_msgbuf_free(&b);
}

/* The trial as the db holds it (a fresh read-only handle: what any reader would see). */
static struct ns_db_trial db_trial(struct rig *r, int idx)
{
    struct ns_db *db = ns_db_open(r->db, NS_DB_RO);
    if (!db)
        fail_msg("%s", ns_errmsg());
    int64_t study = ns_db_study_resolve(db, "unit");
    struct ns_db_trial t;
    assert_int_equal(ns_db_trial_load(db, study, idx, &t), 0);
    ns_db_close(db);
    return t;
}

static int db_state(struct rig *r, int idx)
{
    struct ns_db_trial t = db_trial(r, idx);
    int s = t.state;
    ns_db_trial_clear(&t);
    return s;
}

static int db_count(struct rig *r, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(r->db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* A study of `samples` (limits as write_experiment's) with one worker, which is ready: the
 * trial it is handed. */
static int one_worker_first_trial(struct rig *r, int samples, const char *limits)
{
    write_experiment(r, samples, limits);
    rig_open(r);
    rig_begin(r, 2);
    send_ready(r, 1);
    settle(r);
    expect(r, 1, NS_MSG_SETUP);
    return expect_assign(r, 1);
}

/* The same with two workers: the trials they are handed, in *ta and *tb. */
static void two_workers_first_trials(struct rig *r, int samples, const char *limits, int *ta,
                                     int *tb)
{
    write_experiment(r, samples, limits);
    rig_open(r);
    rig_begin(r, 3);
    send_ready(r, 1);
    send_ready(r, 2);
    settle(r);
    expect(r, 1, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_SETUP);
    *ta = expect_assign(r, 1);
    *tb = expect_assign(r, 2);
}

/* Workers answer SETUP with READY and get a trial each; results are recorded with their
 * epochs, the worker gets the next trial, and when none is left every worker is told to
 * stop; the run ends when they have all said goodbye. */
static void assigns_records_and_stops(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 5, "");
    rig_open(r);
    rig_begin(r, 3);
    expect(r, 1, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_SETUP);
    settle(r);
    nothing_for(r, 1); /* nothing before READY */
    send_ready(r, 1);
    send_ready(r, 2);
    settle(r);
    int t1 = expect_assign(r, 1), t2 = expect_assign(r, 2);
    assert_int_not_equal(t1, t2);
    assert_int_equal(db_state(r, t1), NS_DB_RUNNING);
    struct ns_db_trial t = db_trial(r, t1);
    assert_string_equal(t.host, "host1");
    assert_int_equal(t.rank, 1);
    assert_int_equal(t.attempts, 1);
    ns_db_trial_clear(&t);

    int done = 0, cur[3] = {0, t1, t2};
    double errs[5] = {30, 20, 20, 40, 25}; /* a tie: the lower trial index is the best */
    while (done < 5) {
        int w = 1 + done % 2;
        send_result(r, w, cur[w], NS_TRAIN_OK, errs[cur[w]]);
        done++;
        settle(r);
        t = db_trial(r, cur[w]);
        assert_int_equal(t.state, NS_DB_COMPLETE);
        assert_true(t.test_error == errs[cur[w]]);
        ns_db_trial_clear(&t);
        if (ns_mem_net_pending(r->net, w) && done < 4) {
            cur[w] = expect_assign(r, w);
        } else if (done < 5) {
            /* the other worker still has a trial; this one waits or was told to stop */
        }
    }
    assert_int_equal(db_count(r, "select count(*) from epochs"), 10);
    assert_int_equal(db_count(r, "select count(*) from trials where state = 'complete'"), 5);
    /* everything done: both are told to stop, and the run ends with their goodbyes */
    for (int w = 1; w <= 2; w++) {
        expect(r, w, NS_MSG_STOP);
        send_empty(r, w, NS_MSG_BYE);
    }
    assert_int_equal(settle(r), 0);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_DONE);
    rig_close(r);
    assert_int_equal(r->rep.n_complete, 5);
    assert_int_equal(r->rep.best_trial, 1);
}

/* An interrupt puts the running trials back to 'waiting' at once, giving back their
 * attempt; a result that arrives afterwards is not recorded. */
static void interrupt_puts_back(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 4, "");
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    int t1 = expect_assign(r, 1);
    send_epoch(r, 1, t1, 1, 50);
    settle(r);
    assert_int_equal(db_count(r, "select count(*) from epochs"), 1);
    atomic_store(&ns_search_signal, SIGINT);
    settle(r);
    expect(r, 1, NS_MSG_STOP);
    struct ns_db_trial t = db_trial(r, t1);
    assert_int_equal(t.state, NS_DB_WAITING);
    assert_int_equal(t.attempts, 0);
    ns_db_trial_clear(&t);
    assert_int_equal(db_count(r, "select count(*) from epochs"), 0);
    send_result(r, 1, t1, NS_TRAIN_OK, 10); /* came too late */
    send_empty(r, 1, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_INTERRUPTED);
    assert_int_equal(db_state(r, t1), NS_DB_WAITING);
}

/* A trial whose process dies (the run is abandoned with it 'running') is retried on resume;
 * after max_attempts (2) it is failed with the reason instead of being started again. */
static void lost_trials_fail_after_max_attempts(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 3, "");
    int first = -1;
    for (int run = 1; run <= 3; run++) {
        rig_open(r);
        if (run == 3) {
            /* the third run: the trial is failed, the others are queued */
            struct ns_db_trial t = db_trial(r, first);
            assert_int_equal(t.state, NS_DB_FAILED);
            assert_int_equal(t.attempts, 2);
            assert_non_null(strstr(t.reason, "lost 2 times"));
            ns_db_trial_clear(&t);
            assert_int_equal(r->rep.n_pending_start, 2);
            rig_close(r);
            break;
        }
        rig_begin(r, 2);
        expect(r, 1, NS_MSG_SETUP);
        send_ready(r, 1);
        settle(r);
        int t = expect_assign(r, 1);
        if (first < 0)
            first = t;
        assert_int_equal(t, first); /* a stale trial goes out first again: it is the largest */
        struct ns_db_trial dt = db_trial(r, t);
        assert_int_equal(dt.attempts, run);
        ns_db_trial_clear(&dt);
        /* the process dies here: nothing more is written */
        rig_close(r);
    }
}

/* With a trial time limit, a worker that says nothing past the limit plus a grace loses its
 * trial to another worker (an attempt); its late result is ignored and it gets work again.
 * With no attempts left, the trial fails as timed out. */
static void stalled_worker_loses_its_trial(void **state)
{
    struct rig *r = *state;
    int ta, tb;
    two_workers_first_trials(r, 3, ", \"limits\": {\"trial_minutes\": 1}", &ta, &tb);
    r->clock += 50; /* within the limit: nothing happens */
    send_result(r, 2, tb, NS_TRAIN_OK, 12);
    settle(r);
    int tc = expect_assign(r, 2);
    nothing_for(r, 1);
    r->clock += 45; /* worker 1 silent for 95 s > 60 s + 30 s grace */
    settle(r);
    send_result(r, 2, tc, NS_TRAIN_OK, 13);
    settle(r);
    assert_int_equal(expect_assign(r, 2), ta); /* the lost trial, handed to worker 2 */
    struct ns_db_trial t = db_trial(r, ta);
    assert_int_equal(t.state, NS_DB_RUNNING);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.attempts, 2);
    ns_db_trial_clear(&t);
    assert_int_equal(ns_coord_workers_stalled(r->c), 1); /* the job would end with MPI_Abort */
    /* worker 1 comes back: its epochs and result for ta are not recorded */
    send_result(r, 1, ta, NS_TRAIN_OK, 1);
    settle(r);
    assert_int_equal(ns_coord_workers_stalled(r->c), 0);
    assert_int_equal(db_state(r, ta), NS_DB_RUNNING);
    assert_int_equal(db_count(r, "select count(*) from epochs where trial = "
                                 "(select trial from trials where state = 'running')"),
                     0);
    send_result(r, 2, ta, NS_TRAIN_OK, 14);
    settle(r);
    t = db_trial(r, ta);
    assert_int_equal(t.state, NS_DB_COMPLETE);
    assert_true(t.test_error == 14);
    ns_db_trial_clear(&t);
    expect(r, 1, NS_MSG_STOP);
    expect(r, 2, NS_MSG_STOP);
}

static void timed_out_trial_fails_without_attempts_left(void **state)
{
    struct rig *r = *state;
    int ta =
        one_worker_first_trial(r, 2, ", \"limits\": {\"trial_minutes\": 2, \"max_attempts\": 1}");
    r->clock += 140; /* 2 min + 30 s grace not yet over */
    settle(r);
    assert_int_equal(db_state(r, ta), NS_DB_RUNNING);
    r->clock += 11;
    settle(r);
    struct ns_db_trial t = db_trial(r, ta);
    assert_int_equal(t.state, NS_DB_FAILED);
    assert_non_null(strstr(t.reason, "timed out 1 times"));
    ns_db_trial_clear(&t);
    /* the study goes on: the stalled worker is not given more, so with no other worker the
     * remaining trial waits; when the lost worker returns it gets it */
    nothing_for(r, 1);
    send_result(r, 1, ta, NS_TRAIN_OK, 5);
    settle(r);
    int tb = expect_assign(r, 1);
    assert_int_not_equal(ta, tb);
    assert_int_equal(db_state(r, ta), NS_DB_FAILED);
}

/* Another process holds the db's write lock: results keep arriving and are kept in the
 * journal (none dropped), the search goes on, and they are all written once the lock is
 * released. */
static void locked_db_keeps_results_until_released(void **state)
{
    struct rig *r = *state;
    int ta = one_worker_first_trial(r, 3, "");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(r->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    send_result(r, 1, ta, NS_TRAIN_OK, 11);
    settle(r);
    int tb = expect_assign(r, 1);               /* the search goes on */
    assert_true(ns_coord_unwritten(r->c) >= 4); /* 2 epochs, the result, the next start */
    send_result(r, 1, tb, NS_TRAIN_OK, 12);
    r->clock += 5;
    settle(r); /* retried, still locked */
    assert_true(ns_coord_unwritten(r->c) >= 7);
    int tc = expect_assign(r, 1);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    r->clock += 1;
    settle(r);
    assert_int_equal(ns_coord_unwritten(r->c), 0);
    assert_int_equal(db_state(r, ta), NS_DB_COMPLETE);
    assert_int_equal(db_state(r, tb), NS_DB_COMPLETE);
    assert_int_equal(db_state(r, tc), NS_DB_RUNNING);
    assert_int_equal(db_count(r, "select count(*) from epochs"), 4);
}

/* SETUP cannot be sent to one worker: the others are told to stop (not left waiting for a
 * message forever) and the run ends with the real error. */
static void setup_send_failure_stops_the_workers(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 3, "");
    rig_open(r);
    r->size = 3;
    r->net = ns_mem_net_new(3);
    ns_mem_net_fail_sends(r->net, 0, NS_MSG_SETUP, 2); /* the second SETUP fails */
    ns_coord_begin(r->c, ns_mem_net_end(r->net, 0));
    expect(r, 1, NS_MSG_STOP); /* failed before rank 1's SETUP too: only told to stop */
    expect(r, 2, NS_MSG_STOP);
    send_empty(r, 1, NS_MSG_BYE);
    send_empty(r, 2, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    ns_err_clear();
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_ERROR);
    assert_non_null(strstr(ns_errmsg(), "cannot send the experiment to rank 1"));
    assert_non_null(strstr(ns_errmsg(), "injected"));
    /* nothing was started */
    assert_int_equal(db_count(r, "select count(*) from trials where state != 'waiting'"), 0);
}

/* A worker that cannot work (its data, a batch larger than its training set) sends FATAL
 * before any trial: everyone is stopped and the worker's message is the run's error. */
static void fatal_from_a_worker_stops_the_study(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 3, "");
    rig_open(r);
    rig_begin(r, 3);
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_str(&b, "rank 2 (h): recipe.batch: 512 is larger"), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, 2), NS_COORD, NS_MSG_FATAL, &b), 0);
    ns_msgbuf_free(&b);
    settle(r);
    expect(r, 1, NS_MSG_SETUP);
    expect(r, 1, NS_MSG_STOP);
    expect(r, 2, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_STOP);
    send_ready(r, 1); /* READY after STOP: no trial is handed out */
    send_empty(r, 1, NS_MSG_BYE);
    send_empty(r, 2, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    nothing_for(r, 1);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_ERROR);
    assert_non_null(strstr(ns_errmsg(), "recipe.batch: 512 is larger"));
}

/* A worker that never says goodbye does not keep the coordinator forever. */
static void silent_worker_is_not_waited_for_forever(void **state)
{
    struct rig *r = *state;
    int t = one_worker_first_trial(r, 1, "");
    send_result(r, 1, t, NS_TRAIN_ERROR, NAN);
    int steps = 0;
    while (ns_coord_step(r->c) && steps < 100000)
        steps++;
    assert_true(steps < 100000);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_DONE);
    struct ns_db_trial dt = db_trial(r, t);
    assert_int_equal(dt.state, NS_DB_FAILED);
    assert_string_equal(dt.reason, "error: scripted");
    ns_db_trial_clear(&dt);
}

/* The study stores the fingerprint of the data its first worker loaded; a worker (here: a
 * resumed run's) that loaded other data is refused, naming the data, before it gets a trial. */
static void other_data_is_refused(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 3, "");
    rig_open(r);
    rig_begin(r, 3);
    send_ready_fp(r, 1, "00112233aabbccdd");
    settle(r);
    expect(r, 1, NS_MSG_SETUP);
    expect_assign(r, 1);
    send_ready_fp(r, 2, "ffffffffffffffff");
    settle(r);
    expect(r, 2, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_STOP); /* no ASSIGN */
    send_empty(r, 1, NS_MSG_BYE);
    send_empty(r, 2, NS_MSG_BYE);
    while (ns_coord_step(r->c))
        ;
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_ERROR);
    assert_non_null(strstr(ns_errmsg(), "rank 2 (host2): the dataset differs from the one study "
                                        "'unit' was trained on (fingerprint 00112233aabbccdd, "
                                        "now ffffffffffffffff): synthetic (generated)"));
    assert_int_equal(db_count(r, "select count(*) from studies where data_fingerprint = "
                                 "'00112233aabbccdd'"),
                     1);
}

/* With tied errors the best trial is the lowest index, whatever order the results came in:
 * a resumed study (which reads the db in index order) names the same best trial as an
 * uninterrupted one. */
static void ties_go_to_the_lowest_trial(void **state)
{
    struct rig *r = *state;
    int ta, tb;
    two_workers_first_trials(r, 2, "", &ta, &tb);
    int hi = ta > tb ? ta : tb, lo = ta < tb ? ta : tb;
    send_result(r, hi == ta ? 1 : 2, hi, NS_TRAIN_OK, 20); /* the higher index first */
    settle(r);
    send_result(r, lo == ta ? 1 : 2, lo, NS_TRAIN_OK, 20);
    settle(r);
    rig_close(r);
    assert_int_equal(r->rep.best_trial, lo);
    rig_open(r); /* the resumed view agrees */
    rig_close(r);
    assert_int_equal(r->rep.best_trial, lo);
}

/* A rung's result: `epochs` epochs done, test error err. */
static void send_rung(struct rig *r, int w, int trial, int epochs, double err)
{
    struct ns_msgbuf b = {0};
    struct ns_msg_result m = {.trial = trial};
    m.r.status = NS_TRAIN_OK;
    m.r.epochs_done = epochs;
    m.r.train_err = m.r.test_err = m.r.best_test_err = err;
    m.r.seconds = 1;
    send_epoch(r, w, trial, epochs, err);
    assert_int_equal(ns_msg_pack_result(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, NS_MSG_RESULT, &b), 0);
    ns_msgbuf_free(&b);
}

static struct ns_msg_assign expect_job(struct rig *r, int w)
{
    expect(r, w, NS_MSG_ASSIGN);
    struct ns_msg_assign a;
    assert_int_equal(ns_msg_unpack_assign(r->in.buf, r->in.len, &a), 0);
    ns_msg_assign_free(&a);
    return a;
}

/* ASHA: a promotion is journaled as it is made; after the run dies with the promoted trial
 * running, the resume hands out that rung again (it does not decide anew), and the study
 * ends with the best of each rung promoted. */
static void asha_promotions_survive_a_dead_run(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 4, ", \"search\": {\"kind\": \"asha\", \"eta\": 2}");
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    struct ns_msg_assign a = expect_job(r, 1);
    assert_int_equal(a.rung, 0);
    assert_int_equal(a.from, 0);
    assert_int_equal(a.to, 1);
    assert_int_equal(a.ckpt_last, 1); /* it will continue if promoted */
    int x1 = a.trial;
    send_rung(r, 1, x1, 1, 30);
    settle(r);
    a = expect_job(r, 1); /* one result: floor(1/2) = 0 promoted, so a new trial */
    assert_int_equal(a.rung, 0);
    int x2 = a.trial;
    send_rung(r, 1, x2, 1, 10);
    settle(r);
    a = expect_job(r, 1); /* two: the best (x2) goes on, at once */
    assert_int_equal(a.trial, x2);
    assert_int_equal(a.rung, 1);
    assert_int_equal(a.to, 2);
    settle(r);
    assert_int_equal(db_count(r, "select count(*) from rungs where rung = 1 and test_error is null"),
                     1);
    assert_int_equal(db_count(r, "select count(*) from rungs where test_error is not null"), 2);
    /* the run dies (no put-back) */
    rig_close(r);
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    a = expect_job(r, 1);
    assert_int_equal(a.trial, x2);
    assert_int_equal(a.rung, 1);
    send_rung(r, 1, x2, 2, 5);
    settle(r);
    int seen[4] = {0};
    for (int k = 0; k < 2; k++) { /* the two new trials at rung 0 */
        a = expect_job(r, 1);
        assert_int_equal(a.rung, 0);
        seen[a.trial] = 1;
        send_rung(r, 1, a.trial, 1, k ? 50 : 20);
        settle(r);
    }
    assert_false(seen[x1] || seen[x2]);
    /* 4 done at rung 0: floor(4/2) = 2 go on: x2 (done) and the 20 */
    a = expect_job(r, 1);
    assert_int_equal(a.rung, 1);
    assert_int_not_equal(a.trial, x1);
    send_rung(r, 1, a.trial, 2, 15);
    settle(r);
    expect(r, 1, NS_MSG_STOP);
    send_empty(r, 1, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_DONE);
    rig_close(r);
    assert_int_equal(r->rep.best_trial, x2); /* 5% at the top rung */
    assert_int_equal(r->rep.n_complete, 4);
    /* the scripted worker sent no checkpoint: a promoted trial trains from scratch (to the
     * same bits), 2 epochs for rung 1 */
    assert_int_equal(r->rep.epochs_spent, 4 * 1 + 2 * 2);
    assert_int_equal(db_count(r, "select count(*) from rungs"), 6);
}

/* Synchronous SHA: no promotion while a rung is open, whatever order results come in. */
static void sha_waits_for_the_rung(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 4, ", \"search\": {\"kind\": \"sha\", \"eta\": 2}");
    rig_open(r);
    rig_begin(r, 3);
    expect(r, 1, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_SETUP);
    send_ready(r, 1);
    send_ready(r, 2);
    settle(r);
    int t[4], w[4] = {1, 2, 1, 2};
    t[0] = expect_job(r, 1).trial;
    t[1] = expect_job(r, 2).trial;
    send_rung(r, 1, t[0], 1, 40);
    send_rung(r, 2, t[1], 1, 10);
    settle(r);
    t[2] = expect_job(r, 1).trial;
    t[3] = expect_job(r, 2).trial;
    send_rung(r, 1, t[2], 1, 20);
    settle(r);
    nothing_for(r, 1); /* rung 0 is open until t[3] reports */
    send_rung(r, w[3], t[3], 1, 30);
    settle(r);
    int p1 = expect_job(r, 1).trial, p2 = expect_job(r, 2).trial;
    assert_true((p1 == t[1] && p2 == t[2]) || (p1 == t[2] && p2 == t[1]));
    rig_close(r);
}

/* SHA: the trials promoted past rung 0 both diverge on rung 1. The study's best is the best
 * of rung 0 that did not fail, not a diverged trial on the strength of its 1-epoch error. */
static void failed_trial_is_not_the_best(void **state)
{
    struct rig *r = *state;
    write_experiment(r, 4, ", \"search\": {\"kind\": \"sha\", \"eta\": 2}");
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    int t[4];
    for (int k = 0; k < 4; k++) {
        t[k] = expect_job(r, 1).trial;
        send_rung(r, 1, t[k], 1, 10.0 * (k + 1));
        settle(r);
    }
    for (int k = 0; k < 2; k++) { /* the best two, 10% and 20%, go on and diverge */
        struct ns_msg_assign a = expect_job(r, 1);
        assert_int_equal(a.rung, 1);
        assert_true(a.trial == t[0] || a.trial == t[1]);
        send_result(r, 1, a.trial, NS_TRAIN_DIVERGED, NAN);
        settle(r);
    }
    expect(r, 1, NS_MSG_STOP);
    send_empty(r, 1, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    assert_int_equal(ns_coord_status(r->c), NS_SEARCH_DONE);
    rig_close(r);
    assert_int_equal(r->rep.n_failed, 2);
    assert_int_equal(r->rep.best_trial, t[2]);
    assert_true(r->rep.best_err == 30.0);
}

/* A rung's end checkpoint is written with its rung, not before: rank 0 flushes between the
 * CKPT and the RESULT, and a kill there would leave the db with the rung's end checkpoint
 * in place of the one the rung started from, and no rung, so the resume would retrain the
 * trial from scratch. The next rung continues from it. */
static void rung_checkpoint_is_written_with_its_rung(void **state)
{
    struct rig *r = *state;
    uint8_t *ck;
    size_t ck_len;
    char path[512];
    snprintf(path, sizeof path, "%s/nn/ckpt_v1.bin",
             getenv("NS_FIXTURES") ? getenv("NS_FIXTURES") : NS_FIXTURES);
    if (ns_ckpt_read_file(path, &ck, &ck_len))
        fail_msg("%s", ns_errmsg());
    write_experiment(r, 1, ", \"search\": {\"kind\": \"sha\", \"eta\": 2}");
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    struct ns_msg_assign a = expect_job(r, 1);
    assert_int_equal(a.to, 1);
    assert_true(a.ckpt_last);
    struct ns_msgbuf b = {0};
    struct ns_msg_ckpt m = {a.trial, 1, ck, ck_len};
    assert_int_equal(ns_msg_pack_ckpt(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, 1), NS_COORD, NS_MSG_CKPT, &b), 0);
    ns_msgbuf_free(&b);
    settle(r); /* a quiet poll: the journal is flushed */
    assert_int_equal(db_count(r, "select count(*) from checkpoints"), 0);
    send_rung(r, 1, a.trial, 1, 10);
    settle(r);
    assert_int_equal(db_count(r, "select count(*) from checkpoints where epoch = 1"), 1);
    assert_int_equal(db_count(r, "select count(*) from rungs where test_error is not null"), 1);
    /* promoted (the only one): rung 1 continues from it */
    expect(r, 1, NS_MSG_ASSIGN);
    struct ns_msg_assign next;
    assert_int_equal(ns_msg_unpack_assign(r->in.buf, r->in.len, &next), 0);
    assert_int_equal(next.rung, 1);
    assert_int_equal(next.from, 1);
    assert_int_equal(next.ckpt_len, ck_len);
    assert_memory_equal(next.ckpt, ck, ck_len);
    ns_msg_assign_free(&next);
    free(ck);
    rig_close(r);
}

/* SHA: when a rung closes, the checkpoints of the trials it leaves behind are dropped (not
 * kept until the study ends); the promoted trial's stays. */
static void left_behind_checkpoints_are_dropped(void **state)
{
    struct rig *r = *state;
    uint8_t *ck;
    size_t ck_len;
    char path[512];
    snprintf(path, sizeof path, "%s/nn/ckpt_v1.bin",
             getenv("NS_FIXTURES") ? getenv("NS_FIXTURES") : NS_FIXTURES);
    if (ns_ckpt_read_file(path, &ck, &ck_len))
        fail_msg("%s", ns_errmsg());
    write_experiment(r, 2, ", \"search\": {\"kind\": \"sha\", \"eta\": 2}");
    rig_open(r);
    rig_begin(r, 3);
    expect(r, 1, NS_MSG_SETUP);
    expect(r, 2, NS_MSG_SETUP);
    send_ready(r, 1);
    send_ready(r, 2);
    settle(r);
    int t[2];
    for (int w = 1; w <= 2; w++) {
        t[w - 1] = expect_job(r, w).trial;
        struct ns_msgbuf b = {0};
        struct ns_msg_ckpt m = {t[w - 1], 1, ck, ck_len};
        assert_int_equal(ns_msg_pack_ckpt(&b, &m), 0);
        assert_int_equal(ns_send(ns_mem_net_end(r->net, w), NS_COORD, NS_MSG_CKPT, &b), 0);
        ns_msgbuf_free(&b);
    }
    send_rung(r, 1, t[0], 1, 30);
    settle(r);
    assert_int_equal(db_count(r, "select count(*) from checkpoints"), 1); /* rung 0 is open */
    send_rung(r, 2, t[1], 1, 20);
    settle(r);
    char sql[128];
    snprintf(sql, sizeof sql, "select count(*) from checkpoints where trial = %d", t[1]);
    assert_int_equal(db_count(r, "select count(*) from checkpoints"), 1);
    assert_int_equal(db_count(r, sql), 1); /* the promoted one's */
    free(ck);
    rig_close(r);
}

/* A rung's `trained` is its cost from the rung's start, also when a preempted job of it is
 * continued from a checkpoint_every checkpoint inside it: the epochs before the checkpoint
 * were trained (by the attempt that died) and count. */
static void resumed_rung_counts_its_whole_budget(void **state)
{
    struct rig *r = *state;
    uint8_t *ck;
    size_t ck_len;
    char path[512];
    snprintf(path, sizeof path, "%s/nn/ckpt_v1.bin",
             getenv("NS_FIXTURES") ? getenv("NS_FIXTURES") : NS_FIXTURES);
    if (ns_ckpt_read_file(path, &ck, &ck_len))
        fail_msg("%s", ns_errmsg());
    /* eta 4 over 2 epochs: one rung of 2 epochs */
    write_experiment(r, 1,
                     ", \"search\": {\"kind\": \"sha\", \"eta\": 4}, \"checkpoint_every\": 1");
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    struct ns_msg_assign a = expect_job(r, 1);
    assert_int_equal(a.from, 0);
    assert_int_equal(a.to, 2);
    send_epoch(r, 1, a.trial, 1, 50);
    struct ns_msgbuf b = {0};
    struct ns_msg_ckpt m = {a.trial, 1, ck, ck_len};
    assert_int_equal(ns_msg_pack_ckpt(&b, &m), 0);
    assert_int_equal(ns_send(ns_mem_net_end(r->net, 1), NS_COORD, NS_MSG_CKPT, &b), 0);
    ns_msgbuf_free(&b);
    settle(r);
    rig_close(r); /* the run dies mid-rung */
    rig_open(r);
    rig_begin(r, 2);
    expect(r, 1, NS_MSG_SETUP);
    send_ready(r, 1);
    settle(r);
    expect(r, 1, NS_MSG_ASSIGN);
    struct ns_msg_assign next;
    assert_int_equal(ns_msg_unpack_assign(r->in.buf, r->in.len, &next), 0);
    assert_int_equal(next.from, 1); /* continues from the checkpoint */
    ns_msg_assign_free(&next);
    send_rung(r, 1, next.trial, 2, 10);
    settle(r);
    expect(r, 1, NS_MSG_STOP);
    send_empty(r, 1, NS_MSG_BYE);
    assert_int_equal(settle(r), 0);
    rig_close(r);
    assert_int_equal(db_count(r, "select trained from rungs"), 2);
    assert_int_equal(r->rep.epochs_spent, 2);
    free(ck);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(assigns_records_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupt_puts_back, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_trials_fail_after_max_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(stalled_worker_loses_its_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(timed_out_trial_fails_without_attempts_left, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(locked_db_keeps_results_until_released, setup, teardown),
        cmocka_unit_test_setup_teardown(setup_send_failure_stops_the_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(fatal_from_a_worker_stops_the_study, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_worker_is_not_waited_for_forever, setup, teardown),
        cmocka_unit_test_setup_teardown(other_data_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(ties_go_to_the_lowest_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(asha_promotions_survive_a_dead_run, setup, teardown),
        cmocka_unit_test_setup_teardown(sha_waits_for_the_rung, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_trial_is_not_the_best, setup, teardown),
        cmocka_unit_test_setup_teardown(rung_checkpoint_is_written_with_its_rung, setup, teardown),
        cmocka_unit_test_setup_teardown(left_behind_checkpoints_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(resumed_rung_counts_its_whole_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
