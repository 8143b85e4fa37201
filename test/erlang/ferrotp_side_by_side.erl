%% Scenarios the NIF and port suites both run on a gen_server and on a
%% Rust process, to compare what each does.
-module(ferrotp_side_by_side).

-export([linked_kill_reason/1, capture/2, captured/2]).

%% The reason a process started by `Start' (linked to a parent) dies with
%% when its parent exits with reason `kill', as its monitor sees it.
linked_kill_reason(Start) ->
    Me = self(),
    Parent = spawn(fun() ->
                           {ok, P} = Start(),
                           Me ! {started, self(), P},
                           receive go -> exit(kill) end
                   end),
    P = receive {started, Parent, Started} -> Started end,
    M = monitor(process, P),
    Parent ! go,
    receive {'DOWN', M, process, P, Reason} -> Reason
    after 30000 -> error(no_down)
    end.

%% A group leader that keeps the lines it is asked to print (put_chars,
%% and io:format's {put_chars, Enc, M, F, A}); `clear' forgets them.
capture(Owner, Lines) ->
    receive
        {io_request, From, ReplyAs, {put_chars, Enc, Chars}} ->
            From ! {io_reply, ReplyAs, ok},
            Text = unicode:characters_to_list(Chars, Enc),
            capture(Owner, Lines ++ string:lexemes(Text, "\n"));
        {io_request, From, ReplyAs, {put_chars, Enc, M, F, A}} ->
            From ! {io_reply, ReplyAs, ok},
            Text = unicode:characters_to_list(apply(M, F, A), Enc),
            capture(Owner, Lines ++ string:lexemes(Text, "\n"));
        {lines, From, N} when length(Lines) >= N ->
            From ! {lines, Lines},
            capture(Owner, Lines);
        clear ->
            capture(Owner, []);
        {io_request, From, ReplyAs, _} ->
            From ! {io_reply, ReplyAs, {error, enotsup}},
            capture(Owner, Lines)
    end.

%% The lines `Capture' has kept, once there are `N'.
captured(Capture, N) ->
    Capture ! {lines, self(), N},
    receive {lines, Lines} -> Lines after 5000 -> timeout end.
