%% @doc ferrotp from Erlang: start Rust processes that behave as gen_servers.
%%
%% ```
%% {ok, Host} = ferrotp_port:start_link(#{}),
%% {ok, C} = ferrotp:start_link(Host, counter, 0),       % in a port program
%% {ok, N} = ferrotp:start_link('rust@host', counter, 0), % on a Rust node
%% {ok, V} = ferrotp:start_link(counter, 0).             % in this VM (NIF)
%% '''
%%
%% Every pid returned is linked to the caller and answers `gen_server:call/3',
%% `gen_server:cast/2', `sys:get_state/1', `gen_server:stop/1', monitors,
%% links and `exit(Pid, kill)'; `{ferrotp, start_link, [Where, counter, 0]}'
%% works as the start of an OTP child spec.
%%
%% Where a process runs is chosen by `Where': a port host ({@link
%% ferrotp_port}: its pid, or the name it is registered under), a node
%% name (an atom with `@': a Rust node), or nothing (this VM, through the
%% NIF). Each mode has its own internal function below.
-module(ferrotp).

-export([start_link/2, start_link/3, start_link/4]).
-export([apply_state_fun/2, register_name/2, where/1, free_name/1, debug_options/2,
         debug_command/1,
         report_crash/3, log_report/3, trace_line/2, exit_kind/2, orderly/1,
         exit_as_signal/1]).

-type behaviour() :: atom().
-type where() :: pid() | node().
-type option() :: {name, atom()} | {local, atom()} | {debug, [sys:debug_option()]}.
-export_type([behaviour/0, where/0, option/0]).

%%%===================================================================
%%% API
%%%===================================================================

%% @doc Starts `Behaviour' with init argument `Arg' in this VM (NIF mode).
-spec start_link(behaviour(), term()) -> {ok, pid()} | {error, term()}.
start_link(Behaviour, Arg) when is_atom(Behaviour) ->
    start_link_nif(Behaviour, Arg, []).

%% @equiv start_link(Where, Behaviour, Arg, [])
-spec start_link(where(), behaviour(), term()) -> {ok, pid()} | {error, term()}.
start_link(Where, Behaviour, Arg) ->
    start_link(Where, Behaviour, Arg, []).

%% @doc Starts `Behaviour' with `Arg' at `Where' (a port host pid or
%% registered name, or a Rust node name), linked to the caller. `Opts':
%% `{name, Name}' registers the pid locally; `{debug, Dbgs}' switches
%% `sys' debug options on, as gen_server's start option does.
-spec start_link(where(), behaviour(), term(), [option()]) ->
    {ok, pid()} | {error, term()}.
start_link(Host, Behaviour, Arg, Opts) when is_pid(Host), is_atom(Behaviour), is_list(Opts) ->
    case port_host(Host) of
        true -> start_link_port(Host, Behaviour, Arg, Opts);
        false -> {error, {not_a_port_host, Host}}
    end;
start_link(Name, Behaviour, Arg, Opts) when is_atom(Name), is_atom(Behaviour), is_list(Opts) ->
    case lists:member($@, atom_to_list(Name)) of
        true ->
            start_link_node(Name, Behaviour, Arg, Opts);
        false ->
            %% A registered port host.
            case whereis(Name) of
                undefined -> {error, {no_such_host, Name}};
                Host ->
                    case port_host(Host) of
                        true -> start_link_port(Host, Behaviour, Arg, Opts);
                        false -> {error, {not_a_port_host, Name}}
                    end
            end
    end.

%%%===================================================================
%%% Shared by the modes (this module loads no NIF, so port and node
%%% modes need nothing else)
%%%===================================================================

%% @private The start option {debug, Dbgs}, as gen_server's (sys:debug_options/1):
%% each option is switched on with the system message sys would send
%% (`{debug, Command}'), and its answer awaited, before start_link returns.
%% An option a Rust process does not know it answers `unknown_debug'.
-spec debug_command(sys:debug_option()) -> term().
debug_command(trace) -> {trace, true};
debug_command(log) -> {log, true};
debug_command({log, N}) -> {log, {true, N}};
debug_command(statistics) -> {statistics, true};
debug_command(Other) -> Other.

%% @private The start option {debug, Dbgs} as gen reads it (gen:debug_options/2): a
%% list, else an error report and no options, and the start goes on.
-spec debug_options(pid(), list()) -> [sys:debug_option()].
debug_options(Who, Opts) ->
    case proplists:get_value(debug, Opts, []) of
        Dbgs when is_list(Dbgs) ->
            Dbgs;
        Bad ->
            error_logger:format("~tp: ignoring erroneous debug options - ~tp~n", [Who, Bad]),
            []
    end.

%% @private The start option `{name, Name}' for a Rust process's pid, as
%% gen_server registers: `Name' or `{local, Name}', `{global, Name}',
%% `{via, Module, Name}'. `{error, {already_started, Pid}}' when the name is
%% taken; `{error, {bad_name, Name}}' for anything else (gen_server raises
%% in the caller; here the start returns it, and the host stays up). Call
%% it from `Pid' itself where that matters (a via module such as Elixir's
%% Registry registers only the calling process), as gen_server does.
-spec register_name(term(), pid()) -> ok | {error, term()}.
register_name(undefined, _Pid) ->
    ok;
