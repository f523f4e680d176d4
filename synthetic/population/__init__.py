"""Synthetic people: populations from a structural causal model, with named bias mechanisms.

Start with :func:`generate`::

    from synthetic.population import generate
    population = generate("us_visa_holders", n=100_000, seed=7,
                           mechanisms={"label_bias": {"strength": 1.0,
                                                      "targets": ["region:South Asia"]}})
    population.people                                   # one row per person
    twins = population.counterfactual("nationality", "GBR")             # total effect
    direct = population.counterfactual("nationality", "GBR", "direct")  # proxies only

See ``synthetic/README.md`` for the causal graph, the columns and the mechanisms.
"""

from synthetic.population.errors import PopulationInputError
from synthetic.population.generate import (
    Population,
    generate,
    generate_rows,
    iter_chunks,
)
from synthetic.population.mechanisms import (
    MECHANISMS,
    LabelBias,
    MeasurementBias,
    Mechanism,
    ProxyLeakage,
    RepresentationBias,
    SurveillanceIntensity,
    apply_mechanisms,
    resolve_mechanisms,
)
from synthetic.population.noise import BLOCK_SIZE
from synthetic.population.profiles import REGIONS, Profile, list_profiles, load_profile
from synthetic.population.scm import (
    COLUMNS,
    DIRECT_TWIN_COLUMNS,
    INTERVENABLE,
    PROXY_COLUMNS,
    TOTAL_TWIN_COLUMNS,
    TWIN_EFFECTS,
)
from synthetic.population.twins import describe_twin

__all__ = [
    "BLOCK_SIZE",
    "COLUMNS",
    "DIRECT_TWIN_COLUMNS",
    "INTERVENABLE",
    "LabelBias",
    "MECHANISMS",
    "MeasurementBias",
    "Mechanism",
    "PROXY_COLUMNS",
    "Population",
    "PopulationInputError",
    "Profile",
    "ProxyLeakage",
    "REGIONS",
    "RepresentationBias",
    "SurveillanceIntensity",
    "TOTAL_TWIN_COLUMNS",
    "TWIN_EFFECTS",
    "apply_mechanisms",
    "describe_twin",
    "generate",
    "generate_rows",
    "iter_chunks",
    "list_profiles",
    "load_profile",
    "resolve_mechanisms",
]
