"""tiled_attention equals full attention; the online softmax replay ends at softmax."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.tiled import online_softmax_steps


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 23), st.integers(1, 23), st.integers(1, 30), st.booleans(), st.integers(0, 10**6))
def test_tiled_equals_full_for_any_block_size(n_q, n_k, block, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((n_q, 4)) * 2, rng.standard_normal((n_k, 4)) * 2, rng.standard_normal((n_k, 3))
    expected, _ = ac.scaled_dot_product_attention(q, k, v, causal=causal)
    assert_allclose(ac.tiled_attention(q, k, v, causal=causal, block_size=block), expected, atol=1e-12)


@pytest.mark.parametrize("dtype, atol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("causal", [False, True])
def test_batched_and_dtypes(dtype, atol, causal):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 50, 8)).astype(dtype) for _ in range(3))
    out = ac.tiled_attention(q, k, v, causal=causal, block_size=16)
    expected, _ = ac.scaled_dot_product_attention(q, k, v, causal=causal)
    assert out.dtype == dtype
    assert_allclose(out, expected, atol=atol)


def test_scale_and_broadcast_keys():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 10, 5)), rng.standard_normal((7, 5)), rng.standard_normal((7, 2))
    expected, _ = ac.scaled_dot_product_attention(q, k, v, scale=0.3)
    assert_allclose(ac.tiled_attention(q, k, v, scale=0.3, block_size=3), expected, atol=1e-12)


def test_large_scores_do_not_overflow():
    q = np.array([[300.0, 0.0], [0.0, 300.0]])
    out = ac.tiled_attention(q, q, np.eye(2), block_size=1)
    assert_allclose(out, np.eye(2), atol=1e-12)


def test_never_forms_the_full_matrix():
    """Working memory stays near one tile, whatever n (traced by tracemalloc)."""
    import tracemalloc

    rng = np.random.default_rng(2)
    peaks = []
    for n in (256, 1024):
        q, k, v = (rng.standard_normal((n, 16)).astype(np.float32) for _ in range(3))
        tracemalloc.start()
        out = ac.tiled_attention(q, k, v, block_size=64)
        peak = tracemalloc.get_traced_memory()[1] - out.nbytes
        tracemalloc.stop()
        peaks.append(peak)
    assert peaks[1] < 2 * peaks[0]  # 16x more scores, same working memory
    assert peaks[1] < 0.05 * 1024 * 1024 * 4


def test_online_softmax_replay():
    rng = np.random.default_rng(3)
    s, v = rng.standard_normal(10) * 3, rng.standard_normal((10, 2))
    steps = list(online_softmax_steps(s, v, block_size=4))
    assert [st.keys for st in steps] == [(0, 4), (4, 8), (8, 10)]
    assert steps[-1].running_max == s.max()
    assert_allclose(steps[-1].normaliser, np.exp(s - s.max()).sum())
    assert_allclose(steps[-1].output, ac.softmax(s) @ v)
    for step in steps:  # each partial output is the softmax over the keys read so far
        end = step.keys[1]
        assert_allclose(step.output, ac.softmax(s[:end]) @ v[:end])


@pytest.mark.parametrize("call, error, message", [
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), block_size=0), ValueError,
     r"block_size must be >= 1, got 0"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), block_size=2.5), TypeError,
     r"block_size must be a whole number"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 3)), np.ones((3, 2))), ValueError, r"d_k"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((4, 2))), ValueError, r"same length n_k"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), causal=1), TypeError, r"causal must be"),
    (lambda: ac.tiled_attention(None, np.ones((3, 2)), np.ones((3, 2))), TypeError, r"got None"),
    (lambda: list(online_softmax_steps(np.ones(3), np.ones((4, 2)), block_size=2)), ValueError, r"scores must be \(n_k,\)"),
    (lambda: ac.tiled_attention(np.full((3, 2), np.inf), np.ones((3, 2)), np.ones((3, 2))), ValueError,
     r"q \(queries\) contains inf at index \(0, 0\)"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((0, 2)), np.ones((0, 2))), ValueError, r"k \(keys\) must not be empty"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), scale=-1.0), ValueError,
     r"scale must be a finite number > 0"),
    (lambda: ac.tiled_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), causal="no"), TypeError,
     r"causal must be True or False, got 'no'"),
    (lambda: list(online_softmax_steps([np.inf, 0.0], np.ones((2, 2)), block_size=1)), ValueError, r"scores contains inf"),
    (lambda: list(online_softmax_steps([], np.ones((0, 2)), block_size=1)), ValueError, r"scores must not be empty"),
    (lambda: list(online_softmax_steps(np.ones(2), np.ones((2, 2, 1)), block_size=1)), ValueError, r"scores must be \(n_k,\)"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_causal_with_more_queries_than_keys_gives_zeros_for_queries_before_every_key():
    out = ac.tiled_attention(np.ones((5, 2)), np.ones((2, 2)), np.array([[1.0], [3.0]]), causal=True, block_size=2)
    assert_allclose(out, [[0.0], [0.0], [0.0], [1.0], [2.0]])


def test_nan_in_the_data_comes_out_as_nan_in_its_rows_only():
    q = np.ones((4, 2))
    q[2, 0] = np.nan
    out = ac.tiled_attention(q, np.ones((5, 2)), np.ones((5, 3)), block_size=2)
    assert np.isnan(out[2]).all()
    assert np.isfinite(out[[0, 1, 3]]).all()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_give_the_serial_result(causal, dtype):
    """Query blocks are independent tasks: on 3 threads the same arithmetic, so the same numbers."""
    rng = np.random.default_rng(4)
    q = rng.standard_normal((2, 3, 37, 8)).astype(dtype)  # (batch, heads, n_q, d_k)
    k = rng.standard_normal((3, 45, 8)).astype(dtype)  # broadcast over the batch
    v = rng.standard_normal((3, 45, 5)).astype(dtype)
    serial = ac.tiled_attention(q, k, v, causal=causal, block_size=8)
    threaded = ac.tiled_attention(q, k, v, causal=causal, block_size=8, workers=3)
    assert threaded.dtype == dtype
    assert_allclose(threaded, serial, rtol=0, atol=0)  # the same arithmetic, task by task
    expected, _ = ac.scaled_dot_product_attention(q, k, v, causal=causal)
    assert_allclose(threaded, expected, atol=2e-6 if dtype == np.float32 else 1e-12)


def test_threads_keep_working_memory_to_a_tile_per_thread():
    """8 heads of 2048 tokens on 2 threads: under 1 % of one n x n float32 matrix (16 MiB)."""
    import tracemalloc

    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((3, 8, 2048, 16), dtype=np.float32)
    ac.tiled_attention(q, k, v, block_size=32, workers=2)  # warm-up: the first threads set up caches once
    tracemalloc.start()
    out = ac.tiled_attention(q, k, v, block_size=32, workers=2)
    peak = tracemalloc.get_traced_memory()[1] - out.nbytes
    tracemalloc.stop()
    # a tile is 32 x 32 x 4 bytes = 4 KiB; with the running statistics, a few tens of KiB per thread
    assert peak < 0.01 * 2048 * 2048 * 4


def test_causal_computes_only_the_tiles_on_or_below_the_diagonal(monkeypatch):
    """Count the score tiles: T (T + 1) / 2 of T^2 with T blocks a side, T^2 without the mask."""
    from attn_core import tiled

    counted = []
    real_matmul = np.matmul

    def counting_matmul(a, b, *args, **kwargs):
        counted.append(a.shape[-2:] + b.shape[-1:])
        return real_matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(tiled.np, "matmul", counting_matmul)
    x = np.random.default_rng(6).standard_normal((40, 4))  # T = 5 blocks of 8
    for causal, tiles in ((False, 25), (True, 15)):
        counted.clear()
        ac.tiled_attention(x, x, x, causal=causal, block_size=8)
        score_tiles = [shape for shape in counted if shape == (8, 4, 8)]  # (b_q, d_k) @ (d_k, b_k)
        assert len(score_tiles) == tiles


def test_bottom_right_causal_skips_by_the_shifted_diagonal():
    """n_q = 6 queries are the last 6 of n_k = 10 positions: query i sees keys 0 .. i + 4."""
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((6, 3)), rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    out = ac.tiled_attention(q, k, v, causal=True, block_size=4, workers=2)
    for i in range(6):  # the loop, written out: softmax over the keys query i may see
        seen = slice(0, i + 5)
        scores = k[seen] @ q[i] / np.sqrt(3)
        weights = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        assert_allclose(out[i], weights @ v[seen], atol=1e-12)


def test_online_softmax_in_any_block_order_ends_at_softmax():
    rng = np.random.default_rng(9)
    s, v = rng.standard_normal(11) * 3, rng.standard_normal((11, 2))  # blocks of 3: the last holds 2 keys
    expected = ac.softmax(s) @ v
    for order in ([3, 2, 1, 0], [1, 3, 0, 2]):
        steps = list(online_softmax_steps(s, v, block_size=3, order=order))
        assert [st.block for st in steps] == order
        assert steps[0].keys == (3 * order[0], min(3 * order[0] + 3, 11))
        read = []
        for step in steps:  # each partial output is the softmax over the keys read so far, whatever the order
            read += list(range(*step.keys))
            assert_allclose(step.output, ac.softmax(s[read]) @ v[read])
        assert_allclose(steps[-1].output, expected)
    for bad in ([0, 1, 2], [0, 1, 2, 2], [0.0, 1.0, 2.0, 3.0], [[0, 1, 2, 3]]):
        with pytest.raises(ValueError, match="order must be a permutation of the 4 block indices"):
            online_softmax_steps(s, v, block_size=3, order=bad)


@pytest.mark.parametrize("n_q, n_k, block", [(5, 9, 1), (9, 5, 1), (7, 3, 50), (3, 12, 12)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edge_blocks_and_unequal_lengths_keep_the_dtype(n_q, n_k, block, dtype):
    """Blocks of one row, a block longer than the sequence, n_q != n_k: the dense answer, in the input's dtype."""
    rng = np.random.default_rng(n_q * 100 + n_k)
    q, k, v = (rng.standard_normal(shape).astype(dtype) for shape in ((n_q, 4), (n_k, 4), (n_k, 3)))
    out = ac.tiled_attention(q, k, v, block_size=block)
    scores = q.astype(np.float64) @ k.T.astype(np.float64) / 2.0  # sqrt(d_k) = 2, by hand in float64
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected = weights / weights.sum(axis=1, keepdims=True) @ v.astype(np.float64)
    assert out.dtype == dtype and out.shape == (n_q, 3)
    np.testing.assert_allclose(out, expected, atol=1e-5 if dtype == np.float32 else 1e-12)


