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
    EchoCall = best(fun() -> echo_calls(Echo, Calls) end) / Calls,
    PortCall = best(fun() -> port_calls(Counter, Calls) end) / Calls,
    EchoCasts = Casts / best(fun() -> echo_casts(Echo, Casts) end) * 1.0e6,
    PortCasts = Casts / best(fun() -> port_casts(Counter, Casts) end) * 1.0e6,
    port_close(Echo),
    unlink(Counter),
    unlink(Host),
    exit(Host, shutdown),
    Result = #{
        call_us => PortCall,
        echo_call_us => EchoCall,
        call_ratio => PortCall / EchoCall,
        casts_per_s => PortCasts,
        echo_casts_per_s => EchoCasts,
        cast_ratio => EchoCasts / PortCasts
    },
    io:format(
        "~nport mode vs a plain {packet,4} echo port (same run)~n"
        "  call round trip   ~8.2f us   echo ~8.2f us   ratio ~.2fx~n"
        "  casts/s          ~10w    echo ~10w    ratio ~.2fx (echo/port)~n",
        [PortCall, EchoCall, PortCall / EchoCall, round(PortCasts), round(EchoCasts), EchoCasts / PortCasts]
    ),
    Result.

%% Best of three runs, in microseconds: the least disturbed by the machine.
best(F) ->
    lists:min([element(1, timer:tc(F)) || _ <- [1, 2, 3]]).

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
