%% Scenarios the NIF and port suites both run on a gen_server and on a
%% Rust process, to compare what each does.
-module(ferrotp_side_by_side).

-export([linked_kill_reason/1]).

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
