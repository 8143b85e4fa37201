%% @doc ferrotp from Erlang: Rust processes that behave as gen_servers.
%%
%% Minimal entry point for NIF mode (the port/node dispatch is merged in
%% from the port helper's branch): `ferrotp:start_link(counter, 0)'.
-module(ferrotp).

-export([start_link/2, start_link/3, start_link/4]).

%% @doc Starts `Behaviour' with `Arg' in this VM, through the NIF.
-spec start_link(atom(), term()) -> {ok, pid()} | {error, term()}.
start_link(Behaviour, Arg) when is_atom(Behaviour) ->
    start_link_nif(Behaviour, Arg, []).

%% @equiv start_link(Where, Behaviour, Arg, [])
start_link(Where, Behaviour, Arg) ->
    start_link(Where, Behaviour, Arg, []).

%% @doc Starts `Behaviour' on `Where' (a Rust node or a port host).
start_link(_Where, _Behaviour, _Arg, _Opts) ->
    {error, not_supported}.

%% NIF mode: a Rust process inside this VM.
start_link_nif(Behaviour, Arg, Opts) ->
    ferrotp_nif:start_link(Behaviour, Arg, Opts).
