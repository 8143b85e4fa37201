%% Port mode from Erlang: Rust processes in a `ferrotp port' program look
%% like ordinary processes (gen_server calls and casts, sys, links,
%% monitors, kill, supervision), and die cleanly with their port.
-module(ferrotp_port_tests).

-include_lib("eunit/include/eunit.hrl").

-define(WAIT, 20000).

%%%===================================================================
%%% gen_server and sys
%%%===================================================================

call_cast_and_get_state_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 5),
        ?assert(is_pid(C)),
        ?assertEqual(node(), node(C)),
        ok = gen_server:cast(C, {bump, 2}),
        ?assertEqual(7, gen_server:call(C, value)),
        ?assertEqual(7, sys:get_state(C)),
        Big = 1 bsl 200,
        {ok, B} = ferrotp:start_link(Host, counter, Big),
        ok = gen_server:cast(B, {bump, -1}),
        ?assertEqual(Big - 1, gen_server:call(B, value))
    end).

%% sys debug options, from the start option {debug, Dbgs} and from sys
%% calls, count and log what a gen_server does.
sys_debug_options_count_and_log_messages_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0, [{debug, [statistics, {log, 4}]}]),
        ok = gen_server:cast(C, {bump, 3}),
        ?assertEqual(3, gen_server:call(C, value)),
        {ok, Stats} = sys:statistics(C, get),
        ?assertEqual([2, 1], [V || {K, V} <- Stats, lists:member(K, [messages_in, messages_out])]),
        Me = self(),
        ?assertMatch({ok, [{in, {'$gen_cast', {bump, 3}}}, {noreply, 3},
                           {in, {'$gen_call', {Me, _}, value}}, {out, 3, {Me, _}, 3}]},
                     sys:log(C, get)),
        ok = sys:no_debug(C),
        ?assertEqual({ok, no_statistics}, sys:statistics(C, get))
    end).

%% sys:replace_state/2's fun runs on the host, in the process's pid, as in
%% a gen_server; one that raises fails the call with gen_server's error.
sys_replace_state_runs_the_fun_on_the_host_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 5),
        Self = self(),
        ?assertEqual(10, sys:replace_state(C, fun(N) -> Self ! {ran_in, self()}, N * 2 end)),
        ?assertEqual(C, receive {ran_in, P} -> P after 5000 -> timeout end),
        ?assertMatch({'EXIT', {{callback_failed, {gen_server, system_replace_state},
                                {error, boom}}, _}},
                     catch sys:replace_state(C, fun(_) -> error(boom) end)),
        ok = gen_server:cast(C, {bump, 1}),
        ?assertEqual(11, gen_server:call(C, value))
    end).

%% sys:trace/2 prints what a gen_server prints, in the VM, on the group
%% leader of the host that logs it (the proxy's, as it spawned the proxy):
%% the twin's lines with its pid in place of the twin's.
sys_trace_prints_in_the_vm_what_a_gen_server_prints_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        {ok, G} = ferrotp_port_tests_counter:start_link(0, []),
        Self = self(),
        Capture = spawn_link(fun() -> ferrotp_side_by_side:capture(Self, []) end),
        [true = group_leader(Capture, P) || P <- [Host, G]],
        Lines = fun(P) ->
            ok = sys:trace(P, true),
            ok = gen_server:cast(P, {bump, 4}),
            4 = gen_server:call(P, value),
            ok = sys:trace(P, false),
            Got = ferrotp_side_by_side:captured(Capture, 4),
            Capture ! clear,
            [lists:flatten(string:replace(L, pid_to_list(P), "P", all)) || L <- Got]
        end,
        Twin = Lines(G),
        ?assertEqual(4, length(Twin)),
        ?assertEqual(Twin, Lines(C))
    end).

erroneous_debug_options_are_ignored_as_by_gen_server_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 2, [{debug, bogus}]),
        {ok, D} = ferrotp:start_link(Host, counter, 3, [{debug, [bogus, statistics]}]),
        ?assertEqual(2, gen_server:call(C, value)),
        ?assertEqual(3, gen_server:call(D, value)),
        ?assertMatch({ok, [_ | _]}, sys:statistics(D, get))
    end).

%% A term nested deeper than the port program decodes (2048 levels) ends
%% the process it was for, not the program: the others carry on.
a_too_deep_term_ends_its_process_not_the_program_test() ->
    with_host(fun(Host) ->
        process_flag(trap_exit, true),
        Deep = fun(N) -> lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, N)) end,
        {ok, Other} = ferrotp:start_link(Host, counter, 7),
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        M = monitor(process, C),
        catch gen_server:call(C, Deep(1000), 5000),
        ?assertEqual({bad_call, Deep(1000)}, down(M)),
        {ok, D} = ferrotp:start_link(Host, counter, 0),
        M2 = monitor(process, D),
        gen_server:cast(D, Deep(5000)),
        ?assertMatch({ferrotp_unreadable_message, _}, down(M2)),
        ?assertEqual(7, gen_server:call(Other, value))
    end).

gen_server_stop_ends_it_normal_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        M = monitor(process, C),
        ?assertEqual(ok, gen_server:stop(C)),
        ?assertEqual(normal, down(M)),
        ?assertNot(is_process_alive(C)),
        ?assertEqual(normal, exit_of(C))
    end).

start_link_links_the_caller_and_registers_the_name_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 1, [{name, port_counter_a}]),
        {links, Links} = process_info(self(), links),
        ?assert(lists:member(C, Links)),
        ?assertEqual(C, whereis(port_counter_a)),
        ?assertEqual(1, gen_server:call(port_counter_a, value)),
        ?assertEqual(
            {error, {already_started, C}},
            ferrotp:start_link(Host, counter, 1, [{name, port_counter_a}])
        )
    end).

%% Names as gen_server takes them: {local, N}, {global, N}, {via, M, N};
%% a taken one is {already_started, Pid}, and a malformed one an error
%% from the start, with the host still serving.
global_and_via_names_and_bad_names_test() ->
    with_host(fun(Host) ->
        {ok, L} = ferrotp:start_link(Host, counter, 1, [{name, {local, port_counter_l}}]),
        ?assertEqual(L, whereis(port_counter_l)),
        {ok, G} = ferrotp:start_link(Host, counter, 2, [{name, {global, {port_counter, g}}}]),
        ?assertEqual(2, gen_server:call({global, {port_counter, g}}, value)),
        ?assertEqual({error, {already_started, G}},
                     ferrotp:start_link(Host, counter, 3, [{name, {global, {port_counter, g}}}])),
        {ok, _} = ferrotp:start_link(Host, counter, 4, [{name, {via, global, port_counter_v}}]),
        ?assertEqual(4, gen_server:call({via, global, port_counter_v}, value)),
        ?assertEqual({error, {bad_name, {a, b, c, d}}},
                     ferrotp:start_link(Host, counter, 5, [{name, {a, b, c, d}}])),
        %% Nothing was started for it, so nothing exits ('EXIT's are trapped).
        ?assertEqual(none, receive {'EXIT', _, _} = E -> E after 300 -> none end),
        ?assert(is_process_alive(Host)),
        {ok, C} = ferrotp:start_link(Host, counter, 6),
        ?assertEqual(6, gen_server:call(C, value)),
        %% A global name goes with the process.
        unlink(G),
        M = monitor(process, G),
        exit(G, kill),
        ?assertEqual(killed, down(M)),
        ?assertEqual(undefined, wait_unregistered({port_counter, g}, 50))
    end).

wait_unregistered(Name, 0) -> global:whereis_name(Name);
wait_unregistered(Name, N) ->
    case global:whereis_name(Name) of
        undefined -> undefined;
        _ -> timer:sleep(20), wait_unregistered(Name, N - 1)
    end.

a_registered_host_name_works_as_where_test() ->
    isolated(fun() ->
        {ok, Host} = ferrotp_port:start_link(#{name => ferrotp_port_tests_host}),
        ?assertEqual(Host, whereis(ferrotp_port_tests_host)),
        {ok, C} = ferrotp:start_link(ferrotp_port_tests_host, counter, 4),
        ?assertEqual(4, gen_server:call(C, value)),
        ?assertEqual(
            {error, {no_such_host, no_such_host}}, ferrotp:start_link(no_such_host, counter, 0)
        )
    end).

a_bad_init_argument_is_an_error_test() ->
    with_host(fun(Host) ->
        {error, Reason} = ferrotp:start_link(Host, counter, not_a_number),
        ?assert(mentions(not_a_number, Reason)),
        {error, Undef} = ferrotp:start_link(Host, no_such_behaviour, 1),
        ?assert(mentions(undef, Undef))
    end).

%% The start options spawn_opt and hibernate_after reach the pid, as
%% gen_server's: its priority is set, and idle it hibernates, then answers.
spawn_opt_and_hibernate_after_reach_the_pid_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 3,
                                     [{spawn_opt, [{priority, high}]}, {hibernate_after, 50}]),
        ?assertEqual({priority, high}, process_info(C, priority)),
        ?assertEqual(3, gen_server:call(C, value)),
        Hibernated = fun Wait(0) -> false;
                         Wait(N) ->
                             case process_info(C, current_function) of
                                 {current_function, {erlang, hibernate, 3}} -> true;
                                 _ -> timer:sleep(20), Wait(N - 1)
                             end
                     end,
        ?assert(Hibernated(250)),
        ok = gen_server:cast(C, {bump, 1}),
        ?assertEqual(4, gen_server:call(C, value))
    end).

%% A named process whose parent exits gives up its name with it: a start
%% under that name right after the parent's 'DOWN' (ExUnit's next test
%% after one that started a named process) succeeds, as it does for the
%% gen_server twin. Neither is guaranteed (the 'DOWN' and the exit signal
%% that frees the name go to different processes), so a start that finds
%% the name taken waits for its holder's end and counts as late; the Rust
%% side must be about as prompt as the twin (before, it was late every
%% time: the name went only once the port program had answered).
a_name_is_free_once_the_parent_has_died_test() ->
    with_host(fun(Host) ->
        Rust = fun(N) -> ferrotp:start_link(Host, counter, N, [{name, ferrotp_port_heir}]) end,
        Beam = fun(N) -> ferrotp_port_tests_counter:start_link(N, [{name, ferrotp_port_heir}]) end,
        Prompt = fun(Start) ->
            length([ok || N <- lists:seq(1, 20), heir_at_once(Start, N)])
        end,
        Twin = Prompt(Beam),
        ?assertMatch({R, T} when R >= T - 4, {Prompt(Rust), Twin})
    end).

%% Whether a start right after its named predecessor's parent died found
%% the name free.
heir_at_once(Start, N) ->
    {Parent, M} = spawn_monitor(fun() -> {ok, _} = Start(N), exit(shutdown) end),
    receive {'DOWN', M, process, Parent, shutdown} -> ok end,
    {AtOnce, Heir} =
        case Start(N) of
            {ok, P} ->
                {true, P};
            {error, {already_started, Old}} ->
                Gone = monitor(process, Old),
                receive {'DOWN', Gone, process, Old, _} -> ok end,
                {ok, P} = Start(N),
                {false, P}
        end,
    unlink(Heir),
    gen_server:stop(Heir),
    AtOnce.

%% The start option {timeout, Ms}, as gen_server:start_link/4's: an init
%% that takes longer (here a supervisor whose child takes 1.5 s to start)
%% is killed and the start returns {error, timeout}, with nothing left in
%% a trapping caller's mailbox and the name free at once. The same start
%% with a longer timeout, and the host, carry on.
a_start_timeout_kills_a_slow_init_as_gen_server_does_test() ->
    with_host(fun(Host) ->
        process_flag(trap_exit, true),
        Slow = {#{}, [#{id => slow, start => {timer, sleep, [1500]}}]},
        Name = ferrotp_port_slow_sup,
        ?assertEqual({error, timeout},
                     ferrotp:start_link(Host, supervisor, Slow, [{timeout, 200}, {name, Name}])),
        ?assertEqual(undefined, whereis(Name)),
        ?assertEqual({messages, []}, process_info(self(), messages)),
        {ok, C} = ferrotp:start_link(Host, counter, 1, [{timeout, 5000}, {name, Name}]),
        ?assertEqual(1, gen_server:call(Name, value)),
        ?assertEqual({messages, []}, process_info(self(), messages)),
        ?assert(is_process_alive(C))
    end).

%%%===================================================================
%%% as a gen_server reads to OTP (proc_lib, Logger, sys:terminate)
%%%===================================================================

%% proc_lib and observer read a proxy as a gen_server of its behaviour:
%% the same initial call and ancestors as the Erlang twin started by the
%% same (here registered) caller.
proc_lib_reads_it_as_a_gen_server_of_its_behaviour_test() ->
    with_host(fun(Host) ->
        register(port_test_starter, self()),
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        {ok, G} = ferrotp_port_tests_counter:start_link(0, []),
        ?assertEqual({initial_call, {proc_lib, init_p, 5}}, process_info(G, initial_call)),
        ?assertEqual(process_info(G, initial_call), process_info(C, initial_call)),
        ?assertEqual({ferrotp_port_tests_counter, init, ['Argument__1']}, proc_lib:initial_call(G)),
        ?assertEqual({counter, init, ['Argument__1']}, proc_lib:initial_call(C)),
        ?assertEqual({counter, init, 1}, proc_lib:translate_initial_call(C)),
        ?assertEqual([port_test_starter], dictionary(G, '$ancestors')),
        ?assertEqual(dictionary(G, '$ancestors'), dictionary(C, '$ancestors'))
    end).

%% A bad call stops the Rust counter as `{stop, {bad_call, Req}, _}' stops
%% the twin, and Logger gets what it gets of the twin: gen_server's
%% terminate report (the request, the waiting client's stack) and
%% proc_lib's crash report.
a_crash_is_logged_as_a_gen_servers_is_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        {ok, G} = ferrotp_port_tests_counter:start_link(0, []),
        Me = self(),
        [{Rust, RustCrash}, {Twin, TwinCrash}] =
            with_log(fun() ->
                [begin
                     M = monitor(process, P),
                     ?assertMatch({'EXIT', {{bad_call, boom}, _}},
                                  catch gen_server:call(P, boom, ?WAIT)),
                     ?assertEqual({bad_call, boom}, down(M)),
                     reports(P)
                 end || P <- [C, G]]
            end),
        ?assertEqual({ferrotp_port, rust_process}, maps:get(state, Rust)),
        ?assertMatch(#{name := G, last_message := boom, reason := {bad_call, boom},
                       client_info := {Me, {Me, [_ | _]}}, log := []}, Twin),
        ?assertMatch(#{name := C, last_message := boom, reason := {bad_call, boom},
                       client_info := {Me, {Me, [_ | _]}}, log := []}, Rust),
        ?assertMatch({exit, {bad_call, boom}, _}, proplists:get_value(error_info, RustCrash)),
        ?assertMatch({exit, {bad_call, boom}, _}, proplists:get_value(error_info, TwinCrash)),
        ?assertEqual({counter, init, ['Argument__1']}, proplists:get_value(initial_call, RustCrash)),
        ?assertEqual(proplists:get_value(ancestors, TwinCrash),
                     proplists:get_value(ancestors, RustCrash))
    end).

