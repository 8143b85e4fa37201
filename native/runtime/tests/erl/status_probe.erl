%% sys:get_status/1 of a registered gen_server whose state is 7, with pids
%% replaced by 'pid' and the process dictionary by [], written to a file
%% as ETF; tests/differential_erl.rs compares ferrotp's answer with it.
-module(status_probe).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2]).

main([Out]) ->
    {ok, _} = gen_server:start({local, probe}, ?MODULE, 7, []),
    {status, Pid, Mod, [_PDict | Rest]} = sys:get_status(probe),
    Norm = normalize({status, Pid, Mod, [[] | Rest]}),
    ok = file:write_file(Out, term_to_binary(Norm)),
    init:stop().

normalize(P) when is_pid(P) -> pid;
normalize(T) when is_tuple(T) -> list_to_tuple(normalize(tuple_to_list(T)));
normalize([H | T]) -> [normalize(H) | normalize(T)];
normalize(X) -> X.

init(N) -> {ok, N}.
handle_call(_, _, N) -> {reply, N, N}.
handle_cast(_, N) -> {noreply, N}.
