defmodule Ferrotp.Port do
  @moduledoc """
  A port host: one `ferrotp port` program and the Rust processes in it.

      {:ok, host} = Ferrotp.Port.start_link()
      {:ok, c} = Ferrotp.start_link(:counter, 0, on: host)

      children = [
        {Ferrotp.Port, name: MyPort},
        {Ferrotp, behaviour: :counter, arg: 0, on: MyPort, name: MyCounter}
      ]

  If the port program dies (a crash, `kill -9`, out of memory) every
  process in it exits with `{:port_exit, status}`, and so does the host;
  if the host dies, the program exits (no orphan OS process).

  Options: `:executable` (path of the `ferrotp` binary; found when absent),
  `:max_memory` (bytes the program may allocate; over it, it aborts), `:start_timeout`
  (milliseconds a Rust `init` may take), `:name`.
  """

  @doc "Starts a port program and its host, linked to the caller."
  @spec start_link(keyword() | map()) :: {:ok, pid()} | {:error, term()}
  def start_link(opts \\ []), do: :ferrotp_port.start_link(Map.new(opts))

  @doc "The OS pid of the port program."
  @spec os_pid(pid() | atom()) :: non_neg_integer()
  def os_pid(host), do: :ferrotp_port.os_pid(host)

  @doc false
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :id, Keyword.get(opts, :name, __MODULE__)),
      start: {__MODULE__, :start_link, [Keyword.delete(opts, :id)]},
      type: :worker
    }
  end
end
