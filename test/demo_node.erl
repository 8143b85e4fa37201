%% make demo, hidden-node part: an Erlang supervisor restarting a Rust
%% counter that lives on a Rust node (`ferrotp node`).
-module(demo_node).
-behaviour(supervisor).
-export([main/1, init/1]).

say(Fmt, Args) ->
    {_, {H, M, S}} = calendar:universal_time(),
    io:format("~2..0w:~2..0w:~2..0w  " ++ Fmt ++ "~n", [H, M, S | Args]).

main(RustNode) ->
    say("== hidden node: an Erlang supervisor on ~p owns a counter on ~p ==", [node(), RustNode]),
    pong = net_adm:ping(RustNode),
    say("seed tree on the Rust node: ~p", [supervisor:which_children({top_sup, RustNode})]),
    {ok, Sup} = supervisor:start_link(?MODULE, RustNode),
    [{counter, C, worker, _}] = supervisor:which_children(Sup),
    gen_server:cast(C, {bump, 5}),
    say("bump 5, value -> ~p (pid ~p on ~p)", [gen_server:call(C, value), C, node(C)]),
    Ref = monitor(process, C),
    gen_server:cast(C, boom),
    receive {'DOWN', Ref, process, C, Reason} -> say("counter crashed: ~p", [Reason]) end,
    New = wait_restart(Sup, C),
    say("restarted as ~p, value -> ~p (known-good state)", [New, gen_server:call(New, value)]),
    unlink(Sup),
    exit(Sup, shutdown),
    ok.

wait_restart(Sup, Old) ->
    case supervisor:which_children(Sup) of
        [{counter, New, worker, _}] when is_pid(New), New =/= Old -> New;
        _ -> timer:sleep(5), wait_restart(Sup, Old)
    end.

init(RustNode) ->
    {ok, {#{strategy => one_for_one, intensity => 3, period => 10},
          [#{id => counter, start => {ferrotp, start_link, [RustNode, counter, 0]}}]}}.
