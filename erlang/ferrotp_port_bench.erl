%% @doc Port mode against a plain Erlang port, measured in the same run.
%%
%% ```
%% ferrotp_port_bench:run().            % prints a table, returns the numbers
%% ferrotp_port_bench:run(#{pairs => 20, rounds => 10, calls => 50, casts => 2000}).
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
%%   (`ferrotp:start_link(counter, 0)'), in the same pairs, so a user can
%%   choose a mode from numbers.
%%
%% On this kind of machine (a VM with two CPUs whose idle CPU halts) a
%% round trip costs 11-17 µs when the port program shares a CPU with the
%% VM's scheduler and 40-70 µs when it sits on the other CPU, for the echo
%% as for ferrotp: each call then waits for a halted CPU to resume. Where a
%% program lands is the kernel's choice, made when it starts and revised
%% every few tens of milliseconds. Two programs alive at once compete for
%% the one good placement (one of them wins it, at random), so the sides
%% are never measured side by side: each epoch starts ONE fresh program
%% (the echo or the port host), measures `rounds' rounds of `calls' calls
%% and one round of `casts' casts, and closes it. Epochs come in pairs,
%% echo and port, the order alternating from pair to pair, so a load change
%% hits both alike. Per side, the result is the mean over its epochs (the
%% expected cost of a call, whichever placement it gets) and the median;
%% each pair also gives a ratio, whose median and 10th/90th percentiles
%% show the spread. `make bench-port' runs it a second time pinned to one
%% CPU, where no placement is left to chance.
-module(ferrotp_port_bench).

-export([run/0, run/1]).

