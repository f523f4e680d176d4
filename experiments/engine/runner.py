"""Run one experiment: population, recorded world, system, two audits, twins, results folder.

::

    config ─► population (SCM, seed) with mechanisms ─► system.fit(recorded, training split)
      ─► decisions on the held-out split ─► audit by the true outcome and by the recorded one
      ─► counterfactual twins ─► results/<experiment>/<run-id>/
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit import AuditResult, audit
from audit.counterfactual import flip_rates
from audit.figure_process import FigureHelper
from audit.tables import csv_text, frame_records, json_text, jsonable, withhold_suppressed
from experiments.config import ExperimentConfig
from experiments.config.registry import derived_columns, system_adapter
from experiments.engine.manifest import build_manifest, sha256_of
from experiments.engine.output import (
    check_writable,
    claim_dir,
    discard,
    publish,
    release,
    resolve_output_dir,
)
from experiments.engine.replicates import (
    ADJUSTED_TRIPLES,
    ATTRIBUTION_TRIPLES,
    POOLING_METHOD,
    SUMMARY_TRIPLES,
    pool_metrics,
    pool_tables,
    replicate_configs,
)
from experiments.engine.withheld import (
    flag_withheld_rows,
    withheld_groups,
    withhold_headlines,
)
from experiments.errors import UsageError
from experiments.reports.compare import DECISIONS_FILE, DECISIONS_ROW_ID
from experiments.reports.headlines import headlines
from experiments.reports.run import build_report, names_of, start_figures
from experiments.systems.composition import focus_adjusted
from experiments.systems.contract import (
    PooledTables,
    RunPlan,
    SystemRun,
    decisions_only,
    planned,
)
from experiments.writing.claims import Ledger
from experiments.writing.names import with_name_columns
from synthetic.population import PopulationInputError, generate
from synthetic.posts import PostInputError
from synthetic.threads import map_in_threads

#: The two views of every audit: what the simulation knows, and what a real auditor sees.
VIEWS = {"true": "y_true", "recorded": "y_recorded"}
#: Stream of SeedSequence(seed) reserved for the train/held-out split.
SPLIT_STREAM = 7


@dataclass
class RunResult:
    """What a run produced."""

    directory: Path
    headlines: list[str]
    manifest: dict[str, Any]
    views: dict[str, AuditResult]
    flips: pd.DataFrame
    decisions: pd.DataFrame
    #: The knob worlds' attribution (``experiments.engine.attribution.Attribution``), when run.
    attribution: Any = None


def train_split(n: int, train_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the training split: one uniform per person, from a dedicated stream."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLIT_STREAM]))
    return rng.random(n) < train_fraction


def group_columns(config: ExperimentConfig) -> list[str]:
    """Every column any configured grouping uses, then the strata focus comparisons adjust
    for, in first-mention order: the columns a system copies into its decisions table."""
    return list(dict.fromkeys([*(c for grouping in config.audit.groupings for c in grouping),
                               *(c for focus in config.audit.focus for c in focus.adjust_for)]))


def make_run_id(seed: int) -> str:
    """``20261125-101500-s42``: when the run started (UTC) and its seed."""
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-s{seed}"


def run_experiment(
    config: ExperimentConfig,
    config_file: Path,
    *,
    results_dir: Path = Path("results"),
    out: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    report: bool = True,
    attribution: bool = True,
    suppress: bool = True,
    keep_decisions: bool | None = None,
    pool: Any = None,
    on_tables: Callable[[Path, dict[str, Any]], None] | None = None,
) -> RunResult:
    """Run an experiment and write its results folder.

    Parameters
    ----------
    config : ExperimentConfig
        The validated experiment.
    config_file : Path
        Where it came from (recorded in the manifest).
    results_dir : Path
        Parent of ``<experiment>/<run-id>/`` when ``out`` is not given.
    out : Path, optional
        Exact folder to write; refused if it exists and is not empty, unless ``force``.
    force : bool
        Replace an existing ``out``.
    progress : callable, optional
        Called with a short message at each stage.
    report : bool
        Write figures and the Markdown and HTML reports; sweeps turn this off and write
        only the tables and the manifest of each point.
    attribution : bool
        Run the worlds of the experiment's ``[attribution]`` knobs (when it has them and
        ``attribution.enabled``); False skips them, and attribution.csv is not written.
    suppress : bool
        Leave the figures of suppressed cells blank in every table (the default); False
        publishes them, and the manifest records the choice.
    keep_decisions : bool, optional
        Write each held-out person's decision to decisions.parquet, which lets ``compare``
        pair two runs on the same people; default: when there are at most
        :data:`KEEP_DECISIONS_UP_TO` of them.
    pool : DaskPool, optional
        Compute the attribution worlds and the replicates on a Dask cluster
        (:class:`experiments.engine.pool.DaskPool`); this process alone writes the folder,
        and every table is the same as a run here.
    on_tables : callable, optional
        Called with the staging folder and the manifest's fields known so far (experiment,
        run id, seed, population size, resolved config, headlines, details) once the tables
        are written there and before the figures and reports: the sandbox shows the numbers
        while the report is still being written. The folder is this run's own and is
        published (or discarded) afterwards; the callable must only read it.

    Returns
    -------
    RunResult
    """
    say = progress or (lambda message: None)
    seed = config.experiment.seed
    run_id = make_run_id(seed)
    target = out if out is not None else results_dir / config.experiment.name / run_id
    option = "--out" if out is not None else "--results-dir"
    if out is None:
        # Two runs of one experiment and seed started in the same second get one run id: the
        # folder is claimed now (atomically), and the run id is the name it got.
        check_writable(target.parent, option)
        target = claim_dir(target, option=option)
        run_id = target.name
    # A copy of this process, forked before the run starts its threads, draws a share of the
    # report's figures while this one draws the rest (None where none can be forked).
    helper = FigureHelper.start() if report else None
    try:
        return _run_and_write(config, config_file, target, run_id, option, force=force,
                              say=say, report=report, attribution=attribution,
                              suppress=suppress, keep_decisions=keep_decisions, pool=pool,
                              on_tables=on_tables, helper=helper)
    finally:
        # A failed run has stopped the helper before removing its folder; otherwise the
        # helper waits, idle, and ends when its connection closes.
        if helper is not None:
            helper.close()


def _run_and_write(config: ExperimentConfig, config_file: Path, target: Path, run_id: str,
                   option: str, *, force: bool, say: Callable[[str], None], report: bool,
                   attribution: bool, suppress: bool, keep_decisions: bool | None, pool: Any,
                   on_tables: Callable[[Path, dict[str, Any]], None] | None,
                   helper: FigureHelper | None) -> RunResult:
    """:func:`run_experiment` once its folder is claimed: compute, write, publish."""
    seed = config.experiment.seed
    try:
        # The output policy (never the working folder or the input, never a folder with
        # files of someone else's, writable) is checked before anything is generated.
        resolve_output_dir(target, "", force, inputs=[config_file], option=option)
        computed = compute_run(config, say, attribution=attribution, pool=pool)
    except BaseException:
        release(target)
        raise
    if suppress:
        # A headline quoting a group that metrics.csv withholds would publish it after all.
        found, ledger = withhold_headlines(computed.headlines, computed.claims,
                                           withheld_groups(computed.views))
        computed = replace(computed, headlines=found, claims=ledger)
    population, system_run, decisions = (computed.population, computed.system_run,
                                         computed.decisions)
    views, flips, found, facts = computed.views, computed.flips, computed.headlines, computed.facts

    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=_ensure_parent(target)))
    # The helper draws the figures while this process writes the tables and the system's
    # own sections; this process takes whatever figures are left when it gets to them.
    drawing = None
    try:
        drawing = start_figures(staging, config, views, helper) if report else None
        say("writing results")
        for name, content in table_files(computed, suppress=suppress).items():
            (staging / name).write_bytes(content)
        decisions_file = person_decisions(computed)
        if decisions_file is not None and (keep_decisions if keep_decisions is not None
                                           else len(decisions_file) <= KEEP_DECISIONS_UP_TO):
            decisions_file.to_parquet(staging / DECISIONS_FILE, index=False)
        resolved = computed.resolved_config
        if on_tables is not None:
            on_tables(staging, {
                "experiment": config.experiment.name, "run_id": run_id, "seed": seed,
                "population_size": len(population.people), "config": jsonable(resolved),
                "headlines": list(found),
                "details": jsonable({**facts, "seconds": round(
                    time.perf_counter() - computed.started, 2)})})
        if drawing is not None:
            write_extras = system_run.wording.write_extras
            extra_blocks = write_extras(staging) if write_extras else []
            figures = drawing.result()
            document = build_report(
                config=config, run_id=run_id, views=views, flips=flips, decisions=decisions,
                system_run=system_run, headlines=found, figures=figures,
                extra_blocks=extra_blocks, directory=staging,
                cite_hashes={"metrics.csv": sha256_of(staging / "metrics.csv")},
                config_file=config_file, adjusted=computed.adjusted,
                replicates=computed.replicates, claims=computed.claims,
            )
            (staging / "report.md").write_text(document.to_markdown(), encoding="utf-8")
            (staging / "report.html").write_text(document.to_html(), encoding="utf-8")
        facts["seconds"] = round(time.perf_counter() - computed.started, 2)
        # Tables, figures and reports: the time since the computation's last phase.
        phases = facts.get("phase_seconds", {})
        phases["report"] = round(facts["seconds"] - sum(phases.values()), 3)
        manifest = build_manifest(
            run_id=run_id, experiment=config.experiment.name, config=jsonable(resolved),
            config_file=config_file, seed=seed, population_size=len(population.people),
            directory=staging, details=jsonable(facts),
        )
        manifest["headlines"] = found
        manifest["suppressed_cells_withheld"] = suppress
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                               encoding="utf-8")
        # Whole or not at all; the target is checked again, and an old folder goes only after.
        publish(staging, target, force, option=option)
    except BaseException:
        if drawing is not None:
            drawing.stop()  # nothing is written into the folder once it is removed
        discard(staging, target)
        raise
    return RunResult(target, found, manifest, views, flips, decisions,
                     system_run.findings.attribution)


@dataclass
class ComputedRun:
    """A run's numbers in memory, before anything is written (see :func:`compute_run`)."""

    config: ExperimentConfig
    population: Any
    system_run: SystemRun
    decisions: pd.DataFrame
    views: dict[str, AuditResult]
    flips: pd.DataFrame
    headlines: list[str]
    #: Facts about the run for the manifest's ``details`` (``seconds`` is filled in last).
    facts: dict[str, Any]
    #: The full resolved config for the manifest, mechanisms included.
    resolved_config: dict[str, Any]
    #: ``time.perf_counter()`` when the computation began.
    started: float
    #: Focus comparisons adjusted for their declared strata (adjusted.csv), when any adjusts.
    adjusted: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Each replicate's focus estimates and the pooled ones (replicates.csv), when R > 1.
    replicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The claims behind every number the headlines print (claims.json, claims.csv).
    claims: Ledger = field(default_factory=Ledger)


