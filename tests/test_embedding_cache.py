"""The embeddings cache: vectors by (model name, text hash) under the outputs dir, shared by every user."""

import threading

import numpy as np

from benchmaker.embeddings import CachedEmbedder, HashingEmbedder, embedding_cache_dir, make_embedder


class CountingEmbedder:
    """Deterministic vectors from the text and the model name; records what it was asked to embed."""

    def __init__(self, name="fake-a"):
        self.name = name
        self.asked: list[list[str]] = []
        self.lock = threading.Lock()

    def embed(self, texts):
        with self.lock:
            self.asked.append(list(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, len(self.name)] for t in texts], dtype=np.float64)


def test_each_text_is_embedded_once_and_the_vectors_are_the_models(tmp_path):
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, embedding_cache_dir(tmp_path))
    first = cached.embed(["x", "yy", "x"])
    assert inner.asked == [["x", "yy"]]
    np.testing.assert_array_equal(first, CountingEmbedder().embed(["x", "yy", "x"]))
    second = cached.embed(["yy", "zzz"])
    assert inner.asked == [["x", "yy"], ["zzz"]]
    np.testing.assert_array_equal(second, CountingEmbedder().embed(["yy", "zzz"]))
    # another process (a fresh handle on the same directory) finds them too
    again = CountingEmbedder()
    np.testing.assert_array_equal(CachedEmbedder(again, embedding_cache_dir(tmp_path)).embed(["zzz"]), second[1:])
    assert again.asked == []


def test_the_model_name_is_part_of_the_key(tmp_path):
    CachedEmbedder(CountingEmbedder("fake-a"), tmp_path).embed(["same text"])
    other = CountingEmbedder("fake-bbb")
    vectors = CachedEmbedder(other, tmp_path).embed(["same text"])
    assert other.asked == [["same text"]] and vectors[0, 2] == len("fake-bbb")


def test_concurrent_writers_agree(tmp_path):
    texts = [f"text {i % 12}" for i in range(48)]
    results, errors = {}, []

    def work(offset):
        try:
            embedder = CachedEmbedder(CountingEmbedder(), tmp_path)
            results[offset] = embedder.embed(texts[offset:] + texts[:offset])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for offset, got in results.items():
        np.testing.assert_array_equal(got, CountingEmbedder().embed(texts[offset:] + texts[:offset]))
    expected = CountingEmbedder().embed(texts)
    final = CachedEmbedder(CountingEmbedder(), tmp_path)
    np.testing.assert_array_equal(final.embed(texts), expected)
    assert final.inner.asked == []


def test_the_hashing_fake_is_never_cached(tmp_path):
    assert isinstance(make_embedder("hashing", tmp_path), HashingEmbedder)
    real = make_embedder("all-MiniLM-L6-v2", tmp_path)  # nothing is loaded until it embeds
    assert isinstance(real, CachedEmbedder) and real.name == "all-MiniLM-L6-v2"
