%% @doc Rust processes on a hidden Rust node (`ferrotp node').
%%
%% ```
%% {ok, C} = ferrotp_node:start_link('rust@host', counter, 0, []),
%% 0 = gen_server:call(C, value).
%% '''
%%
%% The Rust node runs a registered `ferrotp' service; a start is a
%% `gen_server:call({ferrotp, Node}, {start_link, Caller, Behaviour, Arg,
%% Opts})'. The new Rust process links to `Caller' before its init runs and
%% takes it as its OTP parent, and the call returns once init is done, as
%% `proc_lib:start_link' does. So `{ferrotp, start_link, [Node, counter, 0]}'
%% is a valid start of an OTP child spec: the supervisor is the parent,
%% `terminate_child' sends `shutdown', a crash is restarted.
%%
%% `Opts': `{name, Name}' registers the process as `Name' on the Rust
%% node (reach it as `{Name, Node}').
-module(ferrotp_node).

-export([start_link/4, service/1, supervised/4, applied/5]).

%% @doc Starts `Behaviour' with init argument `Arg' on Rust node `Node',
%% linked to the caller. `{error, {nodedown, Node}}' when the node cannot
%% be reached, `{error, noproc}' when it runs no `ferrotp' service.
-spec start_link(node(), atom(), term(), [{name, term()} | {debug, list()}]) ->
    {ok, pid()} | ignore | {error, term()}.
start_link(Node, Behaviour, Arg, Opts)
  when is_atom(Node), is_atom(Behaviour), is_list(Opts) ->
    %% A local name is the Rust node's own; a global or via name is
    %% registered here, on the BEAM side, for the new pid.
    case proplists:get_value(name, Opts) of
        undefined ->
            start_remote(Node, Behaviour, Arg, Opts);
        Name when is_atom(Name) ->
            start_remote(Node, Behaviour, Arg, Opts);
        {local, Name} when is_atom(Name) ->
            start_remote(Node, Behaviour, Arg, [{name, Name} | proplists:delete(name, Opts)]);
        {global, Key} = Name ->
            start_link_named(Node, Behaviour, Arg, Opts, Name, global, Key);
        {via, Mod, Key} = Name when is_atom(Mod) ->
            start_link_named(Node, Behaviour, Arg, Opts, Name, Mod, Key);
        Bad ->
            {error, {bad_name, Bad}}
    end.

%% A taken name is refused before the Rust process starts (as gen_server
%% refuses it before init/1 runs); one taken meanwhile, after.
start_link_named(Node, Behaviour, Arg, Opts, Name, Registry, Key) ->
    case Registry:whereis_name(Key) of
        Pid when is_pid(Pid) ->
            {error, {already_started, Pid}};
        undefined ->
            case start_remote(Node, Behaviour, Arg, proplists:delete(name, Opts)) of
                {ok, Pid} ->
                    case ferrotp:register_name(Name, Pid) of
                        ok ->
                            {ok, Pid};
                        {error, _} = Taken ->
                            unlink(Pid),
                            exit(Pid, kill),
                            Taken
                    end;
                Other ->
                    Other
            end
    end.

%% The node takes the options {name, Name} and {timeout, Ms} (an init
%% still running then is killed, and the start is {error, timeout}); others
%% a gen_server takes (hibernate_after, spawn_opt) mean nothing to it and
%% are left out, as gen ignores options it does not know.
start_remote(Node, Behaviour, Arg, Opts) ->
    Known = [{name, N} || {name, N} <- Opts] ++
        [{timeout, T} || {timeout, T} <- Opts, is_integer(T), T >= 0],
    Request = {start_link, self(), Behaviour, Arg, Known},
    try
        gen_server:call(service(Node), Request, infinity)
    catch
        exit:{{nodedown, N}, _} -> {error, {nodedown, N}};
        exit:{noproc, _} -> {error, noproc};
        exit:{Reason, _} -> {error, Reason}
    end.

%% @doc The start service on `Node'.
-spec service(node()) -> {ferrotp, node()}.
service(Node) ->
    {ferrotp, Node}.

%% @private Spawned (linked) on this node by a Rust supervisor for a child
%% whose start `{M, F, A}' is Erlang code: starts it here and stands
%% between the two as `supervisor_bridge' does. Reports
%% `{ferrotp_started, self(), Result}' to the supervisor; then exits with
%% the child's reason, passes the supervisor's exit signals on to the
%% child, and forwards every other message to it (so calls reach it).
-spec supervised(pid(), module(), atom(), [term()]) -> no_return().
supervised(Sup, M, F, A) ->
    process_flag(trap_exit, true),
    case whereis(user) of
        undefined -> ok;
        User -> group_leader(User, self())
    end,
    Result = (catch apply(M, F, A)),
    Sup ! {ferrotp_started, self(), Result},
    case Result of
        {ok, Pid} when is_pid(Pid) -> bridge(Sup, Pid);
        {ok, Pid, _Info} when is_pid(Pid) -> bridge(Sup, Pid);
        _ -> exit(normal)
    end.

%% @private Spawned on this node for a Rust process that needs Erlang code
%% run here (the fun of `sys:replace_state/2'): sends it the value of
%% `catch apply(M, F, A)' as `{'$ferrotp_applied', Ref, Value}' (the
%% reply the NIF's and the port's proxies send for the same request).
-spec applied(pid(), reference(), module(), atom(), [term()]) -> ok.
applied(Caller, Ref, M, F, A) ->
    Caller ! {'$ferrotp_applied', Ref, catch apply(M, F, A)},
    ok.

bridge(Sup, Pid) ->
    receive
        {'EXIT', Pid, Reason} ->
            exit(Reason);
        {'EXIT', Sup, Reason} ->
            exit(Pid, Reason),
            receive {'EXIT', Pid, R} -> exit(R) end;
        {'EXIT', _, _} ->
            bridge(Sup, Pid);
        Msg ->
            Pid ! Msg,
            bridge(Sup, Pid)
    end.