def compute_run(config: ExperimentConfig, progress: Callable[[str], None] | None = None,
                *, attribution: bool = True, pool: Any = None) -> ComputedRun:
    """Compute a run's population, decisions, audits and twins, touching no file.

    Parameters
    ----------
    config : ExperimentConfig
        The validated experiment.
    progress : callable, optional
        Called with a short message at each stage.
    attribution : bool
        Run the ``[attribution]`` knob worlds when the experiment has them (False skips).
    pool : DaskPool, optional
        Where the worlds and replicates are computed (see :func:`run_experiment`).

    Returns
    -------
    ComputedRun
        Everything :func:`run_experiment` writes; :func:`table_files` turns it into the bytes
        of the run's tables, which is how a sweep point travels from a worker to the client.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    seed = config.experiment.seed
    columns = group_columns(config)
    mechanisms = {name: m.model_dump() for name, m in config.mechanisms.items()}

    say(f"generating {config.population.size:,} people ({config.population.profile})")
    try:
        population = generate(config.population.profile, config.population.size, seed,
                              mechanisms=mechanisms)
    except PopulationInputError as error:
        raise UsageError(str(error)) from None
    people = population.people
    # Seconds per phase, for the manifest and the benchmark: where a run's time goes.
    phases: dict[str, float] = {}
    clock = [started]

    def lap(phase: str) -> None:
        now = time.perf_counter()
        phases[phase] = round(phases.get(phase, 0.0) + now - clock[0], 3)
        clock[0] = now

    lap("population")
    derived = derived_columns(config.experiment.system)
    unknown = [c for c in columns if c not in people.columns and c not in derived]
    if unknown:
        raise UsageError(
            f"audit.groupings names {unknown}, which the population does not have; "
            "columns include: "
            + ", ".join(c for c in people.columns if not c.startswith("recorded_"))
        )
    train = train_split(len(people), config.split.train_fraction, seed)
    attribute = bool(attribution and config.attribution is not None
                     and config.attribution.enabled and config.attribution.knobs)
    # What this process will compute, so that a system can start work for it ahead.
    worlds: tuple[ExperimentConfig, ...] = ()
    if attribute and (pool is None or not pool.takes_worlds):
        from experiments.engine.attribution import world_configs

        worlds = tuple(world_configs(config))
    plan = RunPlan(replicates=tuple(replicate_configs(config) if pool is None else [config]),
                   worlds=worlds)
    with planned(plan):
        say(f"training and running the {config.experiment.system} system")
        system_run = _run_system(config, people, train, columns)
        decisions = system_run.decided.table
        lap("system")

        say("auditing by the true and by the recorded outcome")
        views = _audit_views(config, decisions, system_run.decided.cluster)

        flips = _counterfactual_flips(config, population, system_run, decisions, say, train)
        adjusted = focus_adjusted(config, decisions, system_run.decided.cluster)
        lap("audit")

        # On a cluster the replicates start first, so that the workers take them up while the
        # run's own worlds are sent after them.
        pending = (_submit_replicates(pool, config, population, train, columns, attribute, say)
                   if pool is not None and config.experiment.replicates > 1 else None)
        if attribute:
            world_pool = pool if pool is not None and pool.takes_worlds else None
            system_run.findings.attribution = _attribute(config, people, train, columns,
                                                         system_run, views, say, world_pool)
            system_run.decided.extra_tables["attribution"] = \
                system_run.findings.attribution.table
        lap("worlds")

        replicates = pd.DataFrame()
        if config.experiment.replicates > 1:
            views, adjusted, replicates = _replicate(config, population, train, columns,
                                                     system_run, views, adjusted, attribute, say,
                                                     pending)
        lap("replicates")

        remedies = None
        if config.remedies.apply:
            from experiments.engine.attribution import audit_references
            from experiments.engine.remedies import run_remedies

            remedies = run_remedies(config, system_adapter(config.experiment.system), people,
                                    train, columns, system_run, audit_references(views["true"]),
                                    time.perf_counter() - started, say)
            system_run.decided.extra_tables["remedies"] = remedies.table
        lap("remedies")

    facts = {
        **system_run.decided.details,
        "held_out_selected": int(decisions["decision"].sum()),
        "seconds": None,
    }
    if not replicates.empty:
        facts["replicates"] = {"count": config.experiment.replicates,
                               "population_redrawn": config.experiment.replicate_population,
                               "pooling": POOLING_METHOD}
    if system_run.findings.attribution is not None:
        facts["attribution"] = {"method": system_run.findings.attribution.method,
                                "worlds": system_run.findings.attribution.n_worlds,
                                "seconds": system_run.findings.attribution.seconds}
    if remedies is not None:
        system_run.findings.remedies = remedies
        facts["remedies"] = {"base_seconds": remedies.base_seconds, "seconds": remedies.seconds}
    ledger = Ledger()
    found = headlines(config, views, flips, decisions, system_run, adjusted, ledger)
    lap("audit")
    facts["phase_seconds"] = phases
    resolved = config.model_dump(mode="json")
    resolved["resolved_mechanisms"] = population.mechanisms
    return ComputedRun(config, population, system_run, decisions, views, flips, found, facts,
                       resolved, started, adjusted, replicates, ledger)


def table_files(computed: ComputedRun, suppress: bool = True) -> dict[str, bytes]:
    """The bytes of every table file of a run, by file name, exactly as they are written.

    ``metrics.csv``, ``summary.csv``, ``flip_rates.csv`` (with counterfactual twins),
    ``metrics.json``, the system's own tables (``<name>.csv``), and the claims behind the
    headlines (``claims.json``, ``claims.csv``, with any comparison table a headline
    computed). With ``suppress`` (the default) the figures of suppressed cells are blank in
    all the tables.
    """
    names = names_of(computed.views)  # country codes keep their column; a name column follows
    files = _table_bytes(computed.views, computed.flips, suppress, names)
    # The run's own tables with group figures withhold the groups metrics.csv withholds.
    withheld = withheld_groups(computed.views) if suppress else set()
    if not computed.replicates.empty:
        files["replicates.csv"] = _csv_bytes(with_name_columns(computed.replicates, names),
                                             suppress)
    if not computed.adjusted.empty:
        files["adjusted.csv"] = _csv_bytes(with_name_columns(computed.adjusted, names), suppress)
    for name, table in computed.system_run.decided.extra_tables.items():
        files[f"{name}.csv"] = _csv_bytes(
            with_name_columns(flag_withheld_rows(table, withheld), names), suppress)
    ledger = computed.claims
    for name, rows in ledger.tables.items():
        files[name] = _csv_bytes(
            with_name_columns(flag_withheld_rows(pd.DataFrame(rows), withheld), names), suppress)
    # The claims quote headline numbers as printed, so they are never blanked.
    files["claims.csv"] = _csv_bytes(ledger.table(), suppress=False)
    files["claims.json"] = ledger.to_json().encode("utf-8")
    return files


def _run_system(config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray,
                columns: list[str]) -> SystemRun:
    """The system's run, a refusal of what it was given turned into one line."""
    try:
        return system_adapter(config.experiment.system).run(config, people, train, columns)
    except UsageError:
        raise  # already a user-facing line that names its key
    except (ValueError, PostInputError) as error:
        # A system refusing what it was given (too few people to learn from, a cohort too
        # small) is the user's to fix: one line, with the cause kept for Python callers.
        text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise UsageError(
            f"system {config.experiment.system!r} refused this run: {text} (population.size "
            f"= {config.population.size:,}; a larger --size often helps)") from error


