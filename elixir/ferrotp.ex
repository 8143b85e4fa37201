defmodule Ferrotp do
  @moduledoc """
  Rust processes that behave as GenServers, from Elixir.

      {:ok, host} = Ferrotp.Port.start_link()
      {:ok, counter} = Ferrotp.start_link(:counter, 5, on: host, name: MyCounter)
      GenServer.cast(MyCounter, {:bump, 2})
      7 = GenServer.call(MyCounter, :value)

  Every pid returned is linked to the caller and works with `GenServer.call/3`,
  `GenServer.cast/2`, `:sys.get_state/1`, `GenServer.stop/1`, monitors, links
  and `Process.exit(pid, :kill)`, and can be supervised (see `child_spec/1`).

  Where the process runs is chosen by `:on`:

    * a pid or registered name — a port host (`Ferrotp.Port`): the process
      runs in that port program;
    * a node name (an atom with `@`) — a hidden Rust node (`ferrotp node`);
    * absent — in this VM, through the NIF (`Ferrotp.NIF`).
  """

  @typedoc "A built-in or registered Rust behaviour, such as `:counter` or `:supervisor`."
  @type behaviour :: atom()

  @typedoc """
  `:on` (where), `:name` (as `GenServer.start_link/3` takes it: an atom,
  `{:global, term}` or `{:via, module, term}`), `:debug` (`:sys` debug
  options), `:timeout` (how long `init` may take before the process is
  killed and the start returns `{:error, :timeout}`), as
  `GenServer.start_link/3` takes them.
  """
  @type option ::
          {:on, pid() | node()}
          | {:name, GenServer.name()}
          | {:debug, list()}
          | {:timeout, timeout()}

  @doc """
  Starts `behaviour` with init argument `arg`, linked to the caller.

  Returns `{:ok, pid}` once the Rust `init` has run, or `{:error, reason}`.
  """
  @spec start_link(behaviour(), term(), [option()]) :: {:ok, pid()} | {:error, term()}
  def start_link(behaviour, arg, opts \\ []) when is_atom(behaviour) and is_list(opts) do
    check_name!(opts)
    {where, opts} = Keyword.pop(opts, :on)

    erlang_opts =
      for {key, value} <- opts,
          key in [:name, :hibernate_after, :debug, :timeout, :spawn_opt],
          do: {key, value}

    case where(where) do
      {:port, host} -> start_link_port(host, behaviour, arg, erlang_opts)
      {:node, node} -> start_link_node(node, behaviour, arg, erlang_opts)
      :here -> start_link_nif(behaviour, arg, opts)
      :error -> {:error, {:no_such_host, where}}
    end
  end

  # A pid or a registered name is a port host (:ferrotp checks that it is
  # one); an atom with an `@` is a node.
  defp where(nil), do: :here
  defp where(host) when is_pid(host), do: {:port, host}

  defp where(name) when is_atom(name) do
    if String.contains?(Atom.to_string(name), "@"), do: {:node, name}, else: {:port, name}
  end

  defp where(_other), do: :error

  @doc false
  # The `:name` option as `GenServer.start_link/3` takes it, which raises
  # on anything else.
  @spec check_name!(keyword()) :: :ok
  def check_name!(opts) do
    case Keyword.get(opts, :name) do
      nil ->
        :ok

      atom when is_atom(atom) ->
        :ok

      {:global, _term} ->
        :ok

      {:via, via_module, _term} when is_atom(via_module) ->
        :ok

      other ->
        raise ArgumentError, """
        expected :name option to be one of the following:

          * nil
          * atom
          * {:global, term}
          * {:via, module, term}

        Got: #{inspect(other)}
        """
    end
  end

  @doc """
  A child spec for a supervisor: `{Ferrotp, behaviour: :counter, arg: 0, on: host, name: C}`
  or `{Ferrotp, {:counter, 0, on: host}}`.

  Takes `:id` (default: the name, else the behaviour), `:restart` and
  `:shutdown` as any child spec does.
  """
  @spec child_spec(keyword() | {behaviour(), term(), [option()]}) :: Supervisor.child_spec()
  def child_spec({behaviour, arg, opts}) when is_atom(behaviour) and is_list(opts) do
    child_spec([behaviour: behaviour, arg: arg] ++ opts)
  end

  def child_spec(opts) when is_list(opts) do
    behaviour = Keyword.fetch!(opts, :behaviour)
    arg = Keyword.fetch!(opts, :arg)
    {spec_opts, start_opts} = Keyword.split(opts, [:id, :restart, :shutdown, :significant])
    start_opts = Keyword.drop(start_opts, [:behaviour, :arg])
    id = Keyword.get(spec_opts, :id, Keyword.get(start_opts, :name, behaviour))

    %{
      id: id,
      start: {__MODULE__, :start_link, [behaviour, arg, start_opts]},
      type: if(behaviour == :supervisor, do: :supervisor, else: :worker)
    }
    |> Map.merge(Map.new(Keyword.delete(spec_opts, :id)))
  end

  # One function per mode, as in erlang/ferrotp.erl.

  defp start_link_port(host, behaviour, arg, opts),
    do: :ferrotp.start_link(host, behaviour, arg, opts)

  defp start_link_node(node, behaviour, arg, opts),
    do: :ferrotp.start_link(node, behaviour, arg, opts)

  defp start_link_nif(behaviour, arg, opts), do: Ferrotp.NIF.start_link(behaviour, arg, opts)
end