%% gen_server:stop/3 with an abnormal reason: reported with no last
%% message and no client, as for the twin.
stop_with_an_abnormal_reason_is_logged_as_a_gen_servers_is_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0, [{name, port_stopped_other}]),
        {ok, G} = ferrotp_port_tests_counter:start_link(0, [{name, port_stopped_other_twin}]),
        [{Rust, RustCrash}, {Twin, TwinCrash}] =
            with_log(fun() ->
                [begin
                     ?assertEqual(ok, gen_server:stop(P, other, ?WAIT)),
                     ?assertEqual(other, exit_of(P)),
                     reports(P)
                 end || P <- [C, G]]
            end),
        Same = #{last_message => [], reason => other, client_info => undefined, log => []},
        ?assertEqual(Same#{name => port_stopped_other_twin}, maps:with([name | maps:keys(Same)], Twin)),
        ?assertEqual(Same#{name => port_stopped_other}, maps:with([name | maps:keys(Same)], Rust)),
        ?assertMatch({exit, other, _}, proplists:get_value(error_info, RustCrash)),
        ?assertMatch({exit, other, _}, proplists:get_value(error_info, TwinCrash))
    end).

%% An orderly end (`normal', `shutdown') and a death by an exit signal
%% (`kill', or another reason the process does not trap) log nothing, for
%% the Rust counter as for the twin.
an_orderly_end_or_a_death_by_signal_logs_nothing_test() ->
    with_host(fun(Host) ->
        Ends = [fun(P) -> gen_server:stop(P) end,
                fun(P) -> gen_server:stop(P, {shutdown, done}, ?WAIT) end,
                fun(P) -> exit(P, shutdown) end,
                fun(P) -> exit(P, kill) end,
                fun(P) -> exit(P, boom) end],
        Logged =
            with_log(fun() ->
                [begin
                     End(P),
                     exit_of(P),
                     {Name, End, receive {logged, #{meta := #{pid := P}} = E} -> E after 0 -> none end}
                 end || End <- Ends,
                        {Name, {ok, P}} <- [{rust, ferrotp:start_link(Host, counter, 0)},
                                           {twin, ferrotp_port_tests_counter:start_link(0, [])}]]
            end),
        ?assertEqual([], [L || {_, _, E} = L <- Logged, E =/= none])
    end).

%% sys:terminate/2 returns once the process has ended, as a gen_server's
%% does: its name is free then (before, a Rust process's proxy still held
%% it in 25-77% of rounds), so a start under the same name right after
%% never finds it taken.
a_name_is_free_when_sys_terminate_returns_test_() ->
    {timeout, 120, fun() ->
        with_host(fun(Host) ->
            Rust = fun() -> ferrotp:start_link(Host, counter, 0, [{name, port_restarted}]) end,
            Twin = fun() -> ferrotp_port_tests_counter:start_link(0, [{name, port_restarted_twin}]) end,
            ?assertEqual([], [R || R <- restarts(Twin, port_restarted_twin, 500), R =/= ok]),
            ?assertEqual([], [R || R <- restarts(Rust, port_restarted, 500), R =/= ok])
        end)
    end}.

%% `N' rounds of a start under `Name' and a sys:terminate, each `ok' when
%% the name was free once sys:terminate returned, and the start found it
%% free.
restarts(Start, Name, N) ->
    Results =
        [case Start() of
             {ok, P} ->
                 ok = sys:terminate(P, normal),
                 case whereis(Name) of
                     P -> {still_registered, P};
                     _ -> ok
                 end;
             Other ->
                 Other
         end || _ <- lists:seq(1, N)],
    flush_exits(),
    Results.

flush_exits() ->
    receive {'EXIT', _, _} -> flush_exits() after 0 -> ok end.

dictionary(P, Key) ->
    {dictionary, D} = process_info(P, dictionary),
    proplists:get_value(Key, D).

%% Runs `Fun()' with a Logger handler sending this process every event.
with_log(Fun) ->
    Id = ferrotp_port_tests_logger:add(),
    try Fun() after ferrotp_port_tests_logger:remove(Id) end.

%% The gen_server terminate report `P' logged (where gen_server logs it,
%% for the twin as for the Rust process), and proc_lib's crash report's
%% own part (a proplist), in the order it logs them.
reports(P) ->
    receive
        {logged, #{msg := {report, #{label := {gen_server, terminate}} = Report},
                   meta := #{pid := P, mfa := {gen_server, error_info, 8}}}} ->
            receive
                {logged, #{msg := {report, #{label := {proc_lib, crash}, report := [Info | _]}},
                           meta := #{pid := P}}} ->
                    {Report, Info}
            after ?WAIT -> error({no_crash_report, P})
            end
    after ?WAIT -> error({no_terminate_report, P})
    end.

%%%===================================================================
%%% links, monitors, exit signals
%%%===================================================================

monitor_sees_the_crash_reason_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        M = monitor(process, C),
        ok = gen_server:cast(C, {unknown, cast}),
        Reason = down(M),
        ?assert(mentions({unknown, cast}, Reason)),
        ?assertEqual(Reason, exit_of(C))
    end).

a_bad_call_crashes_it_and_the_caller_sees_the_reason_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        {'EXIT', {Reason, {gen_server, call, _}}} = (catch gen_server:call(C, nonsense)),
        ?assert(mentions(nonsense, Reason))
    end).

kill_is_untrappable_and_reads_killed_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        M = monitor(process, C),
        exit(C, kill),
        ?assertEqual(killed, down(M)),
        ?assertEqual(killed, exit_of(C)),
        %% The Rust process went with it: the port program still serves others.
        {ok, D} = ferrotp:start_link(Host, counter, 3),
        ?assertEqual(3, gen_server:call(D, value))
    end).

exit_shutdown_from_a_linked_process_ends_it_with_shutdown_test() ->
    with_host(fun(Host) ->
        {ok, C} = ferrotp:start_link(Host, counter, 0),
        M = monitor(process, C),
        exit(C, shutdown),
        ?assertEqual(shutdown, down(M))
    end).

a_crash_leaves_the_other_processes_running_test() ->
    with_host(fun(Host) ->
        {ok, A} = ferrotp:start_link(Host, counter, 1),
        {ok, B} = ferrotp:start_link(Host, counter, 2),
        MA = monitor(process, A),
        ok = gen_server:cast(A, boom),
        ?assert(mentions(boom, down(MA))),
        ?assertEqual(2, gen_server:call(B, value)),
        ok = gen_server:cast(B, {bump, 1}),
        ?assertEqual(3, gen_server:call(B, value))
    end).

the_death_of_its_parent_ends_it_test() ->
    with_host(fun(Host) ->
        Self = self(),
        Parent = spawn(fun() ->
            {ok, C} = ferrotp:start_link(Host, counter, 0),
            Self ! {counter, C},
            receive
                stop -> exit(parent_gone)
            end
        end),
        C = receive {counter, P} -> P after ?WAIT -> error(no_counter) end,
        M = monitor(process, C),
        Parent ! stop,
        ?assertEqual(parent_gone, down(M))
    end).

%% exit/2 on a proxy acts as exit/2 on an Erlang process, whatever the
%% reason and whether the target traps exits; each scenario runs on a Rust
%% process and on its Erlang twin, and the outcomes must be the same.
exit2_on_a_non_trapping_process_matches_erlang_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Rust = fun() -> ferrotp:start_link(Host, counter, 0) end,
            Erlang = fun() -> gen_server:start_link(ferrotp_port_tests_worker, [], []) end,
            Sync = fun sys:get_state/1,
            [
                ?assertEqual(
                    {Reason, Expected},
                    {Reason, exit2_outcome(Erlang, Sync, Reason, other)}
                )
             || {Reason, Expected} <- [
                    {normal, alive},
                    {shutdown, {down, shutdown}},
                    {kill, {down, killed}},
                    {{custom, 1}, {down, {custom, 1}}}
                ]
            ],
            [
                ?assertEqual(
                    {Reason, exit2_outcome(Erlang, Sync, Reason, Sender)},
                    {Reason, exit2_outcome(Rust, Sync, Reason, Sender)}
                )
             || Reason <- [normal, shutdown, kill, {custom, 1}],
                Sender <- [other, linked]
            ]
        end)
    end}.

exit2_on_a_trapping_process_matches_erlang_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Flags = #{strategy => one_for_one, intensity => 3, period => 10},
            Rust = fun() -> ferrotp:start_link(Host, supervisor, {Flags, []}) end,
            Erlang = fun() -> supervisor:start_link(ferrotp_port_tests_sup, {one_for_one, []}) end,
            Sync = fun supervisor:which_children/1,
            %% A supervisor traps exits: only `kill', and any reason from its
            %% parent, end it; `{'EXIT', From, _}' from anyone else is ignored,
            %% so `From' must be the sender.
            [
                ?assertEqual(
                    {Reason, Sender, Expected},
                    {Reason, Sender, exit2_outcome(Erlang, Sync, Reason, Sender)}
                )
             || {Reason, Sender, Expected} <- [
                    {normal, other, alive},
                    {shutdown, other, alive},
                    {kill, other, {down, killed}},
                    {shutdown, parent, {down, shutdown}},
                    {{custom, 1}, parent, {down, {custom, 1}}}
                ]
            ],
            [
                ?assertEqual(
                    {Reason, Sender, exit2_outcome(Erlang, Sync, Reason, Sender)},
                    {Reason, Sender, exit2_outcome(Rust, Sync, Reason, Sender)}
                )
             || Reason <- [normal, shutdown, kill, {custom, 1}],
                Sender <- [other, linked, parent]
            ]
        end)
    end}.

%% A link made from Erlang (`link(Proxy)') exists on the BEAM side only;
%% the death of the linked process still reaches the Rust process as a
%% link exit, as it would an Erlang process.
a_link_made_from_erlang_carries_the_exit_of_its_process_test() ->
    with_host(fun(Host) ->
        Outcome = fun(Start) ->
            {ok, P} = Start(),
            M = monitor(process, P),
            {L, LM} = spawn_monitor(fun() ->
                link(P),
                exit({linked_died, 1})
            end),
            {linked_died, 1} = down(LM),
            false = is_process_alive(L),
            Why = down(M),
            receive {'EXIT', P, _} -> ok after ?WAIT -> ok end,
            Why
        end,
        Erlang = Outcome(fun() -> gen_server:start_link(ferrotp_port_tests_worker, [], []) end),
        ?assertEqual({linked_died, 1}, Erlang),
        ?assertEqual(Erlang, Outcome(fun() -> ferrotp:start_link(Host, counter, 0) end))
    end).

%% What `exit(P, Reason)' does to a fresh `P' (started by `Start', linked
%% to the caller, its parent), sent by the parent, by another process, or
%% by another process linked to `P': `alive' (it still answers `Sync',
%% asked by the sender right after the signal, so after it in signal
%% order), or `{down, Why}'.
exit2_outcome(Start, Sync, Reason, Sender) ->
    {ok, P} = Start(),
    M = monitor(process, P),
    Signal = fun() ->
        exit(P, Reason),
        catch Sync(P)
    end,
    Answer =
        case Sender of
            parent ->
                Signal();
            _ ->
                Self = self(),
                {S, SM} = spawn_monitor(fun() ->
                    process_flag(trap_exit, true),
                    Sender =:= linked andalso link(P),
                    A = Signal(),
                    unlink(P),
                    Self ! {signalled, self(), A}
                end),
                normal = down(SM),
                receive {signalled, S, A} -> A after ?WAIT -> error(no_signal) end
        end,
    Outcome =
        case Answer of
            {'EXIT', _} ->
                {down, down(M)};
            _ ->
                alive
        end,
    case Outcome of
        alive ->
            unlink(P),
            exit(P, kill),
            killed = down(M);
        _ ->
            ok
    end,
    receive {'EXIT', P, _} -> ok after 0 -> ok end,
    Outcome.

%%%===================================================================
%%% the port program's life
%%%===================================================================

kill_9_of_the_port_program_ends_every_hosted_pid_and_the_host_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{}),
            Pids = [element(2, ferrotp:start_link(Host, counter, N)) || N <- lists:seq(1, 5)],
            Monitors = [monitor(process, P) || P <- Pids],
            HostMon = monitor(process, Host),
            OsPid = ferrotp_port:os_pid(Host),
            os:cmd("kill -9 " ++ integer_to_list(OsPid)),
            Reasons = [down(M) || M <- Monitors],
            [?assertMatch({port_exit, S} when S =/= 0, R) || R <- Reasons],
            ?assertMatch({port_exit, _}, down(HostMon)),
            ?assert(gone(OsPid))
        end)
    end}.

the_port_program_exits_when_its_owner_dies_test_() ->
    {timeout, 60, fun() ->
        Self = self(),
        {Owner, M} = spawn_monitor(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{}),
            {ok, _} = ferrotp:start_link(Host, counter, 0),
            Self ! {os_pid, ferrotp_port:os_pid(Host)},
            receive
                never -> ok
            end
        end),
        OsPid = receive {os_pid, O} -> O after ?WAIT -> error(no_os_pid) end,
        ?assert(alive(OsPid)),
        exit(Owner, kill),
        killed = down(M),
        ?assert(gone(OsPid))
    end}.

