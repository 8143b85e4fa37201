%% A Logger handler for the port-mode tests: every event goes, as
%% `{logged, Event}', to the process that added the handler.
-module(ferrotp_port_tests_logger).

-export([add/0, remove/1, log/2]).

%% @doc Adds a handler sending this process every event; its id.
add() ->
    Id = list_to_atom("ferrotp_port_tests_" ++ integer_to_list(erlang:unique_integer([positive]))),
    ok = logger:add_handler(Id, ?MODULE, #{level => all, config => #{to => self()}}),
    Id.

remove(Id) ->
    logger:remove_handler(Id).

%% @private Logger's callback.
log(Event, #{config := #{to := To}}) ->
    To ! {logged, Event},
    ok.
