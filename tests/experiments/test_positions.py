"""attn_core.experiments.positions: one sentence under each encoding; NoPE probes; recall beyond training."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core import positions as pos
from attn_core.experiments.data import embed_tokens
from attn_core.experiments.positions import (
    EXTRAPOLATION_CONFIG,
    RECALL_ENCODINGS,
    RECALL_READERS,
    MarkedRecallReader,
    encoded_weights,
    load_extrapolation,
    marked_recall,
    offset_effect,
    position_probe,
    recall_accuracy,
    stored_recall_reader,
    train_recall_reader,
)
from attn_core.training.gradient_check import gradient_check
from attn_core.training.losses import cross_entropy

SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "slept")
D_MODEL, D_K, SEED = 8, 4, 7


def setup(seed=SEED):
    """Projections and tables drawn like the chapter's explorer draws them."""
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    w_k = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    rel_keys = rng.standard_normal((5, D_K))
    table = pos.learned_position_table(16, D_MODEL, seed=seed + 1, std=1.0)
    return embed_tokens(list(SENTENCE), D_MODEL), w_q, w_k, rel_keys, table


def weights(encoding, offset, seed=SEED):
    x, w_q, w_k, rel_keys, table = setup(seed)
    return encoded_weights(x, w_q, w_k, encoding, offset + np.arange(len(SENTENCE)),
                           learned_table=table, rel_keys=rel_keys)