the_port_program_exits_when_the_vm_is_killed_test_() ->
    {timeout, 90, fun() ->
        Erl = os:find_executable("erl"),
        Paths = lists:append([["-pa", filename:dirname(code:which(M))] || M <- [ferrotp_port, ferrotp]]),
        Eval =
            "{ok, H} = ferrotp_port:start_link(#{}), "
            "{ok, _} = ferrotp:start_link(H, counter, 0), "
            "io:format(\"ospid ~p~n\", [ferrotp_port:os_pid(H)]), "
            "receive never -> ok end.",
        Vm = open_port({spawn_executable, Erl}, [
            {args, ["-noshell" | Paths] ++ ["-eval", Eval]}, {line, 256}, exit_status
        ]),
        {os_pid, VmPid} = erlang:port_info(Vm, os_pid),
        OsPid = read_os_pid(Vm),
        ?assert(alive(OsPid)),
        os:cmd("kill -9 " ++ integer_to_list(VmPid)),
        ?assert(gone(OsPid)),
        catch port_close(Vm)
    end}.

a_malformed_frame_closes_the_port_with_a_reason_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{}),
            {ok, C} = ferrotp:start_link(Host, counter, 0),
            M = monitor(process, C),
            HostMon = monitor(process, Host),
            #{port := Port} = sys:get_state(Host),
            true = port_command(Port, <<"not a frame">>),
            %% The program reports it (exit status 2) and every pid ends.
            ?assertEqual({port_exit, 2}, down(M)),
            ?assertEqual({port_exit, 2}, down(HostMon))
        end)
    end}.

