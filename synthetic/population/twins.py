"""Counterfactual twins: the same person, with one attribute changed and everything
downstream of it regenerated from the person's own exogenous noise.

The three steps of a structural counterfactual, without storing any noise:

* abduction: each person's exogenous noise is a deterministic function of the seed, their
  position and the variable (:mod:`synthetic.population.noise`), so it is recovered exactly by
  regenerating it;
* action: ``do(attribute = value)`` replaces the attribute's structural equation by the
  constant;
* prediction: the model is rerun with the same noise, so only descendants of the attribute can
  change, and mechanisms are re-applied with the same mechanism noise.
"""

from __future__ import annotations

from synthetic.population.errors import PopulationInputError
from synthetic.population.generate import Population, generate_rows
from synthetic.population.scm import INTERVENABLE


def counterfactual(population: Population, attribute: str, value: str) -> Population:
    """Return the counterfactual population under ``do(attribute = value)``.

    Parameters
    ----------
    population : Population
        The factual population.
    attribute : {"nationality", "region_of_origin", "first_language"}
        Attribute to intervene on.
    value : str
        New value, a category of the profile (e.g. ``"GBR"``).

    Returns
    -------
    Population
        Same ``n``, ``seed``, ``person_id`` order and mechanisms.

    Raises
    ------
    PopulationInputError
        Unknown attribute or value.
    """
    if attribute not in INTERVENABLE:
        raise PopulationInputError(
            f"cannot intervene on {attribute!r}; counterfactual attributes: "
            f"{', '.join(INTERVENABLE)}"
        )
    people = generate_rows(
        population.profile,
        population.n,
        population.seed,
        0,
        population.n,
        block_size=population.block_size,
        mechanisms=population.mechanisms,
        intervention=(attribute, value),
    )
    return Population(
        people=people,
        profile=population.profile,
        seed=population.seed,
        n=population.n,
        mechanisms=population.mechanisms,
        block_size=population.block_size,
        intervention=(attribute, value),
    )
