%% The BEAM side of `ferrotp bench runtime`: the same workloads as the Rust
%% side, measured in this VM. Prints one `name value unit` line per result,
%% which the ferrotp CLI reads and sets beside its own numbers.
-module(beam_runtime_bench).
-export([main/1]).

main(Args) ->
    %% Supervisor reports would dominate the restart timings.
    logger:set_primary_config(level, none),
    Scale = case Args of [S | _] -> list_to_integer(S); [] -> 1 end,
    spawn_exit(1000000 div Scale),
    idle_memory(100000 div Scale),
    ring(10000, 100 div Scale),
    ping_pong(200000 div Scale),
    call(200000 div Scale),
    restart(2000 div Scale),
    ok.

report(Name, Value, Unit) ->
    io:format("~s ~.3f ~s~n", [Name, float(Value), Unit]).

%% Spawn N processes that exit at once; wait until all are gone.
spawn_exit(N) ->
    Base = erlang:system_info(process_count),
    T0 = erlang:monotonic_time(nanosecond),
    spawn_n(N),
    wait_gone(Base),
    T1 = erlang:monotonic_time(nanosecond),
    report("spawn_exit_us", (T1 - T0) / N / 1000, "us/process").

spawn_n(0) -> ok;
spawn_n(N) ->
    spawn(fun() -> ok end),
    spawn_n(N - 1).

wait_gone(Base) ->
    case erlang:system_info(process_count) of
        C when C =< Base -> ok;
        _ -> erlang:yield(), wait_gone(Base)
    end.

%% Bytes per idle process, waiting in receive.
idle_memory(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    M1 = erlang:memory(total),
    [P ! stop || P <- Pids],
    report("idle_bytes", (M1 - M0) / N, "bytes/process").

%% A ring of N processes; a token goes round Laps times.
ring(N, Laps) ->
    Self = self(),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> ring_node(Next) end) end,
                        Self, lists:seq(1, N - 1)),
    T0 = erlang:monotonic_time(nanosecond),
    ring_laps(First, Laps),
    T1 = erlang:monotonic_time(nanosecond),
    First ! stop,
    report("ring_msgs_per_s", N * Laps / ((T1 - T0) / 1.0e9), "msgs/s").

ring_laps(_, 0) -> ok;
ring_laps(First, L) ->
    First ! token,
    receive token -> ring_laps(First, L - 1) end.

ring_node(Next) ->
    receive
        stop -> Next ! stop;
        token -> Next ! token, ring_node(Next)
    end.

%% Round trips between two processes.
ping_pong(N) ->
    Pong = spawn(fun pong/0),
    T0 = erlang:monotonic_time(nanosecond),
    ping(Pong, N),
    T1 = erlang:monotonic_time(nanosecond),
    Pong ! stop,
    report("ping_pong_us", (T1 - T0) / N / 1000, "us/round-trip").

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        stop -> ok
    end.

%% gen_server:call round trip to the seed's counter.
call(N) ->
    {ok, Pid} = gen_server:start(beam_bench_counter, 0, []),
    T0 = erlang:monotonic_time(nanosecond),
    call_n(Pid, N),
    T1 = erlang:monotonic_time(nanosecond),
    gen_server:stop(Pid),
    report("gen_server_call_us", (T1 - T0) / N / 1000, "us/call").

call_n(_, 0) -> ok;
call_n(Pid, N) -> gen_server:call(Pid, value), call_n(Pid, N - 1).

%% Time from a child's crash to its replacement answering.
restart(N) ->
    process_flag(trap_exit, true),
    {ok, Sup} = supervisor:start_link(beam_bench_sup, []),
    Total = restart_n(Sup, N, 0),
    unlink(Sup),
    exit(Sup, shutdown),
    report("restart_us", Total / N / 1000, "us/restart").

restart_n(_, 0, Acc) -> Acc;
restart_n(Sup, N, Acc) ->
    [{counter, Pid, worker, _}] = supervisor:which_children(Sup),
    T0 = erlang:monotonic_time(nanosecond),
    exit(Pid, kill),
    wait_restarted(Sup, Pid),
    T1 = erlang:monotonic_time(nanosecond),
    restart_n(Sup, N - 1, Acc + (T1 - T0)).

wait_restarted(Sup, Old) ->
    case supervisor:which_children(Sup) of
        [{counter, New, worker, _}] when is_pid(New), New =/= Old -> ok;
        _ -> wait_restarted(Sup, Old)
    end.
