%% An OTP supervisor for the port-mode tests: `{Strategy, ChildSpecs}', or
%% `{flags, Flags, ChildSpecs}' for the very flags a Rust supervisor gets.
-module(ferrotp_port_tests_sup).
-behaviour(supervisor).

-export([init/1]).

init({flags, Flags, Specs}) ->
    {ok, {Flags, Specs}};
init({Strategy, Specs}) ->
    {ok, {#{strategy => Strategy, intensity => 3, period => 10}, Specs}}.
