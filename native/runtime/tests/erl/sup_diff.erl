%% Differential supervisor scenarios: the OTP side.
%%
%% main(In, Out) reads a list of scenarios (term_to_binary of a list of
%% step lists) from In, runs each against OTP's real supervisor, and writes
%% the traces to Out. native/runtime/tests/supervisor_beam_diff.rs runs the
%% same scenarios on ferrotp with the same interpreter and compares.
%%
%% A trace is [{StepIndex, Result, Events}]: Result is what the step
%% returned, Events what the workers reported meanwhile, in arrival order
%% ({started, Id}, {crashing, Id, Reason}, {stopping, Id, Reason}) and
%% {sup_exit, Reason} when the supervisor died. Pids read as 'pid'.
-module(sup_diff).
-behaviour(supervisor).

-export([main/2, init/1]).
%% The worker: a proc_lib process that reports to the driver.
-export([start_link/3, worker_init/4]).

main(In, Out) ->
    logger:set_primary_config(level, none),
    {ok, Bin} = file:read_file(In),
    Traces = [run(S) || S <- binary_to_term(Bin)],
    ok = file:write_file(Out, term_to_binary(Traces)).

init({Flags, Specs}) ->
    {ok, {Flags, Specs}}.

%% ---- the worker ---------------------------------------------------------

start_link(Collector, Id, Mode) ->
    proc_lib:start_link(?MODULE, worker_init, [self(), Collector, Id, Mode]).

worker_init(Parent, _Collector, _Id, fail_init) ->
    proc_lib:init_ack(Parent, {error, nope}),
    exit(nope);
worker_init(Parent, _Collector, _Id, taken) ->
    %% As a start under a name someone holds: {error, {already_started, P}}.
    proc_lib:init_ack(Parent, {error, {already_started, Parent}}),
    exit(normal);
worker_init(Parent, _Collector, _Id, ignore_init) ->
    proc_lib:init_ack(Parent, ignore),
    exit(normal);
worker_init(Parent, Collector, Id, flaky) ->
    %% Starts, fails its second start, then starts again.
    Key = {sup_diff_flaky, Collector, Id},
    N = persistent_term:get(Key, 0) + 1,
    persistent_term:put(Key, N),
    case N of
        2 ->
            proc_lib:init_ack(Parent, {error, flaky}),
            exit(flaky);
        _ ->
            worker_init(Parent, Collector, Id, normal)
    end;
worker_init(Parent, Collector, Id, Mode) ->
    process_flag(trap_exit, true),
    Collector ! {event, {started, Id}, self()},
    proc_lib:init_ack(Parent, {ok, self()}),
    worker_loop(Collector, Id, Mode).

worker_loop(Collector, Id, Mode) ->
    receive
        {crash, Reason} ->
            Collector ! {event, {crashing, Id, Reason}, self()},
            exit(Reason);
        {'EXIT', _, shutdown} when Mode =:= stubborn ->
            Collector ! {event, {stopping, Id, shutdown}, self()},
            worker_loop(Collector, Id, Mode);
        {'EXIT', _, Reason} ->
            Collector ! {event, {stopping, Id, Reason}, self()},
            exit(Reason);
        _ ->
            worker_loop(Collector, Id, Mode)
    end.

%% ---- the driver ---------------------------------------------------------

run(Steps) ->
    Parent = self(),
    {Pid, Ref} = spawn_monitor(fun() -> Parent ! {trace, self(), drive(Steps)} end),
    receive
        {trace, Pid, Trace} ->
            erlang:demonitor(Ref, [flush]),
            Trace;
        {'DOWN', Ref, process, Pid, Reason} ->
            {driver_crashed, Reason}
    after 60000 ->
        driver_timeout
    end.

