"""attn_core.training.models: every model's backward against finite differences, and its door checks."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.data import associative_recall
from attn_core.training.gradient_check import gradient_check
from attn_core.training.losses import cross_entropy
from attn_core.training.models import (
    AttentionReader,
    CrossAttentionAligner,
    DeepSetsReader,
    GatedRecurrentReader,
    NextTokenModel,
    PoolingReader,
    RecurrentReader,
)


def aligner_inputs(n, length, n_symbols, seed):
    rng = np.random.default_rng(seed)
    source = np.argsort(rng.random((n, n_symbols)), axis=1)[:, :length]  # distinct symbols per row
    target = source[:, ::-1]
    start = np.full((n, 1), n_symbols)
    return {"source": source, "decoder_input": np.concatenate([start, target[:, :-1]], axis=1),
            "labels": target}


def next_token_inputs(n, length, vocab, seed):
    tokens = np.random.default_rng(seed).integers(0, vocab, (n, length))
    return {"tokens": tokens, "labels": tokens[:, 1:]}


def biased_gru(query_first):
    """A GRU with non-zero gate and candidate biases (zero biases would hide a bias bug)."""
    model = GatedRecurrentReader(8, 4, width=6, seed=1, query_first=query_first)
    model.params["b"] += np.linspace(-0.8, 0.8, 18)
    return model


CASES = {
    "attention reader": (lambda: AttentionReader(8, 4, width=8, seed=1),
                         lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "attention reader, ordered": (lambda: AttentionReader(8, 4, width=8, seed=1),
                                  lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3, ordered=True)),
    "recurrent reader": (lambda: RecurrentReader(8, 4, width=8, seed=1),
                         lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "recurrent reader, query first": (lambda: RecurrentReader(8, 4, width=8, seed=1, query_first=True),
                                      lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "gated recurrent reader": (lambda: biased_gru(query_first=False),
                               lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "gated recurrent reader, query first": (lambda: biased_gru(query_first=True),
                                            lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "pooling reader": (lambda: PoolingReader(8, 4, width=8, seed=1),
                       lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "deep sets reader": (lambda: DeepSetsReader(8, 4, width=6, encoder_width=7, seed=1),
                         lambda: associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)),
    "aligner": (lambda: CrossAttentionAligner(4, 6, width=5, seed=2), lambda: aligner_inputs(3, 4, 6, 0)),
    "aligner, no source positions": (lambda: CrossAttentionAligner(4, 6, width=5, source_positions=False, seed=2),
                                     lambda: aligner_inputs(3, 4, 6, 0)),
    "next token, causal": (lambda: NextTokenModel(5, 6, width=4, causal=True, seed=2),
                           lambda: next_token_inputs(4, 6, 5, 0)),
    "next token, no mask": (lambda: NextTokenModel(5, 6, width=4, causal=False, seed=2),
                            lambda: next_token_inputs(4, 5, 5, 0)),
}


def loss_of(model, data):
    logits, _ = model.forward(data)
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), data["labels"].reshape(-1))[0]


@pytest.mark.parametrize("case", list(CASES))
def test_backward_by_finite_differences(case):
    make_model, make_data = CASES[case]
    model, data = make_model(), make_data()
    logits, cache = model.forward(data)
    _, grad = cross_entropy(logits.reshape(-1, logits.shape[-1]), data["labels"].reshape(-1))
    grads = model.backward(cache, grad.reshape(logits.shape))
    assert set(grads) == set(model.params)
    assert all(grads[k].shape == model.params[k].shape for k in grads)
    assert gradient_check(lambda: loss_of(model, data), model.params, grads, samples=15) < 1e-6


@pytest.mark.parametrize("case, name", [("attention reader", "w_k"), ("aligner", "w_k"),
                                        ("next token, causal", "w_k"), ("deep sets reader", "w_e"),
                                        ("gated recurrent reader", "w_h_gates"),
                                        ("gated recurrent reader, query first", "w_x")])
def test_gradient_check_catches_a_wrong_gradient(case, name):
    make_model, make_data = CASES[case]
    model, data = make_model(), make_data()
    logits, cache = model.forward(data)
    _, grad = cross_entropy(logits.reshape(-1, logits.shape[-1]), data["labels"].reshape(-1))
    grads = model.backward(cache, grad.reshape(logits.shape))
    grads[name] = grads[name] * 1.5
    assert gradient_check(lambda: loss_of(model, data), model.params, grads) > 0.1


def plain_readout(model, state, query):
    """The shared readout for one example, with plain numpy on vectors."""
    p = model.params
    hidden = np.tanh(state @ p["w_1"] + p["w_query"][query] + p["b_1"])
    return hidden @ p["w_2"] + p["b_2"]


def pair_vector(table, key, value, n_keys):
    return table[key] + table[n_keys + value]


RECALL_5 = associative_recall(3, n_pairs=4, n_keys=6, n_values=3, seed=5)


def test_pooling_state_is_the_average_of_the_pair_embeddings():
    model = PoolingReader(6, 3, width=5, seed=2)
    state = model.state(RECALL_5)
    for b in range(3):
        pairs = [pair_vector(model.params["w_x"], k, v, 6) for k, v in zip(RECALL_5["keys"][b], RECALL_5["values"][b])]
        assert_allclose(state[b], sum(pairs) / 4, atol=1e-12)


def test_deep_sets_reader_matches_a_plain_loop_over_pairs():
    model = DeepSetsReader(6, 3, width=5, encoder_width=7, seed=2)
    model.params["b_e"] += np.linspace(-0.3, 0.3, 7)  # a non-zero bias, to check it too
    logits, _ = model.forward(RECALL_5)
    state = model.state(RECALL_5)
    p = model.params
    for b in range(3):
        codes = [np.tanh(pair_vector(p["w_x"], k, v, 6) @ p["w_e"] + p["b_e"])
                 for k, v in zip(RECALL_5["keys"][b], RECALL_5["values"][b])]
        pooled = sum(codes) / len(codes)
        assert_allclose(state[b], pooled, atol=1e-12)
        assert_allclose(logits[b], plain_readout(model, pooled, RECALL_5["query"][b]), atol=1e-12)
    assert state.shape == (3, 7)


@pytest.mark.parametrize("query_first", [False, True])
def test_elman_states_match_a_plain_loop(query_first):
    model = RecurrentReader(6, 3, width=5, seed=2, query_first=query_first)
    model.params["b_h"] += np.linspace(-0.2, 0.2, 5)
    p = model.params
    states, state = model.states(RECALL_5), model.state(RECALL_5)
    logits, _ = model.forward(RECALL_5)
    assert states.shape == (3, 4 + query_first, 5)
    for b in range(3):
        tokens = [pair_vector(p["w_x"], k, v, 6) for k, v in zip(RECALL_5["keys"][b], RECALL_5["values"][b])]
        if query_first:
            tokens = [p["w_x"][RECALL_5["query"][b]]] + tokens  # the query key's row comes first
        h = np.zeros(5)
        for t, x in enumerate(tokens):
            h = np.tanh(x + h @ p["w_h"] + p["b_h"])
            assert_allclose(states[b, t], h, atol=1e-12)
        assert_allclose(state[b], h, atol=1e-12)
        assert_allclose(logits[b], plain_readout(model, h, RECALL_5["query"][b]), atol=1e-12)


def sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a))


@pytest.mark.parametrize("query_first", [False, True])
def test_gru_matches_cho_et_al_equations_written_unit_by_unit(query_first):
    """z keeps the old state, r resets it before U_c (Cho et al., 2014), one scalar at a time."""
    model = GatedRecurrentReader(6, 3, width=4, seed=3, query_first=query_first)
    model.params["b"] += np.linspace(-0.5, 0.5, 12)
    p, d = model.params, 4
    w_z, w_r, w_c = p["w_x"][:, :d], p["w_x"][:, d:2 * d], p["w_x"][:, 2 * d:]
    u_z, u_r, u_c = p["w_h_gates"][:, :d], p["w_h_gates"][:, d:], p["w_h_candidate"]
    b_z, b_r, b_c = p["b"][:d], p["b"][d:2 * d], p["b"][2 * d:]
    states, state = model.states(RECALL_5), model.state(RECALL_5)
    logits, _ = model.forward(RECALL_5)
    for b in range(3):
        tokens = [(k, 6 + v) for k, v in zip(RECALL_5["keys"][b], RECALL_5["values"][b])]  # rows of w_x
        if query_first:
            tokens = [(RECALL_5["query"][b],)] + tokens
        h = [0.0] * d
        for t, rows in enumerate(tokens):
            def into(w, i, rows=rows):
                return sum(w[row, i] for row in rows)
            z = [sigmoid(into(w_z, i) + sum(h[j] * u_z[j, i] for j in range(d)) + b_z[i]) for i in range(d)]
            r = [sigmoid(into(w_r, i) + sum(h[j] * u_r[j, i] for j in range(d)) + b_r[i]) for i in range(d)]
            c = [math.tanh(into(w_c, i) + sum(r[j] * h[j] * u_c[j, i] for j in range(d)) + b_c[i]) for i in range(d)]
            h = [z[i] * h[i] + (1 - z[i]) * c[i] for i in range(d)]
            assert_allclose(states[b, t], h, atol=1e-12)
        assert_allclose(state[b], h, atol=1e-12)
        assert_allclose(logits[b], plain_readout(model, np.array(h), RECALL_5["query"][b]), atol=1e-12)
    assert states.shape == (3, 4 + query_first, 4)


def test_gru_gates_near_one_hold_the_state():
    """With the update gate's bias far positive, z is about 1 and h_t about h_{t-1} = 0."""
    model = GatedRecurrentReader(6, 3, width=4, seed=0)
    model.params["b"][:4] = 30.0
    assert np.abs(model.states(RECALL_5)).max() < 1e-9


