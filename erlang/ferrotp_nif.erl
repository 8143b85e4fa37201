%% @doc ferrotp's NIF mode: Rust processes inside this VM.
%%
%% ```
%% {ok, Pid} = ferrotp_nif:start_link(counter, 0, []),
%% ok = gen_server:cast(Pid, {bump, 2}),
%% 2 = gen_server:call(Pid, value).
%% '''
%%
%% Each Rust process takes the pid of a BEAM process, its proxy: the lean
%% receive loop below. On every message the proxy makes one short NIF call
%% that queues the message for the Rust process and polls it once, on this
%% scheduler (see docs/nif.md for why, with measurements). When the Rust
%% side wakes the process (a message from another Rust process, a timer),
%% the proxy gets `'$ferrotp_poll''. The proxy traps exits: exit signals
%% reach the Rust process, which decides (by its own trap_exit flag) whether
%% it dies. When the Rust process dies, the proxy exits with its reason, so
%% links, monitors and supervisors see what they would of a gen_server; a
%% crash (an error return or a panic) is logged as a gen_server's is.
%%
%% Loads priv/libferrotp_nif.so (built by native/build.sh).
-module(ferrotp_nif).

%% API
-export([start_link/2, start_link/3, start/3, behaviours/0, process_count/0,
         pool_size/0, max_poll_ns/0]).
%% proc_lib entry points
-export([init_it/4, pool_init/1, pool_proxy/0, pool_wait/0, loop/2]).
%% NIFs behind the proxy loop
-export([start_nif/5, init_status/1, adopt/1, gen_call/3, deliver/2, deliver_all/2,
         deliver_dirty/2, exit_signal/4, down/4, poll/1, pool_add/2, request_key/0]).
%% Design measurement (ferrotp_nif_bench)
-export([bench_a_new/1, bench_a_handle/2, bench_b_new/1, bench_b_handle/2, bench_floor/1]).

-on_load(init/0).

-define(NOT_LOADED, erlang:nif_error({not_loaded, ?MODULE})).
-define(POOL, ferrotp_nif_pool).
-define(POOL_BATCH, 64).
%% Most messages handed to a Rust process in one NIF call.
-define(BURST, 64).
%% How long a start waits for a Rust process to switch a debug option on.
-define(DEBUG_WAIT, 1000).
%% Where the key of this VM's requests to proxies is kept (request_key/0).
-define(REQUEST_KEY, {?MODULE, request_key}).
%% A proxy's own data is a few words (the resource and its options), so
%% every garbage collection is a full sweep: as cheap as a minor one here,
%% and it leaves no old heap behind (see docs/nif.md, memory).
-define(PROXY_SPAWN_OPTS, [{fullsweep_after, 0}]).

-type behaviour() :: atom().
-type option() :: {name, atom() | {local, atom()} | {global, term()}
                   | {via, module(), term()}}
                | {hibernate_after, timeout()}
                | {timeout, timeout()}
                | {debug, [sys:debug_option()]}
                | {spawn_opt, [proc_lib:spawn_option()]}.
-export_type([behaviour/0, option/0]).

%%%===================================================================
%%% API
%%%===================================================================

%% @equiv start_link(Behaviour, Arg, [])
-spec start_link(behaviour(), term()) -> {ok, pid()} | {error, term()}.
start_link(Behaviour, Arg) ->
    start_link(Behaviour, Arg, []).

%% @doc Starts Rust behaviour `Behaviour' with init argument `Arg' in this
%% VM, linked to the caller, as `gen_server:start_link/3,4' starts a
%% gen_server: `{ok, Pid}', `{error, {already_started, Pid}}' when the name
%% is taken, `{error, Reason}' when init fails (the process then exits with
%% `Reason'), `{error, timeout}' when init takes longer than the option
%% `{timeout, Ms}' (the process is killed), and for a behaviour that is
%% not registered `{error, {undef, [{Behaviour, start_link, [Arg], []}]}}',
%% as in port and node modes.
-spec start_link(behaviour(), term(), [option()]) -> {ok, pid()} | {error, term()}.
start_link(Behaviour, Arg, Opts) when is_atom(Behaviour), is_list(Opts) ->
    start(start_link, Behaviour, Arg, Opts).

%% @doc As start_link/3, without the link.
-spec start(behaviour(), term(), [option()]) -> {ok, pid()} | {error, term()}.
start(Behaviour, Arg, Opts) when is_atom(Behaviour), is_list(Opts) ->
    start(start, Behaviour, Arg, Opts).

