%% NIF mode from Erlang: Rust processes inside this VM behave as gen_servers.
-module(ferrotp_nif_tests).
-include_lib("eunit/include/eunit.hrl").

-export([log/2]).

-define(T(F), {timeout, 60, fun F/0}).

nif_test_() ->
    [?T(start_link_returns_a_linked_local_pid),
     ?T(initial_call_is_the_behaviours_init_as_for_a_gen_server),
     ?T(call_and_cast_reach_the_rust_counter),
     ?T(casts_and_calls_keep_their_order),
     ?T(direct_replies_go_where_gen_reply_sends_them),
     ?T(bad_cast_in_a_burst_is_the_exit_reason),
     ?T(call_to_a_suspended_server_waits_for_resume),
     ?T(nifs_reject_what_is_not_a_rust_process),
     ?T(init_argument_is_an_integer_of_any_size),
     ?T(sys_get_state_returns_the_count),
     ?T(sys_replace_state_runs_the_fun_as_for_a_gen_server),
     ?T(sys_debug_options_record_what_a_gen_server_records),
     ?T(sys_trace_prints_what_a_gen_server_prints),
     ?T(the_debug_start_option_switches_sys_debugging_on),
     ?T(erroneous_debug_options_are_ignored_as_by_gen_server),
     ?T(gen_server_stop_ends_it_normally),
     ?T(gen_server_stop_with_a_timeout_ends_it_with_the_reason),
     ?T(registered_name_works_and_is_unique),
     ?T(an_unknown_behaviour_is_undef_as_in_every_mode),
     ?T(a_failed_start_leaves_what_a_gen_server_leaves),
     ?T(crash_reports_say_what_a_gen_servers_say),
     ?T(a_linked_process_exiting_with_kill_is_an_ordinary_reason),
     ?T(a_message_shaped_like_a_proxy_request_is_only_a_message),
     ?T(a_rust_supervisor_counts_and_finds_its_beam_children),
     ?T(the_status_header_names_a_named_server_as_a_gen_servers_does),
     ?T(a_rust_supervisors_reports_reach_logger_as_an_otp_supervisors_do),
     ?T(an_unexpected_message_is_logged_as_by_a_gen_server_without_handle_info),
     ?T(start_timeout_kills_a_slow_init_as_gen_server_does),
     ?T(a_bad_name_starts_nothing),
     ?T(hibernate_after_shrinks_an_idle_proxy),
     ?T(a_proxy_after_a_call_is_no_larger_than_a_gen_server),
     ?T(spawn_opt_reaches_the_proxy),
     ?T(kill_is_untrappable),
     ?T(crash_is_the_exit_reason_and_monitor_sees_it),
     ?T(panic_is_an_exit_and_others_keep_working),
     ?T(owner_death_kills_linked_rust_process),
     ?T(rust_process_links_to_a_beam_process),
     ?T(rust_process_traps_a_beam_exit),
     ?T(rust_process_monitors_a_beam_process),
     ?T(rust_process_sends_to_beam_and_to_rust),
     ?T(rust_timer_fires_from_another_thread),
     ?T(terms_cross_the_boundary_unchanged),
     ?T(a_too_deep_term_ends_its_process_not_the_vm),
     ?T(deferred_reply_reaches_the_caller),
     ?T(large_messages_are_converted_off_the_normal_schedulers),
     ?T(rust_spawned_process_has_a_beam_pid),
     ?T(supervisor_restarts_a_crashed_rust_child_fresh),
     ?T(terminate_child_delivers_shutdown),
     ?T(intensity_escalates_to_the_supervisor),
     ?T(rust_supervisor_restarts_its_rust_child_fresh),
     ?T(rust_supervisor_supervises_an_erlang_child),
     ?T(rust_supervisor_terminate_child_delivers_shutdown),
     ?T(restart_churn_never_runs_the_proxy_pool_dry),
     ?T(processes_spawned_past_the_pool_are_no_beam_processes),
     ?T(ten_thousand_processes_start_and_answer),
     ?T(schedulers_stay_responsive_while_rust_is_busy),
     ?T(short_calls_are_charged_what_they_cost)].

start_link_returns_a_linked_local_pid() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    ?assert(is_pid(Pid)),
    ?assertEqual(node(), node(Pid)),
    ?assert(is_process_alive(Pid)),
    {links, Links} = process_info(self(), links),
    ?assert(lists:member(Pid, Links)),
    stop(Pid).

%% proc_lib:initial_call/1 (crash reports, observer) reads as for a
%% gen_server whose callback module is the behaviour: {counter, init, 1}.
initial_call_is_the_behaviours_init_as_for_a_gen_server() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    {ok, Beam} = gen_server:start_link(ferrotp_nif_tests_counter, 0, []),
    ?assertEqual({ferrotp_nif_tests_counter, init, 1}, proc_lib:translate_initial_call(Beam)),
    ?assertEqual({counter, init, 1}, proc_lib:translate_initial_call(Pid)),
    ?assertEqual({counter, init, ['Argument__1']}, proc_lib:initial_call(Pid)),
    [stop(P) || P <- [Pid, Beam]].

call_and_cast_reach_the_rust_counter() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 5, []),
    ok = gen_server:cast(Pid, {bump, 3}),
    ok = gen_server:cast(Pid, {bump, -1}),
    ?assertEqual(7, gen_server:call(Pid, value)),
    stop(Pid).

%% Casts go straight into an idle server in bursts and calls are answered
%% by the proxy (ferrotp::direct): every call sees every cast sent before it.
casts_and_calls_keep_their_order() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    lists:foreach(fun(I) ->
                          ok = gen_server:cast(Pid, {bump, 1}),
                          case I rem 100 of
                              0 -> ?assertEqual(I, gen_server:call(Pid, value));
                              _ -> ok
                          end
                  end, lists:seq(1, 5000)),
    %% A flood from another process, then a call from this one.
    Self = self(),
    spawn_link(fun() -> [gen_server:cast(Pid, {bump, 2}) || _ <- lists:seq(1, 5000)],
                        Self ! flooded end),
    receive flooded -> ok end,
    ?assertEqual(15000, gen_server:call(Pid, value)),
    stop(Pid).

%% A call answered in place (handle_call_now) is replied to as gen:reply/2
%% does: a plain reference tag to the caller's pid, an OTP 24+
%% [alias | Ref] tag to the alias, dropped once the caller has given it up.
direct_replies_go_where_gen_reply_sends_them() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 4, []),
    Ref = make_ref(),
    Pid ! {'$gen_call', {self(), Ref}, value},
    ?assertEqual(4, receive {Ref, R1} -> R1 after 5000 -> timeout end),
    Alias = alias(),
    Tag = [alias | Alias],
    Pid ! {'$gen_call', {self(), Tag}, value},
    ?assertEqual(4, receive {Tag, R2} -> R2 after 5000 -> timeout end),
    unalias(Alias),
    Pid ! {'$gen_call', {self(), Tag}, value},
    %% A later call is answered, and the late one was dropped before it.
    ?assertEqual(4, gen_server:call(Pid, value)),
    ?assertEqual(none, receive {Tag, _} = Late -> Late after 100 -> none end),
    stop(Pid).

