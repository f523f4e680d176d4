"""Synthetic social-media posts: topics, true intent, language and style, text, and labels
from simulated annotators whose bias is a knob.

>>> from synthetic.population import generate                                # doctest: +SKIP
>>> from synthetic.posts import generate_posts
>>> people = generate("us_visa_holders", 10_000, seed=7).people              # doctest: +SKIP
>>> posts = generate_posts(people, seed=7, months=12, annotator_bias=1.0)    # doctest: +SKIP
"""

from synthetic.posts.generate import (
    ARABIC_RENDERINGS,
    POST_COLUMNS,
    RENDERINGS,
    TOPIC_COLUMNS,
    PostInputError,
    Rendering,
    author_profiles,
    generate_posts,
    post_counts,
    relabel,
    restyle,
    retopic,
)

__all__ = ["ARABIC_RENDERINGS", "POST_COLUMNS", "RENDERINGS", "TOPIC_COLUMNS", "PostInputError",
           "Rendering", "author_profiles", "generate_posts", "post_counts", "relabel", "restyle",
           "retopic"]