def test_query_first_draws_the_same_parameters_and_changes_only_what_is_read():
    plain, first = RecurrentReader(6, 3, width=5, seed=4), RecurrentReader(6, 3, width=5, seed=4, query_first=True)
    assert set(plain.params) == set(first.params)
    assert all(np.array_equal(plain.params[k], first.params[k]) for k in plain.params)
    assert not np.allclose(plain.forward(RECALL_5)[0], first.forward(RECALL_5)[0])
    assert repr(first).endswith("query_first=True)") and "query_first" not in repr(plain)


def plain_next_token_logits(model, sequence):
    """NextTokenModel's logits at every position of one sequence, with Python loops."""
    p, n = model.params, len(sequence)
    x = [p["token"][tok] + p["position"][t] for t, tok in enumerate(sequence)]
    q, k, v = ([xi @ p[w] for xi in x] for w in ("w_q", "w_k", "w_v"))
    logits = []
    for i in range(n):
        keys = range(i + 1) if model.causal else range(n)
        scores = {j: float(q[i] @ k[j]) / math.sqrt(model.width) for j in keys}
        top = max(scores.values())
        exps = {j: math.exp(s - top) for j, s in scores.items()}
        total = sum(exps.values())
        out = sum(exps[j] / total * v[j] for j in keys)
        logits.append(out @ p["w_o"] + p["b_o"])
    return np.array(logits)


