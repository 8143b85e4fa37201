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
-export([apply_state_fun/2, register_name/2, debug_options/2, debug_command/1]).

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
    start_link_port(Host, Behaviour, Arg, Opts);
start_link(Name, Behaviour, Arg, Opts) when is_atom(Name), is_atom(Behaviour), is_list(Opts) ->
    case lists:member($@, atom_to_list(Name)) of
        true ->
            start_link_node(Name, Behaviour, Arg, Opts);
        false ->
            %% A registered port host.
            case whereis(Name) of
                Host when is_pid(Host) -> start_link_port(Host, Behaviour, Arg, Opts);
                undefined -> {error, {no_such_host, Name}}
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

%% Port mode: a Rust process in the port program `Host' runs.
start_link_port(Host, Behaviour, Arg, Opts) ->
    Started = ferrotp_port:start_child(Host, Behaviour, Arg, proplists:delete(debug, Opts), self()),
    debug(Started, Opts).

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
