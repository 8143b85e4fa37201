%% Helper for tests/text_beam.rs: the BEAM side of the term text
%% differential test.
%%
%% generate(Seed, Count): prints one line per term:
%%   hex(term_to_binary(T)) TAB hex(utf8(~tp)) TAB hex(utf8(~tw))
%%     TAB hex(utf8(~p)) TAB hex(utf8(~w))
%% check(File): reads lines "hex(term_to_binary(T)) TAB hex(utf8(Text))" and
%%   prints "ok" if every Text reads back (erl_scan + erl_parse:parse_term,
%%   and erl_eval) =:= T, else one "bad ..." line per mismatch.
%% same(File): reads lines "hex(utf8(Ours)) TAB hex(utf8(Source))" and prints
%%   "ok" if erl_eval reads Ours and Source to =:= terms, else "bad ..." lines.
-module(text_beam).
-export([generate/1, check/1, same/1]).

generate([SeedArg, CountArg]) ->
    Seed = list_to_integer(SeedArg),
    Count = list_to_integer(CountArg),
    rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 5}),
    Floats = [float() || _ <- lists:seq(1, Count)],
    Terms = edge_terms() ++ Floats ++ [term(4) || _ <- lists:seq(1, Count)],
    lists:foreach(fun emit/1, Terms).

emit(T) ->
    Tp = unicode:characters_to_binary(io_lib:format("~tp", [T])),
    Tw = unicode:characters_to_binary(io_lib:format("~tw", [T])),
    P = unicode:characters_to_binary(io_lib:format("~p", [T])),
    W = unicode:characters_to_binary(io_lib:format("~w", [T])),
    io:put_chars([hex(term_to_binary(T)), $\t, hex(Tp), $\t, hex(Tw),
                  $\t, hex(P), $\t, hex(W), $\n]).

check([File]) ->
    {ok, Data} = file:read_file(File),
    Lines = [L || L <- binary:split(Data, <<"\n">>, [global]), L =/= <<>>],
    Bad = lists:filtermap(fun check_line/1, Lines),
    case Bad of
        [] -> io:put_chars("ok\n");
        _ -> [io:put_chars([B, $\n]) || B <- Bad]
    end.

same([File]) ->
    {ok, Data} = file:read_file(File),
    Lines = [L || L <- binary:split(Data, <<"\n">>, [global]), L =/= <<>>],
    Bad = lists:filtermap(
            fun(Line) ->
                    [OursHex, SourceHex] = binary:split(Line, <<"\t">>),
                    Ours = unicode:characters_to_list(unhex(OursHex)),
                    Source = unicode:characters_to_list(unhex(SourceHex)),
                    try {eval(Ours), eval(Source)} of
                        {T, T} -> false;
                        {A, B} -> {true, io_lib:format("bad ~ts: we read ~tw, erl ~tw", [Source, A, B])}
                    catch
                        C:E -> {true, io_lib:format("bad ~ts: ~tw:~tw", [Source, C, E])}
                    end
            end, Lines),
    case Bad of
        [] -> io:put_chars("ok\n");
        _ -> [io:put_chars([B, $\n]) || B <- Bad]
    end.

eval(Text) ->
    {ok, Tokens, _} = erl_scan:string(Text ++ "."),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, V, _} = erl_eval:exprs(Exprs, []),
    V.

check_line(Line) ->
    [TermHex, TextHex] = binary:split(Line, <<"\t">>),
    T = binary_to_term(unhex(TermHex)),
    Text = unicode:characters_to_list(unhex(TextHex)),
    try
        {ok, Tokens, _} = erl_scan:string(Text ++ "."),
        {ok, Parsed} = erl_parse:parse_term(Tokens),
        {ok, Exprs} = erl_parse:parse_exprs(Tokens),
        {value, Evaluated, _} = erl_eval:exprs(Exprs, []),
        case {Parsed =:= T, Evaluated =:= T} of
            {true, true} -> false;
            _ -> {true, io_lib:format("bad ~ts: read ~tw, wanted ~tw", [Text, Parsed, T])}
        end
    catch
        C:E -> {true, io_lib:format("bad ~ts: ~tw:~tw", [Text, C, E])}
    end.

hex(Bin) -> binary:encode_hex(Bin).
unhex(Hex) -> binary:decode_hex(Hex).

