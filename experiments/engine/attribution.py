"""Where a disparity comes from: the same people in every world of an experiment's bias knobs.

An experiment's ``[attribution]`` table lists its bias knobs: each a dotted config key and its
value with the bias off. The run is repeated in the worlds where each knob is on (as
configured) or off, on the same people: the population is generated once (same seed, same
truth, same exogenous noise); each world re-applies the mechanisms with its knob values and
re-runs only the system's decisions. Differences between worlds are then paired, and

    disparity with every knob off + each knob's Shapley contribution = disparity as configured

holds exactly for every comparison. Up to ``max_exact`` knobs every one of the ``2**k`` worlds
is run (exact Shapley values); above it a sample of random orders is run (a permutation
estimate, additive too, with its Monte Carlo error). Intervals come from
:mod:`audit.paired`: pattern counts of decisions across worlds, resampled within groups.

A system's run may offer ``SystemRun.decide_world``, a function ``(world_config, world_people)
-> {"decision": ndarray, ...}`` that reuses what does not change between worlds (posts,
trained parts) and may return more outcomes for the system's own contrasts; without it each
world calls the adapter's ``run`` and keeps only its decisions.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.paired import (
    PairedCounts,
    monte_carlo_error,
    one_at_a_time_weights,
    paired_counts,
    permutation_weights,
    shapley_weights,
    world_contrasts,
)
from experiments.config import ExperimentConfig, set_dotted
from experiments.systems.contract import (
    ALL_OFF,
    AS_CONFIGURED,
    Attribution,
    WorldContrast,
    join_columns,
)
from synthetic.population import apply_mechanisms
from synthetic.population.columns import text_values

if TYPE_CHECKING:
    from experiments.config import AttributionKnob

#: Streams of SeedSequence(seed) for the attribution's bootstrap and its random orders.
BOOTSTRAP_STREAM = 13
ORDER_STREAM = 17
#: The ``source`` of the first and last row of every comparison in attribution.csv.
COLUMNS = ["grouping", "group", "reference", "metric", "source", "contribution", "ci_low",
           "ci_high", "kind", "knob_key", "one_at_a_time_change", "one_at_a_time_ci_low",
           "one_at_a_time_ci_high", "monte_carlo_error", "n_group", "n_reference", "label"]

WorldDecider = Callable[[ExperimentConfig, pd.DataFrame], "dict[str, np.ndarray] | np.ndarray"]


def world_config(config: ExperimentConfig, knobs: list[AttributionKnob], world: int
                 ) -> ExperimentConfig:
    """The experiment with knob ``i`` as configured where bit ``i`` of ``world`` is set, else
    at its off value."""
    data = config.model_dump(mode="python")
    data.pop("attribution", None)
    data = copy.deepcopy(data)
    for i, knob in enumerate(knobs):
        if not world >> i & 1:
            set_dotted(data, knob.key, knob.off)
    return ExperimentConfig.model_validate(data)


def world_configs(config: ExperimentConfig) -> list[ExperimentConfig]:
    """The configs of the worlds :func:`attribute_run` decides, in its order of worlds."""
    knobs = list(config.attribution.knobs)
    return [world_config(config, knobs, int(world)) for world in _worlds(config)[0]]


def default_decider(adapter: ModuleType, train: np.ndarray, columns: list[str]) -> WorldDecider:
    """A world's decisions by the adapter's full ``run`` (for adapters with no cheaper path)."""

    def decide(world: ExperimentConfig, people: pd.DataFrame) -> dict[str, np.ndarray]:
        return {"decision": adapter.run(world, people, train, columns).decided.table[
            "decision"].to_numpy(dtype=bool)}

    return decide


def _worlds(config: ExperimentConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """World numbers to run and the Shapley weights over them ``(k, n_worlds)``, or per order
    ``(orders, k, n_worlds)`` for the permutation estimate."""
    section = config.attribution
    k = len(section.knobs)
    if k <= section.max_exact:
        return np.arange(2**k), shapley_weights(k), "exact"
    rng = np.random.default_rng(np.random.SeedSequence([config.experiment.seed, ORDER_STREAM]))
    visited, per_order = permutation_weights(k, section.n_permutations, rng)
    all_on = 2**k - 1
    # The worlds with one knob off are run too, for the one-at-a-time changes.
    worlds = np.unique(np.concatenate([visited, [all_on & ~(1 << i) for i in range(k)]]))
    widened = np.zeros((*per_order.shape[:2], len(worlds)))
    widened[..., np.searchsorted(worlds, visited)] = per_order
    return worlds, widened, "permutation"


def attribute_run(
    config: ExperimentConfig,
    adapter: ModuleType,
    people: pd.DataFrame,
    train: np.ndarray,
    columns: list[str],
    decisions: pd.DataFrame,
    references: dict[str, str],
    contrasts: list[WorldContrast] | None = None,
    decide_world: WorldDecider | None = None,
    progress: Callable[[str], None] | None = None,
    pool: Any = None,
) -> Attribution:
    """Run the knob worlds on the same people and attribute every focus comparison.

    Parameters
    ----------
    config : ExperimentConfig
        With an ``[attribution]`` table.
    adapter : module
        The system's adapter.
    people : DataFrame
        The population as generated for the run (configured mechanisms).
    train : ndarray of bool
        The run's training split.
    columns : list of str
        Grouping columns.
    decisions : DataFrame
        The run's decisions (as configured), whose rows every world's ``decision`` follows.
    references : dict
        Reference group the audit used, per grouping name.
    contrasts : list of WorldContrast, optional
        The system's own comparisons.
    decide_world : callable, optional
        The system's cheap path to a world's decisions (``SystemRun.decide_world``).
    progress : callable, optional
    pool : DaskPool, optional
        Decide the worlds on a cluster (:class:`experiments.engine.pool.DaskPool`) instead
        of here, one task per distinct world; the outcomes are the same.

    Returns
    -------
    Attribution
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    section = config.attribution
    knobs = list(section.knobs)
    k = len(knobs)
    worlds, weights, method = _worlds(config)
    decide = decide_world or default_decider(adapter, train, columns)
    seed = config.experiment.seed
    recorded: dict[str, pd.DataFrame] = {}
    configured_mechanisms = repr(sorted(config.model_dump()["mechanisms"].items()))
    outcomes: dict[str, list[np.ndarray]] = {}
    factual = decisions["decision"].to_numpy(dtype=bool)
    # A knob configured at its off value makes pairs of worlds identical: decide each once.
    decided: dict[str, dict[str, np.ndarray]] = {}
    if decide_world is None:
        # The full run already decided the configured world, by the very code the default
        # decider would run again.
        decided[world_config(config, knobs, 2**k - 1).model_dump_json()] = {"decision": factual}
    if pool is not None:
        _decide_on_cluster(pool, config, knobs, worlds, decide, people, decided, outcomes, say)
    variants = [world_config(config, knobs, int(world)) for world in
                (worlds if pool is None else [])]
    mechanisms_of = [{name: m.model_dump() for name, m in variant.mechanisms.items()}
                     for variant in variants]
    keys = [repr(sorted(mechanisms.items())) for mechanisms in mechanisms_of]
    # Worlds that share their people are decided one after another, so that one world's
    # people at a time are held (each is a copy of the population); their outcomes keep the
    # worlds' order.
    order = sorted(range(len(variants)), key=lambda i: (keys[i] != configured_mechanisms,
                                                        keys[i]))
    results: list[dict[str, np.ndarray]] = [{} for _ in variants]
    for number, position in enumerate(order):
        say(f"attribution: world {number + 1} of {len(worlds)}")
        variant, key = variants[position], keys[position]
        fingerprint = variant.model_dump_json()
        if fingerprint in decided:
            results[position] = decided[fingerprint]
            continue
        if key == configured_mechanisms:
            world_people = people
        else:
            if key not in recorded:
                world_people = None  # the previous world's people go before these are made
                recorded.clear()
                recorded[key] = apply_mechanisms(people, mechanisms_of[position], seed)
            world_people = recorded[key]
        results[position] = decided[fingerprint] = _outcomes(decide(variant, world_people))
    recorded.clear()
    for result in results:
        for name, values in result.items():
            outcomes.setdefault(name, []).append(values)
    stacked = {name: np.column_stack(values) for name, values in outcomes.items()}
    all_on_position = int(np.searchsorted(worlds, 2**k - 1))
    if not np.array_equal(stacked["decision"][:, all_on_position], factual):
        raise RuntimeError("the world with every knob as configured did not reproduce the run's "
                           "decisions; the system's decide_world must match its run")

    mean_weights = weights if method == "exact" else weights.mean(axis=0)
    off_row = (worlds == 0).astype(np.float64)[None, :]
    on_row = (worlds == 2**k - 1).astype(np.float64)[None, :]
    one_off = one_at_a_time_weights(k, worlds)
    world_weights = np.vstack([off_row, mean_weights, on_row, one_off])
    rng = np.random.SeedSequence([seed, BOOTSTRAP_STREAM])
    rows: list[dict[str, Any]] = []
    comparisons = _focus_comparisons(config, decisions, references)
    comparisons += list(contrasts or [])
    streams = rng.spawn(len(comparisons) * 4 + 1)
    stream_index = 0
    for comparison in comparisons:
        if isinstance(comparison, WorldContrast):
            labels = {}
            groups, outcome = comparison.groups, stacked[comparison.outcome]
            specs = [(comparison.metric, comparison.weights, comparison)]
        else:
            groups, outcome, labels = (comparison["groups"], stacked["decision"],
                                       {"y_true": decisions["y_true"].to_numpy(dtype=bool)})
            specs = [(metric, {comparison["group"]: 1.0, comparison["reference"]: -1.0},
                      comparison) for metric in comparison["metrics"]]
        # The metrics of one comparison count the same people in the same worlds: once.
        counted: dict[tuple[str, ...], PairedCounts] = {}
        for metric, group_weights, spec in specs:
            order = tuple(group_weights)
            if order not in counted:
                counted[order] = paired_counts(groups, outcome, labels, group_order=list(order))
            paired = counted[order]
            estimate = world_contrasts(
                paired, group_weights, world_weights,
                metric="selection_rate" if isinstance(spec, WorldContrast) else metric,
                n_boot=config.audit.n_boot, confidence=config.audit.confidence,
                random_state=np.random.default_rng(streams[stream_index]))
            stream_index += 1
            error = (monte_carlo_error(weights, estimate.world_values) if method == "permutation"
                     else np.zeros(k))
            rows += _comparison_rows(spec, metric, estimate, knobs, error)
    table = pd.DataFrame(rows, columns=COLUMNS)
    floats = table.select_dtypes(include="float").columns
    table[floats] = table[floats] + 0.0  # no "-0.0" for a contribution that is exactly none
    notes = []
    if method == "permutation":
        notes.append(f"{k} knobs: Shapley values estimated from {section.n_permutations} random "
                     f"orders over {len(worlds)} worlds; monte_carlo_error is the standard error "
                     "of that estimate, and the intervals hold the orders fixed.")
    return Attribution(table, knobs, section.baseline_cause, method, len(worlds),
                       round(time.perf_counter() - started, 2), config.audit.confidence, notes)


