defmodule Ferrotp do
  @moduledoc """
  ferrotp from Elixir: Rust processes that behave as GenServers.

      {:ok, pid} = Ferrotp.start_link(:counter, 0, name: MyCounter)

  Where the Rust process runs is `on:` — absent: in this VM, through the NIF
  (`Ferrotp.NIF`); a node name: on a Rust node; a port host pid: in a port
  program.

  In a supervision tree:

      children = [{Ferrotp, behaviour: :counter, arg: 0, name: MyCounter}]
      Supervisor.start_link(children, strategy: :one_for_one)
  """

  @doc """
  Starts Rust behaviour `behaviour` with init argument `arg`, linked to the
  caller. Options: `name:`, `on:` (default: in this VM).
  """
  @spec start_link(atom(), term(), keyword()) :: GenServer.on_start()
  def start_link(behaviour, arg, opts \\ []) do
    case Keyword.pop(opts, :on) do
      {nil, opts} -> Ferrotp.NIF.start_link(behaviour, arg, opts)
      {where, opts} -> :ferrotp.start_link(where, behaviour, arg, erlang_opts(opts))
    end
  end

  @doc """
  A child specification: `{Ferrotp, behaviour: :counter, arg: 0}` plus any
  `start_link/3` options, and the usual `id:`, `restart:`, `shutdown:`.
  """
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) when is_list(opts) do
    {behaviour, opts} = Keyword.pop!(opts, :behaviour)
    {arg, opts} = Keyword.pop(opts, :arg)
    {spec_opts, start_opts} = Keyword.split(opts, [:id, :restart, :shutdown, :significant])

    %{
      id: Keyword.get(spec_opts, :id, Keyword.get(start_opts, :name, behaviour)),
      start: {__MODULE__, :start_link, [behaviour, arg, start_opts]},
      type: :worker
    }
    |> Map.merge(Map.new(Keyword.delete(spec_opts, :id)))
  end

  defp erlang_opts(opts) do
    case Keyword.fetch(opts, :name) do
      {:ok, name} -> [{:name, name}]
      :error -> []
    end
  end
end