drive(Steps) ->
    process_flag(trap_exit, true),
    loop(subst(Steps, self()), 1, #{sup => undefined, pids => #{}, exited => []}, []).

subst('$collector', C) -> C;
subst(L, C) when is_list(L) -> [subst(X, C) || X <- L];
subst(T, C) when is_tuple(T) -> list_to_tuple(subst(tuple_to_list(T), C));
subst(M, C) when is_map(M) -> maps:from_list(subst(maps:to_list(M), C));
subst(X, _) -> X.

loop([], _N, _St, Acc) ->
    lists:reverse(Acc);
loop([Step | Rest], N, St, Acc) ->
    {Result, St1} = step(Step, St),
    {Events, St2} = drain(St1),
    Events1 =
        case Step of
            {unordered, _} -> lists:sort(Events);
            _ -> Events
        end,
    loop(Rest, N + 1, St2, [{N, norm(Result), norm(Events1)} | Acc]).

step({unordered, Step}, St) ->
    step(Step, St);
step({start_sup, Flags, Specs}, St) ->
    case supervisor:start_link(?MODULE, {Flags, Specs}) of
        {ok, Pid} ->
            {{ok, Pid}, St#{sup := Pid}};
        Other ->
            Exited =
                receive
                    {'EXIT', _, Reason} -> [Reason]
                after 5000 -> []
                end,
            {Other, St#{exited := Exited}}
    end;
step({crash, Id, Reason}, #{pids := Pids} = St) ->
    Pid = maps:get(Id, Pids),
    Ref = monitor(process, Pid),
    Pid ! {crash, Reason},
    receive
        {'DOWN', Ref, process, Pid, _} -> ok
    end,
    {ok, sync(St)};
step({call, Request}, St) ->
    {call(St, Request), sync(St)};
step({call_pid, Tag, Id}, #{pids := Pids} = St) ->
    {call(St, {Tag, maps:get(Id, Pids)}), sync(St)};
step({exit_sup, Reason}, #{sup := Sup} = St) ->
    exit(Sup, Reason),
    receive
        {'EXIT', Sup, Why} -> {ok, St#{exited := [Why]}}
    after 10000 -> {timeout, St}
    end.

call(#{sup := Sup}, Request) ->
    case catch gen_server:call(Sup, Request, infinity) of
        {'EXIT', {Reason, _}} -> {call_failed, Reason};
        Reply -> Reply
    end.

%% Wait until the supervisor has handled everything caused so far: two
%% calls, so that a retry it cast to itself while handling a child's exit
%% (try_again_restart) is handled too, however the first call raced it.
sync(St) ->
    sync(sync1(St), 1).

sync(St, 0) -> St;
sync(St, N) -> sync(sync1(St), N - 1).

sync1(#{sup := Sup, exited := []} = St) when is_pid(Sup) ->
    case catch supervisor:which_children(Sup) of
        {'EXIT', _} ->
            receive
                {'EXIT', Sup, Why} -> St#{exited := [Why]}
            after 10000 -> St
            end;
        _ ->
            St
    end;
sync1(St) ->
    St.

drain(St) ->
    drain(St, []).

drain(#{pids := Pids} = St, Acc) ->
    receive
        {event, {started, Id} = E, Pid} ->
            drain(St#{pids := Pids#{Id => Pid}}, [E | Acc]);
        {event, E, _Pid} ->
            drain(St, [E | Acc])
    after 0 ->
        Exits = [{sup_exit, R} || R <- maps:get(exited, St)],
        St1 =
            case Exits of
                [] -> St;
                _ -> St#{sup := undefined}
            end,
        {lists:reverse(Acc) ++ Exits, St1#{exited := []}}
    end.

norm(P) when is_pid(P) -> pid;
norm(R) when is_reference(R) -> ref;
norm(L) when is_list(L) -> [norm(X) || X <- L];
norm(T) when is_tuple(T) -> list_to_tuple(norm(tuple_to_list(T)));
norm(M) when is_map(M) -> maps:from_list(norm(maps:to_list(M)));
norm(X) -> X.