a_malformed_frame_from_the_program_stops_the_host_with_a_reason_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            %% A stand-in program that answers the first frame with a packet
            %% that is not ETF, then waits for its stdin to close.
            Script = filename:join(
                "/tmp", "ferrotp_bad_port_" ++ integer_to_list(erlang:unique_integer([positive]))
            ),
            ok = file:write_file(
                Script,
                "#!/bin/sh\nhead -c 4 >/dev/null\nprintf '\\000\\000\\000\\003abc'\nexec cat >/dev/null\n"
            ),
            ok = file:change_mode(Script, 8#755),
            try
                {ok, Host} = ferrotp_port:start_link(#{executable => Script}),
                OsPid = ferrotp_port:os_pid(Host),
                HostMon = monitor(process, Host),
                ?assertMatch(
                    {error, {port_protocol_error, _}}, ferrotp:start_link(Host, counter, 0)
                ),
                ?assertMatch({port_protocol_error, _}, down(HostMon)),
                ?assert(gone(OsPid))
            after
                file:delete(Script)
            end
        end)
    end}.

an_alias_send_with_trailing_bytes_stops_the_host_with_a_reason_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            %% A stand-in program that answers the first frame with an
            %% ALIAS_SEND shaped as the port program writes it (the shape the
            %% host reads without decoding the sender), its payload followed
            %% by a stray byte: still a malformed frame.
            Pid = <<88, 100, 0, 3, "p@h", 0:96>>,
            Alias = <<90, 0, 1, 100, 0, 3, "v@h", 0:32, 7:32>>,
            Body = <<131, 104, 3, 97, 33, Pid/binary, Alias/binary, 131, 97, 1, 0>>,
            Octal = lists:flatten(
                [io_lib:format("\\~3.8.0b", [B]) || B <- binary_to_list(<<(byte_size(Body)):32, Body/binary>>)]
            ),
            Script = filename:join(
                "/tmp", "ferrotp_bad_alias_" ++ integer_to_list(erlang:unique_integer([positive]))
            ),
            ok = file:write_file(
                Script,
                "#!/bin/sh\nhead -c 4 >/dev/null\nprintf '" ++ Octal ++ "'\nexec cat >/dev/null\n"
            ),
            ok = file:change_mode(Script, 8#755),
            try
                {ok, Host} = ferrotp_port:start_link(#{executable => Script}),
                HostMon = monitor(process, Host),
                ?assertMatch(
                    {error, {port_protocol_error, _}}, ferrotp:start_link(Host, counter, 0)
                ),
                ?assertMatch(
                    {port_protocol_error, {trailing_bytes, 1}}, down(HostMon)
                )
            after
                file:delete(Script)
            end
        end)
    end}.

