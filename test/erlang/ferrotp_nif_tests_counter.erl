%% The seed's counter as a gen_server: the BEAM side of comparisons.
-module(ferrotp_nif_tests_counter).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

init(Count) -> {ok, Count}.
handle_call(value, _From, Count) -> {reply, Count, Count}.
handle_cast({bump, N}, Count) -> {noreply, Count + N}.
