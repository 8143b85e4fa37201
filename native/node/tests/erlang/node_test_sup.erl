%% An OTP supervisor whose flags and child specs are given at start, for tests.
-module(node_test_sup).
-behaviour(supervisor).
-export([start_link/2, init/1, worker/1]).

start_link(Flags, Specs) ->
    supervisor:start_link(?MODULE, {Flags, Specs}).

init({Flags, Specs}) ->
    {ok, {Flags, Specs}}.

%% An Erlang worker a Rust supervisor can own: registered as `Name',
%% answers `{ping, From}' with `{pong, self()}'; traps exits so that
%% `shutdown' from its supervisor is seen as a message, as a gen_server's
%% terminate would see it.
worker(Name) ->
    Pid = proc_lib:spawn_link(fun() ->
        register(Name, self()),
        process_flag(trap_exit, true),
        loop()
    end),
    {ok, Pid}.

loop() ->
    receive
        {ping, From} -> From ! {pong, self()}, loop();
        {'EXIT', _, Reason} -> exit(Reason)
    end.
