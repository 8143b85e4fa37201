%% Distribution benchmark: from this Erlang node, the same workloads
%% against the counter on a Rust node (`ferrotp node`) and against the same
%% counter (beam_bench_counter) on a second Erlang node, started here with
%% `peer`. Prints one `name rust erlang unit ratio (min..max)` line per
%% result (ratio = rust / erlang for rates: above 1 means the Rust node is
%% faster). `make bench-dist` (bench/dist.sh) runs it.
%%
%%   erlc -o /tmp bench/beam_dist_bench.erl bench/beam_bench_counter.erl
%%   ferrotp node --sname rust --cookie bench &
%%   erl -noshell -sname bench -setcookie bench -pa /tmp \
%%       -eval 'beam_dist_bench:main([rust@HOST]), halt().'
-module(beam_dist_bench).
-export([main/1]).

-define(ROUNDS, 7).

main([RustNode | Rest]) when is_atom(RustNode) ->
    Scale = case Rest of [S | _] -> S; [] -> 1 end,
    logger:set_primary_config(level, error),
    pong = net_adm:ping(RustNode),
    {ok, Peer, PeerNode} = peer:start_link(#{name => peer:random_name(bench_peer),
                                              args => ["-pa", filename:dirname(code:which(beam_bench_counter)),
                                                       "-setcookie", atom_to_list(erlang:get_cookie())]}),
    {ok, Beam} = erpc:call(PeerNode, fun() ->
        {ok, P} = beam_bench_counter:start_link(0), unlink(P), {ok, P} end),
    {ok, Rust} = ferrotp_start(RustNode),
    Targets = [{rust, Rust, RustNode}, {erlang, Beam, PeerNode}],
    io:format("name rust erlang unit median_ratio (min..max of ~b alternating rounds)~n", [?ROUNDS]),
    rounds(call_round_trips, calls_per_s, Targets, fun(P, _) -> calls(P, 4000 div Scale) end),
    rounds(cast_throughput, msgs_per_s, Targets, fun(P, _) -> casts(P, 40000 div Scale) end),
    rounds(large_message_1mb, mb_per_s, Targets, fun(P, N) -> large(P, N, 1 bsl 20, 20 div Scale) end),
    rounds(large_message_10mb, mb_per_s, Targets, fun(P, N) -> large(P, N, 10 bsl 20, 4) end),
    peer:stop(Peer),
    ok.

%% ?ROUNDS short rounds, Rust and Erlang alternating (which goes first
%% alternates too), so both see the same machine; the reported rates are
%% medians and the ratio is the median of the per-round ratios.
rounds(Name, Unit, [{rust, R, RN}, {erlang, E, EN}], Work) ->
    Pairs = [case I rem 2 of
                 0 -> {Work(R, RN), Work(E, EN)};
                 1 -> Er = Work(E, EN), {Work(R, RN), Er}
             end || I <- lists:seq(1, ?ROUNDS)],
    Ratios = lists:sort([Rr / Ee || {Rr, Ee} <- Pairs]),
    io:format("~s ~.1f ~.1f ~s ~.2f (~.2f..~.2f)~n",
              [Name, median([Rr || {Rr, _} <- Pairs]), median([Ee || {_, Ee} <- Pairs]), Unit,
               median(Ratios), hd(Ratios), lists:last(Ratios)]).

median(L) ->
    lists:nth((length(L) + 1) div 2, lists:sort(L)).

%% A counter on the Rust node, through its start service (not linked).
ferrotp_start(Node) ->
    case gen_server:call({ferrotp, Node}, {start_link, self(), counter, 0, []}) of
        {ok, P} -> unlink(P), {ok, P};
        Other -> Other
    end.

calls(P, N) ->
    T0 = erlang:monotonic_time(),
    [gen_server:call(P, value) || _ <- lists:seq(1, N)],
    N / seconds(T0).

casts(P, N) ->
    Before = gen_server:call(P, value),
    T0 = erlang:monotonic_time(),
    [gen_server:cast(P, {bump, 1}) || _ <- lists:seq(1, N)],
    Before = gen_server:call(P, value) - N,
    N / seconds(T0).

%% Sends to a name nobody registered on the node: decoded, then dropped;
%% a call to the counter afterwards waits until all of it arrived.
large(P, Node, Bytes, N) ->
    Bin = crypto:strong_rand_bytes(Bytes),
    T0 = erlang:monotonic_time(),
    [{nobody_here, Node} ! {data, Bin} || _ <- lists:seq(1, N)],
    _ = gen_server:call(P, value, 120000),
    (Bytes * N / (1 bsl 20)) / seconds(T0).

seconds(T0) ->
    erlang:convert_time_unit(erlang:monotonic_time() - T0, native, microsecond) / 1.0e6.


