defmodule Ferrotp.NIFExampleTest do
  # A user's own Rust behaviour (examples/nif_stack: `stack`, in its own NIF
  # library) supervised by an Elixir Supervisor, following docs/nif.md. The
  # library replaces ferrotp's own for the whole VM, so it runs in its own VM.
  use ExUnit.Case, async: true

  @script """
  children = [{Ferrotp, behaviour: :stack, arg: [1, 2], name: MyStack}]
  {:ok, _sup} = Supervisor.start_link(children, strategy: :one_for_one)
  :ok = GenServer.cast(MyStack, {:push, 3})
  3 = GenServer.call(MyStack, :pop)
  2 = GenServer.call(MyStack, :size)
  old = Process.whereis(MyStack)
  ref = Process.monitor(old)
  GenServer.cast(MyStack, :bogus)

  receive do
    {:DOWN, ^ref, :process, ^old, {:bad_cast, :bogus}} -> :ok
  after
    10_000 -> exit(:no_crash)
  end

  wait = fn wait, k ->
    case Process.whereis(MyStack) do
      pid when is_pid(pid) and pid != old -> pid
      _ when k > 0 -> Process.sleep(10) && wait.(wait, k - 1)
    end
  end

  wait.(wait, 1000)
  # Restarted from its child spec: [1, 2] again.
  2 = GenServer.call(MyStack, :size)
  IO.puts("stack-ok")
  """

  test "an Elixir Supervisor restarts a user's Rust gen_server from its child spec" do
    lib = Path.expand("../../priv/libferrotp_nif_example.so", __DIR__)
    assert File.regular?(lib), "build it with native/build.sh (mix compile runs it)"
    ebin = Path.dirname(:code.which(:ferrotp_nif))

    {out, status} =
      System.cmd("elixir", ["-pa", ebin, "-e", @script],
        env: [{"FERROTP_NIF_LIBRARY", lib}],
        stderr_to_stdout: true
      )

    assert status == 0, out
    assert out =~ "stack-ok"
  end
end
