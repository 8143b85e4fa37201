%% @doc Port mode against a plain Erlang port, measured in the same run.
%%
%% ```
%% ferrotp_port_bench:run().            % prints a table, returns the numbers
%% ferrotp_port_bench:run(#{calls => 20000, casts => 100000}).
%% '''
%%
%% - call round trip: `gen_server:call(Counter, value)' on a Rust counter in
%%   a port program, against `port_command' + `receive' of
%%   `term_to_binary(Msg)' on a `{packet,4}' echo port (`ferrotp port
%%   --echo'), decoded with `binary_to_term' as a hand-written port
%%   client would;
%% - casts per second: `gen_server:cast(Counter, {bump, 1})' ended by one
%%   call (so every cast was handled), against the same number of echo
%%   packets sent and all received back.
%%
%% Rounds of each alternate, and medians are reported (the ratio is the
%% median of the per-round ratios), so a load change on a shared machine
%% hits both sides alike.
-module(ferrotp_port_bench).

-export([run/0, run/1]).

%% @equiv run(#{})
run() ->
    run(#{}).

%% @doc Runs both benchmarks; prints a table and returns the numbers.
run(Opts) ->
    Calls = maps:get(calls, Opts, 20000),
    Casts = maps:get(casts, Opts, 100000),
    {ok, Exe} =
        case maps:find(executable, Opts) of
            {ok, E} -> {ok, E};
            error -> ferrotp_port:executable()
        end,
    process_flag(trap_exit, true),
    Echo = open_port({spawn_executable, Exe}, [
        {args, ["port", "--echo"]}, {packet, 4}, binary, exit_status
    ]),
    {ok, Host} = ferrotp_port:start_link(#{executable => Exe}),
    {ok, Counter} = ferrotp:start_link(Host, counter, 0),
    %% Warm up both paths.
    _ = echo_calls(Echo, 1000),
    _ = port_calls(Counter, 1000),
    %% The machine's load drifts: short rounds alternate the two sides, and
    %% the medians of the rounds are compared.
    Rounds = maps:get(rounds, Opts, 15),
    CallRounds = [
        {time(fun() -> echo_calls(Echo, Calls div Rounds) end) / (Calls div Rounds),
         time(fun() -> port_calls(Counter, Calls div Rounds) end) / (Calls div Rounds)}
     || _ <- lists:seq(1, Rounds)
    ],
    CastRounds = [
        {(Casts div Rounds) / time(fun() -> echo_casts(Echo, Casts div Rounds) end) * 1.0e6,
         (Casts div Rounds) / time(fun() -> port_casts(Counter, Casts div Rounds) end) * 1.0e6}
     || _ <- lists:seq(1, Rounds)
    ],
    EchoCall = median([E || {E, _} <- CallRounds]),
    PortCall = median([P || {_, P} <- CallRounds]),
    CallRatio = median([P / E || {E, P} <- CallRounds]),
    EchoCasts = median([E || {E, _} <- CastRounds]),
    PortCasts = median([P || {_, P} <- CastRounds]),
    CastRatio = median([E / P || {E, P} <- CastRounds]),
    port_close(Echo),
    unlink(Counter),
    unlink(Host),
    exit(Host, shutdown),
    Result = #{
        call_us => PortCall,
        echo_call_us => EchoCall,
        call_ratio => CallRatio,
        casts_per_s => PortCasts,
        echo_casts_per_s => EchoCasts,
        cast_ratio => CastRatio
    },
    io:format(
        "~nport mode vs a plain {packet,4} echo port (same run)~n"
        "  call round trip   ~8.2f us   echo ~8.2f us   ratio ~.2fx (port/echo)~n"
        "  casts/s          ~10w    echo ~10w    ratio ~.2fx (echo/port)~n",
        [PortCall, EchoCall, CallRatio, round(PortCasts), round(EchoCasts), CastRatio]
    ),
    Result.

%% Microseconds `F' takes.
time(F) ->
    element(1, timer:tc(F)).

median(Xs) ->
    lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

echo_calls(_Port, 0) ->
    ok;
echo_calls(Port, N) ->
    port_command(Port, term_to_binary({'$gen_call', {self(), make_ref()}, value})),
    receive
        {Port, {data, Bin}} -> _ = binary_to_term(Bin)
    end,
    echo_calls(Port, N - 1).

port_calls(_Counter, 0) ->
    ok;
port_calls(Counter, N) ->
    _ = gen_server:call(Counter, value),
    port_calls(Counter, N - 1).

echo_casts(Port, N) ->
    Bin = term_to_binary({'$gen_cast', {bump, 1}}),
    [port_command(Port, Bin) || _ <- lists:seq(1, N)],
    [
        receive
            {Port, {data, B}} -> binary_to_term(B)
        end
     || _ <- lists:seq(1, N)
    ],
    ok.

port_casts(Counter, N) ->
    [gen_server:cast(Counter, {bump, 1}) || _ <- lists:seq(1, N)],
    _ = gen_server:call(Counter, value, infinity),
    ok.
