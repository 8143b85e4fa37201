%% The BEAM side of ferrotp's ETF differential test (tests/differential.rs).
%%
%% gen(Dir, N): makes N terms (random, seeded, plus edge cases), and writes
%% Dir/beam.bin: for each term, a flag byte (1 if it holds a fun) and then,
%% for every option set in opts/0, <<Len:32, term_to_binary(T, Opts)>>.
%% check(Dir): reads Dir/rust.bin, the same layout written by ferrotp, and
%% checks binary_to_term of each encoding =:= the original term; writes
%% Dir/check.txt with "ok" or one line per mismatch.
-module(etf_diff).
-export([gen/2, check/1, opts/0]).

opts() ->
    [[],
     [{minor_version, 0}],
     [{minor_version, 2}],
     [compressed],
     [deterministic],
     [{compressed, 9}, {minor_version, 2}, deterministic]].

gen(Dir, N) ->
    rand:seed(exsss, {17, 42, 4711}),
    Terms = edge_terms() ++ [term(3) || _ <- lists:seq(1, N)],
    Out = [encode_all(T) || T <- Terms],
    ok = file:write_file(filename:join(Dir, "beam.bin"), Out),
    ok = file:write_file(filename:join(Dir, "terms.bin"), term_to_binary(Terms)).

encode_all(T) ->
    Flag = case has_fun(T) of true -> 1; false -> 0 end,
    [Flag | [frame(term_to_binary(T, O)) || O <- opts()]].

frame(B) -> [<<(byte_size(B)):32>>, B].

check(Dir) ->
    {ok, TermsBin} = file:read_file(filename:join(Dir, "terms.bin")),
    Terms = binary_to_term(TermsBin),
    {ok, Rust} = file:read_file(filename:join(Dir, "rust.bin")),
    NOpts = length(opts()),
    {Bad, <<>>} = lists:foldl(
        fun(T, {Acc, Bin}) ->
            {Encs, Rest} = take(NOpts, Bin, []),
            Acc1 = lists:foldl(
                fun({I, E}, A) ->
                    case catch binary_to_term(E) of
                        X when X =:= T -> A;
                        X -> [io_lib:format("term ~w opts ~w: ~P decoded as ~P~n",
                                            [length(A), I, T, 12, X, 12]) | A]
                    end
                end, Acc, lists:zip(lists:seq(0, NOpts - 1), Encs)),
            {Acc1, Rest}
        end, {[], Rust}, Terms),
    Report = case Bad of [] -> "ok\n"; _ -> lists:reverse(Bad) end,
    ok = file:write_file(filename:join(Dir, "check.txt"), Report).

take(0, Bin, Acc) -> {lists:reverse(Acc), Bin};
take(K, <<Len:32, E:Len/binary, Rest/binary>>, Acc) -> take(K - 1, Rest, [E | Acc]).

has_fun(F) when is_function(F) -> true;
has_fun(T) when is_tuple(T) -> has_fun(tuple_to_list(T));
has_fun([H | T]) -> has_fun(H) orelse has_fun(T);
has_fun(M) when is_map(M) -> has_fun(maps:to_list(M));
has_fun(_) -> false.

%% ---- edge cases ------------------------------------------------------------