# ------------------------------------------------------------------ the maths behind it
def test_each_encoding_is_the_attn_core_computation():
    x, w_q, w_k, rel_keys, table = setup()
    n = len(SENTENCE)
    q, k = x @ w_q, x @ w_k
    p = pos.sinusoidal_positions(n, D_MODEL)
    expected = {
        "none": ac.scaled_dot_product_attention(q, k, k)[1],
        "sinusoidal": ac.scaled_dot_product_attention((x + p) @ w_q, (x + p) @ w_k, k)[1],
        "learned": ac.scaled_dot_product_attention((x + table[:n]) @ w_q, (x + table[:n]) @ w_k, k)[1],
        "relative": pos.relative_position_attention(q, k, k, rel_keys)[1],
        "rope": ac.scaled_dot_product_attention(pos.rotary_embedding(q), pos.rotary_embedding(k), k)[1],
        "alibi": ac.scaled_dot_product_attention(q, k, k, bias=pos.alibi_bias(n, n_heads=8)[0])[1],
    }
    for name, a in expected.items():
        got = encoded_weights(x, w_q, w_k, name, np.arange(n), learned_table=table, rel_keys=rel_keys)
        np.testing.assert_allclose(got, a, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(got.sum(axis=1), 1.0)


def test_sinusoidal_by_a_plain_loop():
    """Row i of the weights: softmax over j of (x_i + P_i) W_Q . (x_j + P_j) W_K / 2."""
    x, w_q, w_k, _, _ = setup()
    offset, n = 5, len(SENTENCE)
    got = weights("sinusoidal", offset)
    for i in range(n):
        p_i = [np.sin((offset + i) * 10000 ** (-2 * (c // 2) / D_MODEL) + (c % 2) * np.pi / 2)
               for c in range(D_MODEL)]  # cos(a) = sin(a + pi/2)
        scores = []
        for j in range(n):
            p_j = [np.sin((offset + j) * 10000 ** (-2 * (c // 2) / D_MODEL) + (c % 2) * np.pi / 2)
                   for c in range(D_MODEL)]
            scores.append(((x[i] + p_i) @ w_q) @ ((x[j] + p_j) @ w_k) / np.sqrt(D_K))
        e = np.exp(np.array(scores) - max(scores))
        np.testing.assert_allclose(got[i], e / e.sum(), atol=1e-12)


@pytest.mark.parametrize("encoding", ["relative", "rope", "alibi"])
def test_relative_encodings_ignore_a_common_offset(encoding):
    base = weights(encoding, 0)
    for offset in (1, 3, 16, 256, 10_000):
        np.testing.assert_allclose(weights(encoding, offset), base, atol=1e-12)


@pytest.mark.parametrize("encoding", ["sinusoidal", "learned"])
def test_absolute_encodings_change_with_the_offset(encoding):
    base = weights(encoding, 0)
    for offset in (1, 8):
        assert np.abs(weights(encoding, offset) - base).max() > 0.05


def test_learned_table_has_no_rows_past_its_end():
    assert weights("learned", 8) is not None  # positions 8 .. 15: the last rows
    assert weights("learned", 9) is None  # position 16 does not exist


def test_encoded_weights_refuses_bad_input():
    x, w_q, w_k, rel_keys, table = setup()
    with pytest.raises(ValueError, match="encoding must be one of .*; got 'absolute'"):
        encoded_weights(x, w_q, w_k, "absolute", np.arange(8))
    with pytest.raises(ValueError, match=r"one entry per token, shape \(8,\)"):
        encoded_weights(x, w_q, w_k, "rope", np.arange(7))
    with pytest.raises(ValueError, match="consecutive positions"):
        encoded_weights(x, w_q, w_k, "alibi", np.arange(8) * 2)
    with pytest.raises(ValueError, match="needs learned_table"):
        encoded_weights(x, w_q, w_k, "learned", np.arange(8))
    with pytest.raises(ValueError, match="needs rel_keys"):
        encoded_weights(x, w_q, w_k, "relative", np.arange(8))


def test_offset_effect_is_the_difference_of_two_maps():
    x, w_q, w_k, rel_keys, table = setup()
    tables = {"learned_table": table, "rel_keys": rel_keys}
    effect = offset_effect(x, w_q, w_k, "sinusoidal", 3, **tables)
    assert effect["positions"].tolist() == list(range(3, 3 + len(SENTENCE)))
    np.testing.assert_allclose(effect["weights_at_zero"], weights("sinusoidal", 0))
    np.testing.assert_allclose(effect["change"], np.abs(weights("sinusoidal", 3) - weights("sinusoidal", 0)))
    assert effect["max_change"] == pytest.approx(float(effect["change"].max()))
    past_the_table = offset_effect(x, w_q, w_k, "learned", 9, **tables)
    assert past_the_table["weights"] is None and past_the_table["max_change"] is None


# ------------------------------------------------------------- position without encodings
def test_causal_mask_lets_a_probe_read_position_without_encodings():
    causal, open_ = position_probe(True, steps=0), position_probe(False, steps=0)
    assert causal["n_positions"] == 13
    assert causal["r2"] > 0.3  # untrained: the mask alone already tells
    assert open_["r2"] < 0.05
    assert causal["mean_abs_error"] < open_["mean_abs_error"]


def test_next_token_model_without_positions_has_no_table_and_ignores_order_without_a_mask():
    from attn_core.training.models import NextTokenModel
    model = NextTokenModel(5, 6, width=4, causal=False, seed=2, positions="none")
    assert "position" not in model.params
    assert repr(model).endswith("positions='none')")
    tokens = np.array([[0, 1, 2, 3]])
    shuffled = tokens[:, [2, 0, 3, 1]]
    (logits, _), (logits_shuffled, _) = model._all_logits(tokens), model._all_logits(shuffled)
    assert_allclose(logits_shuffled[0], logits[0][[2, 0, 3, 1]], atol=1e-12)  # equivariant
    learned = NextTokenModel(5, 6, width=4, causal=False, seed=2)
    for name in model.params:  # the same draws as the default model, the table left out
        assert_array_equal(model.params[name], learned.params[name])


def test_next_token_model_without_positions_gradients():
    from attn_core.training.models import NextTokenModel
    model = NextTokenModel(5, 6, width=4, causal=True, seed=3, positions="none")
    data = {"tokens": np.array([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]),
            "labels": np.array([[1, 2, 3, 4], [3, 2, 1, 0]])}

    def loss():
        return cross_entropy(model.forward(data)[0].reshape(-1, 5), data["labels"].reshape(-1))[0]

    logits, cache = model.forward(data)
    grad_logits = cross_entropy(logits.reshape(-1, 5), data["labels"].reshape(-1))[1].reshape(logits.shape)
    grads = model.backward(cache, grad_logits)
    assert set(grads) == set(model.params)
    assert gradient_check(loss, model.params, grads) < 1e-5


# ------------------------------------------------------------------ recall beyond training
def test_marked_recall_by_hand():
    data = marked_recall(50, 10, n_values=4, seed=3)
    tokens, labels, back = data["tokens"], data["labels"], data["distance"]
    assert tokens.shape == (50, 10) and (tokens[:, -1] == 8).all()
    for row, label, distance in zip(tokens, labels, back):
        marked = np.flatnonzero(row[:-1] >= 4)
        assert marked.tolist() == [9 - distance] and row[marked[0]] == 4 + label
    assert 1 <= back.min() and back.max() <= 9
    fixed = marked_recall(5, 10, distance=9)
    assert (fixed["tokens"][:, 0] >= 8).all() and (fixed["distance"] == 9).all()


@pytest.mark.parametrize("encoding", RECALL_ENCODINGS)
def test_recall_reader_gradients(encoding):
    reader = MarkedRecallReader(encoding, 7, n_values=3, width=4, seed=1)
    data = marked_recall(4, 7, n_values=3, seed=2)
    inputs = {"tokens": data["tokens"]}

    def loss():
        return cross_entropy(reader.forward(inputs)[0], data["labels"])[0]

    logits, cache = reader.forward(inputs)
    grads = reader.backward(cache, cross_entropy(logits, data["labels"])[1])
    assert set(grads) == set(reader.params)
    assert gradient_check(loss, reader.params, grads) < 1e-5


def test_recall_reader_weights_by_loop():
    """The question's weights, computed by hand for each encoding."""
    n, d = 6, 4
    data = marked_recall(2, n, n_values=3, seed=4)
    for encoding in RECALL_ENCODINGS:
        reader = MarkedRecallReader(encoding, n, n_values=3, width=d, alibi_slope=0.5, seed=5)
        p = reader.params
        _, cache = reader.forward({"tokens": data["tokens"]})
        for b in range(2):
            x = p["token"][data["tokens"][b]]
            if encoding == "learned":
                x = x + p["position"]
            if encoding == "sinusoidal":
                x = x + pos.sinusoidal_positions(n, d)
            q, k = x[-1] @ p["w_q"], x @ p["w_k"]
            if encoding == "rope":
                q = pos.rotary_embedding(q[None], [n - 1])[0]
                k = pos.rotary_embedding(k)
            scores = np.array([q @ k[j] / np.sqrt(d) for j in range(n)])
            if encoding == "alibi":
                scores = scores - 0.5 * np.array([n - 1 - j for j in range(n)])
            expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            assert_allclose(cache["weights"][b, 0], expected, atol=1e-12)


def test_learned_reader_refuses_longer_sequences_and_accuracy_says_none():
    reader = MarkedRecallReader("learned", 8)
    with pytest.raises(ValueError, match="the learned table has only 8 rows"):
        reader.forward(marked_recall(2, 9))
    assert recall_accuracy(reader, 9, 3) is None
    assert 0.0 <= recall_accuracy(MarkedRecallReader("alibi", 8), 9, 3) <= 1.0


def test_stored_configuration_is_the_codes():
    stored = load_extrapolation()
    assert stored["config"] == EXTRAPOLATION_CONFIG
    assert list(stored["accuracy"]) == list(RECALL_READERS) == list(stored["params"])
    assert RECALL_READERS == (*RECALL_ENCODINGS, "alibi 1/16", "alibi 1/64")
    assert len(EXTRAPOLATION_CONFIG["seeds"]) == 8
    for encoding, by_length in stored["accuracy"].items():
        for length, row in by_length.items():
            assert len(row) == len(EXTRAPOLATION_CONFIG["distances"])
            for distance, cell, seeds in zip(EXTRAPOLATION_CONFIG["distances"], row,
                                             stored["accuracy_by_seed"][encoding][length]):
                fits = distance < int(length) and not (encoding == "learned" and int(length) > 32)
                assert (cell is not None) == fits and (seeds is not None) == fits
                if fits:
                    assert len(seeds) == len(EXTRAPOLATION_CONFIG["seeds"])
                    assert cell == pytest.approx(np.mean(seeds)) and 0 <= min(seeds) <= max(seeds) <= 1


def test_a_short_rerun_reproduces_the_stored_first_seed():
    """Retrain the first seed's ALiBi reader: the same weights and the same accuracies."""
    stored = load_extrapolation()
    seed = EXTRAPOLATION_CONFIG["seeds"][0]
    reader = train_recall_reader("alibi", seed)
    for name, value in stored["params"]["alibi"].items():
        assert_allclose(reader.params[name], value, atol=1e-8)
    by_seed = stored["accuracy_by_seed"]["alibi"]
    for length, distance in [(32, 16), (512, 96), (512, 256)]:
        index = EXTRAPOLATION_CONFIG["distances"].index(distance)
        assert recall_accuracy(reader, length, distance) == pytest.approx(by_seed[str(length)][index][0])
    loaded = stored_recall_reader("alibi")
    for name in reader.params:
        assert_allclose(loaded.params[name], reader.params[name], atol=1e-8)


def test_a_short_rerun_reproduces_the_gentlest_alibi_slope():
    """The slope sweep's reader (slope 1/64), first seed: the same weights and accuracy far back."""
    stored = load_extrapolation()
    reader = train_recall_reader("alibi", EXTRAPOLATION_CONFIG["seeds"][0], alibi_slope=1 / 64)
    assert reader.alibi_slope == 1 / 64
    for name, value in stored["params"]["alibi 1/64"].items():
        assert_allclose(reader.params[name], value, atol=1e-8)
    index = EXTRAPOLATION_CONFIG["distances"].index(256)
    assert recall_accuracy(reader, 512, 256) == pytest.approx(
        stored["accuracy_by_seed"]["alibi 1/64"]["512"][index][0])
    loaded = stored_recall_reader("alibi 1/64")
    assert loaded.alibi_slope == 1 / 64 and loaded.encoding == "alibi"
    assert_allclose(loaded.params["w_q"], reader.params["w_q"], atol=1e-8)


def test_stored_recall_reader_and_train_refuse_unknown_names_and_slopes():
    with pytest.raises(ValueError, match="encoding must be one of"):
        stored_recall_reader("alibi 1/8")
    with pytest.raises(ValueError, match="alibi_slope"):
        train_recall_reader("alibi", 1, alibi_slope=-1.0)


def test_alibi_window_grows_as_the_slope_falls_in_the_stored_run():
    """The median over seeds at distance 256, n = 512: slope 1/4 < 1/16 < 1/64 (the window ~ margin / slope)."""
    stored = load_extrapolation()["accuracy_by_seed"]
    index = EXTRAPOLATION_CONFIG["distances"].index(256)
    medians = [np.median(stored[name]["512"][index]) for name in ("alibi", "alibi 1/16", "alibi 1/64")]
    assert medians[0] < medians[1] < medians[2]
