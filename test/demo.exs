# make demo, Elixir part: the seed's story with an Elixir Supervisor
# restarting a crashed Rust counter — in this VM (NIF) and in a port program.
defmodule Demo do
  def say(fmt, args \\ []) do
    t = Time.utc_now() |> Time.truncate(:millisecond)
    IO.puts("#{t}  " <> IO.iodata_to_binary(:io_lib.format(fmt, args)))
  end

  def story(mode, opts) do
    say("== ~s: an Elixir Supervisor with a Rust counter ==", [mode])
    child = {Ferrotp, [behaviour: :counter, arg: 0, name: DemoCounter] ++ opts}

    {:ok, sup} =
      Supervisor.start_link([child], strategy: :one_for_one, max_restarts: 3, max_seconds: 10)

    pid = Process.whereis(DemoCounter)
    GenServer.cast(DemoCounter, {:bump, 5})
    say("bump 5, value -> ~p (pid ~p)", [GenServer.call(DemoCounter, :value), pid])
    ref = Process.monitor(pid)
    GenServer.cast(DemoCounter, :boom)

    receive do
      {:DOWN, ^ref, :process, ^pid, reason} -> say("counter crashed: ~p", [reason])
    end

    new = wait_restart(pid)

    say("restarted as ~p, value -> ~p (known-good state)", [
      new,
      GenServer.call(DemoCounter, :value)
    ])

    Supervisor.stop(sup)
  end

  defp wait_restart(old) do
    case Process.whereis(DemoCounter) do
      pid when is_pid(pid) and pid != old -> pid
      _ -> Process.sleep(5) && wait_restart(old)
    end
  end
end

Logger.configure(level: :none)
Demo.story("NIF mode", [])
{:ok, host} = Ferrotp.Port.start_link()
Demo.story("port mode", on: host)