register_name(Name, Pid) when is_atom(Name) ->
    register_name({local, Name}, Pid);
register_name({local, Name}, Pid) when is_atom(Name) ->
    try register(Name, Pid) of
        true -> ok
    catch
        error:badarg -> {error, {already_started, whereis(Name)}}
    end;
register_name({global, Name}, Pid) ->
    via_register(global, Name, Pid);
register_name({via, Mod, Name}, Pid) when is_atom(Mod) ->
    via_register(Mod, Name, Pid);
register_name(Name, _Pid) ->
    {error, {bad_name, Name}}.

%% @private The pid registered under the start option `{name, Name}', if
%% any: what gen:start/6 checks before it spawns anything, so a start with
%% a taken name returns `{error, {already_started, Pid}}' and leaves no
%% process behind (and no `'EXIT'' for a caller that traps exits). A name
%% that is not one, or a via module that cannot say, reads as free: the
%% registration itself then answers.
-spec where(term()) -> pid() | undefined.
where(Name) when is_atom(Name), Name =/= undefined ->
    whereis(Name);
where({local, Name}) when is_atom(Name) ->
    whereis(Name);
where({global, Name}) ->
    global:whereis_name(Name);
where({via, Mod, Name}) when is_atom(Mod) ->
    try Mod:whereis_name(Name) of
        Pid when is_pid(Pid) -> Pid;
        _ -> undefined
    catch
        _:_ -> undefined
    end;
where(_) ->
    undefined.

%% @private What gen:start/6 checks before it spawns anything, for the
%% start option `{name, Name}': `ok' when there is no name or it is free,
%% `{error, {already_started, Pid}}' when it is taken, and `{error,
%% {bad_name, Name}}' for something that is not a name (gen_server raises
%% in the caller; here the start returns it). Either way nothing is
%% spawned, so a caller trapping exits gets no 'EXIT' from a start that
%% never began.
-spec free_name(term()) -> ok | {error, term()}.
free_name(undefined) ->
    ok;
free_name(Name) ->
    case is_name(Name) of
        false ->
            {error, {bad_name, Name}};
        true ->
            case where(Name) of
                undefined -> ok;
                Pid -> {error, {already_started, Pid}}
            end
    end.

is_name(Name) when is_atom(Name) -> true;
is_name({local, Name}) -> is_atom(Name);
is_name({global, _}) -> true;
is_name({via, Mod, _}) -> is_atom(Mod);
is_name(_) -> false.

%% A registry module's register_name/2 may refuse by raising (Elixir's
%% Registry takes only the calling process): that is an error of this
%% start, not of whoever calls it.
via_register(Mod, Name, Pid) ->
    try Mod:register_name(Name, Pid) of
        yes -> ok;
        no -> {error, {already_started, Mod:whereis_name(Name)}}
    catch
        _:Reason -> {error, Reason}
    end.

