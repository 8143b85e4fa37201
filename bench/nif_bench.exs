# NIF mode against Elixir GenServers, measured in the same run:
#   mix run bench/nif_bench.exs          (or: make bench-nif)
# Prints ns per GenServer.call round trip, casts per second, and the time
# and BEAM memory of 10 000 starts, each with the ratio GenServer / Rust
# (above 1.0x: the Rust process is faster or smaller).

defmodule NifBench.Counter do
  use GenServer
  def init(n), do: {:ok, n}
  def handle_call(:value, _from, n), do: {:reply, n, n}
  def handle_cast({:bump, k}, n), do: {:noreply, n + k}
end

defmodule NifBench do
  @calls 200_000
  @casts 200_000
  @starts 10_000

  def run do
    IO.puts("ferrotp NIF mode vs Elixir GenServer (schedulers: #{System.schedulers_online()})")
    rust = fn -> Ferrotp.NIF.start_link(:counter, 0) end
    beam = fn -> GenServer.start_link(NifBench.Counter, 0) end

    row(
      "GenServer.call round trip",
      "ns/call",
      best(fn -> calls(beam) end),
      best(fn -> calls(rust) end),
      :lower
    )

    row(
      "  ... CPU time per call",
      "ns/call",
      best(fn -> cpu_calls(beam) end),
      best(fn -> cpu_calls(rust) end),
      :lower
    )

    row(
      "GenServer.cast throughput",
      "casts/s",
      best(fn -> casts(beam) end, &max/2),
      best(fn -> casts(rust) end, &max/2),
      :higher
    )

    {bt, bm, bm1, bm100} = starts(beam)
    {rt, rm, rm1, rm100} = starts(rust)
    row("#{@starts} starts", "us each", bt, rt, :lower)
    row("BEAM memory per process", "bytes", bm, rm, :lower)
    row("  ... after one call each", "bytes", bm1, rm1, :lower)
    row("  ... after 100 calls each", "bytes", bm100, rm100, :lower)
  end

  defp row(what, unit, beam, rust, better) do
    ratio = if better == :lower, do: beam / rust, else: rust / beam

    IO.puts(
      String.pad_trailing(what, 28) <>
        "GenServer #{fmt(beam)} #{unit}, Rust #{fmt(rust)} #{unit}: #{:erlang.float_to_binary(ratio, decimals: 2)}x"
    )
  end

  defp fmt(x) when is_float(x), do: :erlang.float_to_binary(x, decimals: 1)
  defp fmt(x), do: Integer.to_string(x)

  defp best(f, pick \\ &min/2),
    do:
      Enum.reduce(1..3, nil, fn _, acc ->
        v = f.()
        if acc, do: pick.(acc, v), else: v
      end)

  defp calls(start) do
    {:ok, pid} = start.()
    0 = GenServer.call(pid, :value)
    t0 = System.monotonic_time(:nanosecond)
    call_loop(pid, @calls)
    ns = (System.monotonic_time(:nanosecond) - t0) / @calls
    stop(pid)
    ns
  end

  # CPU time of the whole VM per call (steadier than wall time on a machine
  # shared with other work).
  defp cpu_calls(start) do
    {:ok, pid} = start.()
    0 = GenServer.call(pid, :value)
    {_, _} = :erlang.statistics(:runtime)
    call_loop(pid, @calls)
    {_, ms} = :erlang.statistics(:runtime)
    stop(pid)
    ms * 1.0e6 / @calls
  end

  defp call_loop(_pid, 0), do: :ok

  defp call_loop(pid, n),
    do:
      (
        GenServer.call(pid, :value)
        call_loop(pid, n - 1)
      )

  defp casts(start) do
    {:ok, pid} = start.()
    t0 = System.monotonic_time(:nanosecond)
    cast_loop(pid, @casts)
    @casts = GenServer.call(pid, :value, 60_000)
    per_s = @casts / ((System.monotonic_time(:nanosecond) - t0) / 1.0e9)
    stop(pid)
    per_s
  end

  defp cast_loop(_pid, 0), do: :ok

  defp cast_loop(pid, n),
    do:
      (
        GenServer.cast(pid, {:bump, 1})
        cast_loop(pid, n - 1)
      )

  # Time per start, and BEAM memory per process once started (init has run:
  # start_link returned), after one call each and after 99 more each
  # (a process that has served a while: its heap after several garbage
  # collections): process heaps and structures (processes_used) plus
  # binaries (a NIF resource is one). erlang:memory(total) swings by whole
  # allocator carriers between runs.
  defp starts(start) do
    pids = List.duplicate(nil, @starts)
    :erlang.garbage_collect()
    m0 = mem()
    t0 = System.monotonic_time(:nanosecond)
    pids = Enum.map(pids, fn _ -> elem(start.(), 1) end)
    us = (System.monotonic_time(:nanosecond) - t0) / 1000 / @starts
    m1 = mem()
    Enum.each(pids, &GenServer.call(&1, :value))
    m2 = mem()
    Enum.each(pids, fn pid -> call_loop(pid, 99) end)
    m3 = mem()
    Enum.each(pids, &stop/1)
    {us, div(m1 - m0, @starts), div(m2 - m0, @starts), div(m3 - m0, @starts)}
  end

  # Memory freed by processes that died shortly before (earlier stages)
  # is returned later (thread progress): read once it has settled.
  defp mem, do: settle(raw_mem(), 20)

  defp raw_mem, do: :erlang.memory(:processes_used) + :erlang.memory(:binary)

  defp settle(last, 0), do: last

  defp settle(last, tries) do
    Process.sleep(50)
    now = raw_mem()
    if abs(now - last) * 200 < last, do: now, else: settle(now, tries - 1)
  end

  defp stop(pid) do
    Process.unlink(pid)
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)
    receive do: ({:DOWN, ^ref, _, _, _} -> :ok)
  end
end

NifBench.run()
