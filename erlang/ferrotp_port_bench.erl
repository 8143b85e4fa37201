%% @doc Port mode against a plain Erlang port, measured in the same run.
%%
%% ```
%% ferrotp_port_bench:run().            % prints a table, returns the numbers
%% ferrotp_port_bench:run(#{rounds => 400, calls => 50, casts => 2000}).
%% '''
%%
%% - call round trip: `gen_server:call(Counter, value)' on a Rust counter in
%%   a port program, against `port_command' + `receive' of
%%   `term_to_binary(Msg)' on a `{packet,4}' echo port (`ferrotp port
%%   --echo'), decoded with `binary_to_term' as a hand-written port
%%   client would;
%% - casts per second: `gen_server:cast(Counter, {bump, 1})' ended by one
%%   call (so every cast was handled), against the same number of echo
%%   packets sent and all received back;
%% - when the NIF library is built, the same counter through the NIF
%%   (`ferrotp:start_link(counter, 0)'), in the same rounds, so a user can
%%   choose a mode from numbers.
%%
%% On a shared machine both sides swing with the operating system's
%% wake-up latency (a round trip is three or four thread wake-ups), by
%% several times. So the two sides are measured in many short rounds, one
%% right after the other, the order alternating from round to round; each
%% round gives a ratio, and the result is the median of those ratios, with
%% their 10th and 90th percentiles as the spread. A load change then hits
%% both sides of a round alike. And since a program the operating system
%% placed on a busy CPU stays slow, the rounds are spread over several
%% epochs, each with a fresh echo port and a fresh port host.
-module(ferrotp_port_bench).

-export([run/0, run/1]).