proxies_in_a_call_request_become_their_rust_pids_test() ->
    Tab = ets:new(pids, [set, public]),
    Proxy = spawn(fun() -> receive stop -> ok end end),
    Rust = binary_to_term(<<131, 88, 100, 0, 3, "p@h", 1:32, 0:32, 1:32>>),
    true = ets:insert(Tab, {Proxy, Rust}),
    Ref = make_ref(),
    try
        %% The caller, the request and the tag: a proxy anywhere is swapped.
        ?assertEqual(
            {'$gen_call', {Rust, [alias | Ref]}, {put, Rust, <<1>>}},
            ferrotp_port_pids:to_port(Tab, {'$gen_call', {Proxy, [alias | Ref]}, {put, Proxy, <<1>>}})
        ),
        ?assertEqual(
            {'$gen_call', {self(), {tag, Rust}}, value},
            ferrotp_port_pids:to_port(Tab, {'$gen_call', {self(), {tag, Proxy}}, value})
        ),
        %% Without a proxy the request is returned as it is.
        Call = {'$gen_call', {self(), [alias | Ref]}, value},
        ?assert(erts_debug:same(Call, ferrotp_port_pids:to_port(Tab, Call)))
    after
        Proxy ! stop,
        ets:delete(Tab)
    end.

max_memory_limits_the_port_program_test_() ->
    %% A 300 MB message cannot fit in 200 MB.
    over_the_cap(200, 300).

%% The cap holds below the address space the program reserves at start-up
%% (hundreds of megabytes, which setrlimit could not cap): 100 MB do not
%% fit in 64 MB.
max_memory_caps_what_the_program_allocates_test_() ->
    over_the_cap(64, 100).

%% A counter in a program capped at `CapMb' megabytes is sent a message
%% of `MessageMb': the program ends, and the counter with it.
over_the_cap(CapMb, MessageMb) ->
    {timeout, 120, fun() ->
        isolated(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{max_memory => CapMb * 1024 * 1024}),
            {ok, C} = ferrotp:start_link(Host, counter, 0),
            ?assertEqual(0, gen_server:call(C, value)),
            M = monitor(process, C),
            C ! {hello, binary:copy(<<1>>, MessageMb * 1024 * 1024)},
            ?assertMatch({port_exit, S} when S =/= 0, down(M))
        end)
    end}.

