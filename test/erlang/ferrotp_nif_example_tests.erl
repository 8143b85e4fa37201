%% A user's own Rust behaviour (examples/nif_stack: `stack`, built into its
%% own NIF library) supervised by an OTP supervisor. The library replaces
%% ferrotp's own for the whole VM, so the scenario runs in a VM of its own.
-module(ferrotp_nif_example_tests).
-include_lib("eunit/include/eunit.hrl").

user_behaviour_is_supervised_by_an_otp_supervisor_test_() ->
    {timeout, 120, fun user_behaviour_is_supervised/0}.

user_behaviour_is_supervised() ->
    Lib = example_library(),
    ?assert(filelib:is_regular(Lib)),
    Ebin = filename:dirname(code:which(ferrotp_nif)),
    TestEbin = filename:dirname(code:which(?MODULE)),
    Script =
        "Spec = #{id => s, start => {ferrotp_nif, start_link, [stack, [1, 2], [{name, st}]]}},"
        "{ok, Sup} = supervisor:start_link(ferrotp_nif_tests_sup,"
        "  {#{strategy => one_for_one, intensity => 3, period => 10}, [Spec]}),"
        "ok = gen_server:cast(st, {push, 3}),"
        "3 = gen_server:call(st, pop),"
        "2 = gen_server:call(st, size),"
        "Old = whereis(st), Ref = monitor(process, Old),"
        "gen_server:cast(st, {bogus}),"
        "receive {'DOWN', Ref, process, Old, {bad_cast, _}} -> ok after 10000 -> exit(no_crash) end,"
        "Wait = fun W(0) -> exit(no_restart); W(K) -> case whereis(st) of"
        "  New when is_pid(New), New =/= Old -> New;"
        "  _ -> receive after 10 -> W(K - 1) end end end,"
        "_ = Wait(1000),"
        "2 = gen_server:call(st, size),"
        "io:format(\"stack-ok~n\"), halt(0).",
    Cmd = lists:flatten(io_lib:format(
            "FERROTP_NIF_LIBRARY='~ts' erl -noshell -pa '~ts' -pa '~ts' -kernel logger_level critical -eval '~ts' 2>&1",
            [Lib, Ebin, TestEbin, Script])),
    Out = os:cmd(Cmd),
    ?assertMatch({match, _}, re:run(Out, "stack-ok"), Out).

example_library() ->
    Priv = filename:dirname(filename:dirname(code:which(ferrotp_nif))),
    Candidates = [filename:join([Priv, "priv", "libferrotp_nif_example.so"]),
                  filename:join([root(), "priv", "libferrotp_nif_example.so"]),
                  filename:join([root(), "target", "nif_stack", "release", "libferrotp_nif_example.so"])],
    case [C || C <- Candidates, filelib:is_regular(C)] of
        [Lib | _] -> Lib;
        [] -> hd(Candidates)
    end.

root() ->
    filename:dirname(filename:dirname(filename:dirname(filename:absname(?FILE)))).
