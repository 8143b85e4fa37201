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
%% `ferrotp:exit_kind/2') and forwards each as what it was, so the Rust process
%% acts as an Erlang process would: `kill' kills it even when it traps
%% exits (`killed'), `normal' from another process is ignored unless it
%% traps exits, and a trapping one gets `{''EXIT'', From, Reason}' with
%% `From' the sender. A link exit is forwarded with a `LINK' first: the
%% link may exist on the BEAM side only (`link(Proxy)' from Erlang).
%%
%% What the host tells a proxy (`{'$ferrotp_port', Host, Command}'):
%% `{register, Name, Ref}' (before ready), `{ready, X}', `{exit, Reason}'
%% (the Rust process ended), `{host_down, Reason}' (the host or program did),
%% `{link, Pid}', `{unlink, Pid}', `{exit2, Pid, Reason}' (the Rust process
%% called `exit(Pid, Reason)'), `{apply, X, M, F, Args, ReqId}' (a Rust
%% supervisor starts an Erlang child). The last four also before `ready':
%% the Rust process is in its init, which acts as this pid.
%%
%% A proxy is `proc_lib'-spawned and reads as a gen_server of callback
%% module `Behaviour' does: `process_info(P, initial_call)' is `{proc_lib,
%% init_p, 5}', `proc_lib:initial_call(P)' is `{Behaviour, init, [_]}' and
%% its `$ancestors' start with the caller of `ferrotp:start_link'. A proxy
%% for a process that Rust spawned itself has no `$initial_call': the BEAM
%% does not know its behaviour.
%%
%% When the Rust process ends abnormally, the proxy logs gen_server's
%% `{gen_server, terminate}' error report (last message, client, state
%% `{ferrotp_port, rust_process}') and exits inside `proc_lib', which logs
%% the crash report: what a gen_server's crash shows. Not for `normal',
%% `shutdown', `{shutdown, _}', and not for a death by signal, as far as the
%% proxy can tell one: `killed', or the reason of the exit signal it
%% forwarded last. A proxy ended by its host or port program (`{port_exit,
%% _}', `{port_closed, _}', `{port_protocol_error, _}') logs nothing: the
%% host, a gen_server, reports that once.
%%
%% A `sys:terminate/2,3' (and so `gen_server:stop/1,3') gets its reply
%% once the Rust process has ended, right before the proxy exits, as a
%% gen_server replies and exits at once: the name is free when it returns.
-module(ferrotp_proxy).

-export([start/5, start/6, init/6, register_name/2, loop/2]).

-define(TAG, '$ferrotp_port').

-type origin() :: {Behaviour :: atom(), Ancestors :: [atom() | pid()]} | spawned.
-export_type([origin/0]).

%% @doc Spawns a proxy with `proc_lib', linked to `Host' (the caller), and
%% to `Parent' unless it is `none'. `Origin': `{Behaviour, Ancestors}' for a
%% process started from the BEAM (its `$initial_call' is then `{Behaviour,
%% init, 1}' and its `$ancestors' `Ancestors', as a gen_server's), or
%% `spawned' for one Rust spawned. It waits for `{ready, X}' before
%% forwarding.
-spec start(pid(), port(), ets:tid(), pid() | none, origin()) -> pid().
start(Host, Port, Tab, Parent, Origin) ->
    start(Host, Port, Tab, Parent, Origin, []).

%% @doc start/5 with a start's options, as gen_server takes them:
%% `{spawn_opt, SpawnOpts}' for the proxy's spawn, and `{hibernate_after,
%% Ms}' (the proxy hibernates after that many idle milliseconds).
-spec start(pid(), port(), ets:tid(), pid() | none, origin(), list()) -> pid().
start(Host, Port, Tab, Parent, Origin, Opts) ->
    SpawnOpts = [link | [O || O <- proplists:get_value(spawn_opt, Opts, []), O =/= link]],
    Hib = proplists:get_value(hibernate_after, Opts, infinity),
    proc_lib:spawn_opt(?MODULE, init, [Host, Port, Tab, Parent, Origin, Hib], SpawnOpts).