%% The cap is set once the program's threads run: the watchdog (which
%% ends an orphaned program) and a second thread count still start.
max_memory_keeps_the_watchdog_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{max_memory => 200 * 1024 * 1024}),
            {ok, C} = ferrotp:start_link(Host, counter, 0),
            ?assertEqual(0, gen_server:call(C, value)),
            OsPid = integer_to_list(ferrotp_port:os_pid(Host)),
            Names = [begin
                         {ok, N} = file:read_file(T ++ "/comm"),
                         string:trim(binary_to_list(N))
                     end
                     || T <- filelib:wildcard("/proc/" ++ OsPid ++ "/task/*")],
            ?assert(lists:member("ferrotp-port-wa", Names)),
            {ok, Host2} = ferrotp_port:start_link(#{max_memory => 200 * 1024 * 1024, threads => 2}),
            {ok, C2} = ferrotp:start_link(Host2, counter, 5),
            ?assertEqual(5, gen_server:call(C2, value))
        end)
    end}.

%%%===================================================================
%%% scale and size
%%%===================================================================

two_thousand_processes_in_one_port_test_() ->
    {timeout, 120, fun() ->
        with_host(fun(Host) ->
            N = 2000,
            Pids = [element(2, ferrotp:start_link(Host, counter, I)) || I <- lists:seq(1, N)],
            ?assertEqual(N, length(lists:usort(Pids))),
            [ok = gen_server:cast(P, {bump, 1}) || P <- Pids],
            Values = [gen_server:call(P, value) || P <- Pids],
            ?assertEqual(lists:seq(2, N + 1), Values)
        end)
    end}.

concurrent_calls_from_many_processes_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            {ok, C} = ferrotp:start_link(Host, counter, 0),
            Self = self(),
            Callers = [
                spawn_link(fun() ->
                    [gen_server:cast(C, {bump, 1}) || _ <- lists:seq(1, 100)],
                    _ = [gen_server:call(C, value) || _ <- lists:seq(1, 50)],
                    Self ! {done, self()}
                end)
             || _ <- lists:seq(1, 20)
            ],
            [receive {done, P} -> ok after ?WAIT * 3 -> error(timeout) end || P <- Callers],
            ?assertEqual(2000, gen_server:call(C, value))
        end)
    end}.

large_messages_round_trip_without_blocking_others_test_() ->
    {timeout, 120, fun() ->
        with_host(fun(Host) ->
            {ok, Big} = ferrotp:start_link(Host, counter, 0),
            {ok, Small} = ferrotp:start_link(Host, counter, 0),
            %% A 3 MB integer each way (near the BEAM's bignum limit).
            Huge = (1 bsl (3 * 8 * 1024 * 1024)) - 1,
            Self = self(),
            spawn_link(fun() ->
                [gen_server:cast(Big, {bump, Huge}) || _ <- lists:seq(1, 4)],
                Self ! {big, gen_server:call(Big, value, 60000)}
            end),
            %% Small traffic keeps flowing meanwhile.
            [ok = gen_server:cast(Small, {bump, 1}) || _ <- lists:seq(1, 200)],
            ?assertEqual(200, gen_server:call(Small, value, 60000)),
            receive
                {big, V} -> ?assertEqual(4 * Huge, V)
            after 60000 -> error(no_big_reply)
            end,
            %% A 5 MB binary goes in a cast and comes back in the crash reason.
            Bin = binary:copy(<<"ferrotp!">>, 5 * 1024 * 1024 div 8),
            M = monitor(process, Big),
            ok = gen_server:cast(Big, {oops, Bin}),
            ?assert(mentions(Bin, down(M)))
        end)
    end}.

a_multi_threaded_port_program_serves_concurrent_callers_test_() ->
    {timeout, 60, fun() ->
        isolated(fun() ->
            {ok, Host} = ferrotp_port:start_link(#{threads => 2}),
            Pids = [element(2, ferrotp:start_link(Host, counter, N)) || N <- lists:seq(1, 50)],
            Self = self(),
            [spawn_link(fun() -> Self ! {P, gen_server:call(P, value)} end) || P <- Pids],
            Got = [receive {P, V} -> V after ?WAIT -> error(timeout) end || P <- Pids],
            ?assertEqual(lists:seq(1, 50), Got)
        end)
    end}.

%%%===================================================================
%%% supervision
%%%===================================================================

an_otp_supervisor_restarts_a_crashed_rust_child_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Child = #{
                id => counter,
                start => {ferrotp, start_link, [Host, counter, 10, [{name, port_sup_counter}]]}
            },
            {ok, Sup} = supervisor:start_link(ferrotp_port_tests_sup, {one_for_one, [Child]}),
            C1 = whereis(port_sup_counter),
            ok = gen_server:cast(port_sup_counter, {bump, 5}),
            ?assertEqual(15, gen_server:call(port_sup_counter, value)),
            M = monitor(process, C1),
            ok = gen_server:cast(port_sup_counter, crash),
            ?assert(mentions(crash, down(M))),
            C2 = wait_until(fun() ->
                case whereis(port_sup_counter) of
                    undefined -> false;
                    C1 -> false;
                    P -> {true, P}
                end
            end),
            ?assertEqual(10, gen_server:call(C2, value)),
            ?assertMatch([{counter, C2, worker, _}], supervisor:which_children(Sup)),
            unlink(Sup),
            SM = monitor(process, Sup),
            exit(Sup, shutdown),
            shutdown = down(SM),
            ?assertNot(is_process_alive(C2))
        end)
    end}.

a_rust_supervisor_runs_counter_children_in_the_port_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Flags = #{strategy => one_for_one, intensity => 3, period => 10},
            Specs = [
                #{id => a, start => {counter, start_link, [1]}},
                #{id => b, start => {counter, start_link, [2]}}
            ],
            {ok, Sup} = ferrotp:start_link(Host, supervisor, {Flags, Specs}),
            Kids = supervisor:which_children(Sup),
            ?assertEqual([a, b], lists:sort([Id || {Id, _, _, _} <- Kids])),
            {a, A, worker, _} = lists:keyfind(a, 1, Kids),
            {b, B, worker, _} = lists:keyfind(b, 1, Kids),
            ?assertEqual(node(), node(A)),
            ?assertEqual(1, gen_server:call(A, value)),
            ?assertEqual(2, gen_server:call(B, value)),
            ?assertEqual(
                [{specs, 2}, {active, 2}, {supervisors, 0}, {workers, 2}],
                supervisor:count_children(Sup)
            ),
            %% A crashed child is restarted by the Rust supervisor.
            M = monitor(process, A),
            ok = gen_server:cast(A, crash),
            ?assert(mentions(crash, down(M))),
            A2 = wait_until(fun() ->
                case lists:keyfind(a, 1, supervisor:which_children(Sup)) of
                    {a, P, _, _} when is_pid(P), P =/= A -> {true, P};
                    _ -> false
                end
            end),
            ?assertEqual(1, gen_server:call(A2, value)),
            %% Stopping the supervisor stops its children.
            MB = monitor(process, B),
            ok = gen_server:stop(Sup),
            ?assertEqual(shutdown, down(MB))
        end)
    end}.

