%% @doc ferrotp's NIF mode: Rust processes inside this VM.
%%
%% Loads priv/libferrotp_nif.so (built by native/build.sh).
-module(ferrotp_nif).

-export([bench_a_new/1, bench_a_handle/2, bench_b_new/1, bench_b_handle/2]).

-on_load(init/0).

-define(NOT_LOADED, erlang:nif_error({not_loaded, ?MODULE})).

%%% ---------------------------------------------------------------------
%%% Loading
%%% ---------------------------------------------------------------------

init() ->
    Path = filename:join(priv_dir(), "libferrotp_nif"),
    case erlang:load_nif(Path, 0) of
        ok ->
            ok;
        {error, {Why, Text}} ->
            logger:error("ferrotp: cannot load the NIF library ~ts.so (~p: ~ts); "
                         "build it with `bash native/build.sh` (mix compile and "
                         "rebar3 compile run it)", [Path, Why, Text]),
            {error, {Why, Text}}
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

%%% ---------------------------------------------------------------------
%%% NIFs (replaced on load)
%%% ---------------------------------------------------------------------

bench_a_new(_Count) -> ?NOT_LOADED.
bench_a_handle(_Counter, _Msg) -> ?NOT_LOADED.
bench_b_new(_Count) -> ?NOT_LOADED.
bench_b_handle(_Counter, _Msg) -> ?NOT_LOADED.