%% proc_lib:start_link/5 or proc_lib:start/5, once the name is known to be
%% free: as gen:start/6, a taken name, or one that is no name, spawns nothing.
start(How, Behaviour, Arg, Opts) ->
    case ferrotp:free_name(proplists:get_value(name, Opts)) of
        ok ->
            ok = ensure_pool(),
            proc_lib:How(?MODULE, init_it, [self(), Behaviour, Arg, Opts],
                         start_timeout(Opts), spawn_opts(Opts));
        Taken ->
            Taken
    end.

%% The start option timeout, as gen_server's: how long init may take
%% before the process is killed and the start returns `{error, timeout}'.
start_timeout(Opts) ->
    proplists:get_value(timeout, Opts, infinity).

%% The proxy's spawn options: the start option spawn_opt (as gen_server's),
%% after the defaults.
spawn_opts(Opts) ->
    ?PROXY_SPAWN_OPTS ++ proplists:get_value(spawn_opt, Opts, []).

%% @doc The behaviours start_link/3 accepts.
-spec behaviours() -> [behaviour()].
behaviours() -> ?NOT_LOADED.

%% @doc How many Rust processes live in this VM.
-spec process_count() -> non_neg_integer().
process_count() -> ?NOT_LOADED.

%% @doc The longest single NIF poll of a Rust process so far (nanoseconds).
-spec max_poll_ns() -> non_neg_integer().
max_poll_ns() -> ?NOT_LOADED.

%% @private The key of this VM's requests to proxies: `{'$ferrotp', Key,
%% Op, ...}' from the Rust side, told apart from look-alike messages.
-spec request_key() -> integer().
request_key() -> ?NOT_LOADED.

%% @doc Idle proxies kept for processes spawned from Rust.
-spec pool_size() -> non_neg_integer().
pool_size() -> ?NOT_LOADED.

%%%===================================================================
%%% The proxy
%%%===================================================================

%% @private
init_it(Starter, Behaviour, Arg, Opts) ->
    process_flag(trap_exit, true),
    %% What proc_lib records for a gen_server of callback module
    %% Behaviour (crash reports and observer show it), not this module.
    put('$initial_call', {Behaviour, init, 1}),
    Name = proplists:get_value(name, Opts),
    case ferrotp:register_name(Name, self()) of
        {error, _} = Taken ->
            proc_lib:init_ack(Starter, Taken),
            exit(normal);
        ok ->
            case start_nif(Behaviour, Arg, self(), Starter, local_name(Name)) of
                {ok, Proc} ->
                    Hib = proplists:get_value(hibernate_after, Opts, infinity),
                    Debug = ferrotp:debug_options(self(), Opts),
                    init_loop(Starter, {Proc, Hib, Debug, Name}, {init, Behaviour, Arg});
                {error, Reason} ->
                    %% As a gen_server whose init returns {stop, Reason}:
                    %% the name is free before the starter hears, and the
                    %% process exits with the reason.
                    init_failed(Starter, Name, {error, Reason}),
                    exit(Reason);
                {stop, Crashed, Reason} ->
                    init_failed(Starter, Name, {error, Reason}),
                    stop(Crashed, Reason, {init, Behaviour, Arg})
            end
    end.

%% gen_server's order when init fails or is ignored: the name is
%% unregistered before the starter is told, so that it may start again
%% under the same name at once.
init_failed(Starter, Name, Return) ->
    unregister_name(Name),
    proc_lib:init_ack(Starter, Return).

%% The name a gen_server would know itself by, if local.
local_name(Name) when is_atom(Name) -> Name;
local_name({local, Name}) -> Name;
local_name(_) -> undefined.

%% gen:unregister_name/1 takes {local, N}, {global, N} or {via, M, N}.
unregister_name(undefined) -> ok;
unregister_name(Name) when is_atom(Name) -> gen:unregister_name({local, Name});
unregister_name(Name) -> gen:unregister_name(Name).