def _attribute(config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray,
               columns: list[str], system_run: SystemRun, views: dict[str, AuditResult],
               say: Callable[[str], None], pool: Any = None) -> Any:
    from experiments.engine.attribution import attribute_run, audit_references

    return attribute_run(
        config, system_adapter(config.experiment.system), people, train, columns,
        system_run.decided.table, audit_references(views["true"]),
        system_run.hooks.world_contrasts, system_run.hooks.decide_world, say, pool)


def replicate_parts(config: ExperimentConfig, replicate: ExperimentConfig,
                    people: pd.DataFrame | None, train: np.ndarray | None, columns: list[str],
                    attribute: bool, say: Callable[[str], None] | None = None
                    ) -> tuple[dict[str, AuditResult], pd.DataFrame, Any,
                               dict[str, pd.DataFrame]]:
    """One further replicate's audits, adjusted table, attribution (None without it) and
    the system's own outcomes of the replicate (``Decisions.replicate_outcomes``).

    Parameters
    ----------
    config : ExperimentConfig
        The run's config.
    replicate : ExperimentConfig
        The replicate's (its own system seed, and seed where the population is redrawn).
    people, train : DataFrame and ndarray of bool, optional
        The run's people and training split, shared by the replicates; None to generate
        the replicate's own from its seed.
    columns : list of str
        Grouping columns.
    attribute : bool
        Run the replicate's attribution worlds too.
    say : callable, optional
        Progress messages.

    Returns
    -------
    tuple
        The two views, the adjusted table, the attribution and the system's own outcomes.
    """
    say = say or (lambda message: None)
    if people is None or train is None:
        mechanisms = {name: m.model_dump() for name, m in config.mechanisms.items()}
        people = generate(config.population.profile, config.population.size,
                          replicate.experiment.seed, mechanisms=mechanisms).people
        train = train_split(len(people), config.split.train_fraction,
                            replicate.experiment.seed)
    with decisions_only():  # the first replicate alone reports the system's own findings
        run = _run_system(replicate, people, train, columns)
    decisions = run.decided.table
    views = _audit_views(replicate, decisions, run.decided.cluster)
    adjusted = focus_adjusted(replicate, decisions, run.decided.cluster)
    found = _attribute(replicate, people, train, columns, run, views, say) if attribute else None
    return views, adjusted, found, run.decided.replicate_outcomes


