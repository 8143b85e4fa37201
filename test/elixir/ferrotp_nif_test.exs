defmodule Ferrotp.NIFTest do
  # NIF mode from Elixir: Rust processes in this VM behave as GenServers.
  use ExUnit.Case, async: false
  import ExUnit.CaptureLog

  defmodule ElixirCounter do
    @moduledoc false
    use GenServer
    def init(n), do: {:ok, n}
    def handle_call(:value, _from, n), do: {:reply, n, n}
    def handle_cast({:bump, k}, n), do: {:noreply, n + k}
  end

  test "start_link returns {:ok, pid}: a local pid linked to the caller" do
    {:ok, pid} = Ferrotp.start_link(:counter, 0)
    assert is_pid(pid) and node(pid) == node()
    assert pid in elem(Process.info(self(), :links), 1)
  end

  test "GenServer.call and GenServer.cast reach the Rust counter" do
    {:ok, pid} = Ferrotp.start_link(:counter, 5)
    GenServer.cast(pid, {:bump, 3})
    assert GenServer.call(pid, :value) == 8
    assert :gen_server.call(pid, :value) == 8
    :ok = :gen_server.cast(pid, {:bump, 1})
    assert GenServer.call(pid, :value) == 9
  end

  test "casts from many processes and calls keep their order, as with a GenServer" do
    {:ok, pid} = Ferrotp.start_link(:counter, 0)
    {:ok, ref} = GenServer.start_link(ElixirCounter, 0)

    for server <- [pid, ref] do
      1..4
      |> Enum.map(fn _ ->
        Task.async(fn ->
          for i <- 1..2_000 do
            GenServer.cast(server, {:bump, 1})
            if rem(i, 500) == 0, do: GenServer.call(server, :value)
          end
        end)
      end)
      |> Enum.each(&Task.await(&1, 30_000))
    end

    assert GenServer.call(pid, :value) == 8_000
    assert GenServer.call(pid, :value) == GenServer.call(ref, :value)
  end

  test ":sys.get_state returns the count" do
    {:ok, pid} = Ferrotp.start_link(:counter, 2 ** 70)
    assert :sys.get_state(pid) == 2 ** 70
  end

  test ":sys.replace_state runs the fun on the count, and fails as for a GenServer" do
    {:ok, pid} = Ferrotp.start_link(:counter, 5)
    assert :sys.replace_state(pid, fn n -> n * 3 end) == 15
    assert GenServer.call(pid, :value) == 15

    assert {:callback_failed, {:gen_server, :system_replace_state}, {:error, %RuntimeError{}}} =
             catch_error(:sys.replace_state(pid, fn _ -> raise "no" end))

    assert :sys.get_state(pid) == 15
  end

  test "GenServer.stop ends it with the given reason" do
    {:ok, pid} = Ferrotp.start_link(:counter, 0)
    ref = Process.monitor(pid)
    assert GenServer.stop(pid) == :ok
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 10_000
  end

  test "registered names: name: works with GenServer.call, and is unique" do
    {:ok, pid} = Ferrotp.start_link(:counter, 4, name: Ferrotp.NIFTest.Named)
    assert Process.whereis(Ferrotp.NIFTest.Named) == pid
    assert GenServer.call(Ferrotp.NIFTest.Named, :value) == 4

    assert Ferrotp.start_link(:counter, 0, name: Ferrotp.NIFTest.Named) ==
             {:error, {:already_started, pid}}
  end

  test "a name that is not one raises as GenServer.start_link/3 raises" do
    for bad <- ["s", 123, {:global}, {:local, :x}] do
      expected = assert_raise ArgumentError, fn -> GenServer.start_link(ElixirCounter, 0, name: bad) end
      actual = assert_raise ArgumentError, fn -> Ferrotp.start_link(:counter, 0, name: bad) end
      assert actual.message == expected.message
    end
  end

  test "a start under a taken name spawns nothing, as GenServer's: no :EXIT follows" do
    Process.flag(:trap_exit, true)
    {:ok, pid} = Ferrotp.start_link(:counter, 1, name: Ferrotp.NIFTest.Taken)
    assert {:error, {:already_started, ^pid}} = Ferrotp.start_link(:counter, 2, name: Ferrotp.NIFTest.Taken)
    refute_receive {:EXIT, _, _}, 200
  end

  test "on: a process that is not a port host is an error at once, and the process is untouched" do
    {:ok, agent} = Agent.start_link(fn -> 7 end, name: Ferrotp.NIFTest.NotAHost)
    assert Ferrotp.start_link(:counter, 0, on: agent) == {:error, {:not_a_port_host, agent}}

    assert Ferrotp.start_link(:counter, 0, on: Ferrotp.NIFTest.NotAHost) ==
             {:error, {:not_a_port_host, Ferrotp.NIFTest.NotAHost}}

    assert Ferrotp.start_link(:counter, 0, on: Ferrotp.NIFTest.NoSuchHost) ==
             {:error, {:no_such_host, Ferrotp.NIFTest.NoSuchHost}}

    assert Process.info(agent, :message_queue_len) == {:message_queue_len, 0}
    assert Agent.get(agent, & &1) == 7
  end

  test "Process.exit(pid, :kill) ends it :killed" do
    Process.flag(:trap_exit, true)
    {:ok, pid} = Ferrotp.start_link(:counter, 0)
    Process.exit(pid, :kill)
    assert_receive {:EXIT, ^pid, :killed}, 10_000
  end

  test "Process.link: the owner's death kills the linked Rust process" do
    test = self()

    owner =
      spawn(fn ->
        {:ok, pid} = Ferrotp.NIF.start(:counter, 0)
        Process.link(pid)
        send(test, {:started, pid})
        receive do: (:go -> exit(:owner_gone))
      end)

    assert_receive {:started, pid}, 10_000
    ref = Process.monitor(pid)
    send(owner, :go)
    assert_receive {:DOWN, ^ref, :process, ^pid, :owner_gone}, 10_000
  end

  test "a crash is an exit reason Elixir reads, logged as a GenServer's" do
    Process.flag(:trap_exit, true)
    {:ok, pid} = Ferrotp.start_link(:counter, 0)
    ref = Process.monitor(pid)

    log =
      capture_log(fn ->
        GenServer.cast(pid, :surprise)
        assert_receive {:DOWN, ^ref, :process, ^pid, {:bad_cast, :surprise}}, 10_000
        Logger.flush()
      end)

    assert log =~ "terminating"
    assert log =~ "surprise"
  end

  test "a panic surfaces as an exit while other Rust processes keep working" do
    Process.flag(:trap_exit, true)
    {:ok, other} = Ferrotp.start_link(:counter, 1)
    {:ok, probe} = Ferrotp.start_link(:probe, nil)

    capture_log(fn ->
      assert {{:panic, "on purpose", _where}, _} =
               catch_exit(GenServer.call(probe, {:panic, "on purpose"}))
    end)

    assert_receive {:EXIT, ^probe, {:panic, "on purpose", _}}, 10_000
    assert GenServer.call(other, :value) == 1
  end

  test "a Rust process links to and monitors BEAM processes" do
    {:ok, probe} = Ferrotp.start_link(:probe, nil)
    assert GenServer.call(probe, {:trap_exit, true}) == false
    beam = spawn(fn -> receive do: (:go -> exit(:beam_died)) end)
    :ok = GenServer.call(probe, {:link, beam})
    :ok = GenServer.call(probe, {:monitor, beam})
    assert GenServer.call(probe, :ping) == :pong
    send(beam, :go)

    inbox = wait_for(fn -> GenServer.call(probe, :inbox) end, &(length(&1) == 2), [])

    assert {:EXIT, beam, :beam_died} in inbox
    assert Enum.any?(inbox, &match?({:DOWN, _, :process, ^beam, :beam_died}, &1))
  end

  test "a Supervisor restarts a crashed Rust child to a fresh state" do
    Process.flag(:trap_exit, true)

    {:ok, sup} =
      Supervisor.start_link([{Ferrotp, behaviour: :counter, arg: 5, id: :c1}],
        strategy: :one_for_one
      )

    [{:c1, c1, :worker, _}] = Supervisor.which_children(sup)
    GenServer.cast(c1, {:bump, 10})
    assert GenServer.call(c1, :value) == 15
    ref = Process.monitor(c1)

    capture_log(fn ->
      GenServer.cast(c1, :crash_please)
      assert_receive {:DOWN, ^ref, :process, ^c1, {:bad_cast, :crash_please}}, 10_000
      Logger.flush()
    end)

    c2 = wait_for(fn -> child(sup, :c1) end, &(is_pid(&1) and &1 != c1), nil)
    assert GenServer.call(c2, :value) == 5
  end

  test "terminate_child delivers :shutdown" do
    {:ok, sup} =
      Supervisor.start_link([{Ferrotp, behaviour: :counter, arg: 0, id: :c1}],
        strategy: :one_for_one
      )

    c1 = child(sup, :c1)
    ref = Process.monitor(c1)
    assert Supervisor.terminate_child(sup, :c1) == :ok
    assert_receive {:DOWN, ^ref, :process, ^c1, :shutdown}, 10_000
  end

  test "crashing more often than the intensity allows takes the supervisor down" do
    Process.flag(:trap_exit, true)

    {:ok, sup} =
      Supervisor.start_link([{Ferrotp, behaviour: :counter, arg: 0, id: :c1}],
        strategy: :one_for_one,
        max_restarts: 1,
        max_seconds: 10
      )

    sup_ref = Process.monitor(sup)

    capture_log(fn ->
      for _ <- 1..2 do
        c = wait_for(fn -> child(sup, :c1) end, &is_pid/1, nil)
        ref = Process.monitor(c)
        GenServer.cast(c, :crash_please)
        assert_receive {:DOWN, ^ref, :process, ^c, _}, 10_000
      end

      assert_receive {:DOWN, ^sup_ref, :process, ^sup, :shutdown}, 10_000
    end)
  end

  test "10 000 Rust processes start and answer calls" do
    n = 10_000

    pids =
      for i <- 1..n do
        {:ok, pid} = Ferrotp.start_link(:counter, i)
        pid
      end

    assert length(Enum.uniq(pids)) == n
    assert Enum.sum(Enum.map(pids, &GenServer.call(&1, :value))) == div(n * (n + 1), 2)
    Enum.each(pids, &stop/1)
  end

  test "schedulers stay responsive while Rust processes are busy" do
    rust = flood_lateness(fn -> Ferrotp.start_link(:counter, 0) end)
    beam = flood_lateness(fn -> GenServer.start_link(ElixirCounter, 0) end)
    IO.puts("worst 2 ms timer lateness under a cast flood: rust #{rust} us, GenServer #{beam} us")
    assert rust < 4 * beam + 100_000
  end

  # A BEAM process asks for a 2 ms timeout 200 times while 4 servers take
  # 20 000 casts each (more runnable processes than schedulers); returns its
  # worst lateness (microseconds): how long a server holds a scheduler.
  defp flood_lateness(start) do
    servers = for _ <- 1..4, do: elem(start.(), 1)
    test = self()
    probe = spawn_link(fn -> send(test, {:lateness, lateness(200, 0)}) end)

    flooders =
      for s <- servers do
        spawn_link(fn ->
          for _ <- 1..20_000, do: GenServer.cast(s, {:bump, 1})
          send(test, {:flooded, self()})
        end)
      end

    for f <- flooders, do: assert_receive({:flooded, ^f}, 60_000)
    assert_receive {:lateness, worst}, 60_000
    assert GenServer.call(hd(servers), :value, 60_000) == 20_000
    Process.unlink(probe)
    Enum.each(servers, &stop/1)
    worst
  end

  defp lateness(0, worst), do: worst

  defp lateness(k, worst) do
    t0 = System.monotonic_time(:microsecond)

    receive do
    after
      2 -> :ok
    end

    late = System.monotonic_time(:microsecond) - t0 - 2000
    lateness(k - 1, max(worst, late))
  end

  defp child(sup, id) do
    Enum.find_value(Supervisor.which_children(sup), fn
      {^id, pid, _, _} -> pid
      _ -> nil
    end)
  end

  defp wait_for(fun, done?, _last, tries \\ 2000) do
    value = fun.()

    cond do
      done?.(value) -> value
      tries == 0 -> flunk("condition not reached: last value #{inspect(value)}")
      true -> Process.sleep(5) && wait_for(fun, done?, value, tries - 1)
    end
  end

  defp stop(pid) do
    Process.unlink(pid)
    ref = Process.monitor(pid)
    Process.exit(pid, :shutdown)

    receive do
      {:DOWN, ^ref, :process, _, _} -> :ok
    after
      5000 ->
        Process.exit(pid, :kill)
        assert_receive {:DOWN, ^ref, :process, _, _}, 10_000
    end
  end
end