a_rust_supervisor_in_the_port_owns_an_erlang_child_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Flags = #{strategy => one_for_one, intensity => 3, period => 10},
            Specs = [
                #{id => beam, start => {ferrotp_port_tests_worker, start_link, [port_beam_child]}},
                #{id => rust, start => {counter, start_link, [7]}}
            ],
            {ok, Sup} = ferrotp:start_link(Host, supervisor, {Flags, Specs}),
            W1 = whereis(port_beam_child),
            ?assertEqual(pong, gen_server:call(port_beam_child, ping)),
            ?assertMatch({beam, W1, worker, _}, lists:keyfind(beam, 1, supervisor:which_children(Sup))),
            %% The Rust supervisor restarts its Erlang child.
            M = monitor(process, W1),
            exit(W1, kill),
            killed = down(M),
            W2 = wait_until(fun() ->
                case whereis(port_beam_child) of
                    P when is_pid(P), P =/= W1 -> {true, P};
                    _ -> false
                end
            end),
            ?assertEqual(pong, gen_server:call(W2, ping)),
            %% ... and shuts it down with itself.
            M2 = monitor(process, W2),
            ok = gen_server:stop(Sup),
            ?assertEqual(shutdown, down(M2))
        end)
    end}.

%% How a Rust supervisor in `Host' and an OTP one are started from the
%% same flags and specs.
supervisor_starts(Host) ->
    {fun(Flags, Specs) -> ferrotp:start_link(Host, supervisor, {Flags, Specs}) end,
     fun(Flags, Specs) ->
         supervisor:start_link(ferrotp_port_tests_sup, {flags, Flags, Specs})
     end}.

%% Side by side with an OTP supervisor: the Erlang children a Rust
%% supervisor starts in its init are linked to it and name it first in
%% their `$ancestors', so a child that traps exits takes the supervisor's
%% `shutdown' as its parent's: terminate/2 runs, in reverse start order,
%% and stop returns at once (with `shutdown => infinity' too).
erlang_children_have_the_rust_supervisor_as_parent_as_in_otp_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            {Rust, Erlang} = supervisor_starts(Host),
            Expected = {
                [{a, [sup, me], [sup]}, {b, [sup, me], [sup]}],
                [{a, [sup], true}, {b, [sup], true}],
                [{b, shutdown}, {a, shutdown}],
                prompt
            },
            ?assertEqual(Expected, parent_and_shutdown(Erlang)),
            ?assertEqual(Expected, parent_and_shutdown(Rust))
        end)
    end}.