%% The proxy's NIFs read their process argument through a cached resource
%% type (process.rs, Proc): anything else, another NIF resource included,
%% is badarg, before and after the type is cached.
nifs_reject_what_is_not_a_rust_process() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    ?assertEqual(0, gen_server:call(Pid, value)),
    Other = ferrotp_nif:bench_a_new(0),
    From = {self(), [alias | make_ref()]},
    [?assertError(badarg, F())
     || F <- [fun() -> ferrotp_nif:gen_call(Other, From, value) end,
              fun() -> ferrotp_nif:gen_call(make_ref(), From, value) end,
              fun() -> ferrotp_nif:gen_call(Pid, From, value) end,
              fun() -> ferrotp_nif:deliver(Other, hello) end,
              fun() -> ferrotp_nif:deliver_all(<<"proc">>, [hello]) end]],
    ?assertEqual(0, gen_server:call(Pid, value)),
    stop(Pid).

%% A cast the server does not understand, in the middle of a burst, crashes
%% it with that cast as the reason, as a gen_server's handle_cast would.
bad_cast_in_a_burst_is_the_exit_reason() ->
    process_flag(trap_exit, true),
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    Ref = erlang:monitor(process, Pid),
    Msgs = [{'$gen_cast', {bump, 1}} || _ <- lists:seq(1, 50)] ++
        [{'$gen_cast', surprise}] ++ [{'$gen_cast', {bump, 1}} || _ <- lists:seq(1, 50)],
    [Pid ! M || M <- Msgs],
    ?assertEqual({bad_cast, surprise},
                 receive {'DOWN', Ref, process, Pid, R} -> R after 10000 -> timeout end),
    receive {'EXIT', Pid, _} -> ok after 10000 -> ok end,
    process_flag(trap_exit, false).

%% sys:suspend/1 makes the server take only system messages: a call waits
%% (it is not answered directly) until sys:resume/1.
call_to_a_suspended_server_waits_for_resume() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 3, []),
    ok = sys:suspend(Pid),
    Self = self(),
    Caller = spawn_link(fun() -> Self ! {answer, gen_server:call(Pid, value)} end),
    wait(fun() ->
                 case process_info(Caller, status) of
                     {status, waiting} -> {ok, waiting};
                     _ -> retry
                 end
         end),
    ok = gen_server:cast(Pid, {bump, 1}),
    ?assertEqual(3, sys:get_state(Pid)),
    receive {answer, Early} -> ?assertEqual(not_before_resume, Early) after 100 -> ok end,
    ok = sys:resume(Pid),
    ?assertEqual(3, receive {answer, V} -> V after 10000 -> timeout end),
    ?assertEqual(4, gen_server:call(Pid, value)),
    stop(Pid).

init_argument_is_an_integer_of_any_size() ->
    Big = 1 bsl 100,
    {ok, Pid} = ferrotp_nif:start_link(counter, Big, []),
    ok = gen_server:cast(Pid, {bump, 1}),
    ?assertEqual(Big + 1, gen_server:call(Pid, value)),
    stop(Pid).

sys_get_state_returns_the_count() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 41, []),
    gen_server:cast(Pid, {bump, 1}),
    ?assertEqual(42, sys:get_state(Pid)),
    stop(Pid).