%% @private
init(Host, Port, Tab, Parent, Origin, Hib) ->
    process_flag(trap_exit, true),
    case Origin of
        {Behaviour, Ancestors} ->
            put('$initial_call', {Behaviour, init, 1}),
            put('$ancestors', Ancestors);
        spawned ->
            erase('$initial_call')
    end,
    case Parent of
        none -> ok;
        _ -> link(Parent)
    end,
    wait_ready(Host, Port, Tab, Parent, Hib).

%% Before the Rust process is ready the host may ask the proxy to take the
%% start option {name, Name}: the proxy registers itself, as a gen_server
%% does (some registries take only the calling process).
wait_ready(Host, Port, Tab, Parent, Hib) ->
    receive
        {?TAG, Host, {ready, X}} ->
            Send = term_to_binary({2, '', X}),
            S = #{host => Host, port => Port, tab => Tab, x => X, send => Send, held => #{},
                  parent => Parent, hibernate_after => Hib},
            loop(S, undefined);
        {?TAG, Host, {register, Name, Ref}} ->
            Host ! {Ref, ferrotp:register_name(Name, self())},
            wait_ready(Host, Port, Tab, Parent, Hib);
        {?TAG, Host, {exit, Reason}} ->
            exit(Reason);
        {?TAG, Host, {host_down, Reason}} ->
            host_down(Host, Reason);
        {?TAG, Host, Command} when element(1, Command) =/= ready ->
            %% The Rust process acts in its init (a supervisor starts and
            %% stops its children): as itself, from this pid.
            act(Command, Port, Tab),
            wait_ready(Host, Port, Tab, Parent, Hib);
        {'EXIT', Host, Reason} ->
            die_of({port_closed, Reason})
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