def _outcomes(result: dict[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
    """A decider's answer as boolean outcomes by name."""
    result = result if isinstance(result, dict) else {"decision": np.asarray(result)}
    return {name: np.asarray(values, dtype=bool) for name, values in result.items()}


def decide_in_world(decide: WorldDecider, variant: ExperimentConfig, people: pd.DataFrame,
                    mechanisms: dict[str, Any] | None, seed: int) -> dict[str, np.ndarray]:
    """One world's outcomes, where a cluster's worker runs it.

    Parameters
    ----------
    decide : callable
        The run's world decider.
    variant : ExperimentConfig
        The world's config.
    people : DataFrame
        The run's population (configured mechanisms).
    mechanisms : dict, optional
        The world's mechanisms, re-applied to ``people``; None for the configured ones.
    seed : int
        The run's seed.

    Returns
    -------
    dict of str to ndarray of bool
    """
    world_people = people if mechanisms is None else apply_mechanisms(people, mechanisms, seed)
    return _outcomes(decide(variant, world_people))


def _decide_on_cluster(pool: Any, config: ExperimentConfig, knobs: list[AttributionKnob],
                       worlds: np.ndarray, decide: WorldDecider, people: pd.DataFrame,
                       decided: dict[str, dict[str, np.ndarray]],
                       outcomes: dict[str, list[np.ndarray]],
                       say: Callable[[str], None]) -> None:
    """Decide each distinct world as a task of ``pool``, then fill ``outcomes`` in world
    order exactly as the loop here does."""
    configured = repr(sorted(config.model_dump()["mechanisms"].items()))
    # The decider and the people travel once; a worker keeps the decider's caches (a
    # classifier per annotator setting, say) between the worlds it is given.
    shared_decide, shared_people = pool.share(decide), pool.share(people)
    order, tasks = [], {}
    for world in worlds:
        variant = world_config(config, knobs, int(world))
        fingerprint = variant.model_dump_json()
        order.append(fingerprint)
        if fingerprint in decided or fingerprint in tasks:
            continue
        mechanisms = {name: m.model_dump() for name, m in variant.mechanisms.items()}
        changed = repr(sorted(mechanisms.items())) != configured
        tasks[fingerprint] = pool.submit(decide_in_world, shared_decide, variant, shared_people,
                                         mechanisms if changed else None,
                                         config.experiment.seed, name="world")
    say(f"attribution: {len(tasks)} worlds {pool.where}")
    for fingerprint, task in tasks.items():
        decided[fingerprint] = task.result()
    for fingerprint in order:
        for name, values in decided[fingerprint].items():
            outcomes.setdefault(name, []).append(values)


def _focus_comparisons(config: ExperimentConfig, decisions: pd.DataFrame,
                       references: dict[str, str]) -> list[dict[str, Any]]:
    """The experiment's focus comparisons, with each person's label in the grouping."""
    from audit.engine import grouping_name

    columns = {grouping_name(g): list(g) for g in config.audit.groupings}
    found = []
    for focus in config.audit.focus:
        if focus.grouping not in columns:
            from experiments.errors import UsageError

            raise UsageError(f"audit.focus: {focus.grouping!r} is not a configured grouping; "
                             f"audit.groupings gives: {', '.join(columns)}")
        parts = [text_values(decisions[c]) for c in columns[focus.grouping]]
        labels = parts[0] if len(parts) == 1 else join_columns(parts)
        reference = focus.reference or references.get(focus.grouping, "")
        present = set(pd.unique(labels))  # a hash, not a sort of every person's label
        for name, value in (("group", focus.group), ("reference", reference)):
            if value not in present:
                from experiments.errors import UsageError

                raise UsageError(f"audit.focus: {name} {value!r} has nobody among the audited "
                                 f"{focus.grouping} groups of this run")
        found.append({"grouping": focus.grouping, "group": focus.group, "reference": reference,
                      "metrics": list(focus.metrics), "label": focus.label, "groups": labels})
    return found


def _comparison_rows(spec: Any, metric: str, estimate: Any, knobs: list[AttributionKnob],
                     error: np.ndarray) -> list[dict[str, Any]]:
    k = len(knobs)
    if isinstance(spec, WorldContrast):
        grouping, group, reference, label = spec.grouping, spec.group, spec.reference, spec.label
        n_group = n_reference = sum(estimate.denominators.values())
    else:
        grouping, group, reference, label = (spec["grouping"], spec["group"], spec["reference"],
                                             spec["label"])
        n_group = estimate.denominators.get(group, 0)
        n_reference = estimate.denominators.get(reference, 0)
    base = {"grouping": grouping, "group": group, "reference": reference, "metric": metric,
            "n_group": n_group, "n_reference": n_reference, "label": label}
    value, low, high = estimate.estimate, estimate.ci_low, estimate.ci_high
    nan = float("nan")
    rows = [{**base, "source": ALL_OFF, "kind": "baseline", "knob_key": "",
             "contribution": value[0], "ci_low": low[0], "ci_high": high[0],
             "one_at_a_time_change": nan, "one_at_a_time_ci_low": nan,
             "one_at_a_time_ci_high": nan, "monte_carlo_error": nan}]
    for i, knob in enumerate(knobs):
        j = k + 2 + i
        rows.append({**base, "source": knob.name, "kind": "knob", "knob_key": knob.key,
                     "contribution": value[1 + i], "ci_low": low[1 + i], "ci_high": high[1 + i],
                     "one_at_a_time_change": value[j], "one_at_a_time_ci_low": low[j],
                     "one_at_a_time_ci_high": high[j], "monte_carlo_error": error[i]})
    rows.append({**base, "source": AS_CONFIGURED, "kind": "total", "knob_key": "",
                 "contribution": value[k + 1], "ci_low": low[k + 1], "ci_high": high[k + 1],
                 "one_at_a_time_change": nan, "one_at_a_time_ci_low": nan,
                 "one_at_a_time_ci_high": nan, "monte_carlo_error": nan})
    return rows


def audit_references(result: Any) -> dict[str, str]:
    """The reference group the audit used for each grouping, by grouping name."""
    table = result.table
    first = table.drop_duplicates("grouping")
    return dict(zip(first["grouping"], first["reference"].astype(str), strict=True))


