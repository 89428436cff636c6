"""The options of ``migrate`` that pick how the copy runs: ``--engine ray`` (with ``--ray-address`` and
``--partitions``) and ``--re-embed`` with ``--embedding-model``. Ray is imported only when asked for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

import vecbridge as vb
from vecbridge.migrate.copy import CopyEngine
from vecbridge.migrate.reembed import ReEmbedding


def load_re_embedding(reference: str | None, model: str | None) -> ReEmbedding | None:
    """The ``--re-embed`` function, loaded and asked for its dimension, or ``None``."""
    if reference is None:
        if model is not None:
            raise click.BadParameter(
                "--embedding-model names the model of --re-embed: give both", param_hint="--embedding-model"
            )
        return None
    if model is None:
        raise click.BadParameter("name the new model with --embedding-model NAME", param_hint="--re-embed")
    try:
        return ReEmbedding.load(reference, model)
    except vb.InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint="--re-embed") from None


def check_engine_options(engine: str, address: str | None, partitions: int | None) -> None:
    if engine != "ray" and (address is not None or partitions is not None):
        raise click.BadParameter("--ray-address and --partitions go with --engine ray", param_hint="--engine")
    if partitions is not None and partitions < 1:
        raise click.BadParameter("must be a positive number", param_hint="--partitions")


@contextlib.contextmanager
def engine_session(engine: str, address: str | None) -> Iterator[None]:
    """Connected to Ray for ``--engine ray`` (a local Ray unless ``address``), else nothing."""
    if engine != "ray":
        yield
        return
    try:
        from vecbridge.migrate.distributed import ray_session
    except vb.VecbridgeError as exc:
        raise click.UsageError(str(exc)) from None
    with ray_session(address):
        yield


def ray_engine(source: vb.Store, destination: vb.Store, partitions: int | None) -> CopyEngine:
    """The Ray copy (inside :func:`engine_session`): ``partitions`` per namespace, else one per CPU of the cluster."""
    from vecbridge.migrate.distributed import RayCopy, check_reachable, cluster_cpus

    check_reachable(source, destination)
    return RayCopy(partitions or cluster_cpus())