%% @equiv run(#{})
run() ->
    run(#{}).

%% @doc Runs both benchmarks; prints a table and returns the numbers.
%%
%% Options: `pairs' of epochs (default 40), `rounds' per epoch (default
%% 10), `calls' per round (default 50), `casts' per epoch (default 2000),
%% `executable', `host' (more options for `ferrotp_port:start_link/1',
%% such as `#{busy_wait_us => 0}').
run(Opts) ->
    Pairs = max(1, maps:get(pairs, Opts, 40)),
    Shape = {maps:get(rounds, Opts, 10), maps:get(calls, Opts, 50), maps:get(casts, Opts, 2000)},
    {ok, Exe} =
        case maps:find(executable, Opts) of
            {ok, E} -> {ok, E};
            error -> ferrotp_port:executable()
        end,
    HostOpts = (maps:get(host, Opts, #{}))#{executable => Exe},
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
    Measured = [pair(I, Exe, HostOpts, Nif, Shape) || I <- lists:seq(1, Pairs)],
    Load1 = load(),
    [begin unlink(C), exit(C, kill) end || C <- Nif],
    Call = summary([{E, P} || {{E, _}, {P, _}, _} <- Measured]),
    Cast = summary([{E, P} || {{_, E}, {_, P}, _} <- Measured]),
    io:format(
        "~nport mode vs a plain {packet,4} echo port (same run; load ~s -> ~s;~n"
        " ~w pairs of epochs, one fresh program each)~n"
        "                     port           echo           mean ratio   median (p10-p90) of pairs~n"
        "  call round trip   ~8.2f us    ~8.2f us    ~.2fx        ~.2fx (~.2f-~.2f) port/echo~n"
        "  casts/s          ~10w     ~10w     ~.2fx        ~.2fx (~.2f-~.2f) echo/port~n"
        "  (medians of epochs: port ~.2f us, echo ~.2f us a call)~n",
        [Load0, Load1, Pairs]
        ++ [maps:get(K, Call) || K <- [port, echo, ratio, median, p10, p90]]
        ++ [round(1.0e6 / maps:get(port, Cast)), round(1.0e6 / maps:get(echo, Cast))]
        ++ [maps:get(K, Cast) || K <- [ratio, median, p10, p90]]
        ++ [maps:get(K, Call) || K <- [port_median, echo_median]]
    ),
    NifResult =
        case Nif of
            [] ->
                #{};
            [_] ->
                NifCall = summary([{E, Nc} || {{E, _}, _, {Nc, _}} <- Measured]),
                NifCast = summary([{E, Nc} || {{_, E}, _, {_, Nc}} <- Measured]),
                io:format(
                    "  the same counter through the NIF, in the same pairs:~n"
                    "  call round trip   ~8.2f us                   ~.2fx nif/echo~n"
                    "  casts/s          ~10w                    ~.2fx echo/nif~n",
                    [maps:get(port, NifCall), maps:get(ratio, NifCall),
                     round(1.0e6 / maps:get(port, NifCast)), maps:get(ratio, NifCast)]
                ),
                #{
                    nif_call_us => maps:get(port, NifCall),
                    nif_call_ratio => maps:get(ratio, NifCall),
                    nif_casts_per_s => 1.0e6 / maps:get(port, NifCast)
                }
        end,
    NifResult#{
        call_us => maps:get(port, Call),
        echo_call_us => maps:get(echo, Call),
        call_ratio => maps:get(ratio, Call),
        call_ratio_median => maps:get(median, Call),
        call_ratio_p10 => maps:get(p10, Call),
        call_ratio_p90 => maps:get(p90, Call),
        casts_per_s => 1.0e6 / maps:get(port, Cast),
        echo_casts_per_s => 1.0e6 / maps:get(echo, Cast),
        cast_ratio => maps:get(ratio, Cast),
        pairs => Pairs,
        load => {Load0, Load1}
    }.

%% One pair of epochs, echo first in odd pairs and port first in even
%% ones, then the NIF counter (in this VM: no program is alive then):
%% `{{EchoUs, EchoCastUs}, {PortUs, PortCastUs}, {NifUs, NifCastUs}}',
%% mean microseconds per call and per cast.
pair(I, Exe, HostOpts, Nif, Shape) ->
    Echo = fun() -> echo_epoch(Exe, Shape) end,
    Port = fun() -> port_epoch(HostOpts, Shape) end,
    {E, P} =
        case I rem 2 of
            1 -> {Echo(), Port()};
            0 -> P0 = Port(), {Echo(), P0}
        end,
    N = [measure(C, fun port_calls/2, fun port_casts/2, Shape) || C <- Nif],
    {E, P, case N of [M] -> M; [] -> {0, 0} end}.

%% A fresh echo port: the cheapest port program there is.
echo_epoch(Exe, Shape) ->
    Echo = open_port({spawn_executable, Exe}, [
        {args, ["port", "--echo"]}, {packet, 4}, binary, exit_status
    ]),
    Measured = measure(Echo, fun echo_calls/2, fun echo_casts/2, Shape),
    port_close(Echo),
    flush_echo(Echo),
    Measured.

%% A fresh port host with one Rust counter.
port_epoch(HostOpts, Shape) ->
    {ok, Host} = ferrotp_port:start_link(HostOpts),
    {ok, Counter} = ferrotp:start_link(Host, counter, 0),
    Measured = measure(Counter, fun port_calls/2, fun port_casts/2, Shape),
    unlink(Counter),
    unlink(Host),
    M = monitor(process, Host),
    exit(Host, shutdown),
    receive {'DOWN', M, process, Host, _} -> ok end,
    receive {'EXIT', Counter, _} -> ok after 0 -> ok end,
    Measured.

%% Warm every path up, then `Rounds' rounds of `Calls' calls and one of
%% `Casts' casts: mean microseconds per call and per cast.
measure(Target, CallsF, CastsF, {Rounds, Calls, Casts}) ->
    _ = CallsF(Target, 1000),
    CallUs = lists:sum([time(fun() -> CallsF(Target, Calls) end) || _ <- lists:seq(1, Rounds)])
        / (Rounds * Calls),
    CastUs = time(fun() -> CastsF(Target, Casts) end) / Casts,
    {CallUs, CastUs}.

flush_echo(Echo) ->
    receive
        {Echo, _} -> flush_echo(Echo);
        {'EXIT', Echo, _} -> flush_echo(Echo)
    after 0 -> ok
    end.

%% Means and medians of each side over its epochs, the ratio of the means
%% (port over echo: above 1.0 the port is slower), and the median and
%% 10th/90th percentiles of the pairs' own ratios.
summary(Pairs) ->
    Ratios = [P / E || {E, P} <- Pairs],
    Echo = mean([E || {E, _} <- Pairs]),
    Port = mean([P || {_, P} <- Pairs]),
    #{
        echo => Echo,
        port => Port,
        ratio => Port / Echo,
        echo_median => median([E || {E, _} <- Pairs]),
        port_median => median([P || {_, P} <- Pairs]),
        median => median(Ratios),
        p10 => percentile(10, Ratios),
        p90 => percentile(90, Ratios)
    }.

mean(Xs) ->
    lists:sum(Xs) / length(Xs).

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