%% sys:statistics/2, sys:log/2, sys:trace/2, sys:log_to_file/2 and
%% sys:no_debug/1 on a Rust counter answer and record what they do on a
%% gen_server counter given the same messages (callers' tags aside).
%% sys:replace_state/2 runs the caller's fun on the state and answers the
%% new one; a fun that raises fails the call with gen_server's error and
%% keeps the state. Compared with a gen_server given the same funs.
sys_replace_state_runs_the_fun_as_for_a_gen_server() ->
    {ok, Rust} = ferrotp_nif:start_link(counter, 5, []),
    {ok, Beam} = gen_server:start_link(ferrotp_nif_tests_counter, 5, []),
    Self = self(),
    Replaced = fun(P) ->
        Doubled = sys:replace_state(P, fun(N) -> N * 2 end),
        Big = sys:replace_state(P, fun(N) -> N + (1 bsl 70) end),
        Raised = [catch sys:replace_state(P, F)
                  || F <- [fun(_) -> error(boom) end, fun(_) -> exit(bye) end,
                           fun(_) -> throw(ball) end]],
        %% The fun runs in the server's pid, as in gen_server.
        InServer = sys:replace_state(P, fun(N) -> Self ! {ran_in, self()}, N end),
        RanIn = receive {ran_in, Pid} -> Pid =:= P after 5000 -> timeout end,
        ok = gen_server:cast(P, {bump, 1}),
        {Doubled, Big, [R || {'EXIT', {R, _}} <- Raised], InServer, RanIn,
         gen_server:call(P, value), sys:get_state(P)}
    end,
    Expected = Replaced(Beam),
    ?assertMatch({10, _, [{callback_failed, {gen_server, system_replace_state}, {error, boom}},
                          {callback_failed, {gen_server, system_replace_state}, {exit, bye}},
                          {callback_failed, {gen_server, system_replace_state}, {throw, ball}}],
                  _, true, _, _}, Expected),
    ?assertEqual(Expected, Replaced(Rust)),
    %% A state the Rust counter cannot take is refused, and kept.
    ?assertMatch({'EXIT', {{callback_failed, {gen_server, system_replace_state},
                            {error, {badarg, not_a_count}}}, _}},
                 catch sys:replace_state(Rust, fun(_) -> not_a_count end)),
    ?assertEqual(gen_server:call(Beam, value), gen_server:call(Rust, value)),
    [stop(P) || P <- [Rust, Beam]].

%% gen_server starts anyway when {debug, Dbgs} is not a list (with an
%% error report) or holds options it does not know; so does a Rust process,
%% and the options it knows are on.
erroneous_debug_options_are_ignored_as_by_gen_server() ->
    Starts = fun(Start) ->
        {ok, P1} = Start([{debug, bogus}]),
        {ok, P2} = Start([{debug, [bogus, statistics]}]),
        ok = gen_server:cast(P2, {bump, 1}),
        _ = gen_server:call(P2, value),
        {ok, Stats} = sys:statistics(P2, get),
        [stop(P) || P <- [P1, P2]],
        [K || {K, _} <- Stats, K =:= messages_in]
    end,
    ?assertEqual([messages_in],
                 Starts(fun(O) -> gen_server:start_link(ferrotp_nif_tests_counter, 0, O) end)),
    ?assertEqual([messages_in], Starts(fun(O) -> ferrotp_nif:start_link(counter, 0, O) end)).

sys_debug_options_record_what_a_gen_server_records() ->
    {ok, Rust} = ferrotp_nif:start_link(counter, 0, []),
    {ok, Beam} = gen_server:start_link(ferrotp_nif_tests_counter, 0, []),
    File = filename:join(os:getenv("TMPDIR", "/tmp"),
                         "ferrotp_sys_log_" ++ os:getpid() ++ ".txt"),
    Debugged = fun(P) ->
        Off = {sys:statistics(P, get), sys:log(P, get)},
        [ok = F() || F <- [fun() -> sys:statistics(P, true) end,
                           fun() -> sys:log(P, {true, 5}) end,
                           fun() -> sys:trace(P, true) end,
                           fun() -> sys:log_to_file(P, File) end]],
        ok = gen_server:cast(P, {bump, 2}),
        2 = gen_server:call(P, value),
        {ok, Stats} = sys:statistics(P, get),
        {ok, Log} = sys:log(P, get),
        {status, _, _, [_, _, _, _, Misc]} = sys:get_status(P),
        [Logged] = [E || {data, D} <- Misc, {"Logged events", E} <- D],
        ok = sys:log_to_file(P, false),
        {ok, Text} = file:read_file(File),
        ok = sys:no_debug(P),
        After = {sys:statistics(P, get), sys:log(P, get), gen_server:call(P, value)},
        {Off, lists:sort([K || {K, _} <- Stats]),
         [V || {K, V} <- Stats, lists:member(K, [messages_in, messages_out])],
         untag(Log), untag(Logged), binary:match(Text, <<"got call value">>) =/= nomatch,
         After}
    end,
    Expected = Debugged(Beam),
    ?assertMatch({{{ok, no_statistics}, {ok, []}}, _, [2, 1],
                  [{in, {'$gen_cast', {bump, 2}}}, {noreply, 2},
                   {in, {'$gen_call', from, value}}, {out, 2, from, 2}], _, true,
                  {{ok, no_statistics}, {ok, []}, 2}}, Expected),
    ?assertEqual(Expected, Debugged(Rust)),
    file:delete(File),
    [stop(P) || P <- [Rust, Beam]],
    ok.

%% sys:trace/2 on a Rust counter prints gen_server's lines for the same
%% messages (the VM prints them: the pool keeper's group leader, captured
%% here).
sys_trace_prints_what_a_gen_server_prints() ->
    {ok, Rust} = ferrotp_nif:start_link(counter, 0, []),
    Pool = whereis(ferrotp_nif_pool),
    {group_leader, Leader} = process_info(Pool, group_leader),
    Self = self(),
    Capture = spawn_link(fun() -> ferrotp_side_by_side:capture(Self, []) end),
    true = group_leader(Capture, Pool),
    try
        ok = sys:trace(Rust, true),
        ok = gen_server:cast(Rust, {bump, 4}),
        4 = gen_server:call(Rust, value),
        ok = sys:trace(Rust, false),
        Me = pid_to_list(self()),
        It = pid_to_list(Rust),
        Expected = ["*DBG* " ++ It ++ " got cast {bump,4}",
                    "*DBG* " ++ It ++ " new state 4",
                    "*DBG* " ++ It ++ " got call value from " ++ Me,
                    "*DBG* " ++ It ++ " sent 4 to " ++ Me ++ ", new state 4"],
        ?assertEqual(Expected, ferrotp_side_by_side:captured(Capture, length(Expected)))
    after
        group_leader(Leader, Pool),
        unlink(Capture),
        exit(Capture, kill),
        stop(Rust)
    end.

%% The start option {debug, Dbgs}: the options are on when start_link
%% returns, as for a gen_server started with the same option.
the_debug_start_option_switches_sys_debugging_on() ->
    Opts = [{debug, [statistics, {log, 5}]}],
    {ok, Rust} = ferrotp_nif:start_link(counter, 0, Opts),
    {ok, Beam} = gen_server:start_link(ferrotp_nif_tests_counter, 0, Opts),
    Seen = fun(P) ->
        ok = gen_server:cast(P, {bump, 2}),
        2 = gen_server:call(P, value),
        {ok, Stats} = sys:statistics(P, get),
        {ok, Log} = sys:log(P, get),
        {[V || {K, V} <- Stats, lists:member(K, [messages_in, messages_out])], untag(Log)}
    end,
    Expected = Seen(Beam),
    ?assertMatch({[2, 1], [_, _, _, _]}, Expected),
    ?assertEqual(Expected, Seen(Rust)),
    [stop(P) || P <- [Rust, Beam]],
    ok.

%% A debug event with the caller's `{Pid, Tag}` replaced by `from'.
untag(Events) ->
    [case E of
         {in, {'$gen_call', {_, _}, Req}} -> {in, {'$gen_call', from, Req}};
         {out, Reply, {_, _}, State} -> {out, Reply, from, State};
         Other -> Other
     end || E <- Events].

gen_server_stop_ends_it_normally() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    Ref = monitor(process, Pid),
    ?assertEqual(ok, gen_server:stop(Pid)),
    ?assertEqual(normal, down_reason(Ref)).

%% gen_server:stop/3 with a finite timeout calls sys:terminate/3 through
%% an alias (OTP 24+): the reply to it, sent just before the process
%% ends, must reach the caller, and the process ends with the reason
%% given, as a gen_server does.
gen_server_stop_with_a_timeout_ends_it_with_the_reason() ->
    [begin
         {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
         unlink(Pid),
         Ref = monitor(process, Pid),
         ?assertEqual(ok, gen_server:stop(Pid, Reason, 5000)),
         ?assertEqual(Reason, down_reason(Ref))
     end || Reason <- [normal, shutdown, {shutdown, bye}]].

registered_name_works_and_is_unique() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 3, [{name, ferrotp_nif_named}]),
    ?assertEqual(Pid, whereis(ferrotp_nif_named)),
    ?assertEqual(3, gen_server:call(ferrotp_nif_named, value)),
    ?assertEqual({error, {already_started, Pid}},
                 ferrotp_nif:start_link(counter, 0, [{name, ferrotp_nif_named}])),
    stop(Pid),
    ?assertEqual(undefined, whereis(ferrotp_nif_named)).

%% A start option {name, N} that is no name is refused before anything is
%% spawned (gen_server raises in the caller): no 'EXIT' follows.
a_bad_name_starts_nothing() ->
    process_flag(trap_exit, true),
    Before = ferrotp_nif:process_count(),
    ?assertEqual({error, {bad_name, {a, b, c}}},
                 ferrotp_nif:start_link(counter, 0, [{name, {a, b, c}}])),
    ?assertEqual(none, receive {'EXIT', _, _} = E -> E after 300 -> none end),
    ?assertEqual(Before, ferrotp_nif:process_count()),
    process_flag(trap_exit, false).

%% The start option {timeout, Ms}: an init that takes longer is killed and
%% the start returns {error, timeout}, as gen_server:start_link/4's; a
%% quicker one starts.
start_timeout_kills_a_slow_init_as_gen_server_does() ->
    Before = ferrotp_nif:process_count(),
    ?assertEqual({error, timeout},
                 ferrotp_nif:start_link(probe, {init_sleep, 2000}, [{timeout, 100}])),
    ?assertMatch({messages, []}, process_info(self(), messages)),
    wait(fun() -> case ferrotp_nif:process_count() of N when N =< Before -> {ok, gone}; _ -> retry end end),
    {ok, Pid} = ferrotp_nif:start_link(probe, {init_sleep, 10}, [{timeout, 5000}]),
    ?assertEqual(pong, gen_server:call(Pid, ping)),
    stop(Pid).

hibernate_after_shrinks_an_idle_proxy() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 1, [{hibernate_after, 50}]),
    ?assertEqual(1, gen_server:call(Pid, value)),
    {total_heap_size, Busy} = process_info(Pid, total_heap_size),
    Small = wait(fun() ->
                         case process_info(Pid, total_heap_size) of
                             {total_heap_size, H} when H < Busy -> {ok, H};
                             _ -> retry
                         end
                 end),
    ?assert(Small < 100),
    ?assertEqual(1, gen_server:call(Pid, value)),
    stop(Pid).