def _submit_replicates(pool: Any, config: ExperimentConfig, population: Any,
                       train: np.ndarray, columns: list[str], attribute: bool,
                       say: Callable[[str], None]) -> list[Any]:
    """Start each further replicate as a task of ``pool``; their handles, in order."""
    configs = replicate_configs(config)
    shared = not config.experiment.replicate_population
    people = pool.share(population.people) if shared else None
    split = pool.share(train) if shared else None
    say(f"replicates 2 to {len(configs)} {pool.where}")
    return [pool.submit(replicate_parts, config, replicate, people, split, columns, attribute,
                        name="replicate")
            for replicate in configs[1:]]


def _replicate(config: ExperimentConfig, population: Any, train: np.ndarray,
               columns: list[str], first: SystemRun, views: dict[str, AuditResult],
               adjusted: pd.DataFrame, attribute: bool, say: Callable[[str], None],
               pending: list[Any] | None = None
               ) -> tuple[dict[str, AuditResult], pd.DataFrame, pd.DataFrame]:
    """Run the further replicates of the system's randomness and pool every estimate.

    Returns the pooled views, the pooled adjusted table and the replicates table; the first
    replicate's attribution is replaced by the pooled one (the same worlds in every
    replicate, averaged, so contributions still add up to the pooled gap). ``pending`` holds
    the handles of replicates already computing on a cluster (:func:`_submit_replicates`).
    """
    configs = replicate_configs(config)
    shared = not config.experiment.replicate_population
    all_views, all_adjusted, attributions = [views], [adjusted], [first.findings.attribution]
    all_outcomes = [first.decided.replicate_outcomes]
    for index, replicate in enumerate(configs[1:], start=2):
        if pending is not None:
            # A message per replicate taken: a run cancelled while its workers compute
            # stops at the next one.
            say(f"replicate {index} of {len(configs)}: waiting for its worker")
            replicate_views, replicate_adjusted, found, outcomes = pending[index - 2].result()
        else:
            say(f"replicate {index} of {len(configs)}: redrawing the system's own randomness")
            replicate_views, replicate_adjusted, found, outcomes = replicate_parts(
                config, replicate, population.people if shared else None,
                train if shared else None, columns, attribute, say)
        all_views.append(replicate_views)
        all_adjusted.append(replicate_adjusted)
        all_outcomes.append(outcomes)
        if attribute:
            attributions.append(found)
    confidence = config.audit.confidence
    pooled = {}
    for view in VIEWS:
        base = views[view]
        pooled[view] = AuditResult(
            table=pool_metrics([v[view].table for v in all_views], confidence, shared),
            summary=pool_tables([v[view].summary for v in all_views],
                                ["grouping", "measure", "metric"], SUMMARY_TRIPLES,
                                confidence, shared),
            counts=base.counts,
            settings={**base.settings, "replicates": len(configs),
                      "replicate_pooling": POOLING_METHOD},
            adjusted=base.adjusted)
    if not adjusted.empty:
        adjusted = pool_tables(all_adjusted, ["label", "view", "metric"], ADJUSTED_TRIPLES,
                               confidence, shared,
                               means=("crude_diff", "group_rate", "reference_rate",
                                      "n_group", "n_reference"),
                               log_means=("crude_ratio",))
        adjusted["n_group"] = adjusted["n_group"].round().astype("Int64")
        adjusted["n_reference"] = adjusted["n_reference"].round().astype("Int64")
        with np.errstate(divide="ignore", invalid="ignore"):
            adjusted["composition_share"] = adjusted["composition_part"] / adjusted["crude_diff"]
    if attribute:
        table = pool_tables([a.table for a in attributions],
                            ["grouping", "group", "reference", "metric", "source"],
                            ATTRIBUTION_TRIPLES, confidence, shared,
                            means=("n_group", "n_reference"), ranges=("contribution",))
        first.findings.attribution = replace(
            attributions[0], table=table,
            notes=[*attributions[0].notes, f"Averaged over {len(configs)} replicates of the "
                   "system's randomness, the same worlds in each."])
        first.decided.extra_tables["attribution"] = table
    if first.hooks.pool_replicates is not None:
        # The system words its own findings over every replicate, not the first alone.
        first.hooks.pool_replicates({
            name: pd.concat([o[name].assign(replicate=i) for i, o in
                             enumerate(all_outcomes, start=1) if name in o], ignore_index=True)
            for name in dict.fromkeys(n for o in all_outcomes for n in o)},
            PooledTables(metrics={view: result.table for view, result in pooled.items()},
                         adjusted=adjusted))
    return pooled, adjusted, _replicate_rows(config, configs, all_views, pooled)


