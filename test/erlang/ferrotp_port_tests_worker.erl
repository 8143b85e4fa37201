%% A plain Erlang gen_server for the port-mode tests: a BEAM child of a
%% Rust supervisor. `call ping' answers `pong'.
-module(ferrotp_port_tests_worker).
-behaviour(gen_server).

-export([start_link/1, init/1, handle_call/3, handle_cast/2]).

start_link(Name) ->
    gen_server:start_link({local, Name}, ?MODULE, [], []).

init([]) ->
    {ok, #{}}.

handle_call(ping, _From, S) ->
    {reply, pong, S}.

handle_cast(_Msg, S) ->
    {noreply, S}.
