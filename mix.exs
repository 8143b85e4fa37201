defmodule Mix.Tasks.Compile.FerrotpNative do
  @moduledoc "Builds ferrotp's Rust parts with cargo (no hex deps) into priv/."
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    case System.cmd("bash", ["native/build.sh"], stderr_to_stdout: true, into: IO.stream()) do
      {_, 0} -> {:ok, []}
      {_, code} -> Mix.raise("native/build.sh failed with exit code #{code}")
    end
  end
end

defmodule Ferrotp.MixProject do
  use Mix.Project

  def project do
    [
      app: :ferrotp,
      version: "0.1.0",
      elixir: "~> 1.14",
      erlc_paths: ["erlang"],
      elixirc_paths: ["elixir"],
      test_paths: ["test/elixir"],
      compilers: [:ferrotp_native] ++ Mix.compilers(),
      deps: []
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end
end