@pytest.mark.parametrize("causal", [True, False])
def test_next_token_forward_matches_a_plain_loop(causal):
    model = NextTokenModel(6, 7, width=5, causal=causal, seed=1)
    model.params["b_o"] += np.arange(6) * 0.1  # a non-zero bias, to check it too
    tokens = np.array([[0, 5, 2, 2, 1, 3, 4], [1, 1, 0, 4, 5, 2, 3]])
    logits, cache = model.forward({"tokens": tokens})
    assert logits.shape == (2, 6, 6)  # the last position predicts nothing
    for b in range(2):
        assert_allclose(logits[b], plain_next_token_logits(model, tokens[b])[:-1], atol=1e-12)
    if causal:
        assert_array_equal(np.triu(cache["weights"][0], k=1), 0.0)
    assert_allclose(cache["weights"].sum(-1), 1.0)


def test_initial_weight_matrices_scale_with_their_fan_in():
    model = NextTokenModel(vocab=400, n_positions=3, width=300, seed=0)
    assert abs(model.params["w_o"].std() * np.sqrt(300) - 1) < 0.05  # (300, 400): fan_in 300
    aligner = CrossAttentionAligner(3, 400, width=300, seed=0)
    assert abs(aligner.params["w_o"].std() * np.sqrt(300) - 1) < 0.05
    reader = AttentionReader(200, 200, width=50, seed=0)
    assert abs(reader.params["w_k"].std() * np.sqrt(400) - 1) < 0.05  # (n_keys + n_values, d)