%% The Rust process runs its init (as gen_server's init/1 runs before
%% start_link returns) until it acknowledges: {ok, Pid}, ignore or
%% {error, Reason} to the starter, as proc_lib:init_ack/2 does.
init_loop(Starter, {Proc, Hib, Debug, Name} = State, LastMsg) ->
    case init_status(Proc) of
        ok ->
            [debug_option(Proc, ferrotp:debug_command(D)) || D <- Debug],
            proc_lib:init_ack(Starter, {ok, self()}),
            %% Wait for the first message hibernated: an idle Rust
            %% process costs the BEAM only a minimal heap.
            proc_lib:hibernate(?MODULE, loop, [Proc, Hib]);
        ignore ->
            init_failed(Starter, Name, ignore),
            loop(Proc, Hib);
        {error, Reason} ->
            init_failed(Starter, Name, {error, Reason}),
            loop(Proc, Hib);
        pending ->
            receive
                Msg ->
                    case handle(Msg, Proc) of
                        ok ->
                            init_loop(Starter, State, Msg);
                        {stop, Crashed, Reason} ->
                            init_failed(Starter, Name, {error, Reason}),
                            stop(Crashed, Reason, LastMsg)
                    end
            end
    end.

%% The answer goes to a helper: the proxy's own pid is the Rust process's,
%% so an answer to it would reach the Rust process, not the proxy.
debug_option(Proc, Cmd) ->
    Self = self(),
    Ref = make_ref(),
    Helper = spawn(fun() ->
                           receive {Ref, Answer} -> Self ! {Ref, Answer}
                           after 60000 -> ok
                           end
                   end),
    case send_in(Proc, [{system, {Helper, Ref}, {debug, Cmd}}]) of
        ok -> debug_answer(Proc, Ref, erlang:monotonic_time(millisecond) + ?DEBUG_WAIT);
        _Stopped -> ok
    end,
    exit(Helper, kill).

%% The answer comes once the Rust process has been polled: at once, or
%% after a wake-up ('$ferrotp_poll'); other messages wait for the loop. A
%% Rust process that is not a gen_server never answers: it is not waited
%% for longer than ?DEBUG_WAIT.
debug_answer(Proc, Ref, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Ref, _} ->
            ok;
        '$ferrotp_poll' ->
            case poll(Proc) of
                ok -> debug_answer(Proc, Ref, Deadline);
                _Stopped -> ok
            end
    after Left ->
        ok
    end.