edge_terms() ->
    Ints = [0, 1, 255, 256, -1, -256, 2147483647, 2147483648, -2147483648,
            -2147483649, 1 bsl 32, 1 bsl 63, (1 bsl 63) - 1, -(1 bsl 63),
            -(1 bsl 63) - 1, 1 bsl 64, -(1 bsl 64), (1 bsl 64) - 1,
            1 bsl 2040, (1 bsl 2040) - 1, 1 bsl 2048, -(1 bsl 3000)],
    Floats = [0.0, -0.0, 1.0, -1.5, 0.1, 1/3, 5.0e-324, 2.2250738585072014e-308,
              2.225073858507201e-308, 1.7976931348623157e308, -1.7976931348623157e308,
              1.0e21, 1.0e-10, 123456789.125, 9007199254740993.0],
    Atoms = [a, 'EXIT', '', 'hello world', list_to_atom(lists:duplicate(255, $a)),
             list_to_atom(lists:duplicate(255, 16#e9)),
             list_to_atom(lists:duplicate(255, 16#3b1)),
             list_to_atom(lists:duplicate(255, 16#1f600)),
             list_to_atom([16#e9, $t, 16#e9]), list_to_atom([16#100]), true, false],
    Self = self(),
    Ref = make_ref(),
    Port = hd(erlang:ports()),
    Remote = [binary_to_term(<<131, 88, 100, 0, 5, "a@b.c", 1:32, 2:32, 3:32>>),
              binary_to_term(<<131, 120, 100, 0, 5, "a@b.c", 1:64, 7:32>>),
              binary_to_term(<<131, 89, 100, 0, 5, "a@b.c", 9:32, 7:32>>),
              binary_to_term(<<131, 90, 0, 3, 100, 0, 5, "a@b.c", 7:32, 1:32, 2:32, 3:32>>),
              binary_to_term(<<131, 90, 0, 5, 100, 0, 5, "a@b.c", 7:32, 1:32, 2:32, 3:32,
                               4:32, 5:32>>)],
    Z = 7,
    Funs = [fun lists:map/2, fun erlang:self/0, fun(X) -> X + Z end,
            fun() -> Self end],
    Big = maps:from_list([{K, K * 2} || K <- lists:seq(1, 40)]),
    Mixed = maps:from_list([{{tuple, K}, [K]} || K <- lists:seq(1, 50)]
                           ++ [{<<K>>, K} || K <- lists:seq(1, 20)]
                           ++ [{K * 1.5, K} || K <- lists:seq(1, 20)]),
    Ints ++ Floats ++ Atoms ++ [Self, Ref, Port | Remote] ++ Funs ++
        [[], {}, #{}, <<>>, <<1:1>>, <<255, 3:2>>, <<1, 2, 3>>,
         lists:seq(1, 255), lists:duplicate(65535, 7), lists:duplicate(65536, 7),
         lists:duplicate(70000, 255), [256], [1 | 2], [a, b | c], [[] | []],
         [1, 2 | <<3>>], "héllo", [1000, 2000],
         list_to_tuple(lists:seq(1, 300)), Big, Mixed,
         #{1 => a, 1.0 => b, a => c, {1} => d, [] => e, "s" => f, <<"b">> => g,
           #{k => v} => h, Self => i, Ref => j, Port => k, -1 => l, 1 bsl 70 => m,
           -0.0 => n},
         #{Self => 1, Ref => 2, Port => 3},
         maps:from_list([{list_to_atom([C]), C} || C <- lists:seq($a, $z)]),
         maps:from_list([{list_to_atom([C, D]), C} || C <- lists:seq($a, $z),
                                                    D <- lists:seq($a, $c)]),
         {Ints, Floats, Atoms},
         lists:duplicate(200, {ok, Self, Ref, 1.5, <<"payload">>})].

%% ---- random terms ----------------------------------------------------------

term(0) -> leaf();
term(D) ->
    case rand:uniform(12) of
        1 -> list_to_tuple([term(D - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)]);
        2 -> [term(D - 1) || _ <- lists:seq(1, rand:uniform(6) - 1)];
        3 -> maps:from_list([{term(D - 1), term(D - 1)} || _ <- lists:seq(1, rand:uniform(6) - 1)]);
        4 -> [term(D - 1) | leaf()];
        5 -> maps:from_list([{leaf(), term(D - 1)} || _ <- lists:seq(1, 30 + rand:uniform(10))]);
        _ -> leaf()
    end.

leaf() ->
    case rand:uniform(16) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31);
        3 -> (rand:uniform(1 bsl 64) - (1 bsl 63)) * rand:uniform(1 bsl 40);
        4 -> rand_float();
        5 -> rand_atom();
        6 -> rand_atom();
        7 -> rand:bytes(rand:uniform(20) - 1);
        8 -> Bits = rand:uniform(7), <<(rand:bytes(rand:uniform(4) - 1))/binary, 0:Bits>>;
        9 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(10))];
        10 -> [rand:uniform(5000) || _ <- lists:seq(1, rand:uniform(4))];
        11 -> rand:uniform(1 bsl 200) * (1 - 2 * (rand:uniform(2) - 1));
        12 -> self();
        13 -> make_ref();
        14 -> [];
        15 -> -rand:uniform(1 bsl 62);
        _ -> {}
    end.

rand_float() ->
    case rand:uniform(3) of
        1 -> rand:uniform() * math:pow(10, rand:uniform(600) - 300);
        2 -> -rand:normal() * 1000;
        _ -> <<F/float>> = <<(rand:uniform(1 bsl 62)):64>>, F
    end.

rand_atom() ->
    Len = case rand:uniform(10) of 1 -> 255; _ -> rand:uniform(12) - 1 end,
    Chars = case rand:uniform(3) of
                1 -> [$a + rand:uniform(26) - 1 || _ <- lists:seq(1, Len)];
                2 -> [rand:uniform(255) || _ <- lists:seq(1, Len)];
                _ -> [rand:uniform(16#2000) || _ <- lists:seq(1, Len)]
            end,
    list_to_atom(Chars).
