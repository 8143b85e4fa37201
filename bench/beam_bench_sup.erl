%% The seed's top_sup (with a huge intensity so benchmark restarts never escalate).
-module(beam_bench_sup).
-behaviour(supervisor).
-export([init/1]).

init([]) ->
    {ok, {#{strategy => one_for_one, intensity => 1000000, period => 1},
          [#{id => counter, start => {beam_bench_counter, start_link, [0]}}]}}.
