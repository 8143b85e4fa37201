%% The exit-signal matrix, run on the BEAM; tests/differential_erl.rs runs
%% the same scenarios on ferrotp and compares the lines.
-module(exit_matrix).
-export([main/0]).

main() ->
    Cases = [{K, R, Trap} || K <- [exit2_other, exit2_self, link],
                             R <- [normal, kill, custom],
                             Trap <- [false, true]]
        ++ [{link_killed, kill, Trap} || Trap <- [false, true]],
    [io:format("~p ~p ~p ~s~n", [K, R, Trap, outcome(K, R, Trap)])
     || {K, R, Trap} <- Cases],
    ok.

outcome(K, R, Trap) ->
    Main = self(),
    T = spawn(fun() -> process_flag(trap_exit, Trap), target(Main) end),
    M = monitor(process, T),
    T ! {setup, K, R},
    L = receive {ready, T, Linked} -> Linked end,
    case K of
        exit2_other ->
            spawn(fun() -> exit(T, R), T ! {report, Main} end);
        exit2_self ->
            T ! {go, Main};
        link ->
            ML = monitor(process, L),
            L ! go,
            receive {'DOWN', ML, _, _, _} -> ok end,
            T ! {report, Main};
        link_killed ->
            ML = monitor(process, L),
            exit(L, kill),
            receive {'DOWN', ML, _, _, _} -> ok end,
            T ! {report, Main}
    end,
    Result =
        receive
            {'DOWN', M, _, _, Why} -> "down:" ++ fmt(Why);
            {report, T, []} -> "alive";
            {report, T, [X | _]} -> "msg:" ++ fmt(X)
        end,
    demonitor(M, [flush]),
    exit(T, kill),
    Result.

target(Main) ->
    {K, R} = receive {setup, K0, R0} -> {K0, R0} end,
    L = case K of
            link -> spawn_link(fun() -> receive go -> exit(R) end end);
            link_killed -> spawn_link(fun() -> receive after infinity -> ok end end);
            _ -> none
        end,
    Main ! {ready, self(), L},
    case K of
        exit2_self ->
            receive {go, Main} -> exit(self(), R), self() ! {report, Main} end;
        _ ->
            ok
    end,
    loop([]).

loop(Acc) ->
    receive
        {report, Main} ->
            Main ! {report, self(), [R || {'EXIT', _, R} <- lists:reverse(Acc)]},
            loop(Acc);
        Msg ->
            loop([Msg | Acc])
    end.

fmt(X) ->
    lists:flatten(io_lib:format("~p", [X])).