# ------------------------------------------------------------------ block-sparse: tiles skipped under a mask
from attn_core.tiled import block_sparse_attention  # noqa: E402


def _packed_ids(lengths):
    """Document ids of documents of the given lengths, packed one after another (written out here)."""
    ids = []
    for document, length in enumerate(lengths):
        ids += [document] * length
    return np.array(ids)


def _dense_mask(n_q, n_k, causal, window, ids):
    """The same mask from the library's dense masks, queries bottom-right."""
    mask = np.ones((n_q, n_k), dtype=bool)
    if causal:
        mask &= ac.causal_mask(n_q, n_k)
    if window is not None:
        mask &= ac.sliding_window_mask(n_q, n_k, window=window, causal=causal)
    if ids is not None:
        nobody = ids.max() + 1  # a query before the first key belongs to no document
        query_ids = np.array([ids[n_k - n_q + i] if n_k - n_q + i >= 0 else nobody for i in range(n_q)])
        mask &= ac.document_mask(query_ids, ids)
    return mask


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 9), st.booleans(), st.one_of(st.none(), st.integers(1, 6)),
       st.booleans(), st.integers(0, 10**6))
def test_block_sparse_equals_dense_attention_under_the_same_mask(n_q, n_k, block, causal, window, documents, seed):
    rng = np.random.default_rng(seed)
    ids = _packed_ids(rng.multinomial(n_k, np.ones(3) / 3)) if documents else None  # up to 3 documents
    q, k, v = rng.standard_normal((n_q, 4)) * 2, rng.standard_normal((n_k, 4)) * 2, rng.standard_normal((n_k, 3))
    mask = _dense_mask(n_q, n_k, causal, window, ids)
    expected, _ = ac.scaled_dot_product_attention(q, k, v, mask=mask)
    got = block_sparse_attention(q, k, v, causal=causal, window=window, document_ids=ids, block_size=block)
    assert not np.isnan(got).any()
    assert_allclose(got, expected, atol=1e-12)


