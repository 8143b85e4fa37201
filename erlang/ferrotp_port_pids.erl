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

%% @doc `Term' with every pid `P' replaced by `F(P)'.
-spec map(fun((pid()) -> pid()), term()) -> term().
map(F, P) when is_pid(P) ->
    F(P);
map(F, T) when is_tuple(T) ->
    list_to_tuple(map(F, tuple_to_list(T)));
map(F, [H | T]) ->
    [map(F, H) | map(F, T)];
map(F, M) when is_map(M) ->
    maps:from_list([{map(F, K), map(F, V)} || {K, V} <- maps:to_list(M)]);
map(_F, T) ->
    T.

%% @doc `Term' as the port program must see it: proxies (found in `Tab')
%% replaced by the Rust pids they stand for.
-spec to_port(ets:tid(), term()) -> term().
to_port(Tab, Term) ->
    Local = node(),
    map(
        fun(P) when node(P) =:= Local ->
                try ets:lookup(Tab, P) of
                    [{_, X}] -> X;
                    [] -> P
                catch
                    %% The host is gone (and its table): this proxy is
                    %% about to end with the host's reason anyway.
                    error:badarg -> P
                end;
           (P) ->
                P
        end,
        Term
    ).
