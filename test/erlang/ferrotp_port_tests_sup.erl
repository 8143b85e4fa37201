%% An OTP supervisor for the port-mode tests: `{Strategy, ChildSpecs}'.
-module(ferrotp_port_tests_sup).
-behaviour(supervisor).

-export([init/1]).

init({Strategy, Specs}) ->
    {ok, {#{strategy => Strategy, intensity => 3, period => 10}, Specs}}.
