%% @doc Benchmarks of NIF mode against the BEAM, measured in the same run.
%%
%% design/0 times a gen_server:call round trip through the two candidate
%% execution designs (see docs/nif.md) and through a gen_server, and the
%% floor of design A: a proxy (same flags as ferrotp_nif's) whose NIF does
%% no work but build the reply (nif_floor), or an Erlang function in its
%% place (erl_floor).
-module(ferrotp_nif_bench).

-export([design/0, design/1, erl_floor/1]).

-define(CALLS, 200000).

design() -> design(?CALLS).

design(N) ->
    {ok, G} = beam_counter(),
    A = spawn_link(fun() -> proxy_loop(fun ferrotp_nif:bench_a_handle/2,
                                       ferrotp_nif:bench_a_new(0)) end),
    B = spawn_link(fun() -> proxy_loop(fun ferrotp_nif:bench_b_handle/2,
                                       ferrotp_nif:bench_b_new(0)) end),
    L = spawn_link(fun() -> lean_loop(0) end),
    F = floor_proxy(fun floor_loop/0),
    E = floor_proxy(fun floor_erl_loop/0),
    {ok, R} = ferrotp_nif:start_link(counter, 0, []),
    Results = [{Name, best_of(3, fun() -> calls(Pid, N) end)}
               || {Name, Pid} <- [{gen_server, G}, {lean_erlang, L}, {a_scheduler, A},
                                  {nif_counter, R}, {nif_floor, F}, {erl_floor, E}, {b_threads, B},
                                  {gen_server, G}]],
    GenNs = lists:min([Ns || {gen_server, Ns} <- Results]),
    io:format("call round trip, ~b calls, best of 3 (ns/call; ratio = gen_server / design)~n", [N]),
    [io:format("  ~-12s ~8.1f ns  ~5.2fx~n", [Name, Ns, GenNs / Ns])
     || {Name, Ns} <- Results, Name =/= gen_server],
    io:format("  ~-12s ~8.1f ns~n", [gen_server, GenNs]),
    [unlink(P) || P <- [G, L, A, B, R, F, E]],
    [exit(P, kill) || P <- [G, L, A, B, R, F, E]],
    Results.

beam_counter() ->
    gen_server:start_link(beam_bench_counter, 0, []).

proxy_loop(Handle, State) ->
    receive
        Msg ->
            ok = Handle(State, Msg),
            proxy_loop(Handle, State)
    end.

%% The floor: a receive loop that answers in Erlang, no NIF.
lean_loop(Count) ->
    receive
        {'$gen_call', {Pid, Tag}, value} ->
            Pid ! {Tag, Count},
            lean_loop(Count)
    end.

%% The floor of design A: the proxy's call path, and its process flags
%% (trap_exit, fullsweep_after 0), with a NIF that only builds the reply
%% message: any work a Rust gen_server does comes on top.
floor_proxy(Loop) ->
    spawn_opt(fun() -> process_flag(trap_exit, true), Loop() end,
              [link, {fullsweep_after, 0}]).

floor_loop() ->
    receive
        {'$gen_call', From, _Req} ->
            case ferrotp_nif:bench_floor(From) of
                {[alias | Alias], _} = Reply when is_reference(Alias) -> Alias ! Reply;
                {_, _} = Reply -> element(1, From) ! Reply
            end,
            floor_loop()
    end.

%% The same with an Erlang function for the NIF.
floor_erl_loop() ->
    receive
        {'$gen_call', From, _Req} ->
            case ?MODULE:erl_floor(From) of
                {[alias | Alias], _} = Reply when is_reference(Alias) -> Alias ! Reply;
                {_, _} = Reply -> element(1, From) ! Reply
            end,
            floor_erl_loop()
    end.

%% @private
erl_floor({_, Tag}) -> {Tag, 0}.

best_of(K, F) -> lists:min([F() || _ <- lists:seq(1, K)]).

calls(Pid, N) ->
    0 = gen_server:call(Pid, value),
    T0 = erlang:monotonic_time(nanosecond),
    call_loop(Pid, N),
    (erlang:monotonic_time(nanosecond) - T0) / N.

call_loop(_Pid, 0) -> ok;
call_loop(Pid, N) ->
    _ = gen_server:call(Pid, value),
    call_loop(Pid, N - 1).