%% Terms chosen for the corners of the printers: float layouts, atoms that
%% need quotes, printable and non-printable lists and binaries, unicode.
edge_terms() ->
    Floats = [0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 100.0, 1000.0, 1.0e15, 1.0e16,
              123456789.0, 1234567890.0, 12345678900.0, 123450.0, 1.234e5,
              0.001, 0.0001, 1.0e-5, 0.00012, 0.0012345, 1.0e-10, 1.5e-7,
              5.0e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
              9007199254740992.0, 9007199254740994.0, 4503599627370496.0,
              1801439850948198.5, 900719925474099.2, 3.0e10, 2.0e23, 1.0e23,
              0.30000000000000004, 1.0e22, 1.0e21, 123456789012345680.0],
    Powers = [float(1 bsl N) || N <- lists:seq(0, 80)]
        ++ [float(1 bsl N) + 1.0 || N <- lists:seq(40, 60)]
        ++ [math:pow(10, N) || N <- lists:seq(-30, 30)]
        ++ [7 * math:pow(10, N) / 3 || N <- lists:seq(-12, 25)],
    Atoms = ['', ok, 'EXIT', 'a b', 'héllo', 'λx', 'Ω', 'ßa', 'aÀ', 'a@b', 'end',
             'cond', 'let', 'a\nb', 'a\'b', 'a\\b', '\x{0}\x{7}\e\d\x{85}',
             'nonode@nohost', '_x', '9a', 'aé', 'a÷b', 'a×b', 'ÿ', 'ä', 'x y z'],
    Lists = ["", "abc", "héllo", [955, 945], "a\"b", "\n\r\t\v\b\f\e", [$a, 1],
             [128], [160, 255], [16#D7FF], [16#E000], [16#FFFD], [16#FFFE],
             [16#10FFFF], [16#1F600], "a\\b", [0], [127], [$a | $b], [[]],
             ["ab", "c"], [1 | 2], [a, b | c]],
    Bins = [<<>>, <<"abc">>, <<"héllo"/utf8>>, <<"λ"/utf8>>, <<1, 2, 3>>,
            <<200, 201>>, <<"a", 0>>, <<194, 128>>, <<239, 191, 190>>,
            <<"h\né">>, <<"\e\d">>, <<"\"\\">>, <<1, 2:3>>, <<0:1>>,
            <<"abc", 1:1>>, <<255:7>>, <<"🙂"/utf8>>],
    Ints = [0, -1, 255, 256, -256, 1 bsl 27, -(1 bsl 27), 1 bsl 31,
            (1 bsl 63) - 1, 1 bsl 63, -(1 bsl 63), -(1 bsl 63) - 1,
            1 bsl 64, -(1 bsl 64), 1 bsl 1000, -(1 bsl 1000) + 7],
    Maps = [#{}, #{a => 1}, #{a => 1, "k" => [1]}, #{#{} => []},
            #{1 => 2, a => b, {x} => y, <<"b">> => 1.5, [1] => #{z => 'Z'}}],
    Nested = [{}, {a}, {a, "b", <<"c">>}, [{[#{[] => {}}]}],
              lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 50)),
              {maybe, else}],
    Floats ++ [-F || F <- Floats, F =/= 0.0] ++ Powers ++ Atoms ++ Lists ++ Bins ++ Ints
        ++ Maps ++ Nested.

%% A random term, at most Depth deep.
term(0) -> leaf();
term(Depth) ->
    case rand:uniform(10) of
        N when N =< 5 -> leaf();
        6 -> [term(Depth - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)];
        7 -> list_to_tuple([term(Depth - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        8 -> maps:from_list([{term(Depth - 1), term(Depth - 1)}
                             || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        9 -> [term(Depth - 1) | leaf()];
        10 -> string()
    end.

leaf() ->
    case rand:uniform(9) of
        1 -> rand:uniform(1 bsl 70) - (1 bsl 69);
        2 -> rand:uniform(2000) - 1000;
        3 -> float();
        4 -> atom();
        5 -> string();
        6 -> unicode:characters_to_binary(string());
        7 -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(5) - 1)]);
        8 -> <<(rand:uniform(1 bsl 20)):(rand:uniform(20))>>;
        9 -> float()
    end.

float() ->
    <<Bits:64>> = crypto_free_bytes(8),
    try <<F:64/float>> = <<Bits:64>>, F
    catch error:{badmatch, _} -> 1.5
    end.

crypto_free_bytes(N) -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).

char() ->
    case rand:uniform(6) of
        1 -> rand:uniform(32) - 1;
        2 -> 16#A0 + rand:uniform(16#60) - 1;
        3 -> 16#370 + rand:uniform(16#400);
        4 -> 16#1F600 + rand:uniform(16#50);
        _ -> $\s + rand:uniform(95) - 1
    end.

string() -> [char() || _ <- lists:seq(1, rand:uniform(6) - 1)].

atom() ->
    case rand:uniform(3) of
        1 -> list_to_atom(string());
        _ -> list_to_atom([$a + rand:uniform(26) - 1 | [char() || _ <- lists:seq(1, rand:uniform(3) - 1)]])
    end.
