"""The run plan a system may read to start work ahead: set while a run computes, gone after,
and its finishers called however the run ends."""

from __future__ import annotations

import pytest

from experiments.config import parse_config
from experiments.engine.attribution import world_configs
from experiments.engine.replicates import replicate_configs
from experiments.systems.contract import RunPlan, planned, run_plan
from tests.experiments.conftest import shipped_data


def test_the_plan_is_read_inside_the_block_and_its_finishers_run_after_an_error():
    plan = RunPlan(replicates=())
    finished = []
    plan.on_finish(lambda: finished.append("dropped"))
    assert run_plan() is None
    with pytest.raises(RuntimeError, match="stopped"), planned(plan):
        assert run_plan() is plan
        raise RuntimeError("stopped")
    assert run_plan() is None
    assert finished == ["dropped"]


def test_a_run_plans_its_replicates_and_worlds(monkeypatch):
    """compute_run hands the adapter every replicate and world it will compute here."""
    from experiments.engine import runner
    from experiments.systems import iborderctrl

    config = parse_config(shipped_data("iborderctrl", 2_000, 20, replicates=2))
    seen = []
    real_run = iborderctrl.run

    def spy(*args, **kwargs):
        seen.append(run_plan())
        return real_run(*args, **kwargs)

    monkeypatch.setattr(iborderctrl, "run", spy)
    runner.compute_run(config)
    first = seen[0]
    assert [c.experiment.system_seed for c in first.replicates] == \
        [c.experiment.system_seed for c in replicate_configs(config)]
    assert [w.model_dump() for w in first.worlds] == \
        [w.model_dump() for w in world_configs(config)]
    assert all(plan is first for plan in seen)  # the replicates read the same plan
    assert run_plan() is None
    runner.compute_run(config, attribution=False)
    assert seen[-1].worlds == ()
