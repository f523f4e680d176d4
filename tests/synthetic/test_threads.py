"""Work on parts of a long input on a few threads: the same results, in order, whatever the
threads; and the posts and features made that way equal those made on one thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic.threads as threads
from synthetic.population import generate
from synthetic.posts import generate_posts
from synthetic.threads import map_in_threads, one_allocation_arena

SEED = 11
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate("us_visa_holders", 3_000, seed=SEED).people


@pytest.fixture(scope="module")
def posts(people) -> pd.DataFrame:
    return generate_posts(people, SEED, months=12, annotator_bias=1.0, text_dtype="category")


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)


def test_results_come_in_the_parts_order_from_more_than_one_thread(two_cores):
    seen = set()
    both_started = threading.Barrier(2, timeout=10)

    def work(part: int) -> int:
        seen.add(threading.current_thread().name)
        if part < 2:
            both_started.wait()  # only two threads at once can pass this
        return part * part

    assert map_in_threads(work, list(range(7)), "squares") == [p * p for p in range(7)]
    assert len(seen) == 2 and all(name.startswith("squares") for name in seen)


def test_one_core_works_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    here = threading.current_thread().name
    assert map_in_threads(lambda part: threading.current_thread().name, [1, 2, 3]) == [here] * 3


def test_an_error_in_a_part_is_raised_to_the_caller(two_cores):
    def work(part: int) -> int:
        if part == 3:
            raise ValueError("part 3 failed")
        return part

    with pytest.raises(ValueError, match="part 3 failed"):
        map_in_threads(work, list(range(6)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_allocation_arena_setting_is_taken_on_linux():
    assert one_allocation_arena() is True


def test_the_command_has_arrow_allocate_from_the_c_library(tmp_path):
    # In a process of its own: the setting is the whole process's. Arrow's own allocator is
    # the default until the command starts, and posts drawn after it are the same.
    script = (
        "import pyarrow as pa\n"
        "from experiments.cli import main\n"
        "from synthetic.population import generate\n"
        "from synthetic.posts import generate_posts\n"
        "people = generate('us_visa_holders', 500, seed=3).people\n"
        "before = generate_posts(people, 3, months=12, text_dtype='category')\n"
        "print(pa.default_memory_pool().backend_name)\n"
        "main(['experiments'])\n"
        "print(pa.default_memory_pool().backend_name)\n"
        "after = generate_posts(people, 3, months=12, text_dtype='category')\n"
        "import pandas as pd\n"
        "pd.testing.assert_frame_equal(before, after, check_exact=True)\n"
        "print(list(after['text'].cat.categories) == list(before['text'].cat.categories))\n")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           check=True).stdout.splitlines()
    assert shown[0] != "system"
    assert shown[-2:] == ["system", "True"]


@pytest.mark.parametrize("cores", [1, 2])
def test_posts_on_threads_equal_the_posts_of_one_block(people, posts, monkeypatch, cores):
    # Blocks of people go to threads and the distinct texts are joined in halves; neither
    # may change a post, a text's numbering or the categories' order.
    from synthetic.posts import generate as module

    whole = posts
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(module, "POST_BLOCK", 1_500)
    monkeypatch.setattr(module, "RENDER_BLOCK", 100)
    assert len(module._people_blocks(module.post_counts(people, SEED, 12))) > 4
    assert posts["text"].cat.categories.size > 4 * 100
    split = generate_posts(people, SEED, months=12, annotator_bias=1.0, text_dtype="category")
    pd.testing.assert_frame_equal(split, whole, check_exact=True)
    assert list(split["text"].cat.categories) == list(whole["text"].cat.categories)


def test_features_in_halves_on_threads_equal_those_of_one_thread(posts, monkeypatch, two_cores):
    import synthetic.systems.babel_x as babel_x

    texts = pd.Series(posts["text"].cat.categories, dtype=object)
    whole = babel_x.hashed_features(texts, 2**12)
    monkeypatch.setattr(babel_x, "FEATURE_BLOCK", len(texts) // 5)
    halves = babel_x.hashed_features(texts, 2**12)
    assert halves.dtype == whole.dtype and halves.shape == whole.shape
    assert np.array_equal(halves.indptr, whole.indptr)
    assert np.array_equal(halves.indices, whole.indices)
    assert np.array_equal(halves.data, whole.data)


def test_words_of_texts_in_blocks_on_threads_equal_those_of_one_block(posts, monkeypatch,
                                                                      two_cores):
    import synthetic.systems.babel_x as babel_x

    texts = pd.Series(posts["text"].cat.categories, dtype="str")
    whole = babel_x._text_words(texts)
    monkeypatch.setattr(babel_x, "FEATURE_BLOCK", len(texts) // 5)
    blocks = babel_x._text_words(texts)
    for one, many in zip(whole[:2], blocks[:2], strict=True):
        assert one.dtype == many.dtype and np.array_equal(one, many)
    assert whole[2] == blocks[2]
    pattern = babel_x.keyword_pattern(babel_x.DEFAULT_KEYWORDS)
    babel_x.TEXT_WORDS.clear()
    assert (babel_x.keyword_hits(texts, babel_x.DEFAULT_KEYWORDS).tolist()
            == texts.str.contains(pattern, regex=True).tolist())
    # A block Arrow cannot hold (a lone surrogate, in a later block) sends every text to the
    # search text by text, as one block would.
    assert babel_x._text_words(pd.Series([*texts.iloc[:-1], "bomb \ud800"], dtype=object)) is None


def test_parts_cover_the_input_once_in_order():
    from synthetic.threads import MAX_THREADS, thread_parts

    assert thread_parts(0, 10) == [slice(0, 0)]
    assert thread_parts(10, 10) == [slice(0, 10)]
    for length in (11, 12, 1_000_001):
        parts = thread_parts(length, 10)
        assert len(parts) == MAX_THREADS
        assert parts[0].start == 0 and parts[-1].stop == length
        assert all(a.stop == b.start for a, b in zip(parts[:-1], parts[1:], strict=True))
        sizes = [p.stop - p.start for p in parts]
        assert max(sizes) - min(sizes) <= 1