%% @private
%% `Last': the last message forwarded (an exit signal as its 'EXIT'
%% message), for the crash report. `held': replies to `sys:terminate' kept
%% until the Rust process has ended, by the alias the Rust process answers.
loop(#{host := Host, port := Port, tab := Tab, x := X, send := Send, held := Held,
       hibernate_after := Hib} = S, Last) ->
    receive
        {?TAG, Host, Command} ->
            command(Command, S, Last);
        {'EXIT', Host, Reason} ->
            die_of({port_closed, Reason});
        {'EXIT', From, Reason} = Signal ->
            F = ferrotp_port_pids:to_port(Tab, From),
            R = ferrotp_port_pids:to_port(Tab, Reason),
            case ferrotp:exit_kind(From, Reason) of
                exit2 ->
                    write(Port, [term_to_binary({26, F, X}) | term_to_binary(R)]);
                link ->
                    parent_exited(From, Reason, S),
                    write(Port, term_to_binary({1, F, X})),
                    write(Port, [term_to_binary({24, F, X}) | term_to_binary(R)])
            end,
            loop(S, Signal);
        {[alias | Alias], Reply} when is_map_key(Alias, Held) ->
            unalias(Alias),
            case maps:get(Alias, Held) of
                {waiting, From} -> loop(S#{held := Held#{Alias := {replied, From, Reply}}}, Last);
                {replied, _, _} -> loop(S, Last)
            end;
        {system, {Pid, _Tag} = From, {terminate, _} = Request} = Msg when is_pid(Pid) ->
            %% The Rust process answers our alias; the caller gets the
            %% answer when the Rust process has ended (stop/3).
            Alias = alias(),
            Ours = {system, {Pid, [alias | Alias]}, Request},
            write(Port, [Send | term_to_binary(ferrotp_port_pids:to_port(Tab, Ours))]),
            loop(S#{held := Held#{Alias => {waiting, From}}}, Msg);
        Msg ->
            write(Port, [Send | term_to_binary(ferrotp_port_pids:to_port(Tab, Msg))]),
            loop(S, Msg)
    after Hib ->
        proc_lib:hibernate(?MODULE, loop, [S, Last])
    end.

%% Its parent's exit (reason other than `normal') ends a gen_server or
%% supervisor, trapping exits or not: the name is given up now, not a
%% round trip to the port program later, so a start under the same name
%% right after the parent's death (ExUnit's next test) finds it free, as
%% it finds an Erlang process's.
parent_exited(Parent, Reason, #{parent := Parent}) when Reason =/= normal ->
    case process_info(self(), registered_name) of
        {registered_name, Name} -> unregister(Name);
        _ -> true
    end;
parent_exited(_From, _Reason, _S) ->
    true.

command({exit, Reason}, S, Last) ->
    stop(Reason, Last, S);
command({host_down, Reason}, #{host := Host}, _Last) ->
    host_down(Host, Reason);
command(Command, #{port := Port, tab := Tab} = S, Last) ->
    act(Command, Port, Tab),
    loop(S, Last).

%% What the Rust process asks the BEAM to do as this pid.
act({link, Pid}, _Port, _Tab) ->
    catch link(Pid);
act({unlink, Pid}, _Port, _Tab) ->
    unlink(Pid);
act({exit2, Pid, Reason}, _Port, _Tab) ->
    catch exit(Pid, Reason);
act({apply, X, M, F, Args, ReqId}, Port, Tab) ->
    %% A Rust supervisor starts an Erlang child: the child links to this
    %% proxy and names it first in its `$ancestors', as an OTP
    %% supervisor's children do the supervisor.
    Returned = (catch apply(M, F, Args)),
    Reply = {31, ReqId, X, 1, ferrotp_port_pids:to_port(Tab, Returned)},
    write(Port, term_to_binary(Reply));
act(_Other, _Port, _Tab) ->
    ok.

%% The Rust process has ended with `Reason': the proxy ends with it, and
%% answers the `sys:terminate' calls it held last thing before it exits
%% (reply, then exit, as a gen_server). An abnormal end is reported as a
%% gen_server's is: its terminate report here, the crash report by
%% proc_lib (the exit below leaves the function proc_lib started); a death
%% by signal is not.
stop(Reason, Last, #{held := Held}) ->
    Replies = [{From, Reply} || {replied, From, Reply} <- maps:values(Held)],
    case ferrotp:orderly(Reason) orelse by_signal(Reason, Last) of
        true ->
            die_of(Reason, Replies);
        false ->
            report_crash(Reason, Last),
            reply(Replies),
            exit(Reason)
    end.

reply(Replies) ->
    lists:foreach(fun({From, Reply}) -> gen:reply(From, Reply) end, Replies).

%% `killed', or the reason of the exit signal forwarded last: the Rust
%% process most likely died of that signal, which a gen_server does
%% without a report (it could also have trapped it and stopped: see
%% docs/port.md, Limits).
by_signal(killed, _Last) -> true;
by_signal(Reason, {'EXIT', _From, Reason}) -> true;
by_signal(_Reason, _Last) -> false.

%% Ends this process with `Reason' as a signal would, after `Replies': no
%% proc_lib crash report (`normal' and the shutdowns log none either way).
die_of(Reason) ->
    die_of(Reason, []).

%% The host is ending (its port program died, or sent a malformed frame):
%% the proxy ends with `Reason' once the host has, so that whoever is
%% linked to both (a supervisor of the host and of these processes, as in
%% docs/port.md) hears of the host first, as it would of an Erlang process
%% and the processes linked to it, and restarts the host, not each of them.
host_down(Host, Reason) ->
    receive
        {'EXIT', Host, _} -> ok
    after 5000 -> ok
    end,
    die_of(Reason).

die_of(Reason, Replies) ->
    reply(Replies),
    case ferrotp:orderly(Reason) of
        true -> exit(Reason);
        false -> ferrotp:exit_as_signal(Reason)
    end.

%% gen_server's `{gen_server, terminate}' report (ferrotp:report_crash/3);
%% the Rust process's state is not known here.
report_crash(Reason, Last) ->
    ferrotp:report_crash(Reason, Last, {ferrotp_port, rust_process}).

%% A closed port means the host is ending, and this proxy with it.
write(Port, Frame) ->
    try
        erlang:port_command(Port, Frame)
    catch
        error:badarg -> ok
    end.