def test_repr_and_parameter_count():
    model = NextTokenModel(4, 5, width=4)
    assert repr(model) == "NextTokenModel(vocab=4, n_positions=5, width=4, causal=True)"
    assert model.parameter_count() == 4 * 4 + 5 * 4 + 3 * 16 + 4 * 4 + 4
    assert repr(AttentionReader(4, 2, width=3)) == "AttentionReader(width=3, parameters=56)"  # 12+18+18+6+2


RECALL = associative_recall(4, n_pairs=3, n_keys=5, n_values=2, seed=0)


def recall_with(key, value):
    return {**RECALL, key: value}


@pytest.mark.parametrize("call, error, message", [
    (lambda: AttentionReader(0, 2), ValueError, r"n_keys must be >= 1"),
    (lambda: RecurrentReader(4, 2, width=2.0), TypeError, r"width must be a whole number"),
    (lambda: PoolingReader(4, 2, seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: RecurrentReader(4, 2, query_first=1), TypeError, r"query_first must be True or False"),
    (lambda: GatedRecurrentReader(4, 2, query_first=None), TypeError, r"query_first must be True or False"),
    (lambda: GatedRecurrentReader(4, 2, width=0), ValueError, r"width must be >= 1"),
    (lambda: GatedRecurrentReader(5, 2).states(recall_with("values", RECALL["values"] + 2)), ValueError,
     r"inputs\['values'\] must lie in 0\.\.1"),
    (lambda: DeepSetsReader(4, 2, encoder_width=0), ValueError, r"encoder_width must be >= 1"),
    (lambda: DeepSetsReader(4, 2, encoder_width=2.0), TypeError, r"encoder_width must be a whole number"),
    (lambda: DeepSetsReader(5, 2).state(recall_with("keys", RECALL["keys"] + 5)), ValueError,
     r"inputs\['keys'\] must lie in 0\.\.4"),
    (lambda: RecurrentReader(5, 2).states(None), TypeError, r"inputs must be a dict"),
    (lambda: PoolingReader(5, 2).state({"keys": RECALL["keys"]}), ValueError, r"inputs has no 'values'"),
    (lambda: NextTokenModel(4, 5, causal="yes"), TypeError, r"causal must be True or False"),
    (lambda: NextTokenModel(4, 5, causal=None), TypeError, r"causal must be True or False"),
    (lambda: CrossAttentionAligner(4, 6, source_positions=1), TypeError, r"source_positions must be True or False"),
    (lambda: CrossAttentionAligner(4, True), TypeError, r"n_symbols must be a whole number"),
    (lambda: AttentionReader(5, 2).forward(None), TypeError, r"inputs must be a dict"),
    (lambda: AttentionReader(5, 2).forward({"keys": RECALL["keys"]}), ValueError, r"inputs has no 'values'"),
    (lambda: AttentionReader(5, 2).forward(recall_with("keys", RECALL["keys"][0])), ValueError,
     r"inputs\['keys'\] must have shape \(n_examples, n_pairs\)"),
    (lambda: AttentionReader(5, 2).forward(recall_with("query", RECALL["query"] - 10)), ValueError,
     r"inputs\['query'\] must lie in 0\.\.4; got -"),
    (lambda: AttentionReader(5, 2).forward(recall_with("values", RECALL["values"] + 2)), ValueError,
     r"inputs\['values'\] must lie in 0\.\.1"),
    (lambda: PoolingReader(5, 2).forward(recall_with("labels", RECALL["labels"][:2])), ValueError,
     r"inputs\['labels'\] must have shape \(4,\); got \(2,\)"),
    (lambda: RecurrentReader(5, 2).forward(recall_with("query", "a")), TypeError, r"inputs\['query'\] .*string"),
    (lambda: RecurrentReader(5, 2).forward(recall_with("keys", RECALL["keys"] * 1j)), TypeError,
     r"inputs\['keys'\] must hold whole numbers"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.array([0.0, 1.0])}), TypeError,
     r"inputs\['tokens'\] must hold whole numbers"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.array([0, 1])}), ValueError,
     r"inputs\['tokens'\] must have 2 dimensions"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.zeros((1, 6), dtype=int)}), ValueError,
     r"2 to n_positions=5 tokens"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.array([[1]])}), ValueError, r"2 to n_positions=5 tokens"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.array([[0, 4]])}), ValueError,
     r"inputs\['tokens'\] must lie in 0\.\.3; got 4 at index \(0, 1\)"),
    (lambda: NextTokenModel(4, 5).forward({"tokens": np.array([[0, 1, 2]]), "labels": np.array([[1, 2, 3]])}),
     ValueError, r"inputs\['labels'\] must have shape \(1, 2\)"),
    (lambda: NextTokenModel(4, 5).forward(np.array([[0, 1]])), TypeError, r"inputs must be a dict"),
    (lambda: CrossAttentionAligner(4, 6).forward({"source": np.zeros((2, 5), int),
                                                  "decoder_input": np.zeros((2, 4), int)}),
     ValueError, r"inputs\['source'\] must have shape \(2, 4\); got \(2, 5\)"),
    (lambda: CrossAttentionAligner(4, 6).forward({"source": np.zeros((2, 4), int)}), ValueError,
     r"inputs has no 'decoder_input'"),
    (lambda: CrossAttentionAligner(4, 6).forward({"source": np.full((2, 4), 6),
                                                  "decoder_input": np.full((2, 4), 6)}),
     ValueError, r"inputs\['source'\] must lie in 0\.\.5"),
    (lambda: CrossAttentionAligner(4, 6).forward({"source": np.zeros((2, 4), int),
                                                  "decoder_input": np.full((2, 4), 7)}),
     ValueError, r"inputs\['decoder_input'\] must lie in 0\.\.6"),
    (lambda: CrossAttentionAligner(3, 5).decode(np.array([0, 1, 2])), ValueError, r"source must have 2 dimensions"),
    (lambda: CrossAttentionAligner(3, 5).decode([[0, 1, 9]]), ValueError, r"decode\['source'\] must lie in 0\.\.4"),
    (lambda: CrossAttentionAligner(3, 5).decode(None), TypeError, r"source must be an array of whole numbers"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("case", ["attention reader", "aligner", "next token, causal", "gated recurrent reader",
                                  "deep sets reader"])
def test_backward_refuses_a_foreign_cache_or_a_misshapen_gradient(case):
    make_model, make_data = CASES[case]
    model, data = make_model(), make_data()
    logits, cache = model.forward(data)
    with pytest.raises(TypeError, match=r"cache must be the second value returned by this model's forward"):
        model.backward({"weights": 1}, np.zeros(logits.shape))
    with pytest.raises(ValueError, match=r"grad_logits must have the shape of the logits"):
        model.backward(cache, np.zeros(logits.shape[:-1] + (logits.shape[-1] + 1,)))
    with pytest.raises(TypeError, match=r"grad_logits must be an array of numbers, got None"):
        model.backward(cache, None)
