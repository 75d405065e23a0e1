"""Where a partitioned run's tasks run: in this process, or on a Dask cluster.

Both executors offer the same few calls (``put``, ``submit``, ``submit_on``, ``settle``,
``gather``, ``close``), so the plan, the search and the exchange are written once.
:func:`make_executor` picks one from the run's options; the ``check_*`` functions refuse bad
options before any cluster is started.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any, Literal

from reach.errors import ResourceLimitError, ScenarioError

__all__ = [
    "DASK_LOGGERS",
    "SCHEDULER_CONNECT_TIMEOUT_S",
    "DaskExecutor",
    "Executor",
    "ExecutorKind",
    "LocalExecutor",
    "check_scheduler_address",
    "check_workers",
    "make_executor",
    "max_workers",
    "pick",
    "quiet_dask_logs",
]

ExecutorKind = Literal["local", "dask"]

#: The loggers of Dask that a run keeps at warning level (unless reach's own log is at debug).
DASK_LOGGERS = ("distributed", "dask", "bokeh", "tornado")
#: Seconds a probe of a scheduler's address waits for the connection.
SCHEDULER_CONNECT_TIMEOUT_S = 3.0


class LocalExecutor:
    """Runs every task at once in this process."""

    workers = 1

    def put(self, obj: Any) -> Any:
        """``obj`` itself (nothing to send).

        Parameters
        ----------
        obj
            Any object a task will take as an argument.

        Returns
        -------
        object
            ``obj``, unchanged.
        """
        return obj

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` now and return its result.

        Parameters
        ----------
        fn
            The task.
        *args
            Its arguments.

        Returns
        -------
        object
            What ``fn`` returned (it stands in for a future: :meth:`gather` returns it as is).
        """
        return fn(*args)

    def submit_on(self, holder: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(holder, *args)`` now and return its result.

        Parameters
        ----------
        holder
            The first argument (a partition's state).
        fn
            The task.
        *args
            Its other arguments.

        Returns
        -------
        object
            What ``fn`` returned.
        """
        return fn(holder, *args)

    def settle(self, handles: Iterable[Any]) -> None:
        """Nothing to wait for: every task ran when it was submitted.

        Parameters
        ----------
        handles
            Results of :meth:`submit` or :meth:`submit_on` (not looked at).
        """
        return None

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        """The results themselves.

        Parameters
        ----------
        handles
            Results of :meth:`submit` or :meth:`submit_on`.

        Returns
        -------
        list
            ``handles``, as a list, in their order.
        """
        return list(handles)

    def close(self) -> None:
        """Nothing to close."""
        return None


def pick(pair: tuple[Any, ...], k: int) -> Any:
    """Item ``k`` of a task's result (submitted as a task of its own, to split a result).

    Parameters
    ----------
    pair
        A task's result: a tuple (such as the ``(state, exports)`` of a window's search).
    k
        The index of the item to take.

    Returns
    -------
    object
        ``pair[k]``.
    """
    return pair[k]


class DaskExecutor:
    """Runs tasks on a Dask cluster: a new local one, or the one behind a scheduler address.

    Dask's loggers are quietened first (:func:`quiet_dask_logs`). A new local cluster runs one
    single-threaded process per worker, without a dashboard. ``workers`` (the attribute) is the
    number of workers the scheduler reports once connected, at least 1.

    Parameters
    ----------
    workers
        Workers of a new local cluster (2 when ``None``); not used with a scheduler.
    scheduler
        Address of a running Dask scheduler (``tcp://host:port``), checked with
        :func:`check_scheduler_address` before connecting; ``None`` (or empty) starts a new
        local cluster, which :meth:`close` stops.

    Raises
    ------
    ScenarioError
        When ``dask.distributed`` is not installed, or the scheduler address is malformed or
        nothing answers there.
    """

    def __init__(self, *, workers: int | None, scheduler: str | None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ScenarioError(
                "a Dask run needs dask.distributed, which is not installed",
                fix="pip install 'reach[dask]' (or run without workers / scheduler)",
            ) from exc
        level = quiet_dask_logs()
        self.cluster: Any = None
        if scheduler:
            check_scheduler_address(scheduler)
            self.client = Client(scheduler, timeout=f"{SCHEDULER_CONNECT_TIMEOUT_S * 3:g}s")
        else:
            self.cluster = LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=level,
            )
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def put(self, obj: Any) -> Any:
        """Send ``obj`` to the cluster once, so that tasks can share it.

        Parameters
        ----------
        obj
            Any object a task will take as an argument (a dict is sent whole, not key by key).

        Returns
        -------
        distributed.Future
            The future of ``obj`` on the cluster, to pass to tasks in its place.
        """
        # in a list: a dict would be scattered value by value, under its keys as Dask keys
        return self.client.scatter([obj], hash=False)[0]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on some worker.

        Parameters
        ----------
        fn
            The task.
        *args
            Its arguments (futures among them are replaced by their results on the worker).

        Returns
        -------
        distributed.Future
            The task's future (submitted as impure: submitting it again runs it again).
        """
        return self.client.submit(fn, *args, pure=False)

    def submit_on(self, holder: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(holder, *args)`` on the worker that holds ``holder`` (a partition's state).

        Moving a state to an idle worker would hold it twice for nothing, so the task may run
        on no other worker. When the scheduler knows of no worker holding ``holder``, the task
        is submitted as by :meth:`submit`, to any worker.

        Parameters
        ----------
        holder
            The future of the first argument (a partition's state).
        fn
            The task.
        *args
            Its other arguments.

        Returns
        -------
        distributed.Future
            The task's future.
        """
        where = list(self.client.who_has([holder]).get(holder.key, ()))
        if not where:
            return self.submit(fn, holder, *args)
        return self.client.submit(
            fn, holder, *args, pure=False, workers=where, allow_other_workers=False
        )

    def settle(self, handles: Iterable[Any]) -> None:
        """Wait until the futures are done (without fetching their results).

        Parameters
        ----------
        handles
            Futures from :meth:`submit` or :meth:`submit_on`.
        """
        from dask.distributed import wait

        wait(list(handles))

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        """The futures' results, fetched from the workers.

        Parameters
        ----------
        handles
            Futures from :meth:`put`, :meth:`submit` or :meth:`submit_on`.

        Returns
        -------
        list
            Their results, in the order of ``handles``.

        Raises
        ------
        ResourceLimitError
            When a worker was lost (a task killed or cancelled): a partition's state lives on
            one worker between rounds, so losing it ends the run.
        """
        from concurrent.futures import CancelledError

        from dask.distributed import KilledWorker

        try:
            return list(self.client.gather(list(handles)))
        except (CancelledError, KilledWorker) as exc:
            # a partition's state lives on one worker between rounds: losing it ends the run
            raise ResourceLimitError(
                f"a Dask worker was lost during the partitioned run ({type(exc).__name__})",
                fix="give each worker more memory (its limit must hold the partitions it keeps "
                "between rounds), or use smaller tiles (tile_cells), and run again",
            ) from exc

    def close(self) -> None:
        """Close the client, and the cluster if this executor started it."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


Executor = LocalExecutor | DaskExecutor


def make_executor(
    executor: ExecutorKind | None, *, workers: int | None, scheduler: str | None
) -> Executor:
    """The executor a run's options ask for.

    Parameters
    ----------
    executor
        ``"local"``, ``"dask"``, or ``None``: Dask when workers or a scheduler are given.
    workers
        Workers of a new local Dask cluster.
    scheduler
        Address of a running Dask scheduler.

    Returns
    -------
    LocalExecutor or DaskExecutor
        Ready to take tasks (close it when done).

    Raises
    ------
    ScenarioError
        For a scheduler without Dask, an unknown executor, or a bad number of workers.
    """
    if executor is None:
        executor = "dask" if (workers or scheduler) else "local"
    if executor == "local":
        if scheduler:
            raise ScenarioError(
                "a scheduler address needs the Dask executor", fix="drop executor='local'"
            )
        return LocalExecutor()
    if executor != "dask":
        raise ScenarioError(f"unknown executor {executor!r}", fix="use 'local' or 'dask'")
    if workers is not None:
        check_workers(workers)
    return DaskExecutor(workers=workers, scheduler=scheduler)


def max_workers() -> int:
    """The most workers a new local cluster may have: four per core, at least 4.

    Returns
    -------
    int
        ``4 × os.cpu_count()`` (1 core when it is unknown), and at least 4.
    """
    return max(4, 4 * (os.cpu_count() or 1))


def quiet_dask_logs() -> int:
    """Keep Dask's loggers at warning level (debug when reach's own logger is at debug).

    Dask sets its loggers to info when it is imported, so call this after importing it.

    Returns
    -------
    int
        The level set.
    """
    debug = logging.getLogger("reach").isEnabledFor(logging.DEBUG)
    level = logging.DEBUG if debug else logging.WARNING
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def check_workers(workers: object, *, option: str = "workers") -> int:
    """``workers`` if it is a whole number from 1 to :func:`max_workers`.

    Parameters
    ----------
    workers
        The value given.
    option
        Its name, for messages.

    Returns
    -------
    int
        The number of workers.

    Raises
    ------
    ScenarioError
        Naming the option, the value and a fix.
    """
    from reach.metrics import check_count

    return check_count(option, workers, upper=max_workers())


_ADDRESS = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})/?"
)


def check_scheduler_address(address: object, *, option: str = "scheduler") -> str:
    """``address`` if it is ``tcp://host:port`` (or ``tls://``) and something listens there.

    A plain TCP connection is tried, for at most :data:`SCHEDULER_CONNECT_TIMEOUT_S` seconds,
    before any cluster is contacted.

    Parameters
    ----------
    address
        The value given.
    option
        Its name, for messages.

    Returns
    -------
    str
        The address, stripped.

    Raises
    ------
    ScenarioError
        On a malformed address, or when nothing answers at it.
    """
    fix = "give the address of a running Dask scheduler, e.g. tcp://scheduler:8786"
    text = address if isinstance(address, str) else ""
    m = _ADDRESS.fullmatch(text.strip())
    if m is None or (m["scheme"] or "tcp") not in ("tcp", "tls"):
        raise ScenarioError(f"{option} {address!r} is not an address like tcp://host:8786", fix=fix)
    host, port = m["host"].strip("[]"), int(m["port"])
    if not 1 <= port <= 65535:
        raise ScenarioError(f"{option} {address!r}: port {port} is out of range", fix=fix)
    try:
        with socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ScenarioError(
            f"{option} {text}: no Dask scheduler answers there ({why})",
            fix="start the scheduler (`dask scheduler`), check the host and port, "
            "or run with --workers N for a local cluster",
        ) from None
    return text.strip()