%% The first garbage collection after hibernation leaves no old heap
%% behind (proxies are spawned with fullsweep_after 0): once it has served
%% a call, a proxy's process is the size of a gen_server's.
a_proxy_after_a_call_is_no_larger_than_a_gen_server() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    {ok, Gen} = ferrotp_nif_tests_counter:start_link(0),
    [?assertEqual(0, gen_server:call(P, value)) || P <- [Pid, Gen]],
    [{total_heap_size, Total}, {heap_size, Heap}] =
        process_info(Pid, [total_heap_size, heap_size]),
    ?assertEqual(Heap, Total),
    {memory, Rust} = process_info(Pid, memory),
    {memory, Beam} = process_info(Gen, memory),
    ?assert(Rust =< Beam),
    unlink(Gen),
    exit(Gen, kill),
    stop(Pid).

spawn_opt_reaches_the_proxy() ->
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, [{spawn_opt, [{min_heap_size, 1000}]}]),
    {garbage_collection, GC} = process_info(Pid, garbage_collection),
    ?assert(proplists:get_value(min_heap_size, GC) >= 1000),
    ?assertEqual(0, gen_server:call(Pid, value)),
    stop(Pid).

%% A behaviour that is not registered is `undef', as `apply/3' of a missing
%% function (and as in port and node modes); as for a gen_server whose init
%% fails, the process exits with it (a caller that does not trap exits dies).
an_unknown_behaviour_is_undef_as_in_every_mode() ->
    in_fresh_process(fun() ->
        process_flag(trap_exit, true),
        Undef = {undef, [{no_such_behaviour, start_link, [0], []}]},
        ?assertEqual({error, Undef},
                     ferrotp_nif:start_link(no_such_behaviour, 0, [])),
        ?assertEqual([Undef], exits(1))
    end).

%% What a failed start leaves, side by side with gen_server:start_link/4
%% (OTP 25): a taken name is refused before anything is spawned (no
%% 'EXIT' for a caller that traps exits); an init that fails returns
%% {error, Reason} and the process exits with Reason, its name free
%% before the caller hears, so a start under the same name works at once.
a_failed_start_leaves_what_a_gen_server_leaves() ->
    in_fresh_process(fun a_failed_start_leaves_what_a_gen_server_leaves_/0).

a_failed_start_leaves_what_a_gen_server_leaves_() ->
    process_flag(trap_exit, true),
    Beam = fun(Name, Arg) ->
                   gen_server:start_link({local, Name}, ferrotp_nif_tests_counter, Arg, [])
           end,
    Rust = fun(Name, Arg) -> ferrotp_nif:start_link(counter, Arg, [{name, Name}]) end,
    Run = fun(Start, Name) ->
        {ok, P} = Start(Name, 1),
        Taken = Start(Name, 2),
        AfterTaken = exits(0),
        exit(P, kill),
        ?assertEqual(killed, exit_reason(P)),
        Failed = Start(Name, not_a_count),
        AfterFailed = exits(1),
        {ok, Again} = Start(Name, 3),
        Value = gen_server:call(Name, value),
        unlink(Again),
        exit(Again, kill),
        {Taken =:= {error, {already_started, P}}, AfterTaken, Failed, AfterFailed, Value}
    end,
    Expected = Run(Beam, ferrotp_nif_tests_beam_named),
    ?assertEqual({true, [], {error, {badarg, not_a_count}}, [{badarg, not_a_count}], 3},
                 Expected),
    ?assertEqual(Expected, Run(Rust, ferrotp_nif_tests_rust_named)).