def _replicate_rows(config: ExperimentConfig, configs: list[ExperimentConfig],
                    all_views: list[dict[str, AuditResult]],
                    pooled: dict[str, AuditResult]) -> pd.DataFrame:
    """Each replicate's estimate and interval of every focus comparison, then the pooled."""
    shown = ["value", "ci_low", "ci_high", "difference", "diff_ci_low", "diff_ci_high",
             "ratio", "ratio_ci_low", "ratio_ci_high", "flags"]
    parts = []
    for label, replicate_views, seed in [
            *((str(i + 1), v, c.experiment.system_seed or c.experiment.seed)
              for i, (v, c) in enumerate(zip(all_views, configs, strict=True))),
            ("pooled", pooled, None)]:
        for view in VIEWS:
            table = replicate_views[view].table
            for focus in config.audit.focus:
                rows = table[(table["grouping"] == focus.grouping)
                             & (table["group"].astype(str) == focus.group)
                             & table["metric"].isin(focus.metrics)]
                parts.append(rows[["grouping", "group", "reference", "metric", *shown]].assign(
                    view=view, replicate=label,
                    system_seed=seed))
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    table["system_seed"] = table["system_seed"].astype("Int64")
    first = ["replicate", "system_seed", "view"]
    return table[[*first, *[c for c in table.columns if c not in first]]]


