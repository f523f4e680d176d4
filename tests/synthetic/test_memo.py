"""Recent results by content: equal inputs meet, different inputs never do."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.population.columns import in_values, text_values
from synthetic.systems.memo import RecentResults, content_key


def test_equal_texts_give_equal_keys_and_any_difference_a_different_one():
    texts = ["a post", "another", None, "zz"]
    assert content_key(pd.Series(texts)) == content_key(pd.Series(list(texts)))
    for changed in (["a post", "another", "", "zz"], ["a post", "anothe", None, "zz"],
                    ["a post", "another", None, "zz", "more"], ["a postanother", "", None, "zz"]):
        assert content_key(pd.Series(texts)) != content_key(pd.Series(changed)), changed
    # A column held in several chunks (as concatenation leaves it) is read chunk by chunk.
    chunked = pd.concat([pd.Series(texts[:2]), pd.Series(texts[2:])], ignore_index=True)
    assert content_key(chunked) == content_key(chunked.copy())
    assert content_key(chunked) != content_key(pd.Series(["a post", "another", "x", "zz"]))
    # Object columns and arrays are read by content too.
    objects = pd.Series(texts, dtype=object)
    assert content_key(objects) == content_key(objects.copy())
    assert content_key(np.arange(5)) != content_key(np.arange(5).astype(np.int32))
    assert content_key("fit", 3) != content_key("fit", "3")


def test_recent_results_compute_once_and_forget_the_oldest():
    calls = []
    memo = RecentResults(max_entries=2)
    for key in (b"a", b"a", b"b", b"c", b"a"):
        memo.get(key, lambda key=key: calls.append(key) or key)
    assert calls == [b"a", b"b", b"c", b"a"]


def test_categorical_columns_read_as_text_through_their_categories():
    column = pd.Series(pd.Categorical(["MENA", "East Asia", None, "MENA"],
                                      categories=["East Asia", "MENA", "Unused"]))
    # Missing values stay missing (NaN), as astype(str) leaves them.
    assert pd.Series(text_values(column)).equals(pd.Series(column.astype(str).to_numpy()))
    np.testing.assert_array_equal(in_values(column, ["MENA", "Unused"]),
                                  column.astype(str).isin(["MENA", "Unused"]).to_numpy())
    plain = pd.Series(["a", None, "b"])
    np.testing.assert_array_equal(in_values(plain, ["b"]), [False, False, True])


def test_categorical_and_numeric_columns_are_read_by_content():
    column = pd.Series(pd.Categorical(["MENA", "East Asia", None, "MENA"],
                                      categories=["East Asia", "MENA"]))
    assert content_key(column) == content_key(column.copy())
    # The same codes over other categories, or other codes over the same, never meet.
    renamed = column.cat.rename_categories(["East Asia", "Europe"])
    reordered = column.cat.reorder_categories(["MENA", "East Asia"])
    recoded = pd.Series(pd.Categorical(["MENA", "MENA", None, "MENA"],
                                       categories=["East Asia", "MENA"]))
    ordered = column.cat.as_ordered()
    keys = {content_key(c) for c in (column, renamed, reordered, recoded, ordered)}
    assert len(keys) == 5
    numbers = pd.Series([1.5, np.nan, 3.0])
    assert content_key(numbers) == content_key(numbers.copy())
    assert content_key(numbers) != content_key(pd.Series([1.5, np.nan, 3.5]))
    assert content_key(numbers) != content_key(numbers.astype(np.float32))
    assert content_key(pd.Series([True, False])) != content_key(pd.Series([1, 0]))


def test_arrow_dictionary_columns_are_read_with_their_values():
    import pyarrow as pa

    def encoded(values: list[str]) -> pd.Series:
        dtype = pd.ArrowDtype(pa.dictionary(pa.int8(), pa.string()))
        return pd.Series(pd.array(values, dtype=dtype))

    # The same codes over other values never meet.
    assert content_key(encoded(["a", "b", "a"])) == content_key(encoded(["a", "b", "a"]))
    assert content_key(encoded(["a", "b", "a"])) != content_key(encoded(["x", "y", "x"]))


def test_large_arrow_texts_are_digested_once_and_read_by_content(monkeypatch):
    import hashlib

    from synthetic.systems import memo

    monkeypatch.setattr(memo, "DIGEST_KEPT_FROM", 64)
    texts = pd.Series([f"post number {i}" for i in range(200)])
    hashed = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(memo.hashlib, "sha256",
                        lambda *data: hashed.append(len(data)) or real_sha256(*data))
    first = content_key(texts)
    digested = sum(hashed)  # the large buffers, each digested on its own
    assert digested >= 1
    assert content_key(texts) == first
    assert sum(hashed) == digested  # the second time from the kept digests
    # Equal content in other buffers gives the same key, other content another.
    assert content_key(texts.copy(deep=True)) == first
    changed = texts.copy()
    changed.iloc[100] = "post number 1OO"
    assert content_key(changed) != first


def test_kept_digests_hold_no_more_than_their_budget(monkeypatch):
    from synthetic.systems import memo

    monkeypatch.setattr(memo, "DIGEST_KEPT_FROM", 64)
    monkeypatch.setattr(memo, "KEPT_BUFFER_BYTES", 4_096)
    monkeypatch.setattr(memo, "_BUFFER_DIGESTS", type(memo._BUFFER_DIGESTS)())
    for n in range(20):
        content_key(pd.Series([f"text {n} {i}" for i in range(100)]))
    kept = memo._BUFFER_DIGESTS.values()
    assert 0 < len(kept) and sum(buffer.size for buffer, _ in kept) <= 4_096