def test_block_sparse_schedule_is_the_dense_mask_tile_by_tile():
    from attn_core.experiments.efficiency import TILE_FULL, TILE_MASKED, TILE_SKIPPED, tile_schedule

    rng = np.random.default_rng(1)
    for _ in range(40):
        n_q, n_k, block = rng.integers(1, 30, size=3)
        causal, window = bool(rng.integers(2)), [None, 1, 3, 7][rng.integers(4)]
        ids = _packed_ids(rng.multinomial(n_k, np.ones(4) / 4)) if rng.integers(2) else None
        mask = _dense_mask(n_q, n_k, causal, window, ids)
        kinds = tile_schedule(int(n_q), int(n_k), block_size=int(block), causal=causal, window=window, document_ids=ids)
        for a, qs in enumerate(range(0, n_q, block)):
            for b, ks in enumerate(range(0, n_k, block)):
                tile = mask[qs:qs + block, ks:ks + block]
                assert kinds[a, b] == (TILE_FULL if tile.all() else TILE_MASKED if tile.any() else TILE_SKIPPED)


def test_block_sparse_with_only_causal_is_tiled_attention_and_batches():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 30, 8)).astype(np.float32) for _ in range(3))
    got = block_sparse_attention(q, k, v, causal=True, block_size=8)
    assert got.dtype == np.float32
    assert_allclose(got, ac.tiled_attention(q, k, v, causal=True, block_size=8), atol=2e-6)
    assert_allclose(block_sparse_attention(q, k, v, block_size=7), ac.scaled_dot_product_attention(q, k, v)[0],
                    atol=2e-6)


