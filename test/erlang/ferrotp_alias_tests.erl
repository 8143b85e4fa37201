%% OTP 24+ call aliases, side by side with OTP: gen_server:call's tag is
%% `[alias | Mref]' and the server replies to the alias, so a reply that
%% comes after the caller's timeout is dropped instead of landing in its
%% mailbox. The same scenario runs against an OTP gen_server (this module)
%% and against the Rust counter in a port program and in this VM (NIF).
-module(ferrotp_alias_tests).
-behaviour(gen_server).

-include_lib("eunit/include/eunit.hrl").

-export([init/1, handle_call/3, handle_cast/2]).

%% The OTP twin: the seed's counter as a plain gen_server.
init(N) -> {ok, N}.
handle_call(value, _From, N) -> {reply, N, N}.
handle_cast({bump, K}, N) -> {noreply, N + K}.

late_reply_scenario(C) ->
    ok = sys:suspend(C),
    R = case catch gen_server:call(C, value, 100) of
            {'EXIT', {timeout, _}} -> timeout;
            Other -> Other
        end,
    ok = sys:resume(C),
    V = gen_server:call(C, value),
    Stray = receive M -> {stray, M} after 300 -> none end,
    {R, V, Stray}.

in_process(Fun) ->
    Self = self(),
    {P, M} = spawn_monitor(fun() -> Self ! {self(), Fun()} end),
    receive
        {P, Result} -> erlang:demonitor(M, [flush]), Result;
        {'DOWN', M, process, P, Reason} -> {died, Reason}
    after 60000 -> timeout
    end.

late_replies_are_dropped_as_by_otp_test_() ->
    {timeout, 120, fun() ->
        Otp = in_process(fun() ->
            {ok, C} = gen_server:start_link(?MODULE, 3, []),
            late_reply_scenario(C)
        end),
        ?assertEqual({timeout, 3, none}, Otp),
        Port = in_process(fun() ->
            process_flag(trap_exit, true),
            {ok, Host} = ferrotp_port:start_link(#{}),
            {ok, C} = ferrotp:start_link(Host, counter, 3),
            Result = late_reply_scenario(C),
            exit(Host, shutdown),
            Result
        end),
        ?assertEqual(Otp, Port, port),
        Nif = in_process(fun() ->
            {ok, C} = ferrotp:start_link(counter, 3),
            late_reply_scenario(C)
        end),
        ?assertEqual(Otp, Nif, nif)
    end}.
