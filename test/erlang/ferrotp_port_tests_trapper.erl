%% A gen_server that traps exits, for the port-mode supervisor tests: it
%% tells `Report' its `$ancestors' and links when its init runs, and the
%% reason its terminate/2 is called with. `fail/1' is a start function
%% that fails with `{error, Reason}'.
-module(ferrotp_port_tests_trapper).
-behaviour(gen_server).

-export([start_link/2, fail/1, init/1, handle_call/3, handle_cast/2, terminate/2]).

start_link(Id, Report) ->
    gen_server:start_link(?MODULE, {Id, Report}, []).

fail(Reason) ->
    {error, Reason}.

init({Id, Report}) ->
    process_flag(trap_exit, true),
    {links, Links} = process_info(self(), links),
    Report ! {started, Id, self(), get('$ancestors'), Links},
    {ok, {Id, Report}}.

handle_call(ping, _From, S) ->
    {reply, pong, S}.

handle_cast(_Msg, S) ->
    {noreply, S}.

terminate(Reason, {Id, Report}) ->
    Report ! {terminated, Id, self(), Reason},
    ok.
