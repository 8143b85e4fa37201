%% The seed's counter as a gen_server, the Erlang twin the port-mode tests
%% compare a Rust counter with: a request it does not know stops it with
%% `{bad_call, Request}', as the Rust counter does.
-module(ferrotp_port_tests_counter).
-behaviour(gen_server).

-export([start_link/2, init/1, handle_call/3, handle_cast/2]).

start_link(Count, Opts) ->
    case proplists:get_value(name, Opts) of
        undefined -> gen_server:start_link(?MODULE, Count, []);
        Name -> gen_server:start_link({local, Name}, ?MODULE, Count, [])
    end.

init(Count) ->
    {ok, Count}.

handle_call(value, _From, Count) ->
    {reply, Count, Count};
handle_call(Other, _From, Count) ->
    {stop, {bad_call, Other}, Count}.

handle_cast({bump, N}, Count) ->
    {noreply, Count + N}.
