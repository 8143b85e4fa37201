%% @doc Pid translation at the port boundary.
%%
%% A Rust process in a port program has a pid of the port program's node
%% (`'ferrotp_port_7@localhost'`); the BEAM knows it by its proxy's pid
%% instead. Terms crossing the boundary have their pids swapped: proxies
%% become the Rust pids they stand for on the way in, Rust pids become their
%% proxies on the way out. Every other pid (a BEAM process, a process on
%% another node) crosses unchanged. Funs are opaque and cross unchanged.
-module(ferrotp_port_pids).

-export([map/2, to_port/2]).

%% @doc `Term' with every pid `P' replaced by `F(P)'. The parts of `Term'
%% in which no pid changes are returned as they are, not rebuilt: a message
%% without pids to swap (most are) costs one walk and no allocation.
-spec map(fun((pid()) -> pid()), term()) -> term().
map(F, P) when is_pid(P) ->
    F(P);
map(F, T) when is_tuple(T) ->
    map_tuple(F, T, tuple_size(T));
map(F, [H | T] = L) ->
    case {map(F, H), map(F, T)} of
        {H, T} -> L;
        {H2, T2} -> [H2 | T2]
    end;
map(F, M) when is_map(M) ->
    maps:from_list([{map(F, K), map(F, V)} || {K, V} <- maps:to_list(M)]);
map(_F, T) ->
    T.

%% Elements `I' down to 1; `setelement' only where a pid changed.
map_tuple(_F, T, 0) ->
    T;
map_tuple(F, T, I) ->
    E = element(I, T),
    case map(F, E) of
        E -> map_tuple(F, T, I - 1);
        E2 -> map_tuple(F, setelement(I, T, E2), I - 1)
    end.

%% @doc `Term' as the port program must see it: proxies (found in `Tab')
%% replaced by the Rust pids they stand for.
%% A `gen_server:call' request (what nearly every message is) and the
%% terms that hold no pid are taken apart directly, without a walk.
-spec to_port(ets:tid(), term()) -> term().
to_port(Tab, {'$gen_call', {P, Tag}, Req} = Msg) when is_pid(P) ->
    case {proxied(Tab, P), to_port(Tab, Tag), to_port(Tab, Req)} of
        {P, Tag, Req} -> Msg;
        {P2, Tag2, Req2} -> {'$gen_call', {P2, Tag2}, Req2}
    end;
to_port(_Tab, T) when is_atom(T); is_number(T); is_reference(T); is_bitstring(T) ->
    T;
to_port(_Tab, [alias | Ref] = Tag) when is_reference(Ref) ->
    Tag;
to_port(Tab, Term) ->
    map(fun(P) -> proxied(Tab, P) end, Term).

%% The Rust pid a proxy stands for; any other pid as it is.
proxied(Tab, P) when node(P) =:= node() ->
    try ets:lookup(Tab, P) of
        [{_, X}] -> X;
        [] -> P
    catch
        %% The host is gone (and its table): this proxy is about to end
        %% with the host's reason anyway.
        error:badarg -> P
    end;
proxied(_Tab, P) ->
    P.