%% @equiv run(#{})
run() ->
    run(#{}).

%% @doc Runs both benchmarks; prints a table and returns the numbers.
%%
%% Options: `rounds' (default 300), `calls' per round and side (default
%% 50), `casts' per round and side (default 2000), `epochs' (default 6:
%% the rounds are split over that many fresh pairs of port programs),
%% `executable'.
run(Opts) ->
    Rounds = maps:get(rounds, Opts, 300),
    Calls = maps:get(calls, Opts, 50),
    Casts = maps:get(casts, Opts, 2000),
    {ok, Exe} =
        case maps:find(executable, Opts) of
            {ok, E} -> {ok, E};
            error -> ferrotp_port:executable()
        end,
    process_flag(trap_exit, true),
    Load0 = load(),
    %% The same counter through the NIF, when the NIF library is built.
    Nif =
        try ferrotp:start_link(counter, 0) of
            {ok, N} -> [N];
            _ -> []
        catch
            _:_ -> []
        end,
    Epochs = max(1, min(Rounds, maps:get(epochs, Opts, 6))),
    Measured = [epoch(Exe, Nif, Rounds div Epochs, Calls, Casts) || _ <- lists:seq(1, Epochs)],
    CallRounds = lists:append([C || {C, _} <- Measured]),
    CastRounds = lists:append([C || {_, C} <- Measured]),
    Load1 = load(),
    [begin unlink(C), exit(C, kill) end || C <- Nif],
    Call = summary([{E, P, P / E} || [E, P | _] <- CallRounds]),
    Cast = summary([{E, P, E / P} || [E, P | _] <- CastRounds]),
    io:format(
        "~nport mode vs a plain {packet,4} echo port (same run; load ~s -> ~s)~n"
        "                     port           echo           ratio (p10-p90 of ~w rounds)~n"
        "  call round trip   ~8.2f us    ~8.2f us    ~.2fx (~.2f-~.2f) port/echo~n"
        "  casts/s          ~10w     ~10w     ~.2fx (~.2f-~.2f) echo/port~n",
        [Load0, Load1, length(CallRounds)]
        ++ [maps:get(K, Call) || K <- [port, echo, ratio, p10, p90]]
        ++ [round(maps:get(port, Cast)), round(maps:get(echo, Cast))]
        ++ [maps:get(K, Cast) || K <- [ratio, p10, p90]]
    ),
    NifResult =
        case Nif of
            [] ->
                #{};
            [_] ->
                NifCall = summary([{E, N, N / E} || [E, _, N] <- CallRounds]),
                NifCast = summary([{E, N, E / N} || [E, _, N] <- CastRounds]),
                io:format(
                    "  the same counter through the NIF, in the same rounds:~n"
                    "  call round trip   ~8.2f us                   ~.2fx (~.2f-~.2f) nif/echo~n"
                    "  casts/s          ~10w                    ~.2fx (~.2f-~.2f) echo/nif~n",
                    [maps:get(K, NifCall) || K <- [port, ratio, p10, p90]]
                    ++ [round(maps:get(port, NifCast))]
                    ++ [maps:get(K, NifCast) || K <- [ratio, p10, p90]]
                ),
                #{
                    nif_call_us => maps:get(port, NifCall),
                    nif_call_ratio => maps:get(ratio, NifCall),
                    nif_casts_per_s => maps:get(port, NifCast)
                }
        end,
    NifResult#{
        call_us => maps:get(port, Call),
        echo_call_us => maps:get(echo, Call),
        call_ratio => maps:get(ratio, Call),
        call_ratio_p10 => maps:get(p10, Call),
        call_ratio_p90 => maps:get(p90, Call),
        casts_per_s => maps:get(port, Cast),
        echo_casts_per_s => maps:get(echo, Cast),
        cast_ratio => maps:get(ratio, Cast),
        cast_ratio_p10 => maps:get(p10, Cast),
        cast_ratio_p90 => maps:get(p90, Cast),
        rounds => length(CallRounds),
        load => {Load0, Load1}
    }.

%% One epoch: a fresh echo port and a fresh port host (the operating system
%% places each new program on a CPU of its own choosing, and a program
%% placed badly stays slow: fresh ones each epoch spread that luck over both
%% sides), then `Rounds' call rounds and a tenth as many cast rounds.
epoch(Exe, Nif, Rounds, Calls, Casts) ->
    Echo = open_port({spawn_executable, Exe}, [
        {args, ["port", "--echo"]}, {packet, 4}, binary, exit_status
    ]),
    {ok, Host} = ferrotp_port:start_link(#{executable => Exe}),
    {ok, Counter} = ferrotp:start_link(Host, counter, 0),
    %% Warm up every path.
    _ = echo_calls(Echo, 1000),
    [_ = port_calls(C, 1000) || C <- [Counter | Nif]],
    CallRounds = rounds(
        Rounds,
        [fun() -> time(fun() -> echo_calls(Echo, Calls) end) / Calls end]
        ++ [fun() -> time(fun() -> port_calls(C, Calls) end) / Calls end || C <- [Counter | Nif]]
    ),
    CastRounds = rounds(
        max(1, Rounds div 10),
        [fun() -> Casts / time(fun() -> echo_casts(Echo, Casts) end) * 1.0e6 end]
        ++ [fun() -> Casts / time(fun() -> port_casts(C, Casts) end) * 1.0e6 end || C <- [Counter | Nif]]
    ),
    port_close(Echo),
    unlink(Counter),
    unlink(Host),
    M = monitor(process, Host),
    exit(Host, shutdown),
    receive {'DOWN', M, process, Host, _} -> ok end,
    receive {'EXIT', Counter, _} -> ok after 0 -> ok end,
    flush_echo(Echo),
    {CallRounds, CastRounds}.

flush_echo(Echo) ->
    receive
        {Echo, _} -> flush_echo(Echo);
        {'EXIT', Echo, _} -> flush_echo(Echo)
    after 0 -> ok
    end.

%% The measurements of `N' rounds, one list per round in the order of
%% `Sides'; each round starts from a different side (they take turns), so
%% none always goes first.
rounds(N, Sides) ->
    K = length(Sides),
    [
        begin
            Order = lists:seq(I rem K, K - 1) ++ lists:seq(0, I rem K - 1),
            Timed = [{J, (lists:nth(J + 1, Sides))()} || J <- Order],
            [T || {_, T} <- lists:sort(Timed)]
        end
     || I <- lists:seq(1, N)
    ].

%% Medians of each side, the median ratio and its 10th/90th percentiles.
summary(Rounds) ->
    #{
        echo => median([E || {E, _, _} <- Rounds]),
        port => median([P || {_, P, _} <- Rounds]),
        ratio => median([R || {_, _, R} <- Rounds]),
        p10 => percentile(10, [R || {_, _, R} <- Rounds]),
        p90 => percentile(90, [R || {_, _, R} <- Rounds])
    }.

%% Microseconds `F' takes.
time(F) ->
    element(1, timer:tc(F)).

median(Xs) ->
    percentile(50, Xs).

percentile(P, Xs) ->
    Sorted = lists:sort(Xs),
    lists:nth(max(1, min(length(Sorted), round(P / 100 * length(Sorted)))), Sorted).

%% The load average (`uptime'), where the system tells it.
load() ->
    case file:read_file("/proc/loadavg") of
        {ok, Bin} -> lists:flatten(lists:join(" ", lists:sublist(string:lexemes(binary_to_list(Bin), " "), 3)));
        {error, _} -> "?"
    end.

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
