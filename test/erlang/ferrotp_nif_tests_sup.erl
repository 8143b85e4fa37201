%% An OTP supervisor whose flags and children the test passes in.
-module(ferrotp_nif_tests_sup).
-behaviour(supervisor).
-export([init/1]).

init({Flags, Children}) -> {ok, {Flags, Children}}.
