/*
 * ferrotp_cnode: an independent second peer for `ferrotp node`, built on
 * OTP's own erl_interface (ei), not on ferrotp's code.
 *
 *   ferrotp_cnode NODE COOKIE [BUMP]
 *
 * Connects to NODE (through EPMD, honouring ERL_EPMD_PORT), optionally
 * casts {bump, BUMP} to the registered `counter`, then makes the
 * gen_server call
 *
 *   {'$gen_call', {Self, Ref}, value}  ->  {Ref, Value}
 *
 * and prints "reply: Value". Exit status 0 on success, 1 with a message on
 * stderr otherwise.
 *
 * Build: cc -I$ERL_INTERFACE/include ferrotp_cnode.c -L$ERL_INTERFACE/lib -lei -lpthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ei.h"

static int fail(const char *what) {
    fprintf(stderr, "ferrotp_cnode: %s failed\n", what);
    return 1;
}

/* Sends `{'$gen_cast', {bump, N}}` to the registered counter. */
static int cast_bump(ei_cnode *ec, int fd, long n) {
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "$gen_cast");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "bump");
    ei_x_encode_long(&x, n);
    int r = ei_reg_send(ec, fd, "counter", x.buff, x.index);
    ei_x_free(&x);
    return r;
}

/* Reads `{Ref, Value}`: the value if Ref is ours. */
static int read_reply(ei_x_buff *x, const erlang_ref *ours, long *value) {
    int index = 0, version, arity;
    erlang_ref ref;
    if (ei_decode_version(x->buff, &index, &version) < 0) return -1;
    if (ei_decode_tuple_header(x->buff, &index, &arity) < 0 || arity != 2) return -1;
    if (ei_decode_ref(x->buff, &index, &ref) < 0) return -1;
    if (ref.len != ours->len || memcmp(ref.n, ours->n, sizeof(ref.n[0]) * ref.len) != 0) return -1;
    return ei_decode_long(x->buff, &index, value);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s NODE COOKIE [BUMP]\n", argv[0]);
        return 2;
    }
    const char *node = argv[1];
    const char *cookie = argv[2];
    char alive[64], full[128];
    snprintf(alive, sizeof alive, "cnode%d", (int)getpid());
    snprintf(full, sizeof full, "%s@localhost", alive);

    if (ei_init() != 0) return fail("ei_init");
    ei_cnode ec;
    if (ei_connect_xinit(&ec, "localhost", alive, full, NULL, cookie, 1) < 0)
        return fail("ei_connect_xinit");
    int fd = ei_connect(&ec, (char *)node);
    if (fd < 0) return fail("ei_connect");

    if (argc > 3 && cast_bump(&ec, fd, atol(argv[3])) < 0) return fail("cast");

    erlang_ref ref;
    if (ei_make_ref(&ec, &ref) < 0) return fail("ei_make_ref");
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, ei_self(&ec));
    ei_x_encode_ref(&x, &ref);
    ei_x_encode_atom(&x, "value");
    if (ei_reg_send(&ec, fd, "counter", x.buff, x.index) < 0) return fail("call");
    ei_x_free(&x);

    for (;;) {
        erlang_msg msg;
        ei_x_buff in;
        ei_x_new(&in);
        int got = ei_xreceive_msg_tmo(fd, &msg, &in, 30000);
        if (got == ERL_TICK) { ei_x_free(&in); continue; }
        if (got == ERL_ERROR) return fail("receive");
        if (msg.msgtype == ERL_SEND || msg.msgtype == ERL_REG_SEND) {
            long value;
            if (read_reply(&in, &ref, &value) == 0) {
                printf("reply: %ld\n", value);
                fflush(stdout);
                ei_x_free(&in);
                close(fd);
                return 0;
            }
        }
        ei_x_free(&in);
    }
}