%% Side by side with an OTP supervisor: a supervisor whose start fails
%% (a child that does not start, bad flags, a bad child spec) returns the
%% error and then exits with its reason, so its linked caller gets
%% `{'EXIT', Sup, Reason}' (a caller that does not trap exits dies of it).
a_failed_start_exits_with_the_reason_as_in_otp_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            {Rust, Erlang} = supervisor_starts(Host),
            Failing = #{id => a, start => {ferrotp_port_tests_trapper, fail, [nope]}},
            Why = {shutdown, {failed_to_start_child, a, nope}},
            ?assertEqual({{error, Why}, Why}, failed_start(Erlang, #{}, [Failing], Host)),
            ?assertEqual({{error, Why}, Why}, failed_start(Rust, #{}, [Failing], Host)),
            Cases = [
                {#{strategy => sideways}, []},
                {#{}, [#{id => a, start => not_an_mfa}]}
            ],
            [begin
                 {{error, Reason}, Reason} = Otp = failed_start(Erlang, Flags, Specs, Host),
                 ?assertEqual(Otp, failed_start(Rust, Flags, Specs, Host))
             end
             || {Flags, Specs} <- Cases],
            %% A caller that does not trap exits dies of the reason.
            ?assertEqual(Why, untrapped_failed_start(Erlang, [Failing])),
            ?assertEqual(Why, untrapped_failed_start(Rust, [Failing]))
        end)
    end}.

%%%===================================================================
%%% helpers
%%%===================================================================

%% Runs `Fun(Host)' in a fresh process trapping exits, with a fresh port
%% host; stops the host afterwards.
with_host(Fun) ->
    isolated(fun() ->
        {ok, Host} = ferrotp_port:start_link(#{}),
        try
            Fun(Host)
        after
            unlink(Host),
            M = monitor(process, Host),
            exit(Host, shutdown),
            receive {'DOWN', M, _, _, _} -> ok after ?WAIT -> ok end
        end
    end).

%% Runs `Fun()' in a fresh process trapping exits; what it leaves linked
%% (a host, counters) sees it end `normal'.
isolated(Fun) ->
    {Pid, M} = spawn_monitor(fun() ->
        process_flag(trap_exit, true),
        Fun()
    end),
    receive
        {'DOWN', M, process, Pid, normal} -> ok;
        {'DOWN', M, process, Pid, Reason} -> erlang:error(Reason)
    end.

down(M) ->
    receive
        {'DOWN', M, process, _, Reason} -> Reason
    after ?WAIT -> error({no_down, M})
    end.

exit_of(Pid) ->
    receive
        {'EXIT', Pid, Reason} -> Reason
    after ?WAIT -> error({no_exit, Pid})
    end.

%% `true' if `Needle' occurs anywhere in `Hay'.
mentions(Needle, Needle) -> true;
mentions(Needle, Hay) when is_tuple(Hay) -> mentions(Needle, tuple_to_list(Hay));
mentions(Needle, [H | T]) -> mentions(Needle, H) orelse mentions(Needle, T);
mentions(Needle, M) when is_map(M) -> mentions(Needle, maps:to_list(M));
mentions(_, _) -> false.

alive(OsPid) ->
    filelib:is_dir("/proc/" ++ integer_to_list(OsPid)) andalso not zombie(OsPid).

zombie(OsPid) ->
    case file:read_file("/proc/" ++ integer_to_list(OsPid) ++ "/stat") of
        {ok, Stat} ->
            [_, Rest] = binary:split(Stat, <<") ">>),
            binary:first(Rest) =:= $Z;
        _ ->
            true
    end.

%% The OS process is gone within a few seconds.
gone(OsPid) ->
    wait_until(fun() -> not alive(OsPid) end, 100) =:= true.

wait_until(F) ->
    wait_until(F, 200).

wait_until(_F, 0) ->
    error(timeout);
wait_until(F, N) ->
    case F() of
        true -> true;
        {true, V} -> V;
        false ->
            timer:sleep(50),
            wait_until(F, N - 1)
    end.

read_os_pid(Vm) ->
    receive
        {Vm, {data, {eol, "ospid " ++ N}}} -> list_to_integer(N);
        {Vm, {data, _}} -> read_os_pid(Vm);
        {Vm, {exit_status, S}} -> error({vm_exited, S})
    after 30000 -> error(no_os_pid)
    end.

%% Starts a supervisor with `Start' over two trapping Erlang children,
%% stops it: each child's `$ancestors' and links in its init, its links
%% afterwards (and whether it is still alive), the terminate/2 calls in
%% order, and whether stop returned within 4 s. The supervisor reads `sup',
%% the caller `me'.
parent_and_shutdown(Start) ->
    Me = self(),
    Child = fun(Id, Shutdown) ->
        #{id => Id, shutdown => Shutdown,
          start => {ferrotp_port_tests_trapper, start_link, [Id, Me]}}
    end,
    {ok, Sup} = Start(#{strategy => one_for_one}, [Child(a, 5000), Child(b, infinity)]),
    Name = fun(P) when P =:= Sup -> sup; (P) when P =:= Me -> me; (P) -> P end,
    Inits = [receive
                 {started, Id, Pid, Ancestors, Links} ->
                     {Id, Pid, [Name(A) || A <- Ancestors], [Name(L) || L <- Links]}
             after ?WAIT -> error({not_started, Id})
             end
             || Id <- [a, b]],
    After = [{Id, [Name(L) || {links, Ls} <- [process_info(Pid, links)], L <- Ls],
              is_process_alive(Pid)}
             || {Id, Pid, _, _} <- Inits],
    T0 = erlang:monotonic_time(millisecond),
    Stopper = spawn_link(fun() -> exit(gen_server:stop(Sup)) end),
    Stopped = receive {'EXIT', Stopper, ok} -> erlang:monotonic_time(millisecond) - T0
              after ?WAIT -> exit(Stopper, kill), never
              end,
    Terminated = [receive {terminated, Id, _, Reason} -> {Id, Reason} after 5000 -> none end
                  || _ <- [1, 2]],
    {[{Id, As, Ls} || {Id, _, As, Ls} <- Inits], After, Terminated,
     case Stopped of never -> never; Ms when Ms < 4000 -> prompt; Ms -> {slow, Ms} end}.

%% `Start(Flags, Specs)' (expected to fail) from this trapping process:
%% what it returned, and the reason of the exit signal the supervisor then
%% sends this caller (`none' if none comes).
failed_start(Start, Flags, Specs, Host) ->
    Returned = Start(Flags, Specs),
    Exit = receive {'EXIT', From, Reason} when From =/= Host -> Reason after 3000 -> none end,
    {Returned, Exit}.

%% The reason a caller that does not trap exits dies of, after a failed
%% `Start(#{}, Specs)'.
untrapped_failed_start(Start, Specs) ->
    {Pid, M} = spawn_monitor(fun() ->
        Start(#{}, Specs),
        receive after ?WAIT -> exit(survived) end
    end),
    receive {'DOWN', M, process, Pid, Reason} -> Reason after ?WAIT * 2 -> error(no_down) end.

%% The setup docs/port.md recommends, rest_for_one with the host first: when
%% the port program dies, the supervisor hears of the host before the
%% processes in it (they end once it has), so it restarts the host and the
%% rest once, as for an Erlang process and the processes linked to it; a
%% crash costs one restart of its intensity, not one per process.
a_dead_port_program_costs_its_supervisor_one_restart_test_() ->
    {timeout, 120, fun() ->
        isolated(fun() ->
            Specs = [ferrotp_port:child_spec(#{name => ferrotp_port_tests_sup_host}),
                     #{id => c1, start => {ferrotp, start_link,
                                            [ferrotp_port_tests_sup_host, counter, 10,
                                             [{name, ferrotp_port_tests_sup_c1}]]}},
                     #{id => c2, start => {ferrotp, start_link,
                                            [ferrotp_port_tests_sup_host, counter, 20]}}],
            Flags = #{strategy => rest_for_one, intensity => 3, period => 60},
            {ok, Sup} = supervisor:start_link(ferrotp_port_tests_sup, {flags, Flags, Specs}),
            Kill = fun() ->
                Host = whereis(ferrotp_port_tests_sup_host),
                C1 = whereis(ferrotp_port_tests_sup_c1),
                OsPid = ferrotp_port:os_pid(Host),
                Ms = [monitor(process, P) || P <- [Host, C1]],
                os:cmd("kill -9 " ++ integer_to_list(OsPid)),
                [down(M) || M <- Ms],
                %% Restarted, once: a fresh host and counters.
                wait_until(fun() ->
                    case whereis(ferrotp_port_tests_sup_c1) of
                        undefined -> false;
                        New -> New =/= C1
                    end
                end),
                ?assertEqual({10, 3}, {gen_server:call(ferrotp_port_tests_sup_c1, value),
                                       length(supervisor:which_children(Sup))})
            end,
            %% Three crashes within the period: with one restart each, the
            %% intensity (3) is not exceeded and the supervisor lives.
            [Kill() || _ <- [1, 2, 3]],
            ?assert(is_process_alive(Sup)),
            unlink(Sup),
            exit(Sup, shutdown)
        end)
    end}.

%% A linked process that exits with reason `kill' sends an ordinary exit
%% signal: a gen_server dies of it with `kill' (its monitors see `kill'),
%% where `exit(Pid, kill)' would be untrappable (`killed'); so does a Rust
%% process in a port program.
a_linked_process_exiting_with_kill_is_an_ordinary_reason_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            Reason = fun ferrotp_side_by_side:linked_kill_reason/1,
            ?assertEqual(kill, Reason(fun() -> ferrotp_port_tests_counter:start_link(0, []) end)),
            ?assertEqual(kill, Reason(fun() -> ferrotp:start_link(Host, counter, 0) end))
        end)
    end}.

%% A Rust supervisor's SUPERVISOR report and a Rust gen_server's
%% no_handle_info warning reach the VM's logger from a port program as an
%% OTP supervisor's and gen_server's do, side by side with them.
reports_of_rust_processes_reach_the_vms_logger_test_() ->
    {timeout, 60, fun() ->
        with_host(fun(Host) ->
            with_log(fun() ->
                %% no_handle_info, naming the module (the behaviour).
                Warning = fun(P) ->
                    P ! {hello, 1},
                    receive
                        {logged, #{level := warning, meta := #{pid := P},
                                   msg := {report, #{label := {gen_server, no_handle_info}} = R}}} ->
                            {maps:get(module, R), maps:get(message, R)}
                    after ?WAIT -> no_warning
                    end
                end,
                {ok, Beam} = ferrotp_port_tests_counter:start_link(0, []),
                {ok, Rust} = ferrotp:start_link(Host, counter, 0),
                ?assertEqual({ferrotp_port_tests_counter, {hello, 1}}, Warning(Beam)),
                ?assertEqual({counter, {hello, 1}}, Warning(Rust)),
                %% A child crash: the supervisor's report, from its pid.
                {RustSup, ErlangSup} = supervisor_starts(Host),
                Child = #{id => c, start => {ferrotp_port_tests_counter, start_link, [0, []]}},
                Report = fun(Start) ->
                    {ok, S} = Start(#{}, [Child]),
                    [{c, C, _, _}] = supervisor:which_children(S),
                    catch gen_server:call(C, boom),
                    receive
                        {logged, #{meta := #{pid := S},
                                   msg := {report, #{label := {supervisor, child_terminated},
                                                     report := R}}}} ->
                            {[K || {K, _} <- R], proplists:get_value(reason, R)}
                    after ?WAIT -> no_report
                    end
                end,
                Expected = {[supervisor, errorContext, reason, offender], {bad_call, boom}},
                ?assertEqual(Expected, Report(ErlangSup)),
                ?assertEqual(Expected, Report(RustSup))
            end)
        end)
    end}.
