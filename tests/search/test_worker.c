/* The worker over the in-memory transport, its coordinator's messages queued in advance:
 * a dataset the recipe cannot train on is refused before any trial (FATAL, then BYE after
 * STOP), and an assigned trial is trained, its epochs and result sent in order. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "search/transport.h"
#include "search/worker.h"
#include "util/err.h"

#define EXPERIMENT(batch)                                                                          \
    "{\"name\": \"w\", \"samples\": 1, \"space\": \"unused.json\", \"data\": {\"name\": "          \
    "\"synthetic\", \"n\": 64, \"n_test\": 16, \"size\": 8}, \"recipe\": {\"epochs\": 2, "         \
    "\"batch\": " #batch "}, \"limits\": {\"isolate\": false}}"

static void send_str(struct ns_transport *t, int kind, const char *s)
{
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_str(&b, s), 0);
    assert_int_equal(ns_send(t, 1, kind, &b), 0);
    ns_msgbuf_free(&b);
}

static void send_empty(struct ns_transport *t, int kind)
{
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_send(t, 1, kind, &b), 0);
}

static int next_kind(struct ns_transport *c, struct ns_inbox *in)
{
    return ns_poll(c, in, NS_ANY, NS_ANY) == 1 ? in->kind : -1;
}

static void batch_larger_than_the_training_set_is_fatal(void **state)
{
    (void)state;
    struct ns_mem_net *net = ns_mem_net_new(2);
    struct ns_transport *c = ns_mem_net_end(net, 0);
    send_str(c, NS_MSG_SETUP, EXPERIMENT(65));
    send_empty(c, NS_MSG_STOP);
    struct ns_search_report rep;
    assert_int_equal(ns_search_worker(ns_mem_net_end(net, 1), &rep), NS_SEARCH_ERROR);
    struct ns_inbox in = {0};
    assert_int_equal(next_kind(c, &in), NS_MSG_FATAL);
    char *text = NULL;
    assert_int_equal(ns_msg_unpack_str(in.buf, in.len, &text), 0);
    assert_non_null(strstr(text, "rank 1"));
    assert_non_null(strstr(text, "recipe.batch: 65 is larger than the training set (64 images)"));
    free(text);
    assert_int_equal(next_kind(c, &in), NS_MSG_BYE);
    assert_int_equal(next_kind(c, &in), -1);
    ns_inbox_free(&in);
    ns_mem_net_free(net);
}

static void assigned_trial_is_trained_and_reported(void **state)
{
    (void)state;
    struct ns_mem_net *net = ns_mem_net_new(2);
    struct ns_transport *c = ns_mem_net_end(net, 0);
    send_str(c, NS_MSG_SETUP, EXPERIMENT(64));
    struct ns_msg_assign a = {.trial = 7, .seed = 5};
    snprintf(a.config, sizeof a.config,
             "{\"block\":\"vanilla\",\"classes\":10,\"im_size\":8,\"in_ch\":1,\"se_r\":0,"
             "\"stages\":[{\"b\":1,\"d\":1,\"g\":0,\"s\":2,\"w\":4}],\"stem\":{\"type\":"
             "\"cifar\",\"w\":4}}");
    struct ns_msgbuf b = {0};
    assert_int_equal(ns_msg_pack_assign(&b, &a), 0);
    assert_int_equal(ns_send(c, 1, NS_MSG_ASSIGN, &b), 0);
    ns_msgbuf_free(&b);
    send_empty(c, NS_MSG_STOP); /* queued behind the ASSIGN: seen after the trial */
    struct ns_search_report rep;
    int st = ns_search_worker(ns_mem_net_end(net, 1), &rep);
    struct ns_inbox in = {0};
    assert_int_equal(next_kind(c, &in), NS_MSG_READY);
    /* the worker polls for STOP while training: it may have seen the queued STOP early and
     * stopped the trial; either way epochs come before the result, and BYE last */
    int epochs = 0, kind;
    while ((kind = next_kind(c, &in)) == NS_MSG_EPOCH)
        epochs++;
    assert_int_equal(kind, NS_MSG_RESULT);
    struct ns_msg_result r;
    assert_int_equal(ns_msg_unpack_result(in.buf, in.len, &r), 0);
    assert_int_equal(r.trial, 7);
    assert_int_equal(r.r.epochs_done, epochs);
    assert_true(r.r.status == NS_TRAIN_OK || r.r.status == NS_TRAIN_STOPPED);
    if (r.r.status == NS_TRAIN_OK)
        assert_int_equal(epochs, 2);
    assert_int_equal(next_kind(c, &in), NS_MSG_BYE);
    assert_int_equal(st, NS_SEARCH_DONE);
    ns_inbox_free(&in);
    ns_mem_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_larger_than_the_training_set_is_fatal),
        cmocka_unit_test(assigned_trial_is_trained_and_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