%% @private
%% `Hib': hibernate after that many idle milliseconds (the start option
%% hibernate_after, as gen_server's); infinity (the default) sets no timer.
loop(Proc, Hib) ->
    receive
        {'$gen_call', From, Request} = Msg ->
            %% A gen_server waiting idle answers at once, and the proxy
            %% replies (ferrotp::direct); otherwise the call takes the
            %% ordinary path. First in line: calls are the common case.
            case gen_call(Proc, From, Request) of
                {[alias | Alias], _} = Reply when is_reference(Alias) ->
                    %% reply/2's first clause, inline: a call less per
                    %% round trip, and measurably fewer switches out.
                    Alias ! Reply,
                    loop(Proc, Hib);
                {_Tag, _Reply} = Reply ->
                    reply(From, Reply),
                    loop(Proc, Hib);
                queue ->
                    next(send_in(Proc, [Msg]), Msg, Proc, Hib);
                Step ->
                    next(Step, Msg, Proc, Hib)
            end;
        Msg ->
            next(handle(Msg, Proc), Msg, Proc, Hib)
    after Hib ->
        proc_lib:hibernate(?MODULE, loop, [Proc, Hib])
    end.

next(ok, _Msg, Proc, Hib) -> loop(Proc, Hib);
next({stop, Crashed, Reason}, Msg, _Proc, _Hib) -> stop(Crashed, Reason, Msg);
%% A message the NIF could not read as a Rust term (a ferrotp bug, not the
%% sender's): the Rust process cannot be given it, so it ends with a
%% reason that says so, and a crash report, rather than lose it quietly.
next({error, Why}, Msg, _Proc, _Hib) ->
    stop({crash, []}, {ferrotp_unreadable_message, Why}, Msg).

%% gen:reply/2, inline, with the reply message {Tag, Reply} the NIF built:
%% an OTP 24+ tag's reply goes to its alias (dropped if the caller gave
%% up), any other to the caller's pid.
reply({_To, [alias | Alias]}, Reply) when is_reference(Alias) ->
    Alias ! Reply;
reply({To, _Tag}, Reply) ->
    try To ! Reply catch _:_ -> Reply end.

%% One message: ok while the Rust process lives, {stop, Crashed, Reason}
%% once it has died. Messages the proxy handles itself come first;
%% everything else is the Rust process's.
handle('$ferrotp_poll', Proc) ->
    poll(Proc);
handle({'EXIT', From, Reason}, Proc) ->
    exit_signal(Proc, From, Reason, ferrotp:exit_kind(From, Reason));
handle({'$ferrotp', Key, Op, Arg} = Msg, Proc) ->
    case persistent_term:get(?REQUEST_KEY) of
        Key -> request(Op, Arg);
        _ -> send_in(Proc, [Msg])
    end;
handle({'$ferrotp', Key, Op, Arg1, Arg2} = Msg, Proc) ->
    case persistent_term:get(?REQUEST_KEY) of
        Key -> request(Op, {Arg1, Arg2});
        _ -> send_in(Proc, [Msg])
    end;
handle({'$gen_call', From, Request} = Msg, Proc) ->
    %% A gen_server waiting idle answers at once, and the proxy replies
    %% (ferrotp::direct); otherwise the call takes the ordinary path.
    case gen_call(Proc, From, Request) of
        {_Tag, _Reply} = Reply -> reply(From, Reply), ok;
        queue -> send_in(Proc, [Msg]);
        Step -> Step
    end;
handle({'DOWN', Ref, process, Object, Reason} = Msg, Proc) ->
    case erase({?MODULE, Ref}) of
        undefined ->
            send_in(Proc, [Msg]);
        RustRef ->
            erase({?MODULE, RustRef}),
            down(Proc, RustRef, Object, Reason)
    end;
handle(Msg, Proc) ->
    receive
        Next -> burst(Next, [Msg], ?BURST - 1, Proc)
    after 0 ->
        send_in(Proc, [Msg])
    end.

%% Ordinary messages already waiting go to the Rust process in one NIF call
%% (in order); a message the proxy handles itself ends the burst.
burst(Msg, Acc, 0, Proc) ->
    backlog(),
    case send_in(Proc, lists:reverse(Acc)) of
        ok -> handle(Msg, Proc);
        Stop -> Stop
    end;
burst(Msg, Acc, N, Proc) ->
    case ordinary(Msg) of
        true ->
            receive
                Next -> burst(Next, [Msg | Acc], N - 1, Proc)
            after 0 ->
                caught_up(N),
                send_in(Proc, lists:reverse(Acc, [Msg]))
            end;
        false ->
            case send_in(Proc, lists:reverse(Acc)) of
                ok -> handle(Msg, Proc);
                Stop -> Stop
            end
    end.

%% A flood (a full burst waiting) keeps its messages off the proxy's heap,
%% so garbage collections do not copy the backlog again and again; once it
%% has caught up, messages go on the heap again (cheaper per message). Only
%% a queue the proxy moved itself is moved back (see docs/nif.md).
backlog() ->
    case get('$ferrotp_off_heap') of
        undefined ->
            case process_info(self(), message_queue_data) of
                {message_queue_data, on_heap} ->
                    put('$ferrotp_off_heap', true),
                    process_flag(message_queue_data, off_heap);
                _ ->
                    put('$ferrotp_off_heap', false)
            end;
        _ ->
            ok
    end.

caught_up(N) when N > ?BURST - 8 ->
    case get('$ferrotp_off_heap') of
        true ->
            erase('$ferrotp_off_heap'),
            process_flag(message_queue_data, on_heap);
        _ ->
            ok
    end;
caught_up(_) ->
    ok.

%% Messages into the Rust process: converted on this scheduler, or on a
%% dirty one when too large to convert within about a millisecond.
send_in(Proc, [Msg]) ->
    case deliver(Proc, Msg) of
        {dirty, Rest} -> deliver_dirty(Proc, Rest);
        Step -> Step
    end;
send_in(Proc, Msgs) ->
    case deliver_all(Proc, Msgs) of
        {dirty, Rest} -> deliver_dirty(Proc, Rest);
        Step -> Step
    end.

ordinary('$ferrotp_poll') -> false;
ordinary({'EXIT', _, _}) -> false;
ordinary({'$ferrotp', _, _, _}) -> false;
ordinary({'$ferrotp', _, _, _, _}) -> false;
ordinary({'DOWN', _, process, _, _}) -> false;
ordinary(_) -> true.

%% What the Rust process asked of the BEAM (see host.rs, BeamTransport):
%% the proxy performs it as the process it is.
request(link, Pid) ->
    catch link(Pid),
    ok;
request(unlink, Pid) ->
    unlink(Pid),
    ok;
request(reply, {[alias | Alias], _} = Reply) ->
    %% A reply to an OTP 24+ call tag goes to the alias, as gen:reply/2
    %% sends it: dropped if the caller gave up.
    request(send, {Alias, Reply});
request(send, {Alias, Msg}) ->
    %% `Alias ! Msg` from the Rust process (a NIF cannot send to an alias).
    erlang:send(Alias, Msg),
    ok;
request(exit, {Pid, Reason}) ->
    exit(Pid, Reason),
    ok;
request(apply, {{M, F, A}, Tag}) ->
    %% A Rust supervisor starting an Erlang child: linked to this pid.
    self() ! {'$ferrotp_applied', Tag, catch apply(M, F, A)},
    ok;
request(monitor, {Target, RustRef}) ->
    Ref = erlang:monitor(process, Target),
    put({?MODULE, Ref}, RustRef),
    put({?MODULE, RustRef}, Ref),
    ok;
request(demonitor, RustRef) ->
    case erase({?MODULE, RustRef}) of
        undefined ->
            ok;
        Ref ->
            erase({?MODULE, Ref}),
            erlang:demonitor(Ref, [flush]),
            ok
    end.

%% The Rust process has died: the proxy dies with its reason, once it
%% has done what the Rust process asked of the BEAM before it died.
stop({crash, State}, Reason, LastMsg) ->
    flush_requests(),
    report_crash(Reason, LastMsg, State),
    exit(Reason);
stop(false, Reason, _LastMsg) ->
    flush_requests(),
    case ferrotp:orderly(Reason) of
        true ->
            exit(Reason);
        false ->
            %% Killed by a signal, not crashed: die of the signal, as a
            %% gen_server does, without a crash report.
            ferrotp:exit_as_signal(Reason)
    end.

%% Sends (replies to an alias among them: `sys:terminate/3` and
%% `gen_server:stop/3` wait for one), links and exit signals the Rust
%% process asked for and the proxy has not performed yet: an Erlang
%% process's messages go out before its exit signal, and so do these.
%% Starting a child or monitoring is moot once the process is gone.
flush_requests() ->
    flush_requests(persistent_term:get(?REQUEST_KEY)).

flush_requests(Key) ->
    receive
        {'$ferrotp', Key, Op, Arg} ->
            last_request(Op, Arg),
            flush_requests(Key);
        {'$ferrotp', Key, Op, Arg1, Arg2} ->
            last_request(Op, {Arg1, Arg2}),
            flush_requests(Key)
    after 0 ->
        ok
    end.

last_request(apply, _Arg) -> ok;
last_request(monitor, _Arg) -> ok;
last_request(Op, Arg) -> request(Op, Arg).

%% The report a gen_server logs when it terminates abnormally.
%% `[State]': the Rust gen_server's state as a term, as a gen_server's
%% report shows it; a process with none to show (`[]') reads as the proxy's.
report_crash(Reason, LastMsg, []) ->
    ferrotp:report_crash(Reason, LastMsg, {ferrotp_nif, rust_process});
report_crash(Reason, LastMsg, [State]) ->
    ferrotp:report_crash(Reason, LastMsg, State).

%%%===================================================================
%%% Proxies for processes spawned from Rust
%%%===================================================================

%% A Rust process spawned by Rust code (a Rust supervisor's child) needs a
%% pid before any BEAM code can run: it takes one of these idle proxies,
%% which then adopts it.
ensure_pool() ->
    case whereis(?POOL) of
        undefined ->
            case proc_lib:start(?MODULE, pool_init, [self()]) of
                ok -> ok;
                {error, already_started} -> ok
            end;
        _ ->
            ok
    end.

%% @private
pool_init(Starter) ->
    try register(?POOL, self()) of
        true ->
            refill(),
            proc_lib:init_ack(Starter, ok),
            pool_loop()
    catch
        error:badarg ->
            proc_lib:init_ack(Starter, {error, already_started})
    end.

pool_loop() ->
    receive
        refill -> refill();
        %% A Rust supervisor's report, or a line `sys:trace/2' prints for
        %% a Rust gen_server (see native/nif/src/logger.rs).
        {'$ferrotp_log', {Kind, A, B}} -> ferrotp:log_report(Kind, A, B);
        _ -> ok
    end,
    pool_loop().

%% A batch of idle proxies for the pool, kept by its keeper (whoever makes
%% them: the keeper, or a proxy taken when the pool ran low).
refill() ->
    Pids = [proc_lib:spawn(?MODULE, pool_proxy, []) || _ <- lists:seq(1, ?POOL_BATCH)],
    Keeper = case whereis(?POOL) of
                 undefined -> self();
                 K -> K
             end,
    ok = pool_add(Keeper, Pids).

%% @private
pool_proxy() ->
    %% Idle proxies wait hibernated: a pool costs the BEAM little.
    proc_lib:hibernate(?MODULE, pool_wait, []).

%% @private
pool_wait() ->
    receive
        '$ferrotp_adopt' ->
            adopted();
        '$ferrotp_adopt_refill' ->
            %% The pool ran low as this proxy was taken: it refills it
            %% first, so that proxies come as fast as Rust code takes them.
            refill(),
            adopted()
    end.

adopted() ->
    process_flag(trap_exit, true),
    case adopt(self()) of
        {ok, Proc} -> loop(Proc, infinity);
        {stop, Crashed, Reason} -> stop(Crashed, Reason, '$ferrotp_adopt');
        error -> exit(normal)
    end.

%%%===================================================================
%%% Loading
%%%===================================================================

init() ->
    Path = library(),
    case erlang:load_nif(Path, 0) of
        ok ->
            %% Read once: a proxy checks every request it gets against it.
            persistent_term:put(?REQUEST_KEY, request_key()),
            ok;
        {error, {Why, Text}} ->
            logger:error("ferrotp: cannot load the NIF library ~ts.so (~p: ~ts); "
                         "build it with `bash native/build.sh` (mix compile and "
                         "rebar3 compile run it)", [Path, Why, Text]),
            {error, {Why, Text}}
    end.

%% The library to load: a user's own (ferrotp's NIFs plus their behaviours,
%% see docs/nif.md) named by $FERROTP_NIF_LIBRARY or the application
%% environment's nif_library (a path without the .so), else ferrotp's own.
library() ->
    case os:getenv("FERROTP_NIF_LIBRARY") of
        Path when is_list(Path), Path =/= "" ->
            filename:rootname(Path, ".so");
        _ ->
            case application:get_env(ferrotp, nif_library) of
                {ok, Path} -> filename:rootname(unicode:characters_to_list(Path), ".so");
                undefined -> filename:join(priv_dir(), "libferrotp_nif")
            end
    end.

