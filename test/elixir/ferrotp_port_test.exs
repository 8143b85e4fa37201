defmodule Ferrotp.PortTest do
  # Port mode from Elixir: Rust processes in a `ferrotp port` program are
  # GenServers, supervised like any other, and die cleanly with their port.
  use ExUnit.Case, async: false
  import ExUnit.CaptureLog

  # The seed's counter as a GenServer: what a Rust counter is compared with.
  defmodule Twin do
    use GenServer
    @impl true
    def init(n), do: {:ok, n}
    @impl true
    def handle_call(:value, _from, n), do: {:reply, n, n}
    def handle_call(other, _from, n), do: {:stop, {:bad_call, other}, n}
  end

  @wait 20_000

  setup do
    Process.flag(:trap_exit, true)
    {:ok, host} = Ferrotp.Port.start_link()

    on_exit(fn ->
      ref = Process.monitor(host)
      Process.exit(host, :shutdown)
      assert_receive {:DOWN, ^ref, :process, _, _}, @wait
    end)

    %{host: host}
  end

  test "call, cast and :sys.get_state", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 5, on: host)
    assert node(c) == node()
    :ok = GenServer.cast(c, {:bump, 2})
    assert GenServer.call(c, :value) == 7
    assert :sys.get_state(c) == 7
  end

  test "name: takes global and via names; debug: switches :sys options on", %{host: host} do
    {:ok, _} = Registry.start_link(keys: :unique, name: PortTestRegistry)
    name = {:via, Registry, {PortTestRegistry, :c}}
    {:ok, c} = Ferrotp.start_link(:counter, 3, on: host, name: name, debug: [:statistics])
    assert GenServer.call(name, :value) == 3
    assert {:error, {:already_started, ^c}} = Ferrotp.start_link(:counter, 4, on: host, name: name)
    assert {:ok, [_ | _]} = :sys.statistics(c, :get)
    {:ok, g} = Ferrotp.start_link(:counter, 5, on: host, name: {:global, PortTestGlobal})
    assert GenServer.whereis({:global, PortTestGlobal}) == g
  end

  test "name: registers the process", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 1, on: host, name: PortTestCounter)
    assert Process.whereis(PortTestCounter) == c
    assert GenServer.call(PortTestCounter, :value) == 1

    assert {:error, {:already_started, ^c}} =
             Ferrotp.start_link(:counter, 1, on: host, name: PortTestCounter)
  end

  test "GenServer.stop ends it :normal", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 0, on: host)
    ref = Process.monitor(c)
    assert GenServer.stop(c) == :ok
    assert_receive {:DOWN, ^ref, :process, ^c, :normal}, @wait
  end

  test "a monitor sees the crash reason, and the others keep running", %{host: host} do
    {:ok, a} = Ferrotp.start_link(:counter, 1, on: host)
    {:ok, b} = Ferrotp.start_link(:counter, 2, on: host)
    ref = Process.monitor(a)
    GenServer.cast(a, :boom)
    assert_receive {:DOWN, ^ref, :process, ^a, reason}, @wait
    assert inspect(reason) =~ "boom"
    assert_receive {:EXIT, ^a, ^reason}, @wait
    assert GenServer.call(b, :value) == 2
  end

  test "a crash is logged as a GenServer's is, and :sys.terminate frees the name", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 0, on: host)
    {:ok, g} = GenServer.start_link(Twin, 0)

    for pid <- [c, g] do
      log =
        capture_log(fn ->
          ref = Process.monitor(pid)
          catch_exit(GenServer.call(pid, :boom, @wait))
          assert_receive {:DOWN, ^ref, :process, ^pid, {:bad_call, :boom}}, @wait
          Logger.flush()
        end)

      assert log =~ "GenServer #{inspect(pid)} terminating"
      assert log =~ "** (stop) bad call: :boom"
      assert log =~ "Last message (from #{inspect(self())}): :boom"
      assert log =~ "Client #{inspect(self())} is alive"
    end

    for _ <- 1..50 do
      {:ok, n} = Ferrotp.start_link(:counter, 0, on: host, name: PortTestRestarted)
      assert :sys.terminate(n, :normal) == :ok
      refute Process.whereis(PortTestRestarted) == n
    end
  end

  test "Process.exit(pid, :kill) reads :killed to links and monitors", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 0, on: host)
    ref = Process.monitor(c)
    Process.exit(c, :kill)
    assert_receive {:DOWN, ^ref, :process, ^c, :killed}, @wait
    assert_receive {:EXIT, ^c, :killed}, @wait
  end

  test "kill -9 of the port program ends every hosted pid and the host", %{host: host} do
    pids = for n <- 1..3, do: elem(Ferrotp.start_link(:counter, n, on: host), 1)
    refs = Enum.map(pids, &Process.monitor/1)
    host_ref = Process.monitor(host)
    os_pid = Ferrotp.Port.os_pid(host)
    System.cmd("kill", ["-9", Integer.to_string(os_pid)])

    for ref <- refs do
      assert_receive {:DOWN, ^ref, :process, _, {:port_exit, status}}, @wait
      assert status != 0
    end

    assert_receive {:DOWN, ^host_ref, :process, ^host, {:port_exit, _}}, @wait
    assert eventually(fn -> not File.dir?("/proc/#{os_pid}") end)
  end

  test "the port program exits when its owner dies" do
    me = self()

    {owner, ref} =
      spawn_monitor(fn ->
        {:ok, host} = Ferrotp.Port.start_link()
        {:ok, _} = Ferrotp.start_link(:counter, 0, on: host)
        send(me, {:os_pid, Ferrotp.Port.os_pid(host)})
        Process.sleep(:infinity)
      end)

    assert_receive {:os_pid, os_pid}, @wait
    assert File.dir?("/proc/#{os_pid}")
    Process.exit(owner, :kill)
    assert_receive {:DOWN, ^ref, :process, ^owner, :killed}, @wait
    assert eventually(fn -> not alive?(os_pid) end)
  end

  @tag timeout: 120_000
  test "2 000 processes in one port", %{host: host} do
    pids = for n <- 1..2000, do: elem(Ferrotp.start_link(:counter, n, on: host), 1)
    assert length(Enum.uniq(pids)) == 2000
    Enum.each(pids, &GenServer.cast(&1, {:bump, 1}))
    assert Enum.map(pids, &GenServer.call(&1, :value)) == Enum.to_list(2..2001)
  end

  @tag timeout: 120_000
  test "a 5 MB binary goes in and comes back", %{host: host} do
    {:ok, c} = Ferrotp.start_link(:counter, 0, on: host)
    {:ok, other} = Ferrotp.start_link(:counter, 0, on: host)
    bin = :binary.copy("ferrotp!", div(5 * 1024 * 1024, 8))
    ref = Process.monitor(c)
    GenServer.cast(c, {:oops, bin})
    for _ <- 1..100, do: GenServer.cast(other, {:bump, 1})
    assert GenServer.call(other, :value, 60_000) == 100
    assert_receive {:DOWN, ^ref, :process, ^c, reason}, 60_000
    assert reason == {:bad_cast, {:oops, bin}} or inspect(reason, limit: 3) =~ "oops"
  end

  test "a Supervisor restarts a crashed Rust child", %{host: host} do
    children = [{Ferrotp, behaviour: :counter, arg: 10, on: host, name: PortTestSupCounter}]
    {:ok, sup} = Supervisor.start_link(children, strategy: :one_for_one)
    c1 = Process.whereis(PortTestSupCounter)
    ref = Process.monitor(c1)
    GenServer.cast(PortTestSupCounter, :crash)
    assert_receive {:DOWN, ^ref, :process, ^c1, _}, @wait

    assert eventually(fn ->
             pid = Process.whereis(PortTestSupCounter)
             is_pid(pid) and pid != c1
           end)

    assert GenServer.call(PortTestSupCounter, :value) == 10
    assert [{PortTestSupCounter, _, :worker, _}] = Supervisor.which_children(sup)
    Supervisor.stop(sup)
  end

  test "a Rust supervisor with counter children in the port", %{host: host} do
    flags = %{strategy: :one_for_one, intensity: 3, period: 10}
    specs = [%{id: :a, start: {:counter, :start_link, [1]}}]
    {:ok, sup} = Ferrotp.start_link(:supervisor, {flags, specs}, on: host)
    [{:a, a, :worker, _}] = Supervisor.which_children(sup)
    assert GenServer.call(a, :value) == 1
    ref = Process.monitor(a)
    GenServer.stop(sup)
    assert_receive {:DOWN, ^ref, :process, ^a, :shutdown}, @wait
  end

  defp alive?(os_pid) do
    case File.read("/proc/#{os_pid}/stat") do
      {:ok, stat} -> not (stat |> String.split(") ") |> List.last() |> String.starts_with?("Z"))
      _ -> false
    end
  end

  defp eventually(f, tries \\ 100) do
    cond do
      f.() -> true
      tries == 0 -> false
      true -> Process.sleep(50) && eventually(f, tries - 1)
    end
  end
end