%% The {gen_server, terminate} report of a crash, side by side with a
%% gen_server's: a call's request as last_message, the caller's stack as
%% client_info and the server's state; after gen_server:stop/3 with another
%% reason, [] and undefined.
crash_reports_say_what_a_gen_servers_say() ->
    in_fresh_process(fun() ->
        Handler = ferrotp_nif_tests_reports,
        ok = logger:add_handler(Handler, ?MODULE, #{config => #{pid => self()}}),
        try
            Report = fun(Start, Crash) ->
                {ok, P} = Start(),
                unlink(P),
                Crash(P),
                receive
                    {log, #{msg := {report, #{label := {gen_server, terminate}, name := P} = R}}} ->
                        #{last_message := Last, client_info := Client, state := State} = R,
                        {Last, case Client of
                                   {Self, {Self, Stack}} when Self =:= self(), is_list(Stack) -> caller;
                                   Other -> Other
                               end, State}
                after 5000 -> no_report
                end
            end,
            Beam = fun() -> ferrotp_nif_tests_counter:start_link(7) end,
            Rust = fun() -> ferrotp_nif:start_link(counter, 7, []) end,
            BadCall = fun(P) -> catch gen_server:call(P, boom) end,
            Stop = fun(P) -> ok = gen_server:stop(P, other, 5000) end,
            ?assertEqual({boom, caller, 7}, Report(Beam, BadCall)),
            ?assertEqual({boom, caller, 7}, Report(Rust, BadCall)),
            ?assertEqual({[], undefined, 7}, Report(Beam, Stop)),
            ?assertEqual({[], undefined, 7}, Report(Rust, Stop))
        after
            logger:remove_handler(Handler)
        end
    end).

%% A linked process that exits with reason `kill' sends an ordinary exit
%% signal: a gen_server dies of it with `kill' (its monitors see `kill'),
%% where `exit(Pid, kill)' would be untrappable (`killed').
a_linked_process_exiting_with_kill_is_an_ordinary_reason() ->
    Reason = fun ferrotp_side_by_side:linked_kill_reason/1,
    ?assertEqual(kill, Reason(fun() -> ferrotp_nif_tests_counter:start_link(0) end)),
    ?assertEqual(kill, Reason(fun() -> ferrotp_nif:start_link(counter, 0, []) end)).

%% The proxy acts on requests from its Rust process ({'$ferrotp', Key, Op,
%% ...}); a message of that shape from anyone else is a message to the
%% process, as it would be to a gen_server (which ignores or logs it): it
%% makes the process exit, link or send nothing.
a_message_shaped_like_a_proxy_request_is_only_a_message() ->
    Victim = spawn(fun() -> receive stop -> ok end end),
    Forged = fun(P) ->
        P ! {'$ferrotp', exit, Victim, kill},
        P ! {'$ferrotp', exit, {Victim, kill}},
        P ! {'$ferrotp', 0, exit, {Victim, kill}},
        P ! {'$ferrotp', 0, exit, Victim, kill},
        P ! {'$ferrotp', 0, send, {Victim, stop}},
        P ! {'$ferrotp', 0, link, Victim},
        %% Handled in order: the call comes after them.
        {gen_server:call(P, value), is_process_alive(Victim),
         lists:member(Victim, element(2, process_info(P, links)))}
    end,
    {ok, Beam} = ferrotp_nif_tests_counter:start_link(0),
    {ok, Rust} = ferrotp_nif:start_link(counter, 0, []),
    ?assertEqual({0, true, false}, Forged(Beam)),
    ?assertEqual({0, true, false}, Forged(Rust)),
    Victim ! stop,
    [stop(P) || P <- [Rust, Beam]].

%% count_children and terminate_child of a Rust supervisor with BEAM
%% children, side by side with an OTP supervisor given the same flags and
%% specs: a live BEAM child is active; a pid that is not a child of a
%% simple_one_for_one supervisor is not_found while alive.
a_rust_supervisor_counts_and_finds_its_beam_children() ->
    Child = #{id => a, start => {ferrotp_nif_tests_counter, start_link, [1]}},
    Run = fun(Start) ->
        {ok, S} = Start(#{strategy => one_for_one}, [Child]),
        Counts = supervisor:count_children(S),
        {ok, Sofo} = Start(#{strategy => simple_one_for_one},
                           [Child#{start => {ferrotp_nif_tests_counter, start_link, []}}]),
        {ok, C} = supervisor:start_child(Sofo, [5]),
        Stranger = spawn(fun() -> receive stop -> ok end end),
        Result = {Counts, supervisor:count_children(Sofo),
                  supervisor:terminate_child(Sofo, Stranger), is_process_alive(Stranger),
                  supervisor:terminate_child(Sofo, C), supervisor:count_children(Sofo)},
        Stranger ! stop,
        [stop(P) || P <- [Sofo, S]],
        Result
    end,
    Expected = Run(fun(Flags, Specs) -> supervisor:start_link(ferrotp_nif_tests_sup, {Flags, Specs}) end),
    ?assertMatch({[{specs, 1}, {active, 1}, {supervisors, 0}, {workers, 1}],
                  [{specs, 1}, {active, 1}, {supervisors, 0}, {workers, 1}],
                  {error, not_found}, true, ok,
                  [{specs, 1}, {active, 0}, {supervisors, 0}, {workers, 0}]}, Expected),
    ?assertEqual(Expected,
                 Run(fun(Flags, Specs) -> ferrotp_nif:start_link(supervisor, {Flags, Specs}, []) end)).

%% sys:get_status/1's header names a server started with a name by its
%% name, printed as gen_server prints it (unquoted).
the_status_header_names_a_named_server_as_a_gen_servers_does() ->
    Header = fun(P) ->
        {status, P, _, [_, _, _, _, Misc]} = sys:get_status(P),
        proplists:get_value(header, Misc)
    end,
    {ok, G} = gen_server:start_link({local, 'Elixir.Ferrotp.StatusB'},
                                    ferrotp_nif_tests_counter, 0, []),
    {ok, R} = ferrotp_nif:start_link(counter, 0, [{name, 'Elixir.Ferrotp.StatusR'}]),
    ?assertEqual("Status for generic server Elixir.Ferrotp.StatusB", Header(G)),
    ?assertEqual("Status for generic server Elixir.Ferrotp.StatusR", Header(R)),
    [stop(P) || P <- [R, G]].

%% A Rust supervisor's SUPERVISOR and PROGRESS reports reach the VM's
%% logger as an OTP supervisor's do (same label, report keys, context,
%% reason and metadata), side by side with an OTP supervisor of the same
%% BEAM child, which then crashes.
a_rust_supervisors_reports_reach_logger_as_an_otp_supervisors_do() ->
    in_fresh_process(fun() ->
        Handler = ferrotp_nif_tests_sup_reports,
        #{level := Level} = logger:get_primary_config(),
        ok = logger:set_primary_config(level, all),
        ok = logger:add_handler(Handler, ?MODULE, #{config => #{pid => self()}}),
        try
            Child = #{id => c, start => {ferrotp_nif_tests_counter, start_link, [1]}},
            Run = fun(Start) ->
                {ok, S} = Start(#{strategy => one_for_one}, [Child]),
                Progress = sup_report(S, progress),
                [{c, C, _, _}] = supervisor:which_children(S),
                catch gen_server:call(C, boom),
                Terminated = sup_report(S, child_terminated),
                unlink(S),
                exit(S, shutdown),
                [Progress, Terminated]
            end,
            Beam = Run(fun(F, Specs) ->
                               supervisor:start_link(ferrotp_nif_tests_sup, {F, Specs})
                       end),
            Rust = Run(fun(F, Specs) ->
                               ferrotp_nif:start_link(supervisor, {F, Specs}, [])
                       end),
            ?assertMatch([{[supervisor, started], _, #{title := "PROGRESS REPORT"}},
                          {[supervisor, errorContext, reason, offender],
                           {child_terminated, {function_clause, _}},
                           #{title := "SUPERVISOR REPORT"}}], Beam),
            ?assertEqual([{Keys, strip(What), Title} || {Keys, What, Title} <- Beam],
                         [{Keys, strip(What), Title} || {Keys, What, Title} <- Rust])
        after
            logger:remove_handler(Handler),
            logger:set_primary_config(level, Level)
        end
    end).

%% A message a server has no handle_info/2 for is dropped with gen_server's
%% no_handle_info warning naming the module (the behaviour), side by side
%% with a gen_server whose module has no handle_info/2.
an_unexpected_message_is_logged_as_by_a_gen_server_without_handle_info() ->
    in_fresh_process(fun() ->
        Handler = ferrotp_nif_tests_no_handle_info,
        ok = logger:add_handler(Handler, ?MODULE, #{config => #{pid => self()}}),
        try
            Warning = fun(P) ->
                P ! {hello, 1},
                receive
                    {log, #{level := warning,
                            msg := {report, #{label := {gen_server, no_handle_info}} = R},
                            meta := #{pid := P}}} ->
                        {maps:get(module, R), maps:get(message, R), is_process_alive(P)}
                after 5000 -> no_warning
                end
            end,
            {ok, Beam} = ferrotp_nif_tests_counter:start_link(0),
            {ok, Rust} = ferrotp_nif:start_link(counter, 0, []),
            ?assertEqual({ferrotp_nif_tests_counter, {hello, 1}, true}, Warning(Beam)),
            ?assertEqual({counter, {hello, 1}, true}, Warning(Rust)),
            [stop(P) || P <- [Rust, Beam]]
        after
            logger:remove_handler(Handler)
        end
    end).

%% The next report of supervisor `S' labelled {supervisor, Context}: its
%% keys, what it says (the context and reason, or the started child's id),
%% and its formatter title.
sup_report(S, Context) ->
    receive
        {log, #{msg := {report, #{label := {supervisor, Context}, report := R}},
                meta := #{pid := S, logger_formatter := #{title := Title}}}} ->
            What = case Context of
                       progress -> proplists:get_value(id, proplists:get_value(started, R));
                       _ -> {proplists:get_value(errorContext, R), proplists:get_value(reason, R)}
                   end,
            {[K || {K, _} <- R], What, #{title => Title}}
    after 5000 ->
        {no_report, Context}
    end.

%% A crash reason without its stack (the frames differ by where it ran).
strip({Context, {Reason, Stack}}) when is_list(Stack) -> {Context, Reason};
strip(Other) -> Other.

%% @private A logger handler (crash_reports_say_what_a_gen_servers_say):
%% every event to the test's process.
log(Event, #{config := #{pid := Pid}}) ->
    Pid ! {log, Event}.

%% Runs `Test' in a process of its own (its mailbox and trap_exit flag
%% untouched by earlier tests, and not left to later ones); fails as it fails.
in_fresh_process(Test) ->
    {Pid, Ref} = spawn_monitor(fun() -> Test(), exit(passed) end),
    receive
        {'DOWN', Ref, process, Pid, passed} -> ok;
        {'DOWN', Ref, process, Pid, Failure} -> erlang:error(Failure)
    end.

%% The reasons of the next N 'EXIT' messages (5 s for each), then of any
%% more that come within 100 ms.
exits(0) ->
    receive {'EXIT', _, Reason} -> [Reason | exits(0)] after 100 -> [] end;
exits(N) ->
    receive {'EXIT', _, Reason} -> [Reason | exits(N - 1)] after 5000 -> [] end.

kill_is_untrappable() ->
    process_flag(trap_exit, true),
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    Before = ferrotp_nif:process_count(),
    exit(Pid, kill),
    ?assertEqual(killed, exit_reason(Pid)),
    ?assertEqual(Before - 1, wait_for_count(Before - 1)).

crash_is_the_exit_reason_and_monitor_sees_it() ->
    process_flag(trap_exit, true),
    {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
    Ref = monitor(process, Pid),
    gen_server:cast(Pid, surprise),
    Reason = down_reason(Ref),
    ?assert(names(surprise, Reason)),
    ?assertEqual(Reason, exit_reason(Pid)).

panic_is_an_exit_and_others_keep_working() ->
    process_flag(trap_exit, true),
    {ok, Other} = ferrotp_nif:start_link(counter, 1, []),
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    ?assertExit({{panic, <<"deliberate">>, _}, _},
                gen_server:call(Probe, {panic, <<"deliberate">>})),
    {panic, <<"deliberate">>, Where} = exit_reason(Probe),
    ?assert(is_binary(Where) orelse is_list(Where)),
    ?assertEqual(1, gen_server:call(Other, value)),
    stop(Other).

owner_death_kills_linked_rust_process() ->
    Self = self(),
    Owner = spawn(fun() ->
                          {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
                          Self ! {started, Pid},
                          receive go -> exit(owner_gone) end
                  end),
    Pid = receive {started, P} -> P end,
    Ref = monitor(process, Pid),
    Owner ! go,
    ?assertEqual(owner_gone, down_reason(Ref)).

rust_process_links_to_a_beam_process() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    unlink(Probe),
    Ref = monitor(process, Probe),
    Beam = spawn(fun() -> receive go -> exit(beam_died) end end),
    ok = gen_server:call(Probe, {link, Beam}),
    ?assertEqual(pong, gen_server:call(Probe, ping)),
    {links, Links} = process_info(Beam, links),
    ?assertEqual([Probe], Links),
    Beam ! go,
    ?assertEqual(beam_died, down_reason(Ref)).

rust_process_traps_a_beam_exit() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    ?assertEqual(false, gen_server:call(Probe, {trap_exit, true})),
    Beam = spawn(fun() -> receive go -> exit(beam_died) end end),
    ok = gen_server:call(Probe, {link, Beam}),
    ?assertEqual(pong, gen_server:call(Probe, ping)),
    Beam ! go,
    ?assertEqual([{'EXIT', Beam, beam_died}],
                 wait_inbox(Probe, fun(L) -> L =/= [] end)),
    stop(Probe).

rust_process_monitors_a_beam_process() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    Beam = spawn(fun() -> receive go -> exit(beam_died) end end),
    ok = gen_server:call(Probe, {monitor, Beam}),
    ?assertEqual(pong, gen_server:call(Probe, ping)),
    Beam ! go,
    [{'DOWN', Ref, process, Beam, beam_died}] =
        wait_inbox(Probe, fun(L) -> L =/= [] end),
    ?assert(is_reference(Ref)),
    stop(Probe).

rust_process_sends_to_beam_and_to_rust() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    {ok, Counter} = ferrotp_nif:start_link(counter, 0, []),
    ok = gen_server:call(Probe, {send, self(), {hello, [1, 2.5, <<"bin">>, #{k => v}]}}),
    receive {hello, _} = Hello -> ?assertEqual({hello, [1, 2.5, <<"bin">>, #{k => v}]}, Hello) end,
    ok = gen_server:call(Probe, {send, Counter, {'$gen_cast', {bump, 7}}}),
    ?assertEqual(7, wait_value(Counter, 7)),
    stop(Probe),
    stop(Counter).

%% A message too large to convert within ~1 ms goes to a dirty scheduler;
%% it arrives intact, and no poll on a normal scheduler takes long for it.
large_messages_are_converted_off_the_normal_schedulers() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    Big = {big, lists:seq(1, 200000), binary:copy(<<"x">>, 4000000)},
    Probe ! Big,
    [Got] = wait_inbox(Probe, fun(L) -> L =/= [] end),
    ?assertEqual(Big, Got),
    stop(Probe).

%% gen_server:reply/2 after the request's own callback returned (the
%% reply goes out in a later NIF call than the request came in).
deferred_reply_reaches_the_caller() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    Self = self(),
    Callers = [spawn_link(fun() -> Self ! {self(), gen_server:call(Probe, {hold, N})} end)
               || N <- [1, 2, 3]],
    %% Each caller waits for its reply once its request is in the probe's
    %% queue; a later ping is then behind all three requests.
    wait(fun() ->
                 Waiting = [C || C <- Callers,
                                 process_info(C, status) =:= {status, waiting}],
                 case length(Waiting) of
                     3 -> {ok, all};
                     _ -> retry
                 end
         end),
    ?assertEqual(pong, gen_server:call(Probe, ping)),
    Probe ! release,
    ?assertEqual([1, 2, 3], [receive {C, V} -> V after 10000 -> timeout end || C <- Callers]),
    stop(Probe).

%% Every kind of term goes into a Rust process and comes back equal
%% (immediates, big integers at the small-integer edges, refs, pids, ...).
terms_cross_the_boundary_unchanged() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    Terms = [a, '', 'quoted atom', 0, -5, (1 bsl 59) - 1, -(1 bsl 59), 1 bsl 59,
             -(1 bsl 59) - 1, 1 bsl 200, -(1 bsl 200), 3.5, -0.0, "str", [],
             <<1, 2>>, <<1:3>>, #{x => [y], 1 => #{}}, [h | t], {}, make_ref(),
             self(), Probe, fun lists:map/2, hd(erlang:ports()),
             %% Atoms beyond Latin-1 (the NIF API reads only Latin-1 on OTP 25).
             '\x{20AC}uro', 'h\x{e9}llo', {'\x{1F600}', #{'\x{3bb}' => [1]}},
             fun() -> {Probe, '\x{20AC}'} end],
    [begin
         ok = gen_server:call(Probe, {send, self(), {echo, T}}),
         receive {echo, Got} -> ?assertEqual(T, Got) after 10000 -> error({lost, T}) end
     end || T <- Terms],
    %% Such an atom as a call's request reaches the Rust counter, which
    %% does not know it: a bad_call, as a gen_server's function_clause.
    {ok, C} = ferrotp_nif:start_link(counter, 0, []),
    unlink(C),
    Ref = monitor(process, C),
    catch gen_server:call(C, '\x{20AC}uro'),
    ?assertEqual({bad_call, '\x{20AC}uro'}, down_reason(Ref)),
    stop(Probe).

%% Terms nested deeper than the NIF converts (ferrotp_nif's MAX_NESTING,
%% 128) end the process they were for with a clear reason, whichever way
%% they come; they used to overflow a scheduler's stack and crash the VM.
%% Shallower ones cross unchanged, and other Rust processes carry on.
a_too_deep_term_ends_its_process_not_the_vm() ->
    process_flag(trap_exit, true),
    List = fun(N) -> lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, N)) end,
    Tuple = fun(N) -> lists:foldl(fun(_, A) -> {A} end, x, lists:seq(1, N)) end,
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    ok = gen_server:call(Probe, {send, self(), {echo, List(120)}}),
    ?assertEqual({echo, List(120)}, receive {echo, _} = E -> E after 10000 -> lost end),
    Sends = [fun(C, T) -> catch gen_server:call(C, T, 5000) end,
             fun(C, T) -> gen_server:cast(C, T) end,
             fun(C, T) -> C ! T end,
             fun(C, T) -> exit(C, T) end],
    [begin
         {ok, C} = ferrotp_nif:start_link(counter, 0, []),
         unlink(C),
         M = monitor(process, C),
         Send(C, Mk(N)),
         ?assertMatch({ferrotp_unreadable_message, _}, down_reason(M))
     end || Send <- Sends, Mk <- [List, Tuple], N <- [200, 100000]],
    ?assertEqual(ok, gen_server:call(Probe, {send, self(), still_here})),
    ?assertEqual(still_here, receive still_here -> still_here after 10000 -> lost end),
    stop(Probe).

rust_timer_fires_from_another_thread() ->
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    ok = gen_server:call(Probe, {send_after, 20, tick}),
    ?assertEqual([tick], wait_inbox(Probe, fun(L) -> L =/= [] end)),
    stop(Probe).

rust_spawned_process_has_a_beam_pid() ->
    process_flag(trap_exit, true),
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    Child = gen_server:call(Probe, spawn_counter),
    ?assert(is_pid(Child)),
    ?assertEqual(node(), node(Child)),
    ok = gen_server:cast(Child, {bump, 2}),
    ?assertEqual(2, gen_server:call(Child, value)),
    ?assertEqual(2, sys:get_state(Child)),
    %% The link made in Rust holds: the child's crash takes the probe down.
    Ref = monitor(process, Probe),
    gen_server:cast(Child, surprise),
    ?assert(names(surprise, down_reason(Ref))).

supervisor_restarts_a_crashed_rust_child_fresh() ->
    process_flag(trap_exit, true),
    {ok, Sup} = start_sup(3, [counter_spec(c1, 5)]),
    [{c1, C1, worker, _}] = supervisor:which_children(Sup),
    gen_server:cast(C1, {bump, 10}),
    ?assertEqual(15, gen_server:call(C1, value)),
    Ref = monitor(process, C1),
    gen_server:cast(C1, crash_please),
    ?assert(names(crash_please, down_reason(Ref))),
    C2 = wait_restart(Sup, c1, C1),
    ?assertEqual(5, gen_server:call(C2, value)),
    stop(Sup).

terminate_child_delivers_shutdown() ->
    process_flag(trap_exit, true),
    {ok, Sup} = start_sup(3, [counter_spec(c1, 0)]),
    [{c1, C1, worker, _}] = supervisor:which_children(Sup),
    Ref = monitor(process, C1),
    ok = supervisor:terminate_child(Sup, c1),
    ?assertEqual(shutdown, down_reason(Ref)),
    stop(Sup).

intensity_escalates_to_the_supervisor() ->
    process_flag(trap_exit, true),
    {ok, Sup} = start_sup(1, [counter_spec(c1, 0)]),
    SupRef = monitor(process, Sup),
    crash_child(Sup, c1),
    crash_child(Sup, c1),
    ?assertEqual(shutdown, down_reason(SupRef)).

rust_supervisor_restarts_its_rust_child_fresh() ->
    process_flag(trap_exit, true),
    {ok, Sup} = rust_sup([#{id => c1, start => {counter, start_link, [5]}}]),
    [{c1, C1, worker, _}] = supervisor:which_children(Sup),
    ?assertEqual(node(), node(C1)),
    gen_server:cast(C1, {bump, 1}),
    ?assertEqual(6, gen_server:call(C1, value)),
    Ref = monitor(process, C1),
    gen_server:cast(C1, crash_please),
    ?assert(names(crash_please, down_reason(Ref))),
    C2 = wait_restart(Sup, c1, C1),
    ?assertEqual(5, gen_server:call(C2, value)),
    stop(Sup).

rust_supervisor_supervises_an_erlang_child() ->
    process_flag(trap_exit, true),
    Spec = #{id => e1, start => {ferrotp_nif_tests_counter, start_link, [7]}},
    {ok, Sup} = rust_sup([Spec]),
    [{e1, E1, worker, _}] = supervisor:which_children(Sup),
    ?assertEqual(7, gen_server:call(E1, value)),
    {links, Links} = process_info(E1, links),
    ?assert(lists:member(Sup, Links)),
    Ref = monitor(process, E1),
    exit(E1, kill),
    ?assertEqual(killed, down_reason(Ref)),
    E2 = wait_restart(Sup, e1, E1),
    ?assertEqual(7, gen_server:call(E2, value)),
    stop(Sup).

rust_supervisor_terminate_child_delivers_shutdown() ->
    process_flag(trap_exit, true),
    {ok, Sup} = rust_sup([#{id => c1, start => {counter, start_link, [0]}},
                          #{id => e1, start => {ferrotp_nif_tests_counter, start_link, [0]}}]),
    Children = supervisor:which_children(Sup),
    Refs = [{Id, monitor(process, P)} || {Id, P, _, _} <- Children],
    ok = supervisor:terminate_child(Sup, c1),
    ok = supervisor:terminate_child(Sup, e1),
    [?assertEqual({Id, shutdown}, {Id, down_reason(R)}) || {Id, R} <- Refs],
    stop(Sup).

ten_thousand_processes_start_and_answer() ->
    N = 10000,
    Pids = [begin {ok, P} = ferrotp_nif:start_link(counter, I, []), P end
            || I <- lists:seq(1, N)],
    ?assertEqual(N, length(lists:usort(Pids))),
    Sum = lists:sum([gen_server:call(P, value) || P <- Pids]),
    ?assertEqual(N * (N + 1) div 2, Sum),
    [stop(P) || P <- Pids],
    ok.

%% A BEAM process asks for a 2 ms timeout over and over while 4 servers
%% are flooded with 20 000 casts each (more runnable processes than
%% schedulers): its lateness measures how long a server holds a scheduler
%% before the probe gets it back. Measured with Rust counters and with
%% gen_server counters doing the same work, in the same run: each NIF call
%% is short and charges its time slice, so Rust processes yield as
%% gen_servers do. (On a loaded machine the OS adds its own delays to both.)
schedulers_stay_responsive_while_rust_is_busy() ->
    Rust = flood_lateness(fun() -> ferrotp_nif:start_link(counter, 0, []) end),
    Beam = flood_lateness(fun() -> gen_server:start_link(ferrotp_nif_tests_counter, 0, []) end),
    ?debugFmt("worst 2 ms timer lateness under a cast flood: rust ~b us, gen_server ~b us",
              [Rust, Beam]),
    ?assert(Rust < 4 * Beam + 100000).

flood_lateness(Start) ->
    Casts = 20000,
    Counters = [begin {ok, P} = Start(), P end || _ <- lists:seq(1, 4)],
    Self = self(),
    Probe = spawn_link(fun() -> Self ! {lateness, lateness_probe(200, 2, 0)} end),
    Flooders = [spawn_link(fun() ->
                                   [gen_server:cast(C, {bump, 1}) || _ <- lists:seq(1, Casts)],
                                   Self ! {flooded, self()}
                           end) || C <- Counters],
    [receive {flooded, F} -> ok end || F <- Flooders],
    Worst = receive {lateness, W} -> W end,
    ?assertEqual(Casts, gen_server:call(hd(Counters), value, 60000)),
    unlink(Probe),
    [stop(C) || C <- Counters],
    Worst.

%% Rust work is charged to the scheduler by the time it took, as Erlang
%% code is by its reductions: a counter's call (a few hundred nanoseconds
%% of Rust) costs its proxy about what a gen_server's call costs it, not
%% the 1% of a time slice (40 reductions) that is the least one
%% `enif_consume_timeslice' can charge (short calls are added up until
%% they reach 1%). The least of five batches: a batch in which the OS
%% preempted a NIF call is charged that time too.
short_calls_are_charged_what_they_cost() ->
    {ok, Rust} = ferrotp_nif:start_link(counter, 0, []),
    {ok, Beam} = gen_server:start_link(ferrotp_nif_tests_counter, 0, []),
    [RustReds, BeamReds] = [lists:min([reductions_per_call(P, 1000) || _ <- lists:seq(1, 5)])
                            || P <- [Rust, Beam]],
    ?debugFmt("reductions per call: rust ~.1f, gen_server ~.1f", [RustReds, BeamReds]),
    ?assert(RustReds < 1.5 * BeamReds),
    [stop(P) || P <- [Rust, Beam]],
    ok.

reductions_per_call(Pid, N) ->
    _ = gen_server:call(Pid, value),
    {reductions, R0} = process_info(Pid, reductions),
    [gen_server:call(Pid, value) || _ <- lists:seq(1, N)],
    {reductions, R1} = process_info(Pid, reductions),
    (R1 - R0) / N.

%%% helpers

lateness_probe(0, _Ms, Worst) -> Worst;
lateness_probe(K, Ms, Worst) ->
    T0 = erlang:monotonic_time(microsecond),
    receive after Ms -> ok end,
    Late = erlang:monotonic_time(microsecond) - T0 - Ms * 1000,
    lateness_probe(K - 1, Ms, max(Worst, Late)).

counter_spec(Id, Init) ->
    #{id => Id, start => {ferrotp_nif, start_link, [counter, Init, []]},
      restart => permanent, shutdown => 5000, type => worker}.

rust_sup(Children) ->
    Flags = #{strategy => one_for_one, intensity => 3, period => 10},
    ferrotp_nif:start_link(supervisor, {Flags, Children}, []).

start_sup(Intensity, Children) ->
    Flags = #{strategy => one_for_one, intensity => Intensity, period => 10},
    supervisor:start_link(ferrotp_nif_tests_sup, {Flags, Children}).

crash_child(Sup, Id) ->
    case [P || {I, P, _, _} <- supervisor:which_children(Sup), I =:= Id, is_pid(P)] of
        [Pid] ->
            Ref = monitor(process, Pid),
            gen_server:cast(Pid, crash_please),
            down_reason(Ref);
        [] ->
            ok
    end.

wait_restart(Sup, Id, Old) ->
    wait(fun() ->
                 case [P || {I, P, _, _} <- supervisor:which_children(Sup), I =:= Id] of
                     [P] when is_pid(P), P =/= Old -> {ok, P};
                     _ -> retry
                 end
         end).

wait_value(Pid, Expected) ->
    wait(fun() ->
                 case gen_server:call(Pid, value) of
                     Expected -> {ok, Expected};
                     _ -> retry
                 end
         end).

wait_inbox(Probe, Done) ->
    wait(fun() ->
                 L = gen_server:call(Probe, inbox),
                 case Done(L) of
                     true -> {ok, L};
                     false -> retry
                 end
         end).

wait_for_count(N) ->
    wait(fun() ->
                 case ferrotp_nif:process_count() of
                     N -> {ok, N};
                     _ -> retry
                 end
         end).

wait(F) -> wait(F, 2000).
wait(_F, 0) -> error(timeout);
wait(F, K) ->
    case F() of
        {ok, V} -> V;
        retry -> receive after 5 -> wait(F, K - 1) end
    end.

down_reason(Ref) ->
    receive {'DOWN', Ref, process, _, Reason} -> Reason
    after 30000 -> error(no_down)
    end.

exit_reason(Pid) ->
    receive {'EXIT', Pid, Reason} -> Reason
    after 30000 -> error(no_exit)
    end.

%% Ends a process as a supervisor would: shutdown, then kill after 5 s.
stop(Pid) ->
    unlink(Pid),
    Ref = monitor(process, Pid),
    exit(Pid, shutdown),
    receive {'DOWN', Ref, process, _, Reason} -> Reason
    after 5000 -> exit(Pid, kill), down_reason(Ref)
    end.

%% Reason mentions Term somewhere (a crash reason names the message).
names(Term, Term) -> true;
names(Term, Reason) when is_tuple(Reason) -> names(Term, tuple_to_list(Reason));
names(Term, [H | T]) -> names(Term, H) orelse names(Term, T);
names(_, _) -> false.

%% A Rust supervisor restarting and terminating children as fast as two
%% processes ask, while a third kills them: every child is a fresh proxy
%% (the pool of idle proxies is refilled by the proxies taken from it, so
%% it never runs dry), never a process that was already there.
restart_churn_never_runs_the_proxy_pool_dry() ->
    %% The processes already there, but for idle proxies (a child may be one).
    Before = [P || P <- processes(),
                   proc_lib:translate_initial_call(P) =/= {ferrotp_nif, pool_proxy, 0}],
    Specs = [#{id => I, start => {counter, start_link, [0]}} || I <- lists:seq(1, 4)],
    {ok, Sup} = ferrotp:start_link(supervisor, {#{intensity => 100000, period => 1}, Specs}),
    Until = erlang:monotonic_time(millisecond) + 1500,
    Self = self(),
    Churn = fun Loop(Seen) ->
        case erlang:monotonic_time(millisecond) > Until of
            true ->
                Self ! {seen, Seen};
            false ->
                R = supervisor:restart_child(Sup, rand:uniform(4)),
                _ = supervisor:terminate_child(Sup, rand:uniform(4)),
                Loop([P || {ok, P} <- [R], is_pid(P)] ++ Seen)
        end
    end,
    Kill = fun Loop(Seen) ->
        case erlang:monotonic_time(millisecond) > Until of
            true ->
                Self ! {seen, Seen};
            false ->
                Ps = [P || {_, P, _, _} <- supervisor:which_children(Sup), is_pid(P)],
                [exit(P, kill) || P <- Ps, not lists:member(P, Before)],
                timer:sleep(2),
                Loop(Ps ++ Seen)
        end
    end,
    [spawn_link(fun() -> F([]) end) || F <- [Churn, Churn, Kill]],
    Seen = lists:append([receive {seen, S} -> S after 30000 -> error(no_end) end || _ <- [1, 2, 3]]),
    ?assert(length(Seen) > 0),
    ?assertEqual([], [P || P <- lists:usort(Seen), lists:member(P, Before)]),
    ?assert(ferrotp_nif:pool_size() > 0),
    stop(Sup).

%% More spawns in one poll than the pool holds: the processes with no
%% proxy answer Rust processes, and their pids are no BEAM process's
%% (before, they were <0.1.0>, <0.2.0>, ...: the VM's system processes).
processes_spawned_past_the_pool_are_no_beam_processes() ->
    Before = [P || P <- processes(),
                   proc_lib:translate_initial_call(P) =/= {ferrotp_nif, pool_proxy, 0}],
    {ok, Probe} = ferrotp_nif:start_link(probe, [], []),
    {Answered, Pids} = gen_server:call(Probe, {spawn_many, 200}, 30000),
    ?assertEqual(200, Answered),
    ?assertEqual(200, length(lists:usort(Pids))),
    ?assertEqual([], [P || P <- Pids, lists:member(P, Before)]),
    Unproxied = [P || P <- Pids, not is_process_alive(P)],
    ?assert(length(Unproxied) > 0),
    ?assertEqual([], [P || P <- Unproxied, lists:member(P, processes())]),
    stop(Probe).
