%% The seed's counter as a gen_server: the BEAM side of comparisons.
-module(ferrotp_nif_tests_counter).
-behaviour(gen_server).
-export([start_link/1, init/1, handle_call/3, handle_cast/2]).

%% init refuses what is not a count, as the Rust counter does.

start_link(Count) -> gen_server:start_link(?MODULE, Count, []).

init(Count) when is_integer(Count) -> {ok, Count};
init(Bad) -> {stop, {badarg, Bad}}.
handle_call(value, _From, Count) -> {reply, Count, Count}.
handle_cast({bump, N}, Count) -> {noreply, Count + N}.
