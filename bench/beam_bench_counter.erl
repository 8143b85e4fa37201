%% The seed's counter, as the BEAM side of the benchmarks.
-module(beam_bench_counter).
-behaviour(gen_server).
-export([start_link/1, init/1, handle_call/3, handle_cast/2]).

start_link(N) -> gen_server:start_link(?MODULE, N, []).

init(Count) -> {ok, Count}.

handle_cast({bump, N}, Count) -> {noreply, Count + N}.

handle_call(value, _From, Count) -> {reply, Count, Count}.