def test_a_query_whose_tiles_are_all_skipped_gets_zeros_not_nan():
    """Causal with n_q > n_k: the first queries stand before every key; their whole block is skipped."""
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((12, 4)), rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    from attn_core.experiments.efficiency import TILE_SKIPPED, tile_schedule

    kinds = tile_schedule(12, 4, block_size=4, causal=True, document_ids=[0, 0, 1, 1])
    assert (kinds[:2] == TILE_SKIPPED).all()  # queries 0-7 stand at positions -8..-1
    out = block_sparse_attention(q, k, v, causal=True, document_ids=[0, 0, 1, 1], block_size=4)
    np.testing.assert_array_equal(out[:8], 0.0)
    expected, _ = ac.scaled_dot_product_attention(q, k, v, mask=_dense_mask(12, 4, True, None, np.array([0, 0, 1, 1])))
    assert_allclose(out, expected, atol=1e-12)


def test_skipped_tiles_are_never_read_by_block_sparse_attention():
    """NaN in a key block that every query of a block is barred from would poison a computed tile."""
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((3, 12, 4))
    ids = np.repeat([0, 1, 2], 4)  # three documents of four: only the diagonal tiles are computed
    out = block_sparse_attention(q, k, v, document_ids=ids, block_size=4)
    v2 = v.copy()
    v2[4:] = np.nan  # the values of documents 1 and 2
    np.testing.assert_array_equal(block_sparse_attention(q, k, v2, document_ids=ids, block_size=4)[:4], out[:4])


@pytest.mark.parametrize("call, error, message", [
    (lambda: block_sparse_attention(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), window=0), ValueError, "window"),
    (lambda: block_sparse_attention(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), document_ids=[0, 0, 1]),
     ValueError, "document_ids"),
    (lambda: block_sparse_attention(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), document_ids=[0, 1, 0, 1]),
     ValueError, "contiguous run"),
    (lambda: block_sparse_attention(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), document_ids=[0.0] * 4),
     TypeError, "document_ids"),
    (lambda: block_sparse_attention(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), causal="yes"), TypeError, "causal"),
])
def test_block_sparse_refuses_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
