%% @doc The BEAM side of one Rust process hosted in a port program.
%%
%% A proxy is an ordinary Erlang process that stands for a Rust process:
%% its pid is the one Erlang code uses, and it forwards everything it gets
%% into the port program, so the Rust process answers `gen_server:call/3',
%% `gen_server:cast/2', `sys' messages and exit signals exactly as an
%% Erlang process would. When the Rust process ends, its proxy ends with
%% the same reason, so links and monitors on the BEAM side see the true
%% reason (`normal', `shutdown', `killed', `{bad_cast, ...}').
%%
%% What a proxy does with what it receives:
%%
%% | received                              | frame written to the port             |
%% |---------------------------------------|---------------------------------------|
%% | any message `Msg'                     | `SEND {2, '''', X}' + `Msg'            |
%% | `exit(Proxy, Reason)' (`exit/2')       | `PAYLOAD_EXIT2 {26, From, X}' + `Reason' |
%% | `{''EXIT'', From, Reason}' of a link     | `LINK {1, From, X}', `PAYLOAD_EXIT {24, From, X}' + `Reason' |
%% | `exit(Proxy, kill)'                   | (the proxy dies; the host sends `PAYLOAD_EXIT2 kill') |
%%
%% A proxy traps exits, so both kinds of exit signal reach it as
%% `{''EXIT'', From, Reason}'; it tells them apart by its links (see
%% `exit_kind/2') and forwards each as what it was, so the Rust process
%% acts as an Erlang process would: `kill' kills it even when it traps
%% exits (`killed'), `normal' from another process is ignored unless it
%% traps exits, and a trapping one gets `{''EXIT'', From, Reason}' with
%% `From' the sender. A link exit is forwarded with a `LINK' first: the
%% link may exist on the BEAM side only (`link(Proxy)' from Erlang).
%%
%% What the host tells a proxy (`{'$ferrotp_port', Host, Command}'):
%% `{register, Name, Ref}' (before ready), `{ready, X}', `{exit, Reason}',
%% `{link, Pid}', `{unlink, Pid}', `{exit2, Pid, Reason}' (the Rust process
%% called `exit(Pid, Reason)'), `{apply, M, F, Args, ReqId}' (a Rust
%% supervisor starts an Erlang child).
-module(ferrotp_proxy).

-export([start/4, init/4, register_name/2]).

-define(TAG, '$ferrotp_port').

%% @doc Spawns a proxy linked to `Host' (the caller), and to `Parent'
%% unless it is `none'. It waits for `{ready, X}' before forwarding.
-spec start(pid(), port(), ets:tid(), pid() | none) -> pid().
start(Host, Port, Tab, Parent) ->
    spawn_link(?MODULE, init, [Host, Port, Tab, Parent]).

%% @private
init(Host, Port, Tab, Parent) ->
    process_flag(trap_exit, true),
    case Parent of
        none -> ok;
        _ -> link(Parent)
    end,
    wait_ready(Host, Port, Tab).

%% Before the Rust process is ready the host may ask the proxy to take the
%% start option {name, Name}: the proxy registers itself, as a gen_server
%% does (some registries take only the calling process).
wait_ready(Host, Port, Tab) ->
    receive
        {?TAG, Host, {ready, X}} ->
            Send = term_to_binary({2, '', X}),
            loop(#{host => Host, port => Port, tab => Tab, x => X, send => Send});
        {?TAG, Host, {register, Name, Ref}} ->
            Host ! {Ref, ferrotp:register_name(Name, self())},
            wait_ready(Host, Port, Tab);
        {?TAG, Host, {exit, Reason}} ->
            exit(Reason)
    end.

%% @doc Has proxy `P' (started by the calling host, not ready yet) register
%% itself under `Name' (`undefined': none); what ferrotp:register_name/2
%% returned there.
-spec register_name(pid(), term()) -> ok | {error, term()}.
register_name(_P, undefined) ->
    ok;
register_name(P, Name) ->
    Ref = monitor(process, P),
    P ! {?TAG, self(), {register, Name, Ref}},
    receive
        {Ref, Result} ->
            demonitor(Ref, [flush]),
            Result;
        {'DOWN', Ref, process, P, Reason} ->
            {error, Reason}
    end.

loop(#{host := Host, port := Port, tab := Tab, x := X, send := Send} = S) ->
    receive
        {?TAG, Host, Command} ->
            command(Command, S),
            loop(S);
        {'EXIT', Host, Reason} ->
            exit({port_closed, Reason});
        {'EXIT', From, Reason} ->
            F = ferrotp_port_pids:to_port(Tab, From),
            R = ferrotp_port_pids:to_port(Tab, Reason),
            case exit_kind(From, Reason) of
                exit2 ->
                    write(Port, [term_to_binary({26, F, X}) | term_to_binary(R)]);
                link ->
                    write(Port, term_to_binary({1, F, X})),
                    write(Port, [term_to_binary({24, F, X}) | term_to_binary(R)])
            end,
            loop(S);
        Msg ->
            write(Port, [Send | term_to_binary(ferrotp_port_pids:to_port(Tab, Msg))]),
            loop(S)
    end.

command({exit, Reason}, _S) ->
    exit(Reason);
command({link, Pid}, _S) ->
    catch link(Pid);
command({unlink, Pid}, _S) ->
    unlink(Pid);
command({exit2, Pid, Reason}, _S) ->
    catch exit(Pid, Reason);
command({apply, M, F, Args, ReqId}, #{port := Port, tab := Tab, x := X}) ->
    %% A Rust supervisor starts an Erlang child: the child links to this
    %% proxy, as an OTP supervisor's children link to the supervisor.
    Returned = (catch apply(M, F, Args)),
    Reply = {31, ReqId, X, 1, ferrotp_port_pids:to_port(Tab, Returned)},
    write(Port, term_to_binary(Reply));
command(_Other, _S) ->
    ok.

%% Whether `{'EXIT', From, Reason}' (this proxy traps exits) came from
%% `exit(Self, Reason)' or from the death of a linked process. The BEAM
%% removes a link when its exit signal arrives, and sends one only when
%% the linked process ends: so `From' still linked, or still alive, sent
%% `exit/2'. `kill' never comes from `exit/2' (it kills the proxy). A
%% process that sent `exit/2' and died at once reads as a link exit, which
%% the Rust process handles the same way (see the module doc).
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

%% A closed port means the host is ending, and this proxy with it.
write(Port, Frame) ->
    try
        erlang:port_command(Port, Frame)
    catch
        error:badarg -> ok
    end.
