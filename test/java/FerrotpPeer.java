/*
 * FerrotpPeer: an independent third peer for `ferrotp node`, built on
 * OTP's JInterface (com.ericsson.otp.erlang), not on ferrotp's code.
 *
 *   java -cp OtpErlang.jar:DIR FerrotpPeer RUST_NODE COOKIE ALIVE MODE
 *
 * Starts the Java node ALIVE@localhost (registered with the EPMD on
 * ERL_EPMD_PORT, which JInterface reads itself) with a mailbox registered
 * as `javambox`, prints "ready NODE", then talks to the seed tree on
 * RUST_NODE (top_sup with the registered counter):
 *
 *   call     {'$gen_call', {Self, Ref}, value} to {counter, RUST_NODE}  -> {Ref, 0}
 *   cast     {'$gen_cast', {bump, 5}}, then the call                    -> 5
 *   bignum   {'$gen_cast', {bump, 2^70}}, then the call                 -> 5 + 2^70
 *   exit     link(Counter), exit(Counter, kill): our link delivers
 *            {'EXIT', Counter, killed}
 *   restart  top_sup's which_children names a fresh counter pid that
 *            answers 0
 *   rust     the Rust side sends {ping, From, Payload} to {javambox, NODE};
 *            we answer {pong, Payload} to From
 *
 * MODE "dial": this node connects first (JInterface dials, Rust accepts);
 * after the checks it sends {hello, Self} to {jtest, RUST_NODE}, which
 * answers with the ping. MODE "wait": the Rust node dials this one
 * (Rust's handshake against JInterface's) and pings before the checks.
 *
 * Plain Java 11 (no newer syntax), so any JDK from 11 on builds it.
 *
 * One line per check on stdout ("ok NAME: DETAIL" or "FAIL NAME: WHY"),
 * then "done". Exit status 0 when every check passed, 1 otherwise.
 */
import java.math.BigInteger;

import com.ericsson.otp.erlang.OtpErlangAtom;
import com.ericsson.otp.erlang.OtpErlangExit;
import com.ericsson.otp.erlang.OtpErlangList;
import com.ericsson.otp.erlang.OtpErlangLong;
import com.ericsson.otp.erlang.OtpErlangObject;
import com.ericsson.otp.erlang.OtpErlangPid;
import com.ericsson.otp.erlang.OtpErlangRef;
import com.ericsson.otp.erlang.OtpErlangTuple;
import com.ericsson.otp.erlang.OtpMbox;
import com.ericsson.otp.erlang.OtpNode;

public final class FerrotpPeer {
    /** Generous: the CI machine is small and shared. */
    private static final long WAIT_MS = 30_000;

    private final OtpNode node;
    private final OtpMbox mbox;
    private final String rust;
    private boolean failed = false;

