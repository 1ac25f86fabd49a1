"""What our wrappers put in the zoo's place for the duration of a run, where the zoo offers no other hook.

The zoo's scripts look two classes up by name when they run: ``rl_zoo3.utils.StoreDict``, the
argparse action of ``--hyperparams``, ``--env-kwargs`` and ``--eval-env-kwargs``, and
``rl_zoo3.exp_manager.ExperimentManager``. Each context manager here swaps one module attribute
for a subclass of ours and puts the zoo's class back on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from reinforce_sb3.zoo.checks import check_reinforce_hyperparams, parse_items

if TYPE_CHECKING:
    from reinforce_sb3.zoo.study import TuningOptions


class CheckedStoreDict(argparse.Action):
    """
    The zoo's ``StoreDict`` (``NAME:VALUE`` items into a dict, each value evaluated as Python), with a
    ``ValueError`` naming the option for an item that is not ``NAME:VALUE`` or whose value is no Python
    expression (:func:`~reinforce_sb3.zoo.checks.parse_items`), and, for ``--algo reinforce``, for a
    ``--hyperparams`` key REINFORCE does not take or a value it refuses
    (:func:`~reinforce_sb3.zoo.checks.check_reinforce_hyperparams`).
    """

    algo: ClassVar[str | None] = None
    """The run's ``--algo``."""
    namespace: ClassVar[dict[str, Any]] = {}
    """The globals the values are evaluated in (the zoo's: ``vars(rl_zoo3.utils)``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, nargs: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=nargs, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        option = option_string or self.dest
        items = [values] if isinstance(values, str) else list(values or [])
        parsed = parse_items(option, items, self.namespace)
        if self.dest == "hyperparams" and self.algo == "reinforce":
            try:
                check_reinforce_hyperparams(parsed)
            except ValueError as error:
                raise ValueError(f"{option}: {error}") from None
        setattr(namespace, self.dest, parsed)

    @classmethod
    def configured(cls, algo: str | None, namespace: dict[str, Any]) -> type[CheckedStoreDict]:
        """This class with the run's ``--algo`` and the zoo's globals set."""
        return type(cls.__name__, (cls,), {"algo": algo, "namespace": namespace})


@contextlib.contextmanager
def checked_dict_options(algo: str | None) -> Iterator[None]:
    """
    While inside, the zoo's ``StoreDict`` is :class:`CheckedStoreDict` for ``algo``.

    The zoo's scripts do ``from rl_zoo3.utils import StoreDict`` when they run and pass it as the
    argparse action of their dict options; that module attribute is the one place to put ours.
    """
    import rl_zoo3.utils

    original = rl_zoo3.utils.StoreDict
    checked = CheckedStoreDict.configured(algo, vars(rl_zoo3.utils))
    rl_zoo3.utils.StoreDict = checked  # type: ignore[misc,assignment]  # an argparse action of the same contract
    try:
        yield
    finally:
        rl_zoo3.utils.StoreDict = original  # type: ignore[misc]  # put back the zoo's class


@contextlib.contextmanager
def zoo_experiment_manager(options: TuningOptions) -> Iterator[None]:
    """
    While inside, the zoo's ``ExperimentManager`` is our multi-seed subclass configured with ``options``.

    The zoo's train script does ``from rl_zoo3.exp_manager import ExperimentManager`` and constructs
    it with its own arguments; it has no hook for another class or for extra options, so the one
    place to put ours is that module attribute, restored on the way out.
    """
    import rl_zoo3.exp_manager

    from reinforce_sb3.zoo.tuning import MultiSeedExperimentManager

    original = rl_zoo3.exp_manager.ExperimentManager
    rl_zoo3.exp_manager.ExperimentManager = MultiSeedExperimentManager.configured(options)  # type: ignore[misc]  # a subclass
    try:
        yield
    finally:
        rl_zoo3.exp_manager.ExperimentManager = original  # type: ignore[misc]  # put back the zoo's class