%% @private The report a gen_server logs when it terminates abnormally
%% (gen_server's error_info), logged by a Rust process's pid (its proxy,
%% in NIF and port modes), so Logger and Elixir's translator show a Rust
%% crash as they show a GenServer's. `LastMsg' is the last message the
%% proxy handed the Rust process; it is reported as gen_server reports it:
%% a call's request (with the caller as client_info), `[]' for a `sys'
%% terminate (gen_server:stop/1,3), else the message.
-spec report_crash(term(), term(), term()) -> ok.
report_crash(Reason, LastMsg, State) ->
    Name = case process_info(self(), registered_name) of
               {registered_name, N} -> N;
               _ -> self()
           end,
    {Message, From} = last_message(LastMsg),
    %% Logged where gen_server logs it (its mfa, not this function's), so
    %% Logger filters and handlers that look for gen_server's report find it.
    logger:error(#{label => {gen_server, terminate},
                   name => Name,
                   last_message => Message,
                   state => State,
                   log => [],
                   reason => Reason,
                   client_info => client_info(From)},
                 #{domain => [otp],
                   mfa => {gen_server, error_info, 8},
                   report_cb => fun gen_server:format_log/2,
                   error_logger => #{tag => error,
                                     report_cb => fun gen_server:format_log/1}}).

last_message({'$gen_call', {Pid, _Tag}, Request}) when is_pid(Pid) -> {Request, Pid};
last_message({system, _From, {terminate, _Reason}}) -> {[], undefined};
last_message(Msg) -> {Msg, undefined}.

%% Who called, as gen_server reports the client of the call that crashed
%% it: its stack if it is a live local process, `dead' or `remote'.
client_info(undefined) ->
    undefined;
client_info(Pid) when node(Pid) =/= node() ->
    {Pid, remote};
client_info(Pid) ->
    case process_info(Pid, [current_stacktrace, registered_name]) of
        undefined -> {Pid, dead};
        [{current_stacktrace, Stack}, {registered_name, []}] -> {Pid, {Pid, Stack}};
        [{current_stacktrace, Stack}, {registered_name, Name}] -> {Pid, {Name, Stack}}
    end.

%% @private Whether `{'EXIT', From, Reason}', received by a proxy (which
%% traps exits to stand for its Rust process), came from `exit(Proxy,
%% Reason)' (`exit2') or from the death of a linked process (`link'); the
%% Rust process then acts as an Erlang process would on that signal. The
%% BEAM removes a link when its exit signal arrives, and sends one only
%% when the linked process ends: so `From' still linked, or still alive,
%% sent `exit/2'. `kill' never comes from `exit/2' (it kills the proxy,
%% trapping or not). A process that sent `exit/2' and died at once reads
%% as a link exit.
-spec exit_kind(pid() | port(), term()) -> link | exit2.
exit_kind(_From, kill) ->
    link;
exit_kind(From, _Reason) when is_pid(From) ->
    {links, Links} = process_info(self(), links),
    case lists:member(From, Links) of
        true -> exit2;
        false when node(From) =:= node() ->
            case is_process_alive(From) of
                true -> exit2;
                false -> link
            end;
        false -> link
    end;
exit_kind(_Port, _Reason) ->
    link.

%% @private Whether `Reason' ends a process without a crash report:
%% `normal', `shutdown', `{shutdown, _}'.
-spec orderly(term()) -> boolean().
orderly(normal) -> true;
orderly(shutdown) -> true;
orderly({shutdown, _}) -> true;
orderly(_) -> false.

%% @private Ends the calling proxy (which traps exits) with `Reason' as an
%% exit signal would, so proc_lib logs no crash report: the Rust process
%% died of that signal, and a gen_server dies of it without one. `kill'
%% from a link (a linked process exited with reason kill) is an ordinary
%% reason, and the process dies with `kill', where exit(self(), kill)
%% would make it `killed': a linked helper that exits with it sends it.
-spec exit_as_signal(term()) -> no_return().
exit_as_signal(Reason) ->
    process_flag(trap_exit, false),
    case Reason of
        kill -> spawn_link(fun() -> exit(kill) end);
        _ -> exit(self(), Reason)
    end,
    receive after infinity -> ok end.

%% @private A Rust supervisor's or gen_server's report (from the NIF's
%% pool keeper, or a port host), logged as supervisor and gen_server log
%% theirs, with the server's pid as the event's: `supervisor_report' with
%% its context, `progress', or `no_handle_info' with the server's pid.
-spec log_report(supervisor_report | progress | no_handle_info | trace, term(), term()) -> ok.
log_report(supervisor_report, Context, Report) ->
    logger:error(#{label => {supervisor, Context}, report => Report},
                 report_meta(Report, "SUPERVISOR REPORT",
                             #{tag => error_report, type => supervisor_report,
                               report_cb => fun supervisor:format_log/1}));
log_report(progress, progress, Report) ->
    logger:info(#{label => {supervisor, progress}, report => Report},
                report_meta(Report, "PROGRESS REPORT",
                            #{tag => info_report, type => progress,
                              report_cb => fun supervisor:format_log/1}));
log_report(no_handle_info, Pid, Msg) ->
    %% As gen_server logs it for a callback module without handle_info/2:
    %% the module is the behaviour the proxy was started as.
    Module = case process_info(Pid, dictionary) of
                 {dictionary, Dict} ->
                     element(1, proplists:get_value('$initial_call', Dict, {undefined, init, 1}));
                 undefined ->
                     undefined
             end,
    logger:warning(#{label => {gen_server, no_handle_info}, module => Module, message => Msg},
                   #{domain => [otp],
                     report_cb => fun gen_server:format_log/2,
                     error_logger => #{tag => warning_msg,
                                       report_cb => fun gen_server:format_log/1},
                     pid => Pid});
