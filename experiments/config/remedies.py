"""The remedies an experiment may name: each one's family, what it needs, and its title.

Config validates ``remedies.apply`` against these names; which remedies a system can take is
read from its adapter (``REMEDY_KNOBS``, ``REMEDIES_UNSUPPORTED``), found by name in
:mod:`experiments.config.registry`. Running them is :mod:`experiments.engine.remedies`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.config.registry import system_adapter


@dataclass(frozen=True)
class Remedy:
    """One remedy: its family, what it needs from a system, and what it does."""

    family: str
    needs: str  # "model": SystemRun.remedy_model; "knobs": the adapter's REMEDY_KNOBS
    description: str


#: Every remedy the project knows, by name.
REMEDIES: dict[str, Remedy] = {
    "threshold_equalized_odds": Remedy(
        "post-processing", "model",
        "fairlearn ThresholdOptimizer, equalized odds, over the system's fitted score, fitted "
        "on the training split's recorded outcomes"),
    "threshold_demographic_parity": Remedy(
        "post-processing", "model",
        "fairlearn ThresholdOptimizer, demographic parity, over the system's fitted score, "
        "fitted on the training split's recorded outcomes"),
    "reductions_equalized_odds": Remedy(
        "reductions", "model",
        "fairlearn ExponentiatedGradient, equalized odds, around the system's own estimator, "
        "trained on the recorded outcomes"),
    "reductions_demographic_parity": Remedy(
        "reductions", "model",
        "fairlearn ExponentiatedGradient, demographic parity, around the system's own "
        "estimator, trained on the recorded outcomes"),
    "random_audit_labels": Remedy(
        "data", "model",
        "the system learns from a random audit sample of the training split whose true "
        "outcome is established, instead of the records"),
    "reweighing": Remedy(
        "data", "model",
        "training people weighted so that the recorded outcome is independent of the "
        "sensitive feature (Kamiran and Calders 2012)"),
    "unawareness": Remedy(
        "design", "model or knobs",
        "nationality and its named proxies held at one value for everyone, so the system "
        "cannot read them"),
    "remove_biased_list": Remedy(
        "design", "knobs",
        "the biased stage or list (countries of concern, lexicon identity words) removed"),
    "raise_capacity": Remedy(
        "design", "knobs",
        "the share of people the agency acts on multiplied by remedies.capacity_factor"),
}

#: Remedies that refit or post-process the system's learned score (SystemRun.remedy_model).
MODEL_REMEDIES: tuple[str, ...] = tuple(n for n, r in REMEDIES.items() if "model" in r.needs)

#: Reader-facing name of each remedy, for tables and figures.
REMEDY_TITLES: dict[str, str] = {
    "threshold_equalized_odds": "threshold optimiser, equalized odds",
    "threshold_demographic_parity": "threshold optimiser, demographic parity",
    "reductions_equalized_odds": "reductions, equalized odds",
    "reductions_demographic_parity": "reductions, demographic parity",
    "random_audit_labels": "labels from a random audit",
    "reweighing": "reweighing",
    "unawareness": "unawareness",
    "remove_biased_list": "biased list or stage removed",
    "raise_capacity": "capacity raised",
}


def supported_remedies(system: str) -> list[str]:
    """The remedies a system can take, in :data:`REMEDIES` order."""
    refused = unsupported_remedies(system)
    return [name for name in REMEDIES if name not in refused]


def unsupported_remedies(system: str) -> dict[str, str]:
    """The remedies a system cannot take, each with the reason its adapter gives."""
    adapter = system_adapter(system)
    refused = dict(getattr(adapter, "REMEDIES_UNSUPPORTED", {}))
    knobs = getattr(adapter, "REMEDY_KNOBS", {})
    for name, remedy in REMEDIES.items():
        if name not in knobs and name not in refused and remedy.needs == "knobs":
            refused[name] = "no setting of this system plays that part"
    return refused