%% code:priv_dir(ferrotp) when the application is known to the code server;
%% otherwise the repository's priv/, found above this module's .beam,
%% its source file, or the current directory.
priv_dir() ->
    case code:priv_dir(ferrotp) of
        {error, bad_name} ->
            {ok, Cwd} = file:get_cwd(),
            Starts = [filename:dirname(filename:absname(code:which(?MODULE))),
                      filename:dirname(filename:absname(?FILE)), Cwd],
            case [D || S <- Starts, {ok, D} <- [repo_priv(S)]] of
                [Dir | _] -> Dir;
                [] -> "priv"
            end;
        Dir ->
            Dir
    end.

repo_priv(Dir) ->
    Candidate = filename:join(Dir, "priv"),
    case filelib:is_regular(filename:join(Candidate, "libferrotp_nif.so")) of
        true -> {ok, Candidate};
        false ->
            case filename:dirname(Dir) of
                Dir -> error;
                Up -> repo_priv(Up)
            end
    end.

%%%===================================================================
%%% NIFs (replaced on load)
%%%===================================================================

%% @private
start_nif(_Behaviour, _Arg, _Self, _Parent, _LocalName) -> ?NOT_LOADED.
%% @private
init_status(_Proc) -> ?NOT_LOADED.
%% @private
adopt(_Self) -> ?NOT_LOADED.
%% @private
gen_call(_Proc, _From, _Request) -> ?NOT_LOADED.
%% @private
deliver(_Proc, _Msg) -> ?NOT_LOADED.
%% @private
deliver_all(_Proc, _Msgs) -> ?NOT_LOADED.
%% @private
deliver_dirty(_Proc, _Msgs) -> ?NOT_LOADED.
%% @private
exit_signal(_Proc, _From, _Reason, _Kind) -> ?NOT_LOADED.
%% @private
down(_Proc, _Ref, _Object, _Reason) -> ?NOT_LOADED.
%% @private
poll(_Proc) -> ?NOT_LOADED.
%% @private
pool_add(_Keeper, _Pids) -> ?NOT_LOADED.
%% @private
bench_a_new(_Count) -> ?NOT_LOADED.
%% @private
bench_a_handle(_Counter, _Msg) -> ?NOT_LOADED.
%% @private
bench_b_new(_Count) -> ?NOT_LOADED.
%% @private
bench_b_handle(_Counter, _Msg) -> ?NOT_LOADED.

bench_floor(_From) -> ?NOT_LOADED.
