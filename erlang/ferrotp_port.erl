%% @doc A port host: one `ferrotp port' program and the Rust processes in it.
%%
%% ```
%% {ok, Host} = ferrotp_port:start_link(#{}),
%% {ok, Counter} = ferrotp:start_link(Host, counter, 5),
%% ok = gen_server:cast(Counter, {bump, 2}),
%% 7 = gen_server:call(Counter, value).
%% '''
%%
%% The host owns the port. Each Rust process started through it is known
%% to the BEAM by a proxy process (`ferrotp_proxy'), linked to the caller
%% of `ferrotp:start_link'; the proxy forwards what it receives into the
%% port, and the host delivers what comes out of it. The wire carries
%% distribution control messages, one per `{packet,4}' frame, each
%% followed by its payload term when it has one (see the `port' crate).
%%
%% Failure semantics:
%% - the port program dies (crash, `kill -9', out of memory): every proxy
%%   exits with `{port_exit, Status}', and so does the host;
%% - a malformed frame: the port is closed, the reason logged, and every
%%   proxy and the host exit with `{port_protocol_error, Detail}';
%% - the host dies (its owner died, it was stopped): the port closes, the
%%   program sees end-of-file and exits; proxies exit with
%%   `{port_closed, Reason}'.
%%
%% Frames the host handles (Erlang terms as written on the wire):
%%
%% | from the port program                        | what the host does                  |
%% |----------------------------------------------|-------------------------------------|
%% | `{31, ReqId, Host, Flags, PidOrReason}'       | `ferrotp:start_link' returns        |
%% | `{22, X, Host}' + `{'$ferrotp_port', starting, ReqId}' | X (being started) has its proxy from now: its init acts as that pid |
%% | `{22, X, To}' / `{2, _, To}' + `Msg'          | `To ! Msg'                          |
%% | `{6, X, _, Name}' + `Msg'                     | `Name ! Msg'                        |
%% | `{6, X, _, '$ferrotp_log'}' + `{Kind, A, B}'  | logs a supervisor's or gen_server's report (`ferrotp:log_report/3') |
%% | `{33, X, Alias}' + `Msg'                      | `Alias ! Msg'                       |
%% | `{28, X, Host, Ref}' + `R' / `{21, .., R}'    | X's proxy exits with `R'            |
%% | `{1, X, Pid}'                                 | X's proxy links to `Pid'            |
%% | `{35, Id, X, Pid}'                            | X's proxy unlinks; `{36, Id, Pid, X}' back |
%% | `{26, X, Pid}' + `R' / `{8, X, Pid, R}'       | X's proxy calls `exit(Pid, R)'      |
%% | `{19, X, PidOrName, Ref}'                     | the host monitors for X             |
%% | `{20, X, PidOrName, Ref}'                     | ... and demonitors                  |
%% | `{24, X, Pid}' + `R' / `{3, X, Pid, R}'       | ignored: X's proxy exits with `R'   |
%% | `{29, ReqId, X, _, {M, F, N}, _}' + `Args'    | X's proxy runs `apply(M, F, Args)' and answers `{31, ..}' |
-module(ferrotp_port).
-behaviour(gen_server).

%% API
-export([start_link/0, start_link/1, os_pid/1, start_child/5, child_spec/1, executable/0]).
%% gen_server callbacks
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(TAG, '$ferrotp_port').

-type options() :: #{
    executable => file:filename_all(),
    max_memory => pos_integer(),
    start_timeout => timeout(),
    threads => pos_integer(),
    busy_wait_us => non_neg_integer(),
    name => atom()
}.
-export_type([options/0]).

%%%===================================================================
%%% API
%%%===================================================================

%% @equiv start_link(#{})
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    start_link(#{}).

%% @doc Starts a port program and its host, linked to the caller.
%%
%% Options: `executable' (the `ferrotp' binary; found when absent, see
%% {@link executable/0}), `max_memory' (bytes the program may allocate;
%% over it, it aborts), `start_timeout' (milliseconds a Rust `init' may
%% take, default `infinity'; a start's own option `{timeout, Ms}'
%% overrides it, as gen_server:start_link/4's), `threads' (threads reading
%% frames in the program, default 1: it reads with blocking reads and runs
%% the processes a frame wakes itself), `busy_wait_us' (how long the
%% reader may busy-wait for the next frame before sleeping, while that
%% pays; default 50, 0 never), `name' (register the host).
-spec start_link(options()) -> {ok, pid()} | {error, term()}.
start_link(Opts) when is_map(Opts) ->
    case Opts of
        #{name := Name} -> gen_server:start_link({local, Name}, ?MODULE, Opts, []);
        _ -> gen_server:start_link(?MODULE, Opts, [])
    end.

%% @doc The OS pid of the port program.
-spec os_pid(pid()) -> non_neg_integer().
os_pid(Host) ->
    gen_server:call(Host, os_pid).

%% @doc A child spec for an OTP supervisor: `ferrotp_port:start_link(Opts)'.
-spec child_spec(options()) -> supervisor:child_spec().
child_spec(Opts) ->
    #{
        id => maps:get(id, Opts, ?MODULE),
        start => {?MODULE, start_link, [maps:remove(id, Opts)]},
        type => worker
    }.

%% @doc Starts `Behaviour' with `Arg' in the port program of `Host', linked
%% to `Caller'; what `ferrotp:start_link(Host, Behaviour, Arg, Opts)' does.
%% `init' has run when this returns (`proc_lib' semantics).
-spec start_child(pid(), atom(), term(), list(), pid()) ->
    {ok, pid()} | {error, term()}.
start_child(Host, Behaviour, Arg, Opts, Caller) when is_atom(Behaviour), is_list(Opts) ->
    Ancestors = ancestors(Caller),
    try gen_server:call(Host, {start, Behaviour, Arg, Opts, Caller, Ancestors}, infinity) of
        {timeout, P} -> kill_flush(P);
        Started -> Started
    catch
        exit:{Reason, {gen_server, call, _}} -> {error, {port_host_down, Reason}}
    end.

%% A start that took longer than its timeout, as proc_lib ends it: the
%% process is unlinked and killed, gone (its name free) and its 'EXIT'
%% flushed before the caller hears {error, timeout}.
kill_flush(P) ->
    unlink(P),
    Ref = monitor(process, P),
    exit(P, kill),
    receive {'DOWN', Ref, process, P, _} -> ok end,
    receive {'EXIT', P, _} -> ok after 0 -> ok end,
    {error, timeout}.

%% The `$ancestors' a gen_server started by `Caller' gets (proc_lib's):
%% its registered name or pid, then its own ancestors; just `Caller' when
%% another process starts on its behalf.
ancestors(Caller) when Caller =:= self() ->
    Me = case process_info(self(), registered_name) of
             {registered_name, Name} -> Name;
             _ -> self()
         end,
    case get('$ancestors') of
        Ancestors when is_list(Ancestors) -> [Me | Ancestors];
        _ -> [Me]
    end;
ancestors(Caller) ->
    [Caller].

%% @doc Where the `ferrotp' binary is: `$FERROTP_EXECUTABLE', then
%% `priv/ferrotp', then `target/release/ferrotp' in a directory above this
%% module's (the repository, in a rebar3 or Mix build), then `$PATH'.
-spec executable() -> {ok, file:filename()} | {error, not_found}.
executable() ->
    Candidates =
        [os:getenv("FERROTP_EXECUTABLE") || os:getenv("FERROTP_EXECUTABLE") =/= false] ++
            priv_candidates() ++
            beam_dir_candidates() ++
            [os:find_executable("ferrotp") || os:find_executable("ferrotp") =/= false],
    case [C || C <- Candidates, filelib:is_regular(C)] of
        [Found | _] -> {ok, Found};
        [] -> {error, not_found}
    end.

%%%===================================================================
%%% gen_server callbacks
%%%===================================================================

init(Opts) ->
    process_flag(trap_exit, true),
    case find_executable(Opts) of
        {ok, Exe} -> open(Exe, Opts);
        {error, Reason} -> {stop, Reason}
    end.

handle_call(os_pid, _From, #{os_pid := OsPid} = S) ->
    {reply, OsPid, S};
handle_call({start, Behaviour, Arg, Opts, Caller, Ancestors}, From, S) ->
    start({Behaviour, Ancestors}, Arg, Opts, Caller, From, S);
handle_call(_Request, _From, S) ->
    {reply, {error, unknown_call}, S}.

handle_cast(_Msg, S) ->
    {noreply, S}.

handle_info({Port, {data, Bin}}, #{port := Port} = S) ->
    try decode(Bin) of
        {Ctrl, Payload} -> frame(Ctrl, Payload, S)
    catch
        throw:{bad_frame, Detail} -> protocol_error(Detail, Bin, S);
        error:Error -> protocol_error({bad_term, Error}, Bin, S)
    end;
handle_info({Port, {exit_status, Status}}, #{port := Port} = S) ->
    shutdown({port_exit, Status}, S#{port := closed});
handle_info({'EXIT', Port, Reason}, #{port := Port} = S) ->
    shutdown({port_exit, Reason}, S#{port := closed});
handle_info({'EXIT', P, Reason}, S) ->
    proxy_died(P, Reason, S);
handle_info({'DOWN', MRef, process, Object, Reason}, S) ->
    watched_down(MRef, Object, Reason, S);
handle_info({timeout, _TRef, {start_timeout, ReqId}}, S) ->
    start_timed_out(ReqId, S);
handle_info(_Other, S) ->
    {noreply, S}.

terminate(Reason, #{port := Port} = S) ->
    [gen_server:reply(From, {error, {port_closed, Reason}}) || {From, _, _} <- maps:values(pending(S))],
    exit_proxies({port_closed, Reason}, S),
    case Port of
        closed -> ok;
        _ -> catch port_close(Port)
    end,
    ok.

%%%===================================================================
%%% Internal: starting the program
%%%===================================================================

find_executable(#{executable := Exe}) ->
    case filelib:is_regular(Exe) of
        true -> {ok, Exe};
        false -> {error, {no_executable, Exe}}
    end;
find_executable(_Opts) ->
    case executable() of
        {ok, Exe} -> {ok, Exe};
        {error, not_found} -> {error, {no_executable, ferrotp}}
    end.

priv_candidates() ->
    case code:priv_dir(ferrotp) of
        {error, _} -> [];
        Dir -> [filename:join(Dir, "ferrotp")]
    end.

%% `target/release/ferrotp' in the directories above this module's beam.
beam_dir_candidates() ->
    case code:which(?MODULE) of
        Beam when is_list(Beam) -> upward_candidates(filename:dirname(Beam), 8);
        _CoverCompiledOrPreloaded -> upward_candidates(element(2, file:get_cwd()), 1)
    end.

upward_candidates(_Dir, 0) ->
    [];
upward_candidates(Dir, N) ->
    Here = filename:join([Dir, "target", "release", "ferrotp"]),
    case filename:dirname(Dir) of
        Dir -> [Here];
        Up -> [Here | upward_candidates(Up, N - 1)]
    end.

open(Exe, Opts) ->
    PortNode = list_to_atom(
        "ferrotp_port_" ++ integer_to_list(erlang:unique_integer([positive])) ++ "@localhost"
    ),
    Args =
        ["port", "--node-name", atom_to_list(PortNode), "--peer", atom_to_list(node())] ++
            case Opts of
                #{max_memory := Bytes} when is_integer(Bytes), Bytes > 0 ->
                    ["--max-memory", integer_to_list(Bytes)];
                _ ->
                    []
            end ++
            case Opts of
                #{threads := N} when is_integer(N), N > 0 -> ["--threads", integer_to_list(N)];
                _ -> []
            end ++
            case Opts of
                #{busy_wait_us := Us} when is_integer(Us), Us >= 0 ->
                    ["--busy-wait-us", integer_to_list(Us)];
                _ ->
                    []
            end,
    try
        open_port({spawn_executable, Exe}, [
            {args, Args}, {packet, 4}, binary, exit_status, use_stdio
        ])
    of
        Port ->
            {os_pid, OsPid} = erlang:port_info(Port, os_pid),
            Tab = ets:new(ferrotp_port_pids, [set, public, {read_concurrency, true}]),
            {ok, #{
                port => Port,
                os_pid => OsPid,
                port_node => PortNode,
                tab => Tab,
                pending => #{},
                rust_monitors => #{},
                start_timeout => maps:get(start_timeout, Opts, infinity)
            }}
    catch
        error:Reason -> {stop, {open_port, Reason, Exe}}
    end.

%%%===================================================================
%%% Internal: starting a Rust process
%%%===================================================================

start({Behaviour, _} = Origin, Arg, Opts, Caller, From, #{port := Port, tab := Tab} = S) ->
    P = ferrotp_proxy:start(self(), Port, Tab, Caller, Origin, Opts),
    case ferrotp_proxy:register_name(P, proplists:get_value(name, Opts)) of
        ok ->
            ReqId = make_ref(),
            SpawnOpts = [monitor, {parent, Caller}],
            Req = {29, ReqId, self(), self(), {Behaviour, start_link, 1}, SpawnOpts},
            write(S, [term_to_binary(Req) | term_to_binary([ferrotp_port_pids:to_port(Tab, Arg)])]),
            TRef = start_timer(start_timeout(Opts, S), ReqId),
            Pending = maps:put(ReqId, {From, P, TRef}, pending(S)),
            {noreply, S#{pending := Pending}};
        {error, _} = Error ->
            unlink(P),
            exit(P, kill),
            {reply, Error, S}
    end.

%% How long this start's init may take: its option `{timeout, Ms}', else
%% the host's `start_timeout'.
start_timeout(Opts, #{start_timeout := Default}) ->
    case proplists:get_value(timeout, Opts, Default) of
        Ms when is_integer(Ms), Ms >= 0 -> Ms;
        _ -> infinity
    end.

start_timer(infinity, _ReqId) ->
    undefined;
start_timer(Ms, ReqId) ->
    erlang:start_timer(Ms, self(), {start_timeout, ReqId}).

pending(#{pending := Pending}) ->
    Pending.

spawn_reply(ReqId, Result, #{tab := Tab} = S) ->
    case maps:take(ReqId, pending(S)) of
        {{From, P, TRef}, Pending} ->
            cancel_timer(TRef),
            S1 = S#{pending := Pending},
            case is_pid(Result) andalso is_process_alive(P) of
                true ->
                    ets:insert(Tab, [{P, Result}, {Result, P}, {{watch, ReqId}, P}]),
                    P ! {?TAG, self(), {ready, Result}},
                    gen_server:reply(From, {ok, P}),
                    %% It may have died already: its 'DOWN' overtook this reply.
                    case erase({early_down, ReqId}) of
                        undefined -> {noreply, S1};
                        Reason -> rust_down(ReqId, Reason, S1)
                    end;
                false when is_pid(Result) ->
                    %% The proxy was killed while the Rust process started.
                    write(S, [term_to_binary({26, self(), Result}) | term_to_binary(kill)]),
                    gen_server:reply(From, {error, killed}),
                    {noreply, S1};
                false ->
                    %% As a gen_server whose init failed: the caller has
                    %% its answer, then the proxy exits with the reason.
                    erase({early_down, ReqId}),
                    Reason = from_port(Result, S),
                    forget(P, S),
                    gen_server:reply(From, {error, Reason}),
                    exit_proxy(P, failed_start_reason(Reason)),
                    {noreply, S1}
            end;
        error ->
            %% Timed out already: the late process must not linger.
            is_pid(Result) andalso
                write(S, [term_to_binary({26, self(), Result}) | term_to_binary(kill)]),
            {noreply, S}
    end.

%% X, the process `ReqId' starts, is about to run its init: its proxy
%% stands for it from now on (a start that fails takes it back).
starting(ReqId, X, #{tab := Tab, port_node := PortNode} = S) when node(X) =:= PortNode ->
    case pending(S) of
        #{ReqId := {_From, P, _TRef}} -> ets:insert(Tab, [{P, X}, {X, P}]);
        #{} -> ok
    end,
    {noreply, S};
starting(_ReqId, X, S) ->
    protocol_error({not_a_port_pid, X}, <<>>, S).

%% The proxy `P' of a start that failed: it stands for nothing any more.
forget(P, #{tab := Tab}) ->
    case ets:take(Tab, P) of
        [{_, X}] -> ets:delete(Tab, X);
        [] -> ok
    end.

%% The reason a gen_server whose start failed exits with, after
%% proc_lib:init_ack/1: `normal' after `ignore', else the reason.
failed_start_reason(ignore) -> normal;
failed_start_reason(Reason) -> Reason.

start_timed_out(ReqId, S) ->
    case maps:take(ReqId, pending(S)) of
        {{From, P, _TRef}, Pending} ->
            %% The caller kills the proxy (start_child/5, as proc_lib's
            %% kill_flush); the Rust process dies with it (proxy_died/3),
            %% or is killed when it answers (spawn_reply/3).
            gen_server:reply(From, {timeout, P}),
            {noreply, S#{pending := Pending}};
        error ->
            {noreply, S}
    end.

cancel_timer(undefined) -> ok;
cancel_timer(TRef) -> erlang:cancel_timer(TRef, [{async, true}, {info, false}]).

%%%===================================================================
%%% Internal: frames from the port program
%%%===================================================================

%% ALIAS_SEND `{33, From, Alias}' (every gen_server reply): `From' is not
%% used, so its bytes are checked for shape and skipped instead of decoded
%% (decoding a pid of the port's node looks its node up, about a third of
%% the cost of the control tuple). The bytes are what the port program
%% writes: `NEW_PID_EXT' with an `ATOM_EXT' node (any 12 bytes after it are
%% a valid pid), then a `NEWER_REFERENCE_EXT' alias, decoded. Anything else
%% takes the general path below.
decode(<<131, 104, 3, 97, 33, 88, 100, NodeLen:16, _:NodeLen/binary, _:12/binary,
         90, N:16, 100, RefNodeLen:16, _/binary>> = Bin) when NodeLen =< 255 ->
    Skip = 5 + 1 + 1 + 2 + NodeLen + 12,
    RefLen = 1 + 2 + 1 + 2 + RefNodeLen + 4 + 4 * N,
    case Bin of
        <<_:Skip/binary, RefBytes:RefLen/binary, Payload/binary>> when Payload =/= <<>> ->
            Alias = binary_to_term(<<131, RefBytes/binary>>),
            {{33, skipped, Alias}, payload(Payload)};
        _ ->
            decode_general(Bin)
    end;
decode(Bin) ->
    decode_general(Bin).

decode_general(Bin) ->
    {Ctrl, Used} = binary_to_term(Bin, [used]),
    case byte_size(Bin) - Used of
        0 ->
            {Ctrl, none};
        Rest ->
            {Ctrl, payload(binary:part(Bin, Used, Rest))}
    end.

payload(Bin) ->
    {Payload, Used} = binary_to_term(Bin, [used]),
    Rest = byte_size(Bin),
    Used =:= Rest orelse throw({bad_frame, {trailing_bytes, Rest - Used}}),
    {payload, Payload}.

%% SPAWN_REPLY
frame({31, ReqId, _To, _Flags, Result}, none, S) ->
    spawn_reply(ReqId, Result, S);
%% SPAWN_REQUEST from a Rust supervisor: its proxy applies the start MFA
%% (so the child links to it) and writes the SPAWN_REPLY itself.
frame({29, ReqId, X, _GL, {M, F, _Arity}, _Opts}, {payload, Args}, S) when is_list(Args) ->
    to_proxy(X, {apply, X, M, F, from_port(Args, S), ReqId}, S);
%% A process we asked for tells its pid before its init runs: what it does
%% in init comes from its proxy, the pid its caller gets.
frame({22, X, Host}, {payload, {?TAG, starting, ReqId}}, S) when Host =:= self() ->
    starting(ReqId, X, S);
%% SEND, SEND_SENDER
frame({2, _, To}, {payload, Msg}, S) ->
    send(To, Msg, S);
frame({22, _From, To}, {payload, Msg}, S) ->
    send(To, Msg, S);
%% REG_SEND
frame({6, _From, _, '$ferrotp_log'}, {payload, {Kind, A, B}}, S) ->
    %% A report of the runtime's (native/port/src/logger.rs).
    ferrotp:log_report(Kind, from_port(A, S), from_port(B, S)),
    {noreply, S};
frame({6, _From, _, Name}, {payload, Msg}, S) ->
    send(Name, Msg, S);
%% ALIAS_SEND
frame({33, _From, Alias}, {payload, Msg}, S) ->
    send(Alias, Msg, S);
%% MONITOR_P_EXIT, PAYLOAD_MONITOR_P_EXIT: a watched Rust process ended
frame({21, _X, _To, Ref, Reason}, none, S) ->
    rust_down(Ref, Reason, S);
frame({28, _X, _To, Ref}, {payload, Reason}, S) ->
    rust_down(Ref, Reason, S);
%% LINK, UNLINK_ID, UNLINK_ID_ACK
frame({1, X, Pid}, none, S) ->
    to_proxy(X, {link, from_port(Pid, S)}, S);
frame({35, Id, X, Pid}, none, S) ->
    S1 = to_proxy(X, {unlink, from_port(Pid, S)}, S),
    write(S, term_to_binary({36, Id, Pid, X})),
    S1;
frame({36, _Id, _From, _To}, none, S) ->
    {noreply, S};
%% EXIT2, PAYLOAD_EXIT2: exit(Pid, Reason) called by a Rust process
frame({8, X, Pid, Reason}, none, S) ->
    to_proxy(X, {exit2, from_port(Pid, S), from_port(Reason, S)}, S);
frame({26, X, Pid}, {payload, Reason}, S) ->
    to_proxy(X, {exit2, from_port(Pid, S), from_port(Reason, S)}, S);
%% EXIT, PAYLOAD_EXIT: a dying Rust process's links; its proxy's exit
%% (on the monitor) breaks the same links on this side.
frame({3, _X, _Pid, _Reason}, none, S) ->
    {noreply, S};
frame({24, _X, _Pid}, {payload, _Reason}, S) ->
    {noreply, S};
%% MONITOR_P, DEMONITOR_P: a Rust process monitors a BEAM process
frame({19, X, Target, Ref}, none, S) ->
    monitor_for(X, Target, Ref, S);
frame({20, _X, _Target, Ref}, none, #{rust_monitors := Mons} = S) ->
    case maps:take({rust, Ref}, Mons) of
        {MRef, M} ->
            erlang:demonitor(MRef, [flush]),
            {noreply, S#{rust_monitors := maps:remove(MRef, M)}};
        error ->
            {noreply, S}
    end;
frame(Ctrl, _Payload, S) ->
    protocol_error({unexpected_control_message, Ctrl}, <<>>, S).

send(To, Msg, S) ->
    catch erlang:send(from_port(To, S), from_port(Msg, S)),
    {noreply, S}.

to_proxy(X, Command, #{port_node := PortNode} = S) when node(X) =:= PortNode ->
    proxy_for(X, S) ! {?TAG, self(), Command},
    {noreply, S};
to_proxy(X, _Command, S) ->
    protocol_error({not_a_port_pid, X}, <<>>, S).

rust_down(Ref, Reason, #{tab := Tab} = S) ->
    case ets:take(Tab, {watch, Ref}) of
        [{_, P}] ->
            case ets:take(Tab, P) of
                [{_, X}] -> ets:delete(Tab, X);
                [] -> ok
            end,
            exit_proxy(P, from_port(Reason, S));
        [] ->
            %% A process still starting: its reply comes next.
            is_map_key(Ref, pending(S)) andalso put({early_down, Ref}, Reason),
            ok
    end,
    {noreply, S}.

%% A Rust process monitors `Target'; the 'DOWN' goes back as
%% PAYLOAD_MONITOR_P_EXIT under the Rust side's reference.
monitor_for(X, Target, Ref, #{rust_monitors := Mons} = S) ->
    MRef = erlang:monitor(process, from_port(Target, S)),
    M = Mons#{MRef => {X, Target, Ref}, {rust, Ref} => MRef},
    {noreply, S#{rust_monitors := M}}.

watched_down(MRef, _Object, Reason, #{rust_monitors := Mons, tab := Tab} = S) ->
    case maps:take(MRef, Mons) of
        {{X, Target, Ref}, M} ->
            R = ferrotp_port_pids:to_port(Tab, Reason),
            write(S, [term_to_binary({28, Target, X, Ref}) | term_to_binary(R)]),
            {noreply, S#{rust_monitors := maps:remove({rust, Ref}, M)}};
        error ->
            {noreply, S}
    end.

%% A proxy died. If its Rust process is still there, the proxy was killed
%% (`exit(P, kill)', the only signal a proxy does not forward): kill it too.
proxy_died(P, _Reason, #{tab := Tab} = S) ->
    case ets:lookup(Tab, P) of
        [{_, X}] ->
            ets:delete(Tab, P),
            ets:delete(Tab, X),
            write(S, [term_to_binary({26, self(), X}) | term_to_binary(kill)]),
            {noreply, S};
        [] ->
            {noreply, S}
    end.

%% Rust pids in `Term' replaced by their proxies; a Rust process seen for
%% the first time gets a proxy now, and the host monitors it.
from_port(T, _S) when is_reference(T); is_atom(T) ->
    %% A reply's alias, a registered name: no pid to swap.
    T;
from_port(Term, #{port_node := PortNode} = S) ->
    ferrotp_port_pids:map(
        fun(X) when node(X) =:= PortNode -> proxy_for(X, S);
           (P) -> P
        end,
        Term
    ).

proxy_for(X, #{tab := Tab, port := Port} = S) ->
    case ets:lookup(Tab, X) of
        [{_, P}] ->
            P;
        [] ->
            P = ferrotp_proxy:start(self(), Port, Tab, none, spawned),
            Ref = make_ref(),
            ets:insert(Tab, [{P, X}, {X, P}, {{watch, Ref}, P}]),
            write(S, term_to_binary({19, self(), X, Ref})),
            P ! {?TAG, self(), {ready, X}},
            P
    end.

exit_proxy(P, Reason) ->
    P ! {?TAG, self(), {exit, Reason}},
    ok.

write(#{port := closed}, _Frame) ->
    ok;
write(#{port := Port}, Frame) ->
    try
        erlang:port_command(Port, Frame)
    catch
        error:badarg -> ok
    end.

%%%===================================================================
%%% Internal: the end
%%%===================================================================

protocol_error(Detail, Bin, #{port := Port} = S) ->
    logger:error("ferrotp_port: malformed frame from the port program, closing it: ~0p (frame ~0P)", [Detail, Bin, 20]),
    catch port_close(Port),
    shutdown({port_protocol_error, Detail}, S#{port := closed}).

shutdown(Reason, S) ->
    [gen_server:reply(From, {error, Reason}) || {From, _, _} <- maps:values(pending(S))],
    exit_proxies(Reason, S),
    {stop, Reason, S#{pending := #{}}}.

%% Every proxy, started or starting, ends with `Reason', without a crash
%% report of its own: the host's (a gen_server's) tells what happened.
exit_proxies(Reason, #{tab := Tab} = S) ->
    Proxies = [P || {P, X} <- ets:tab2list(Tab), is_pid(P), is_pid(X), node(P) =:= node()],
    Starting = [P || {_, P, _} <- maps:values(pending(S))],
    lists:foreach(fun(P) -> P ! {?TAG, self(), {host_down, Reason}} end, Proxies ++ Starting).