    private FerrotpPeer(OtpNode node, OtpMbox mbox, String rust) {
        this.node = node;
        this.mbox = mbox;
        this.rust = rust;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !(args[3].equals("dial") || args[3].equals("wait"))) {
            System.err.println("usage: FerrotpPeer RUST_NODE COOKIE ALIVE dial|wait");
            System.exit(2);
        }
        OtpNode node = new OtpNode(args[2] + "@localhost", args[1]);
        OtpMbox mbox = node.createMbox("javambox");
        System.out.println("ready " + node.node());
        System.out.flush();
        FerrotpPeer peer = new FerrotpPeer(node, mbox, args[0]);
        boolean dial = args[3].equals("dial");
        try {
            if (!dial) {
                peer.answerPing();
            }
            peer.counterChecks();
            if (dial) {
                mbox.send("jtest", peer.rust, tuple(atom("hello"), mbox.self()));
                peer.answerPing();
            }
        } catch (Exception e) {
            peer.fail("unexpected", e.toString());
        }
        System.out.println("done");
        System.out.flush();
        node.close();
        System.exit(peer.failed ? 1 : 0);
    }

    /** The gen_server checks against the seed tree, in order. */
    private void counterChecks() throws Exception {
        BigInteger v = call(counterByName(), atom("value"));
        check("call", v != null && v.equals(BigInteger.ZERO), "value -> " + v);

        cast(counterByName(), tuple(atom("bump"), new OtpErlangLong(5)));
        v = call(counterByName(), atom("value"));
        check("cast", v != null && v.equals(BigInteger.valueOf(5)), "bump 5 -> " + v);

        BigInteger big = BigInteger.ONE.shiftLeft(70);
        cast(counterByName(), tuple(atom("bump"), new OtpErlangLong(big)));
        v = call(counterByName(), atom("value"));
        BigInteger want = big.add(BigInteger.valueOf(5));
        check("bignum", want.equals(v), "bump 2^70 -> " + v);

        OtpErlangPid old = counterPid();
        if (old == null) {
            fail("exit", "top_sup has no counter pid");
            return;
        }
        mbox.link(old);
        mbox.exit(old, atom("kill"));
        OtpErlangExit exit = awaitExit();
        check("exit", exit != null && exit.reason().equals(atom("killed")) && old.equals(exit.pid()),
                exit == null ? "no exit signal" : "link from counter: " + exit.reason());

        OtpErlangPid fresh = freshCounter(old);
        v = fresh == null ? null : call(fresh, atom("value"));
        check("restart", fresh != null && BigInteger.ZERO.equals(v),
                fresh == null ? "no fresh counter" : "fresh counter -> " + v);
    }

    /** Waits for `{ping, From, Payload}` and answers `{pong, Payload}`. */
    private void answerPing() throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            OtpErlangObject m = mbox.receive(left(deadline));
            OtpErlangObject[] t = elements(m, 3);
            if (t != null && t[0].equals(atom("ping")) && t[1] instanceof OtpErlangPid) {
                mbox.send((OtpErlangPid) t[1], tuple(atom("pong"), t[2]));
                check("rust", true, "ping answered");
                return;
            }
        }
        fail("rust", "no ping from the Rust node");
    }

    /** `gen_server:call(To, Request)` for an integer reply; null on timeout. */
    private BigInteger call(OtpErlangObject to, OtpErlangObject request) throws Exception {
        OtpErlangObject reply = callTerm(to, request);
        if (reply instanceof OtpErlangLong) {
            return ((OtpErlangLong) reply).bigIntegerValue();
        }
        return null;
    }

    /** `gen_server:call(To, Request)`: the reply term, or null on timeout. */
    private OtpErlangObject callTerm(OtpErlangObject to, OtpErlangObject request) throws Exception {
        OtpErlangRef ref = node.createRef();
        send(to, tuple(atom("$gen_call"), tuple(mbox.self(), ref), request));
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            OtpErlangObject m = mbox.receive(left(deadline));
            OtpErlangObject[] t = elements(m, 2);
            if (t != null && ref.equals(t[0])) {
                return t[1];
            }
        }
        return null;
    }

    private void cast(OtpErlangObject to, OtpErlangObject msg) {
        send(to, tuple(atom("$gen_cast"), msg));
    }

    /** Sends to a pid or to a `{Name, Node}` tuple. */
    private void send(OtpErlangObject to, OtpErlangObject msg) {
        if (to instanceof OtpErlangPid) {
            mbox.send((OtpErlangPid) to, msg);
        } else {
            OtpErlangTuple named = (OtpErlangTuple) to;
            mbox.send(((OtpErlangAtom) named.elementAt(0)).atomValue(),
                    ((OtpErlangAtom) named.elementAt(1)).atomValue(), msg);
        }
    }

    private OtpErlangObject counterByName() {
        return tuple(atom("counter"), atom(rust));
    }

    /** The counter's pid from `supervisor:which_children(top_sup)`, or null. */
    private OtpErlangPid counterPid() throws Exception {
        OtpErlangObject children = callTerm(tuple(atom("top_sup"), atom(rust)), atom("which_children"));
        if (children instanceof OtpErlangList) {
            for (OtpErlangObject c : (OtpErlangList) children) {
                OtpErlangObject[] t = elements(c, 4);
                if (t != null && t[0].equals(atom("counter")) && t[1] instanceof OtpErlangPid) {
                    return (OtpErlangPid) t[1];
                }
            }
        }
        return null;
    }

    /** Polls top_sup until its counter is a pid other than `old`; null on timeout. */
    private OtpErlangPid freshCounter(OtpErlangPid old) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            OtpErlangPid pid = counterPid();
            if (pid != null && !pid.equals(old)) {
                return pid;
            }
            Thread.sleep(50);
        }
        return null;
    }

    /** The exit signal a link delivers (raised by receive), or null on timeout. */
    private OtpErlangExit awaitExit() throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        try {
            while (System.currentTimeMillis() < deadline) {
                mbox.receive(left(deadline));
            }
        } catch (OtpErlangExit e) {
            return e;
        }
        return null;
    }

    /** Milliseconds until `deadline`, at least 1 (0 would not wait at all). */
    private static long left(long deadline) {
        return Math.max(1, deadline - System.currentTimeMillis());
    }

    private void check(String name, boolean ok, String detail) {
        if (ok) {
            System.out.println("ok " + name + ": " + detail);
        } else {
            fail(name, detail);
        }
    }

    private void fail(String name, String why) {
        failed = true;
        System.out.println("FAIL " + name + ": " + why);
    }

    private static OtpErlangAtom atom(String s) {
        return new OtpErlangAtom(s);
    }

    /** The elements of `m` if it is a tuple of `arity`, else null. */
    private static OtpErlangObject[] elements(OtpErlangObject m, int arity) {
        if (m instanceof OtpErlangTuple && ((OtpErlangTuple) m).arity() == arity) {
            return ((OtpErlangTuple) m).elements();
        }
        return null;
    }

    private static OtpErlangTuple tuple(OtpErlangObject... items) {
        return new OtpErlangTuple(items);
    }
}
