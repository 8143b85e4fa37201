defmodule Ferrotp.NIF do
  @moduledoc """
  NIF mode: Rust processes inside this VM.

  Each Rust process has an ordinary local pid, linked to the caller, that
  behaves as a `GenServer`'s: `GenServer.call/cast`, `:sys.get_state/1`,
  `GenServer.stop/1`, `Process.monitor/1`, `Process.link/1`,
  `Process.exit(pid, :kill)`, registered names, and supervision.

      {:ok, pid} = Ferrotp.NIF.start_link(:counter, 0, name: MyCounter)
      GenServer.cast(MyCounter, {:bump, 2})
      2 = GenServer.call(MyCounter, :value)

  See `docs/nif.md` (and `:ferrotp_nif`) for how it works and how to add
  your own Rust behaviours.
  """

  @typedoc "A registered Rust behaviour, e.g. `:counter`."
  @type behaviour :: atom()

  @doc """
  Starts Rust behaviour `behaviour` with init argument `arg`, linked to the
  caller. Options: `name:` (an atom, `{:global, term}` or `{:via, mod, term}`),
  `hibernate_after:` (idle milliseconds before the proxy hibernates),
  `spawn_opt:` (spawn options of the proxy, as `GenServer`'s), `timeout:`
  (milliseconds init may take before the start returns `{:error, :timeout}`,
  as `GenServer`'s), `debug:` (`:sys` debug options on from the start, e.g.
  `[:trace, :statistics]`, as `GenServer`'s).
  """
  @spec start_link(behaviour(), term(), keyword()) :: GenServer.on_start()
  def start_link(behaviour, arg, opts \\ []) when is_atom(behaviour) and is_list(opts) do
    Ferrotp.check_name!(opts)
    :ferrotp_nif.start_link(behaviour, arg, erlang_opts(opts))
  end

  @doc "As `start_link/3`, without the link."
  @spec start(behaviour(), term(), keyword()) :: GenServer.on_start()
  def start(behaviour, arg, opts \\ []) when is_atom(behaviour) and is_list(opts) do
    Ferrotp.check_name!(opts)
    :ferrotp_nif.start(behaviour, arg, erlang_opts(opts))
  end

  @doc "The behaviours `start_link/3` accepts."
  @spec behaviours() :: [behaviour()]
  defdelegate behaviours(), to: :ferrotp_nif

  @doc "How many Rust processes live in this VM."
  @spec process_count() :: non_neg_integer()
  defdelegate process_count(), to: :ferrotp_nif

  defp erlang_opts(opts) do
    for {key, value} <- opts, key in [:name, :hibernate_after, :spawn_opt, :timeout, :debug], do: {key, value}
  end
end