#: Runs with at most this many held-out people keep their decisions by default.
KEEP_DECISIONS_UP_TO = 1_000_000


def person_decisions(computed: ComputedRun) -> pd.DataFrame | None:
    """Each held-out person's decision, keyed by the population's ``person_id``, for
    decisions.parquet; None where a row of the decisions is not one held-out person (a
    verification attempt, say), since such rows cannot be paired person by person."""
    decisions = computed.decisions
    people = computed.population.people
    train = train_split(len(people), computed.config.split.train_fraction,
                        computed.config.experiment.seed)
    if computed.system_run.decided.unit != "people" or len(decisions) != int((~train).sum()):
        return None
    table = decisions.drop(columns=[c for c in ("score",) if c in decisions])
    table.insert(0, DECISIONS_ROW_ID, people["person_id"].to_numpy()[~train])
    for column in ("y_true", "y_recorded", "decision"):
        table[column] = table[column].astype(bool)
    return table.reset_index(drop=True)


def _ensure_parent(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent


def _audit_views(config: ExperimentConfig, decisions: pd.DataFrame,
                 cluster: str | None = None) -> dict[str, AuditResult]:
    """The audit of ``decisions`` by each view (:data:`VIEWS`), the views on two threads.

    An audit lets go of Python's lock in NumPy's and pandas' loops, so the second view's
    audit takes part of what the first leaves of the two cores (a fifth less time for the
    pair here). Each audit reads ``decisions`` only and draws its bootstrap from its own
    seeded generator, so the results do not depend on the threads.
    """
    columns = list(VIEWS.values())
    audited = map_in_threads(lambda column: _audit_view(config, decisions, column, cluster),
                             columns, "audit")
    return dict(zip(VIEWS, audited, strict=True))


def _audit_view(config: ExperimentConfig, decisions: pd.DataFrame, outcome: str,
                cluster: str | None = None) -> AuditResult:
    settings = config.audit
    return audit(
        decisions, [list(g) for g in settings.groupings], outcome, "decision", "score",
        settings.reference, n_boot=settings.n_boot, confidence=settings.confidence,
        min_count=settings.min_count, suppress_below=settings.suppress_below,
        random_state=config.experiment.seed, cluster=cluster,
    )


def _counterfactual_flips(
    config: ExperimentConfig, population: Any, system_run: SystemRun, decisions: pd.DataFrame,
    say: Callable[[str], None], train: np.ndarray,
) -> pd.DataFrame:
    parts = []
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    hooks = system_run.hooks
    if hooks.decide_twins is None and hooks.decide_twins_by_effect is None:
        return pd.DataFrame()
    held_out = population.people.loc[~train]
    for intervention in config.counterfactual.interventions:
        # People whose attribute already has the twin's value are their own twin and cannot
        # flip; a rate over everyone is diluted by them, so the rate among the others is kept
        # beside it.
        changed = (held_out[intervention.attribute].astype(str).to_numpy() != intervention.value
                   if len(held_out) == len(decisions) else None)
        for effect in intervention.effects:
            say(f"deciding counterfactual twins with {intervention.attribute} = "
                f"{intervention.value} ({effect} effect)")
            try:
                twins = population.counterfactual(intervention.attribute, intervention.value,
                                                  effect)
            except PopulationInputError as error:
                raise UsageError(f"counterfactual.interventions: {error}") from None
            twin_decision = (hooks.decide_twins_by_effect(twins.people, effect)
                             if hooks.decide_twins_by_effect is not None
                             else hooks.decide_twins(twins.people))
            frame = decisions.assign(twin_decision=twin_decision)
            table = flip_rates(frame, singles, "decision", "twin_decision",
                               confidence=config.audit.confidence,
                               suppress_below=config.audit.suppress_below,
                               min_count=config.audit.min_count)
            table = _with_changed_flips(config, table, frame, singles, changed)
            table.insert(0, "effect", effect)
            table.insert(0, "intervention", f"{intervention.attribute}={intervention.value}")
            parts.append(table)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


#: Columns of flip_rates.csv for the people whose attribute the twin actually changes.
CHANGED_FLIP_COLUMNS = ("changed_n", "changed_flips", "changed_flip_rate", "changed_ci_low",
                        "changed_ci_high")


def _with_changed_flips(config: ExperimentConfig, table: pd.DataFrame, frame: pd.DataFrame,
                        singles: list[str], changed: np.ndarray | None) -> pd.DataFrame:
    """Add each group's flip rate among the people whose attribute differs from the twin's
    value (:data:`CHANGED_FLIP_COLUMNS`; NaN where none of a group changes)."""
    table = table.assign(**{c: np.nan for c in CHANGED_FLIP_COLUMNS})
    if changed is None or not changed.any():
        return table
    among = flip_rates(frame.loc[changed], singles, "decision", "twin_decision",
                       confidence=config.audit.confidence,
                       suppress_below=config.audit.suppress_below,
                       min_count=config.audit.min_count)
    among = among.rename(columns={"n": "changed_n", "flips": "changed_flips",
                                  "flip_rate": "changed_flip_rate",
                                  "ci_low": "changed_ci_low", "ci_high": "changed_ci_high"})
    merged = table.drop(columns=list(CHANGED_FLIP_COLUMNS)).merge(
        among[["grouping", "group", *CHANGED_FLIP_COLUMNS]], on=["grouping", "group"],
        how="left")
    # A subset under the suppression size is withheld like any small cell (its size stays).
    small = merged["changed_n"] < config.audit.suppress_below
    merged.loc[small, list(CHANGED_FLIP_COLUMNS[1:])] = np.nan
    merged["changed_n"] = merged["changed_n"].astype("Int64")
    merged["changed_flips"] = merged["changed_flips"].astype("Int64")
    return merged


def _csv_bytes(frame: pd.DataFrame, suppress: bool = True) -> bytes:
    """CSV as every table of the project is written (see :func:`audit.tables.csv_text`)."""
    return csv_text(frame, suppress=suppress).encode("utf-8")


def _table_bytes(views: dict[str, AuditResult], flips: pd.DataFrame, suppress: bool = True,
                 names: dict[str, str] | None = None) -> dict[str, bytes]:
    tables = pd.concat([v.table.assign(view=k) for k, v in views.items()], ignore_index=True)
    tables = tables[["view", *[c for c in tables.columns if c != "view"]]]
    summary = pd.concat([v.summary.assign(view=k) for k, v in views.items()], ignore_index=True)
    summary = summary[["view", *[c for c in summary.columns if c != "view"]]]
    names = names or {}
    files = {"metrics.csv": _csv_bytes(with_name_columns(tables, names), suppress),
             "summary.csv": _csv_bytes(summary, suppress)}
    if not flips.empty:
        files["flip_rates.csv"] = _csv_bytes(with_name_columns(flips, names), suppress)
    public_flips = withhold_suppressed(flips) if suppress else flips
    payload = {
        "views": {k: v.to_dict(suppress) for k, v in views.items()},
        "flip_rates": frame_records(public_flips) if not flips.empty else [],
    }
    files["metrics.json"] = json_text(payload).encode("utf-8")
    return files