log_report(trace, Name, Event) ->
    %% Where a gen_server's trace goes: standard_io (here, the logging
    %% process's group leader), or `user' once that has gone: the logging
    %% process (a port host, the NIF's pool keeper) must not die of it.
    Line = trace_line(Name, Event),
    try
        io:put_chars(Line)
    catch
        _:_ -> catch io:put_chars(user, Line), ok
    end;
log_report(_Kind, _Context, _Report) ->
    ok.

%% @private The line `sys:trace/2' prints for `Event' of the gen_server
%% `Name', worded as gen_server's print_event/3 words it.
-spec trace_line(term(), term()) -> iolist().
trace_line(Name, {in, {'$gen_call', {From, _Tag}, Call}}) ->
    io_lib:format("*DBG* ~tp got call ~tp from ~tw~n", [Name, Call, From]);
trace_line(Name, {in, {'$gen_cast', Cast}}) ->
    io_lib:format("*DBG* ~tp got cast ~tp~n", [Name, Cast]);
trace_line(Name, {in, Msg}) ->
    io_lib:format("*DBG* ~tp got ~tp~n", [Name, Msg]);
trace_line(Name, {out, Msg, {To, _Tag}, State}) ->
    io_lib:format("*DBG* ~tp sent ~tp to ~tw, new state ~tp~n", [Name, Msg, To, State]);
trace_line(Name, {noreply, State}) ->
    io_lib:format("*DBG* ~tp new state ~tp~n", [Name, State]);
trace_line(Name, Event) ->
    io_lib:format("*DBG* ~tp dbg  ~tp~n", [Name, Event]).

report_meta(Report, Title, ErrorLogger) ->
    Meta = #{domain => [otp, sasl],
             report_cb => fun supervisor:format_log/2,
             logger_formatter => #{title => Title},
             error_logger => ErrorLogger},
    case supervisor_pid(proplists:get_value(supervisor, Report)) of
        Pid when is_pid(Pid) -> Meta#{pid => Pid};
        _ -> Meta
    end.

supervisor_pid({local, Name}) -> whereis(Name);
supervisor_pid({Pid, _Module}) when is_pid(Pid) -> Pid;
supervisor_pid(_) -> undefined.

%% @private `sys:replace_state(Pid, Fun)' on a Rust process: the Rust
%% side has this run on the BEAM (by its proxy, port host, or a process
%% spawned on the peer node) with its state as a term, and takes `New'
%% as its state. `{error, {Class, Reason}}' when `Fun' raised: the Rust
%% process answers what a gen_server answers then.
-spec apply_state_fun(fun((term()) -> term()), term()) ->
    {ok, term()} | {error, {error | exit | throw, term()}}.
apply_state_fun(Fun, State) ->
    try
        {ok, Fun(State)}
    catch
        Class:Reason -> {error, {Class, Reason}}
    end.

%%%===================================================================
%%% Internal: one function per mode
%%%===================================================================

%% Whether `Host' is a port host (a ferrotp_port gen_server): a start
%% request would leave the caller waiting on any other process, or crash
%% it. A host on another node, or one that has just died, is asked, and
%% answers (or fails) for itself.
port_host(Host) when node(Host) =/= node() ->
    true;
port_host(Host) ->
    case erlang:process_info(Host, dictionary) of
        {dictionary, Dict} ->
            proplists:get_value('$initial_call', Dict) =:= {ferrotp_port, init, 1};
        undefined ->
            true
    end.

%% Port mode: a Rust process in the port program `Host' runs.
start_link_port(Host, Behaviour, Arg, Opts) ->
    case free_name(proplists:get_value(name, Opts)) of
        ok ->
            Started = ferrotp_port:start_child(Host, Behaviour, Arg,
                                               proplists:delete(debug, Opts), self()),
            debug(Started, Opts);
        Taken ->
            Taken
    end.

%% Node mode: a Rust process on a hidden Rust node (`ferrotp node').
start_link_node(Node, Behaviour, Arg, Opts) ->
    debug(ferrotp_node:start_link(Node, Behaviour, Arg, proplists:delete(debug, Opts)), Opts).

%% The start option {debug, Dbgs} for a Rust process in a port program or
%% on a Rust node, as gen_server's: each option is switched on with `sys'
%% before start_link returns. (Through the NIF, the proxy does it.)
debug({ok, Pid} = Started, Opts) ->
    %% A Rust process that is not a gen_server does not answer `sys':
    %% its start still succeeds (after a second), as the option means
    %% nothing to it. `gen:call/4' is what `sys' sends system messages with.
    [catch gen:call(Pid, system, {debug, debug_command(D)}, 1000)
     || D <- debug_options(Pid, Opts)],
    Started;
debug(Other, _Opts) ->
    Other.

%% NIF mode: a Rust process inside this VM.
start_link_nif(Behaviour, Arg, Opts) ->
    ferrotp_nif:start_link(Behaviour, Arg, Opts).
