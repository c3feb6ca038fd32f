"""The declared specs of the table-driven bad-input test: the kinds of argument, then one spec per callable.

The kinds of argument a public function of attn_core takes, and the bad values of each kind.

A spec (see ``tests/bad_input_cases.py``) declares, for each public callable, a valid value for
each argument and its kind: ``data`` (an array of numbers), ``size`` (a whole number >= 1),
``positive`` (a finite number > 0), ``flag`` (True or False), ``option`` (one of a few strings),
``mask`` (a boolean array), ``seed``, ``batch`` (a dict of arrays), and a few more. Each kind
knows the bad values a reader could pass for it; ``tests/test_bad_input.py`` calls the
callable with the valid arguments, one argument replaced by one bad value, and expects a
ValueError or TypeError whose message names the argument.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MISSING = object()


@dataclass
class Bad:
    """One bad value of an argument: ``label`` is the pytest id part, ``value`` builds it."""

    label: str
    make: Callable[[Any], Any]  # valid value -> bad value


@dataclass
class Arg:
    """A declared argument: its kind, a valid value, the names a message may use for it."""

    kind: str
    value: Any
    names: tuple[str, ...] = ()
    optional: bool = False  # None is a valid value
    nan: bool = True  # NaN in data must come out as NaN (data kinds only)
    inf: bool = True  # +-inf in data must raise ValueError (data kinds only)
    rank: bool = True  # a scalar for an array is wrong
    extra_rank: bool = False  # one more leading dimension is wrong too
    empty: bool = True  # an array with no entries is wrong
    link: int | None = None  # the axis whose length must match another argument
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    keys: tuple[str, ...] = ()  # the keys a batch dict must hold
    extra: list[Bad] = field(default_factory=list)  # bad values only this argument has
    skip: tuple[str, ...] = ()  # labels of generated bad values that are valid here, with a reason

    def fresh(self) -> Any:
        """A copy of the valid value, so that no call can change the next call's input."""
        if callable(self.value) and self.kind in ("instance", "axes"):
            return self.value()
        return copy.deepcopy(self.value)

    def bad_values(self) -> list[Bad]:
        return [b for b in _BAD[self.kind](self) if b.label not in self.skip] + self.extra


def _with_first(value: np.ndarray, number: float) -> np.ndarray:
    out = np.array(value, dtype=float)
    out.flat[0] = number
    return out


def _lengthened(value: np.ndarray, axis: int) -> np.ndarray:
    first = np.take(value, [0], axis=axis)
    return np.concatenate([value, first], axis=axis)


def _data(arg: Arg) -> list[Bad]:
    v = np.asarray(arg.value)
    bad = _none(arg) + [
        Bad("string", lambda v: "text"),
        Bad("complex", lambda v: np.asarray(v) + 1j),
        Bad("object", lambda v: np.array(np.asarray(v).tolist() if np.ndim(v) else [v], dtype=object)
            if np.ndim(v) else np.array(object())),
        Bad("strings", lambda v: np.full(np.shape(v) or (1,), "a")),
        Bad("bool", lambda v: np.ones(np.shape(v), dtype=bool)),
    ]
    if arg.inf:
        bad += [Bad("inf", lambda v: _with_first(v, np.inf)), Bad("minus-inf", lambda v: _with_first(v, -np.inf))]
    if arg.rank and v.ndim >= 1:
        bad.append(Bad("scalar", lambda v: np.float64(1.0)))
    if arg.extra_rank:
        bad.append(Bad("extra-dim", lambda v: np.asarray(v)[None]))
    if arg.empty and v.ndim >= 1:
        bad.append(Bad("empty", lambda v: np.zeros((0,) * np.ndim(v))))
    if arg.link is not None:
        bad.append(Bad("mismatched", lambda v, a=arg.link: _lengthened(np.asarray(v), a)))
    return bad


def _ints(arg: Arg) -> list[Bad]:
    v = np.asarray(arg.value)
    bad = [
        Bad("None", lambda v: None),
        Bad("string", lambda v: "text"),
        Bad("fractions", lambda v: np.asarray(v) + 0.5),
        Bad("complex", lambda v: np.asarray(v) + 1j),
        Bad("negative", lambda v: np.asarray(v) * 0 - 1),
    ]
    if arg.high is not None:
        bad.append(Bad("too-large", lambda v, h=arg.high: np.asarray(v) * 0 + int(h) + 1))
    if arg.rank and v.ndim >= 1:
        bad.append(Bad("scalar", lambda v: np.int64(0)))
    if arg.empty and v.ndim >= 1:
        bad.append(Bad("empty", lambda v: np.zeros((0,) * np.ndim(v), dtype=int)))
    if arg.link is not None:
        bad.append(Bad("mismatched", lambda v, a=arg.link: _lengthened(np.asarray(v), a)))
    return bad


def _none(arg: Arg) -> list[Bad]:
    return [] if arg.optional else [Bad("None", lambda v: None)]


def _size(arg: Arg) -> list[Bad]:
    minimum = 1 if arg.low is None else int(arg.low)
    bad = _none(arg) + [
        Bad("string", lambda v: "3"),
        Bad("float", lambda v: 2.5),
        Bad("whole-float", lambda v: 2.0),
        Bad("bool", lambda v: True),
        Bad("below-minimum", lambda v, m=minimum: m - 1),
        Bad("negative", lambda v: -3),
    ]
    if arg.high is not None:
        bad.append(Bad("too-large", lambda v, h=arg.high: int(h) + 1))
    return bad


def _positive(arg: Arg) -> list[Bad]:
    return _none(arg) + [
        Bad("string", lambda v: "1"),
        Bad("bool", lambda v: True),
        Bad("complex", lambda v: 1j),
        Bad("zero", lambda v: 0.0),
        Bad("negative", lambda v: -1.0),
        Bad("nan", lambda v: float("nan")),
        Bad("inf", lambda v: float("inf")),
    ]


def _number(arg: Arg) -> list[Bad]:
    bad = _none(arg) + [
        Bad("string", lambda v: "1"),
        Bad("bool", lambda v: True),
        Bad("nan", lambda v: float("nan")),
        Bad("inf", lambda v: float("inf")),
    ]
    if arg.low is not None:
        bad.append(Bad("below", lambda v, lo=arg.low, o=arg.low_open: lo if o else lo - 0.5))
    if arg.high is not None:
        bad.append(Bad("above", lambda v, hi=arg.high, o=arg.high_open: hi if o else hi + 0.5))
    return bad


def _flag(arg: Arg) -> list[Bad]:
    return [Bad("None", lambda v: None), Bad("string", lambda v: "yes"), Bad("int", lambda v: 1)]


def _option(arg: Arg) -> list[Bad]:
    return _none(arg) + [Bad("unknown", lambda v: "no-such-option"), Bad("number", lambda v: 3)]


def _mask(arg: Arg) -> list[Bad]:
    return [
        Bad("float", lambda v: np.ones(np.shape(v))),
        Bad("int", lambda v: np.ones(np.shape(v), dtype=int)),
        Bad("string", lambda v: "all"),
        Bad("wrong-shape", lambda v: np.ones(np.shape(v)[:-1] + (np.shape(v)[-1] + 1,), dtype=bool)),
    ] + ([] if arg.optional else [Bad("None", lambda v: None)])


def _seed(arg: Arg) -> list[Bad]:
    return [Bad("string", lambda v: "0"), Bad("float", lambda v: 1.5), Bad("bool", lambda v: True),
            Bad("negative", lambda v: -1)]


def _batch(arg: Arg) -> list[Bad]:
    bad = _none(arg) + [Bad("list", lambda v: [1, 2])]
    for key in arg.keys:
        bad.append(Bad(f"no-{key}", lambda v, k=key: {name: a for name, a in v.items() if name != k}))
    return bad


def _index(arg: Arg) -> list[Bad]:
    return _none(arg) + [
        Bad("string", lambda v: "0"),
        Bad("float", lambda v: 0.5),
        Bad("bool", lambda v: True),
        Bad("too-large", lambda v: 10**6),
        Bad("too-negative", lambda v: -(10**6)),
    ]


def _axis(arg: Arg) -> list[Bad]:
    return [Bad("None", lambda v: None), Bad("float", lambda v: 0.5), Bad("string", lambda v: "last"),
            Bad("out-of-range", lambda v: 99)]


def _function(arg: Arg) -> list[Bad]:
    return _none(arg) + [Bad("number", lambda v: 3)]


def _tokens(arg: Arg) -> list[Bad]:
    return _none(arg) + [Bad("string", lambda v: "one plain string"), Bad("numbers", lambda v: [1, 2]),
                         Bad("empty", lambda v: [])]


def _text(arg: Arg) -> list[Bad]:
    return _none(arg) + [Bad("number", lambda v: 3)]


def _instance(arg: Arg) -> list[Bad]:
    return _none(arg) + [Bad("number", lambda v: 3), Bad("string", lambda v: "model")]


def _axes(arg: Arg) -> list[Bad]:
    return [Bad("None", lambda v: None), Bad("number", lambda v: 3)]


def _free(arg: Arg) -> list[Bad]:
    return []


_BAD: dict[str, Callable[[Arg], list[Bad]]] = {
    "data": _data, "ints": _ints, "size": _size, "positive": _positive, "number": _number,
    "flag": _flag, "option": _option, "mask": _mask, "seed": _seed, "batch": _batch,
    "index": _index, "axis": _axis, "function": _function, "tokens": _tokens, "text": _text,
    "instance": _instance, "axes": _axes, "free": _free,
}


# --- constructors used by the specs -------------------------------------------------------


def data(value: Any, *names: str, **options: Any) -> Arg:
    """An array of real numbers (float data)."""
    return Arg("data", np.asarray(value, dtype=float) if not isinstance(value, np.ndarray) else value,
               names, **options)


def ints(value: Any, *names: str, **options: Any) -> Arg:
    """An array of whole numbers (tokens, labels, lengths, indices)."""
    return Arg("ints", np.asarray(value), names, **options)


def size(value: int, *names: str, minimum: int = 1, **options: Any) -> Arg:
    return Arg("size", value, names, low=minimum, **options)


def positive(value: float, *names: str, **options: Any) -> Arg:
    return Arg("positive", value, names, **options)


def number(value: float, *names: str, **options: Any) -> Arg:
    return Arg("number", value, names, **options)


def flag(value: bool = False, *names: str) -> Arg:
    return Arg("flag", value, names)


def option(value: str, *names: str, **options: Any) -> Arg:
    return Arg("option", value, names, **options)


def mask(shape: tuple[int, ...], *names: str, optional: bool = True) -> Arg:
    return Arg("mask", np.ones(shape, dtype=bool), names, optional=optional)


def seed(value: int = 0, *names: str) -> Arg:
    return Arg("seed", value, names)


def batch(value: dict, *names: str, required: tuple[str, ...] | None = None, **options: Any) -> Arg:
    """A dict of arrays; a bad case drops each ``required`` key (default: every key)."""
    return Arg("batch", value, names, keys=tuple(value) if required is None else required, **options)


def index(value: int, *names: str, **options: Any) -> Arg:
    return Arg("index", value, names, **options)


def axis(value: int = -1, *names: str) -> Arg:
    return Arg("axis", value, names)


def function(value: Callable, *names: str) -> Arg:
    return Arg("function", value, names)


def tokens(value: list[str], *names: str, **options: Any) -> Arg:
    return Arg("tokens", list(value), names, **options)


def text(value: str, *names: str, **options: Any) -> Arg:
    return Arg("text", value, names, **options)


def instance(factory: Callable[[], Any], *names: str, **options: Any) -> Arg:
    """An object of a given class (a layer, a model); ``factory`` builds a fresh valid one."""
    return Arg("instance", factory, names, **options)


_AXES: list = []


def _shared_axes() -> Any:
    """One matplotlib Axes for every plot case, cleared before each use (a figure is slow to make)."""
    if not _AXES:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(2, 2), dpi=20)
        _AXES.append(ax)
    _AXES[0].clear()
    return _AXES[0]


def axes() -> Arg:
    """The Axes a plot function draws on."""
    return Arg("axes", _shared_axes, ("ax",))


def free(value: Any) -> Arg:
    """An argument with no bad value worth testing (a label, a title, a format string)."""
    return Arg("free", value)


@dataclass
class Spec:
    """Valid arguments of one public callable; ``exempt`` says why it has no bad case."""

    args: dict[str, Arg] = field(default_factory=dict)
    star_args: tuple = ()  # values passed as *args after the named ones
    exempt: str = ""
    nan: bool = True  # check NaN propagation for this callable's data arguments
    factory: Callable[[], Any] | None = None  # for a method: builds the instance


def spec(*, exempt: str = "", star_args: tuple = (), nan: bool = True,
         factory: Callable[[], Any] | None = None, **args: Arg) -> Spec:
    return Spec(args=args, star_args=star_args, exempt=exempt, nan=nan, factory=factory)


# --- shared tiny inputs ---------------------------------------------------------------------

Q = np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]])  # (2, 3): two queries, d_k = 3
K = np.array([[0.3, 0.1, -0.2], [0.0, 0.5, 0.1], [-0.4, 0.2, 0.2]])  # (3, 3): three keys
V = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])  # (3, 2): three values, d_v = 2
W = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])  # (2, 3): weights, rows sum to 1
SQUARE = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])  # (3, 3) weights
ROW = np.array([0.2, 0.3, 0.5])  # (3,): one row of weights
SCORES = np.array([1.0, -0.5, 0.25])  # (3,)
RECALL_KEYS = {"n_pairs": 3, "n_keys": 4, "n_values": 5}
RECALL_INPUTS = ("keys", "values", "query")  # what a reader reads; "distance" is for analysis only
RECALL_LABELLED = RECALL_INPUTS + ("labels",)  # what training and evaluation need


def _recall(n: int = 4, seed: int = 0) -> dict:
    from attn_core.experiments.data import associative_recall

    return associative_recall(n, seed=seed, **RECALL_KEYS)


def _layer() -> Any:
    import attn_core as ac

    return ac.MultiHeadAttention(4, 2, seed=0)


def _reader(name: str) -> Callable[[], Any]:
    def build() -> Any:
        from attn_core.training import models

        return getattr(models, name)(4, 5, width=4, seed=0)

    return build


def _forward_cache(factory: Callable[[], Any], inputs: Callable[[], Any]) -> Callable[[], Any]:
    """A (model, cache, grad_logits) triple for the ``backward`` specs."""

    def build() -> Any:
        model = factory()
        logits, cache = model.forward(inputs())
        return model, cache, np.ones_like(logits)

    return build


def _next_token_model() -> Any:
    from attn_core.training.models import NextTokenModel

    return NextTokenModel(5, 4, width=4, seed=0)


def _example_keys() -> np.ndarray:
    from attn_core.experiments.scoring import example_keys

    return example_keys()


def _walk() -> dict:
    from attn_core.experiments.efficiency import online_softmax_walk

    return online_softmax_walk(Q, K, V, block_size=2)


def _score_parameters() -> dict:
    from attn_core.experiments.scoring import example_parameters

    return example_parameters()


def _reordering() -> dict:
    from attn_core.experiments.self_cross import reordering_data

    return reordering_data(4, task="reverse", length=3, n_symbols=4, seed=0)


TOKENS = ["the", "cat", "saw", "the"]
ax = axes

SPECS: dict[str, Spec] = {}

# --- the library (attn_core) ------------------------------------------------------------------

SPECS |= {
    "attn_core.softmax": spec(x=data(W, skip=("minus-inf",)), axis=axis(), temperature=positive(1.0),
                              mask=mask((2, 3))),  # -inf scores mean weight 0: allowed
    "attn_core.softmax_backward": spec(weights=data(W, link=-1), grad_weights=data(W, link=-1), axis=axis()),
    "attn_core.naive_softmax": spec(x=data(W, skip=("minus-inf",)), axis=axis()),
    "attn_core.sparsemax": spec(x=data(W, skip=("minus-inf",)), axis=axis(), mask=mask((2, 3))),
    "attn_core.attention_entropy": spec(weights=data(W), axis=axis()),
    "attn_core.scaled_dot_product_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        mask=mask((2, 3)), causal=flag(), scale=positive(None, optional=True),
        bias=data(np.zeros((2, 3)), optional=True, link=-1, rank=False, skip=("minus-inf",))),
    "attn_core.scaled_dot_product_attention_backward": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        weights=data(W, link=-1), grad_output=data(np.ones((2, 2)), link=-1),
        scale=positive(None, optional=True)),
    "attn_core.attention_mask": spec(mask=mask((2, 3)), causal=flag(), weights_shape=free((2, 3))),
    "attn_core.fast_scaled_dot_product_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        mask=mask((2, 3)), causal=flag(), scale=positive(None, optional=True),
        bias=data(np.zeros((2, 3)), optional=True, link=-1, rank=False, skip=("minus-inf",)), workers=size(1)),
    "attn_core.tiled_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        causal=flag(), scale=positive(None, optional=True), block_size=size(2), workers=size(1),
        return_log_sum_exp=flag()),
    "attn_core.causal_mask": spec(n_q=size(3), n_k=size(None, optional=True)),
    "attn_core.padding_mask": spec(lengths=ints([1, 3], high=3), n_k=size(3)),
    "attn_core.sliding_window_mask": spec(n_q=size(4), n_k=size(None, optional=True), window=size(1, minimum=0),
                                          causal=flag()),
    "attn_core.strided_mask": spec(n=size(4), stride=size(2), causal=flag(True)),
    "attn_core.fixed_mask": spec(n=size(4), block=size(2), summary=size(1), causal=flag(True)),
    "attn_core.bigbird_mask": spec(n=size(6), window=size(1, minimum=0), n_global=size(1, minimum=0),
                                   n_random=size(1, minimum=0), seed=seed()),
    "attn_core.MultiHeadAttention": spec(d_model=size(4), n_heads=size(2), n_kv_heads=size(None, optional=True),
                                         bias=flag(True), seed=seed()),
    "attn_core.MultiHeadAttention.__call__": spec(
        query=data(np.ones((3, 4)), link=-1), key=data(np.ones((3, 4)), optional=True, link=-1),
        value=data(np.ones((3, 4)), optional=True, link=0), mask=mask((3, 3)), causal=flag()),
    "attn_core.MultiHeadAttention.heads_one_by_one": spec(
        query=data(np.ones((3, 4)), link=-1), key=data(np.ones((3, 4)), optional=True, link=-1),
        value=data(np.ones((3, 4)), optional=True, link=0), mask=mask((3, 3)), causal=flag()),
    "attn_core.MultiHeadAttention.split_heads": spec(x=data(np.ones((3, 4)), link=-1)),
    "attn_core.MultiHeadAttention.merge_heads": spec(x=data(np.ones((2, 3, 2)), link=0, extra_rank=False)),
    "attn_core.MultiHeadAttention.new_cache": spec(),
    "attn_core.MultiHeadAttention.parameter_count": spec(),
    "attn_core.MultiHeadAttention.decode_step": spec(
        x=data(np.ones((1, 4)), link=-1),
        cache=instance(lambda: _layer().new_cache())),
    "attn_core.KVCache": spec(n_kv_heads=size(2), d_head=size(2)),
    "attn_core.KVCache.append": spec(nan=False,  # returns None: the NaN goes into the cache
                                     keys=data(np.ones((2, 1, 2)), link=-1), values=data(np.ones((2, 1, 2)), link=-1)),
    "attn_core.kv_cache_bytes": spec(seq_len=size(8), n_layers=size(2), n_kv_heads=size(2), d_head=size(4),
                                     batch=size(1), bytes_per_number=size(2)),
    "attn_core.dot_product_scores": spec(q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1)),
    "attn_core.scaled_dot_product_scores": spec(q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1),
                                                scale=positive(None, optional=True)),
    "attn_core.bilinear_scores": spec(q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1),
                                      w=data(np.eye(3), link=-1)),
    "attn_core.additive_scores": spec(q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1),
                                      w_q=data(np.ones((3, 2)), link=0), w_k=data(np.ones((3, 2)), link=0),
                                      w_v=data(np.ones(2), link=0)),
    "attn_core.cosine_scores": spec(q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1)),
    "attn_core.location_scores": spec(q=data(Q, "queries", link=-1), w=data(np.ones((3, 4)), link=0)),
    "attn_core.all_scores": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), bilinear_w=data(np.eye(3), link=-1),
        additive_w_q=data(np.ones((3, 2)), link=0), additive_w_k=data(np.ones((3, 2)), link=0),
        additive_w_v=data(np.ones(2), link=0), location_w=data(np.ones((3, 3)), link=0)),
    "attn_core.kernel_scores": spec(queries=data([0.0, 1.0], link=None), keys=data([0.0, 0.5, 2.0]),
                                    bandwidth=positive(1.0), kernel=option("gaussian")),
    "attn_core.nadaraya_watson": spec(x_query=data([0.0, 1.0]), x_train=data([0.0, 0.5, 2.0], link=0),
                                      y_train=data([1.0, 2.0, 3.0], link=0), bandwidth=positive(1.0),
                                      kernel=option("gaussian")),
    "attn_core.positions.sinusoidal_positions": spec(n=size(3), d_model=size(4), base=positive(10000.0)),
    "attn_core.positions.learned_position_table": spec(n_max=size(3), d_model=size(4), seed=seed(),
                                                       std=positive(0.02)),
    "attn_core.positions.relative_position_index": spec(n_q=size(3), n_k=size(None, optional=True),
                                                        max_distance=size(2, minimum=0)),
    "attn_core.positions.relative_position_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        rel_keys=data(np.ones((3, 3)), link=-1), rel_values=data(np.ones((3, 2)), optional=True, link=-1),
        mask=mask((2, 3)), causal=flag()),
    "attn_core.positions.rotary_embedding": spec(x=data(np.ones((3, 4))),
                                                 positions=data([0.0, 1.0, 2.0], optional=True, link=0),
                                                 base=positive(10000.0), pairing=option("interleaved"),
                                                 frequencies=data([1.0, 0.01], optional=True, link=0)),
    "attn_core.positions.alibi_slopes": spec(n_heads=size(4)),
    "attn_core.positions.alibi_bias": spec(n_q=size(3), n_k=size(None, optional=True), n_heads=size(2)),
    "attn_core.tiled.online_softmax_steps": spec(scores=data(SCORES, link=0), values=data(V, link=0),
                                                 block_size=size(2), order=ints([0, 1], optional=True, high=1, skip=("None",))),
    "attn_core.tiled.OnlineSoftmaxStep": spec(exempt="a frozen record that online_softmax_steps fills in; "
                                                     "readers never build one"),
    "attn_core.variants.hard_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        seed=seed(), mask=mask((2, 3)), causal=flag()),
    "attn_core.variants.top_k_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        top_k=size(2), mask=mask((2, 3)), causal=flag()),
    "attn_core.variants.low_rank_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        e=data(np.ones((2, 3)) / 3, link=-1), f=data(np.ones((2, 3)) / 3, optional=True, link=-1)),
    "attn_core.variants.linformer_projection": spec(n_k=size(3), rank=size(2), seed=seed()),
    "attn_core.variants.elu_feature_map": spec(x=data(Q, rank=False)),  # elementwise: a scalar is fine
    "attn_core.variants.linear_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        causal=flag(), feature_map=function(np.exp)),
    "attn_core.variants.linear_attention_weights": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), causal=flag(), feature_map=function(np.exp)),
    "attn_core.variants.random_feature_map": spec(x=data(Q, link=-1), projection=data(np.ones((4, 3)), link=-1),
                                                  stabilise=option(None, optional=True)),
    "attn_core.variants.random_feature_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        n_features=size(4), seed=seed(), orthogonal=flag(True), causal=flag()),
    "attn_core.variants.local_attention": spec(
        q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        window=size(1, minimum=0), causal=flag()),
    "attn_core.variants.sparse_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        mask=mask((2, 3), optional=False)),
}

# --- the training ring --------------------------------------------------------------------------

_PARAMS = {"w": np.ones((2, 2))}
SPECS |= {
    "attn_core.training.adam.Adam": spec(params=batch({"w": np.ones((2, 2))}), lr=positive(0.01),
                                         beta1=number(0.9, low=0, high=1, high_open=True),
                                         beta2=number(0.999, low=0, high=1, high_open=True), eps=positive(1e-8)),
    "attn_core.training.adam.Adam.step": spec(grads=batch({"w": np.ones((2, 2))})),
    "attn_core.training.gradient_check.gradient_check": spec(
        loss=function(lambda: float((_PARAMS["w"] ** 2).sum() / 2)), params=batch(_PARAMS),
        grads=batch({"w": _PARAMS["w"]}), eps=positive(1e-5), samples=size(2), seed=seed(), floor=positive(1e-5)),
    "attn_core.training.init.init_weights": spec(rng=instance(lambda: np.random.default_rng(0)),
                                                 fan_in=size(3), fan_out=size(2)),
    "attn_core.training.loop.Model": spec(exempt="a typing Protocol: it has no behaviour of its own to check"),
    "attn_core.training.loop.Model.forward": spec(exempt="a method of the Model Protocol, never called itself"),
    "attn_core.training.loop.Model.backward": spec(exempt="a method of the Model Protocol, never called itself"),
    "attn_core.training.loop.History": spec(exempt="a plain record that train() fills in; readers never build one"),
    "attn_core.training.loop.train": spec(
        model=instance(_reader("AttentionReader")), train_set=batch(_recall(8), required=RECALL_LABELLED),
        test_set=batch(_recall(4, seed=1), optional=True, required=RECALL_LABELLED),
        steps=size(2), batch_size=size(4), lr=positive(0.01), seed=seed(), eval_every=size(1), progress=flag(False),
        callback=Arg("function", None, optional=True)),
    "attn_core.training.loop.evaluate": spec(model=instance(_reader("AttentionReader")),
                                             data=batch(_recall(), required=RECALL_LABELLED)),
    "attn_core.training.losses.embedding_backward": spec(n_rows=size(4), indices=ints([0, 3], high=3, link=0),
                                                         grad=data(np.ones((2, 2)), link=0)),
    "attn_core.training.losses.cross_entropy": spec(logits=data(np.zeros((2, 3)), link=0),
                                                    labels=ints([0, 2], high=2, link=0)),
    "attn_core.training.losses.accuracy": spec(logits=data(np.zeros((2, 3)), link=0, nan=False),
                                               labels=ints([0, 2], high=2, link=0)),
}


def _next_token_inputs() -> dict:
    from attn_core.experiments.masking import next_token_data

    return next_token_data([[0, 1, 2, 3], [1, 2, 3, 4]])


def _aligner_inputs() -> dict:
    from attn_core.experiments.self_cross import training_examples

    return training_examples(_reordering())


def _model_specs(name: str, constructor: dict, inputs: Callable[[], dict],
                 required: tuple[str, ...]) -> dict[str, Spec]:
    """Specs of a model class of attn_core.training.models: its constructor and every method."""
    qualified = "attn_core.training.models." + name
    factory = _model(name, constructor)
    triple = _forward_cache(factory, inputs)
    grad_shape = triple()[2].shape
    return {
        qualified: spec(**constructor),
        f"{qualified}.forward": spec(inputs=batch(inputs(), required=required)),
        f"{qualified}.check_inputs": spec(inputs=batch(inputs(), required=required), name=free("inputs")),
        f"{qualified}.backward": spec(
            factory=lambda: triple()[0], nan=False, cache=Arg("instance", lambda: triple()[1]),
            grad_logits=data(np.ones(grad_shape), link=-1)),
        f"{qualified}.parameter_count": spec(),
    } | ({f"{qualified}.decode": spec(source=ints(inputs()["source"], high=3))}
         if name == "CrossAttentionAligner" else {})


def _model(name: str, constructor: dict) -> Callable[[], Any]:
    def build() -> Any:
        from attn_core.training import models

        return getattr(models, name)(**{k: a.fresh() for k, a in constructor.items()})

    return build


_READER = {"n_keys": size(4), "n_values": size(5), "width": size(4), "seed": seed()}
for _name in ("AttentionReader", "RecurrentReader", "PoolingReader"):
    SPECS |= _model_specs(_name, _READER, _recall, RECALL_INPUTS)
SPECS |= _model_specs("NextTokenModel", {"vocab": size(5), "n_positions": size(4), "width": size(4),
                                         "causal": flag(True), "seed": seed(), "positions": option("learned")},
                      _next_token_inputs, ("tokens",))
SPECS |= _model_specs("CrossAttentionAligner", {"length": size(3), "n_symbols": size(4), "width": size(4),
                                                "source_positions": flag(True), "seed": seed()}, _aligner_inputs,
                                  ("source", "decoder_input"))

# --- the experiments ring ---------------------------------------------------------------------

SPECS |= {
    "attn_core.experiments.data.embed_tokens": spec(tokens=tokens(TOKENS), d_model=size(4), seed=seed()),
    "attn_core.experiments.data.query_key_projections": spec(
        d_model=size(4), rng=instance(lambda: np.random.default_rng(0)), d_k=size(2),
        w_q=data(np.ones((4, 2)), optional=True, link=0), w_k=data(np.ones((4, 2)), optional=True, link=0)),
    "attn_core.experiments.data.sentence_setup": spec(
        tokens=tokens(TOKENS), d_model=size(4), query=index(1), seed=seed(),
        w_q=data(np.ones((4, 2)), optional=True, link=0),
        w_k=data(np.ones((4, 2)), optional=True, link=0), max_tokens=size(12), query_name=free("token index")),
    "attn_core.experiments.data.associative_recall": spec(
        n_examples=size(3), n_pairs=size(3), n_keys=size(4), n_values=size(5), seed=seed(),
        distance=size(None, optional=True, high=3), ordered=flag()),
    "attn_core.experiments.efficiency.AttentionCost": spec(exempt="a frozen record that attention_cost fills in; "
                                                                  "readers never build one"),
    "attn_core.experiments.efficiency.Measurement": spec(exempt="a frozen record that time_and_peak_memory fills "
                                                                "in; readers never build one"),
    "attn_core.experiments.efficiency.attention_cost": spec(n_q=size(4), n_k=size(4), d_k=size(2),
                                                            d_v=size(None, optional=True), itemsize=size(4)),
    "attn_core.experiments.efficiency.tile_schedule": spec(n_q=size(4), n_k=size(4), block_size=size(2),
                                                           causal=flag(), window=size(1, optional=True),
                                                           document_ids=ints([0, 0, 1, 1], optional=True, link=0,
                                                                             skip=("None",)),
                                                           key_block_size=size(2, optional=True)),
    "attn_core.experiments.efficiency.time_and_peak_memory": spec(
        fn=function(np.ones), star_args=(3,), repeats=size(1), clock=function(lambda: 0.0)),
    "attn_core.experiments.efficiency.growth_exponent": spec(n=data([1.0, 2.0, 4.0], link=0),
                                                             values=data([1.0, 4.0, 16.0], link=0)),
    "attn_core.experiments.efficiency.set_blas_threads": spec(count=size(1)),
    "attn_core.experiments.efficiency.blas_threads": spec(count=size(1)),
    "attn_core.experiments.efficiency.online_softmax_walk": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0), block_size=size(2),
        order=option("in order"), shift=option("running max")),
    "attn_core.experiments.efficiency.online_softmax_state": spec(walk=batch(_walk(), required=("steps",)),
                                                                  query=index(0), block=index(0)),
    "attn_core.experiments.efficiency.stepper_inputs": spec(n_q=size(2), n_k=size(4), d_k=size(2), d_v=size(2),
                                                            seed=seed(), outlier=number(12.0, optional=True)),
    "attn_core.experiments.interpretability.attention_rollout": spec(weights=data(np.stack([SQUARE, SQUARE])),
                                                                     residual=number(0.5, low=0, high=1)),
    "attn_core.experiments.interpretability.attention_stack": spec(
        layers=Arg("instance", lambda: [_layer(), _layer()]), x=data(np.ones((3, 4)), link=-1),
        causal=flag(), mask=mask((3, 3))),
    "attn_core.experiments.interpretability.head_outputs": spec(
        layer=instance(_layer), x=data(np.ones((3, 4)), link=-1), causal=flag(), mask=mask((3, 3))),
    "attn_core.experiments.interpretability.removal_effect": spec(weights=data(W, link=-1),
                                                                  values=data(V, link=0)),
    "attn_core.experiments.interpretability.gradient_times_input": spec(
        weights=data(W, link=-1), values=data(V, link=0), readout=data([1.0, -1.0], link=0)),
    "attn_core.experiments.interpretability.alternative_weights": spec(
        weights=data(ROW, link=0), values=data(V, link=0), direction=data([1.0, -1.0, 0.0], optional=True, link=0),
        step=number(1.0, low=0, high=1, low_open=True)),
    "attn_core.experiments.interpretability.total_variation": spec(p=data(W, link=-1), q=data(W, link=-1)),
    "attn_core.experiments.interpretability.js_divergence": spec(p=data(W, link=-1), q=data(W, link=-1)),
    "attn_core.experiments.interpretability.misleading_map_example": spec(length=number(4.0, low=0)),
    "attn_core.experiments.interpretability.induction_block": spec(name=option("previous word"), width=size(10)),
    "attn_core.experiments.interpretability.induction_codes": spec(tokens=tokens(TOKENS), width=size(10)),
    "attn_core.experiments.interpretability.induction_layers": spec(width=size(10), strength=positive(6.0)),
    "attn_core.experiments.masking.repeated_sequences": spec(n_sequences=size(3), half=size(2), vocab=size(4),
                                                             seed=seed()),
    "attn_core.experiments.masking.next_token_accuracy": spec(
        model=instance(_next_token_model), tokens=ints([[0, 1, 2, 3], [1, 2, 3, 4]], high=4), prefix_only=flag()),
    "attn_core.experiments.masking.next_token_data": spec(sequences=ints([[0, 1, 2], [2, 2, 0]])),
    # any length >= 2 is a valid is_real, any (n_q, n_k) a valid allowed: "wrong-shape" does not apply
    "attn_core.experiments.masking.editor_masks": spec(is_real=Arg("mask", np.ones(4, dtype=bool),
                                                                   skip=("wrong-shape",))),
    "attn_core.experiments.masking.masked_weights": spec(scores=data(SQUARE, link=-1),
                                                         allowed=mask((3, 3), optional=False)),
    "attn_core.experiments.masking.toggle_cells": spec(allowed=Arg("mask", np.ones((3, 3), dtype=bool),
                                                                   skip=("wrong-shape",)),
                                                       cells=Arg("free", ((0, 1),), extra=[
                                                           Bad("None", lambda v: None),
                                                           Bad("out-of-range", lambda v: ((0, 9),))])),
    "attn_core.experiments.multihead.word_position_codes": spec(tokens=tokens(TOKENS), width=size(8)),
    "attn_core.experiments.multihead.planted_heads": spec(d_head=size(4), strength=positive(4.0), seed=seed(7)),
    "attn_core.experiments.multihead.mean_pool_kv_heads": spec(layer=instance(_layer), n_kv_heads=size(1)),
    "attn_core.experiments.positions.encoded_weights": spec(
        x=data(np.ones((3, 4)), link=-1), w_q=data(np.eye(4), link=0), w_k=data(np.eye(4), link=0),
        encoding=option("sinusoidal"), positions=ints([0, 1, 2], link=0), learned_table=free(None),
        rel_keys=free(None), alibi_heads=size(8), alibi_head=index(0)),
    "attn_core.experiments.positions.offset_effect": spec(
        x=data(np.ones((3, 4)), link=-1), w_q=data(np.eye(4), link=0), w_k=data(np.eye(4), link=0),
        encoding=option("sinusoidal"), offset=size(1, minimum=0)),
    "attn_core.experiments.qkv.regression_target": spec(x=data([0.0, 1.0], rank=False, empty=False)),
    "attn_core.experiments.qkv.kernel_regression_fit": spec(
        x_query=data([0.0, 1.0]), x_train=data([0.0, 0.5, 2.0], link=0), y_train=data([1.0, 2.0, 3.0], link=0),
        x_heldout=data([0.2, 1.5], link=0), y_heldout=data([1.0, 2.5], link=0), bandwidth=positive(1.0),
        kernel=option("gaussian")),
    "attn_core.experiments.qkv.regression_data": spec(n=size(5), noise=number(0.3, low=0), low=number(0.0),
                                                      high=number(5.0), seed=seed()),
    "attn_core.experiments.scoring.query_from_polar": spec(angle=number(60.0), length=number(1.0, low=0)),
    "attn_core.experiments.scoring.example_keys": spec(exempt="takes no argument: returns the chapter's four "
                                                              "fixed keys"),
    "attn_core.experiments.scoring.example_parameters": spec(hidden=size(4), seed=seed()),
    "attn_core.experiments.scoring.weights_by_score_function": spec(
        query=data([1.0, 0.0], link=0), keys=data(_example_keys(), link=-1),
        **{name: free(value) for name, value in _score_parameters().items()}),
    "attn_core.experiments.sdpa.projection_weights": spec(
        x=data(np.eye(3), link=-1), w_q=data(np.ones((3, 2)), link=-2), w_k=data(np.ones((3, 2)), link=-2),
        projection=option("separate W_Q and W_K")),
    "attn_core.experiments.sdpa.self_peaks": spec(weights=data(np.full((3, 3), 1 / 3), nan=False)),
    "attn_core.experiments.self_cross.task_alignment": spec(task=option("reverse"), length=size(3)),
    "attn_core.experiments.self_cross.reordering_data": spec(n_examples=size(2), task=option("reverse"),
                                                             length=size(3), n_symbols=size(4), seed=seed()),
    "attn_core.experiments.self_cross.alignment_accuracy": spec(
        # one alignment entry per ROW of weights: weights with more columns (source positions) are valid
        weights=data(SQUARE[None], link=-2, nan=False), alignment=ints([0, 1, 2], high=2, link=-1)),
    "attn_core.experiments.self_cross.AlignmentRun": spec(exempt="a record that train_aligner fills in; readers "
                                                                 "never build one"),
    "attn_core.experiments.self_cross.AlignmentRun.__call__": spec(exempt="the callback train() calls on the run "
                                                                          "it was given, never a reader"),
    "attn_core.experiments.self_cross.AlignmentRun.record": spec(exempt="called on the run by its own __call__ "
                                                                        "during train(), never by a reader"),
    "attn_core.experiments.self_cross.training_examples": spec(data=batch(_reordering())),
    "attn_core.experiments.self_cross.train_aligner": spec(
        task=option("reverse"), steps=size(1), record_at=free((0, 1)), length=size(3), n_symbols=size(4),
        width=size(4), source_positions=flag(True), n_train=size(8), n_test=size(4), batch_size=size(4),
        lr=positive(0.005), seed=seed(), progress=flag(False)),
    "attn_core.experiments.softmax.round_to_bfloat16": spec(x=data(SCORES, rank=False, empty=False, inf=False)),
    "attn_core.experiments.softmax.masked_by_recipe": spec(scores=data(SCORES, link=0), mask=mask((3,), optional=False),
                                                           recipe=option("replace by -inf"), dtype=option("float32")),
    "attn_core.experiments.softmax.describe_row": spec(weights=data(ROW, link=0), unmasked=data(ROW, link=0),
                                                       nan=False),  # returns words
    "attn_core.experiments.softmax.empty_row_outcomes": spec(scores=data(SCORES), nan=False),  # returns words
    "attn_core.experiments.softmax.normalised_weights": spec(scores=data(SCORES), temperature=positive(1.0),
                                                             normalisation=option("softmax")),
    "attn_core.experiments.variants.lookup_sequence": spec(n=size(16), n_lookups=size(2, minimum=0), seed=seed()),
    "attn_core.experiments.variants.relative_error": spec(approx=data(V, link=0), exact=data(V, link=0)),
    "attn_core.experiments.variants.implicit_weights": spec(attend=function(lambda values: values[:2]), n_k=size(3)),
    "attn_core.experiments.variants.mean_pooling_projection": spec(n_k=size(4), rank=size(2)),
    "attn_core.experiments.variants.VariantRun": spec(exempt="a frozen record that run_variant fills in; readers "
                                                             "never build one"),
    "attn_core.experiments.variants.run_variant": spec(
        name=option("local"), q=data(K, "queries", link=-1), k=data(K, "keys", link=-1),
        v=data(V, "values", link=0), budget=size(None, optional=True), seed=seed()),
    "attn_core.experiments.why_attention.key_value_memory": spec(n_items=size(3), d_k=size(2), seed=seed()),
    "attn_core.experiments.why_attention.selective_lookup": spec(
        keys=data(K, link=0), values=data(SCORES, link=0), item=index(0), beta=number(2.0, low=0)),
    "attn_core.experiments.why_attention.summary_readout": spec(
        keys=data(K, link=-1), values=data(SCORES, link=0), queries=data(Q, link=-1)),
}

# --- figures ---------------------------------------------------------------------------------------

_CURVES = {"a": [0.1, 0.5, 0.9]}
SPECS |= {
    "attn_core.plot.bars.weight_bars": spec(ax=ax(), weights=data(ROW, link=0), labels=tokens(["a", "b", "c"],
                                            optional=True), highlight=index(None, optional=True)),
    "attn_core.plot.curves.named_curves": spec(ax=ax(), x=data([0.0, 1.0, 2.0], link=0), curves=free(_CURVES)),
    "attn_core.plot.curves.reference_lines": spec(ax=ax(), chance=number(0.2, optional=True),
                                                  ceiling=number(None, optional=True)),
    "attn_core.plot.curves.accuracy_curves": spec(ax=ax(), x=data([0.0, 1.0, 2.0], link=0), curves=free(_CURVES),
                                                  log_x=flag()),
    "attn_core.plot.efficiency.tile_grid": spec(ax=ax(), kinds=ints([[0, 1], [2, 2]], high=2),
                                                block_size=size(None, optional=True)),
    "attn_core.plot.efficiency.cost_curves": spec(ax=ax(), n=data([1.0, 2.0, 4.0], link=0),
                                                  series=free({"a": [1.0, 2.0, 3.0]}), ylabel=free("cost")),
    "attn_core.plot.efficiency.score_blocks": spec(ax=ax(), scores=data([1.0, 2.0, 0.5, 0.1]), block_size=size(2),
                                                   blocks_read=size(1), running_max=number(2.0), show_max=flag(True),
                                                   read_order=ints([0, 1], optional=True, high=1, skip=("None",))),
    "attn_core.plot.efficiency.output_comparison": spec(ax=ax(), running=data([1.0, 2.0], link=0),
                                                        final=data([1.0, 2.5], link=0)),
    "attn_core.plot.heatmap.attention_heatmap": spec(ax=ax(), weights=data(W), highlight_row=index(None, optional=True),
                                                     annotate=Arg("flag", True, skip=("None",))),  # None: annotate small maps
    "attn_core.plot.heatmap.matrix_image": spec(ax=ax(), matrix=data(W), gamma=positive(1.0),
                                                aspect=free("auto")),
    "attn_core.plot.interpretability.grouped_bars": spec(ax=ax(), series=free({"a": ROW}),
                                                         highlight=index(None, optional=True)),
    "attn_core.plot.interpretability.value_plane": spec(ax=ax(), values=data(V, link=0), weights=data(ROW, link=0)),
    "attn_core.plot.interpretability.weight_effect_scatter": spec(
        ax=ax(), weights=data(ROW, link=0), effects=data(ROW, link=0), groups=ints([0, 1, 0], link=0, high=1)),
    # any boolean matrix is a mask worth drawing (no other argument fixes its shape): no wrong-shape case
    "attn_core.plot.masking.mask_heatmap": spec(ax=ax(), mask=Arg("mask", np.ones((3, 3), dtype=bool),
                                                                  optional=False, skip=("wrong-shape",)),
                                                highlight_row=index(None, optional=True)),
    "attn_core.plot.multihead.head_grouping": spec(ax=ax(), n_heads=size(4), n_kv_heads=size(2),
                                                   highlight=index(None, optional=True)),
    "attn_core.plot.positions.position_heatmap": spec(ax=ax(), matrix=data(SQUARE), xlabel=free("x"),
                                                      ylabel=free("y"), n_ticks=size(3), colorbar=flag(False)),
    "attn_core.plot.positions.rotated_pair": spec(ax=ax(), query=data([1.0, 0.0], link=0),
                                                  key=data([0.0, 1.0], link=0), limit=positive(None, optional=True)),
    "attn_core.plot.qkv.kernel_weights_heatmap": spec(ax=ax(), weights=data(W, link=-1),
                                                      x_query=data([0.0, 1.0], link=0),
                                                      x_train=data([0.0, 1.0, 2.0], link=0)),
    "attn_core.plot.qkv.regression_panel": spec(ax=ax(), x_train=data([0.0, 1.0], link=0),
                                                y_train=data([1.0, 2.0], link=0), x_curve=data([0.0, 0.5, 1.0], link=0),
                                                prediction=data([1.0, 1.5, 2.0], link=0), legend=flag(True)),
    "attn_core.plot.qkv.error_versus_bandwidth": spec(ax=ax(), bandwidths=data([0.1, 0.2, 0.5], link=0),
                                                      errors=free({"held-out": [0.3, 0.2, 0.4]})),
    "attn_core.plot.scoring.key_colors": spec(n=size(3)),
    "attn_core.plot.scoring.vector_arrows": spec(ax=ax(), keys=data(np.eye(2), link=-1),  # points (n, 2)
                                                 queries=data([[1.0, 0.0]], optional=True, link=-1), limit=positive(None, optional=True)),
    "attn_core.plot.self_cross.alignment_map": spec(ax=ax(), weights=data(SQUARE, link=-1),
                                                    source_tokens=tokens(["a", "b", "c"]),
                                                    target_tokens=tokens(["x", "y", "z"])),
    "attn_core.plot.self_cross.training_curves": spec(ax=ax(), steps=data([0.0, 1.0, 2.0], link=0),
                                                      curves=free(_CURVES)),
    "attn_core.plot.style.use_book_style": spec(exempt="takes no argument: sets matplotlib's style for the book"),
    "attn_core.plot.style.map_colors": spec(n=size(3), low=number(0.0, low=0, high=1),
                                            high=number(1.0, low=0, high=1)),
    "attn_core.plot.style.new_figure": spec(width=positive(2.0), height=positive(2.0), dpi=size(20)),
    "attn_core.plot.style.figure_to_png": spec(fig=Arg("instance", lambda: _shared_axes().figure),
                                               palette=flag()),
    # weights may be a boolean mask (chapter 10 draws the sparse patterns with it): no bool case
    "attn_core.plot.variants.weight_map": spec(ax=ax(), weights=data(SQUARE, skip=("bool",)), vmax=positive(1.0),
                                               gamma=positive(0.5), colorbar=flag()),
    "attn_core.plot.variants.row_profile": spec(ax=ax(), rows=free({"a": ROW}), mark=index(None, optional=True),
                                                legend=flag(True)),
    "attn_core.plot.variants.error_curves": spec(ax=ax(), x=data([1.0, 2.0, 4.0], link=0),
                                                 curves=free({"a": [0.5, 0.3, 0.2]}), logy=flag(True)),
    "attn_core.plot.why_attention.answer_bars": spec(ax=ax(), values=data(SCORES)),
    "attn_core.plot.why_attention.retrieval_error_plot": spec(ax=ax(), n_items=data([1.0, 2.0, 4.0], link=0),
                                                              errors=free({"a": [0.1, 0.2, 0.3]}),
                                                              d_k=size(None, optional=True)),
}

# --- explorers (expensive to build: only their own arguments, with cheap valid values) -------------


def _noop_compute(**kwargs: Any) -> dict:
    return {}


def _slider() -> Any:
    from attn_core.widgets.explorer import Slider

    return Slider("x", [("a", 1), ("b", 2)])


def _alignment_runs() -> dict:
    from attn_core.experiments.self_cross import AlignmentRun, reordering_data
    from attn_core.training.models import CrossAttentionAligner

    model = CrossAttentionAligner(3, 4, width=4, seed=0)
    test = reordering_data(4, task="copy", length=3, n_symbols=4, seed=1)
    run = AlignmentRun("copy", model, test, reordering_data(1, task="copy", length=3, n_symbols=4, seed=2),
                       record_at=(0,))
    run(0, model)
    return {"copy": run}


_DESCRIBE = "formats the state dict its own explorer computed; a reader never builds that dict"


def _explorer() -> Any:
    from attn_core.widgets.explorer import Explorer

    return Explorer(lambda **kwargs: {}, lambda figure, state: None, sliders={"x": _slider()})


SPECS |= {
    "attn_core.widgets.efficiency.tile_stepper_explorer": spec(block_size=size(4), query=index(0), block=index(0),
                                                               order=option("in order"),
                                                               shift=option("running max")),
    "attn_core.widgets.explorer.Slider": spec(label=text("x"), options=free([("a", 1), ("b", 2)]),
                                              value=Arg("free", None, extra=[Bad("unknown", lambda v: 99)])),
    "attn_core.widgets.explorer.Slider.start_index": spec(factory=_slider),
    "attn_core.widgets.explorer.TextInput": spec(label=text("x"), value=text("1"), parse=function(float)),
    "attn_core.widgets.explorer.Explorer": spec(
        compute=function(lambda **kwargs: {}), draw=function(lambda figure, state: None),
        sliders=Arg("instance", lambda: {"x": _slider()}), title=free(""),
        play=flag(False)),
    "attn_core.widgets.explorer.Explorer.displayed_picture": spec(factory=_explorer),
    "attn_core.widgets.explorer.Explorer.displayed_png": spec(factory=_explorer),
    "attn_core.widgets.explorer.Explorer.frame_count": spec(factory=_explorer),
    "attn_core.widgets.explorer.parse_numbers": spec(text=text("1, 2"), count=size(None, optional=True),
                                                     name=free("the numbers")),
    "attn_core.widgets.masking.parse_cells": spec(text=text("0 1"), n=size(3)),
    "attn_core.widgets.masking.mask_editor_explorer": spec(d_model=size(8), seed=seed(), mask=option("causal"),
                                                           query=index(2)),
    "attn_core.widgets.qkv.kernel_width_explorer": spec(n_train=size(40), n_heldout=size(200), n_queries=size(51),
                                                        seed=seed(1), bandwidth=positive(0.2)),
    "attn_core.widgets.scoring.query_direction_explorer": spec(keys=free(None), angle=number(60.0),
                                                               length=number(1.0, low=0)),
    "attn_core.widgets.sdpa.sentence_attention_explorer": spec(d_model=size(8), seed=seed(), query=index(1),
                                                               projection=option("tokens as they are")),
    "attn_core.widgets.self_cross.alignment_training_explorer": spec(
        runs=instance(_alignment_runs), probe=index(0),
        task=option(None, optional=True), step=index(None, optional=True)),
    "attn_core.widgets.softmax.parse_scores": spec(text=text("1, 2"), count=size(2)),
    "attn_core.widgets.softmax.temperature_explorer": spec(temperature=positive(1.0), normalisation=option("softmax")),
    "attn_core.widgets.why_attention.selectivity_explorer": spec(d_k=size(4), seed=seed(), item=index(0),
                                                                 beta=number(2.0, low=0)),
    "attn_core.widgets.variants.variant_explorer": spec(input=option("random"), sharpness=positive(1.0),
                                                        variant=option("local"), seed=seed()),
    "attn_core.widgets.variants.describe_variant": spec(exempt=_DESCRIBE),
}

# --- second-edition additions, one block per chapter or library area ---------------------------

SPECS |= {  # training ring: fresh data, clipping, gated recurrent and Deep Sets readers
    "attn_core.training.adam.clip_by_global_norm": spec(grads=batch({"w": np.ones((2, 2))}), max_norm=positive(1.0)),
    "attn_core.training.loop.train": spec(
        model=instance(_reader("AttentionReader")), train_set=batch(_recall(8), required=RECALL_LABELLED),
        test_set=batch(_recall(4, seed=1), optional=True, required=RECALL_LABELLED),
        steps=size(2), batch_size=size(4), lr=positive(0.01), seed=seed(), eval_every=size(1), progress=flag(False),
        callback=Arg("function", None, optional=True), clip_norm=positive(1.0, optional=True),
        monitor_size=size(4)),
    **_model_specs("RecurrentReader", _READER | {"query_first": flag()}, _recall, RECALL_INPUTS),
    **_model_specs("DeepSetsReader", _READER | {"encoder_width": size(3)}, _recall, RECALL_INPUTS),
    **_model_specs("GatedRecurrentReader", _READER | {"query_first": flag()}, _recall, RECALL_INPUTS),
    "attn_core.training.models.RecurrentReader.state": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
    "attn_core.training.models.PoolingReader.state": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
    "attn_core.training.models.DeepSetsReader.state": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
    "attn_core.training.models.GatedRecurrentReader.state": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
    "attn_core.training.models.RecurrentReader.states": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
    "attn_core.training.models.GatedRecurrentReader.states": spec(inputs=batch(_recall(), required=RECALL_INPUTS)),
}

_MODEL_SHAPE = dict(parameters=size(1000), n_layers=size(2), n_heads=size(4), n_kv_heads=size(2), d_head=size(3))

SPECS |= {  # chapter 8, multihead
    "attn_core.experiments.multihead.decode_step_bytes": spec(context=size(5), batch=size(2),
                                                              bytes_per_number=size(2), **_MODEL_SHAPE),
    "attn_core.experiments.multihead.decode_step_flops": spec(context=size(5), batch=size(2), **_MODEL_SHAPE),
    "attn_core.experiments.multihead.cache_crossover_tokens": spec(**_MODEL_SHAPE),
    "attn_core.experiments.multihead.generation_flops": spec(n_tokens=size(4), cached=flag(True), **_MODEL_SHAPE),
    "attn_core.experiments.multihead.decode_flops_per_byte": spec(context=size(5), batch=size(2),
                                                                  bytes_per_number=size(2), **_MODEL_SHAPE),
    "attn_core.experiments.multihead.memory_bound_context": spec(flops_per_byte=positive(10.0),
                                                                 bytes_per_number=size(2), **_MODEL_SHAPE),
    "attn_core.experiments.multihead.kv_sharing_speedup": spec(cache_share=number(0.5, low=0, high=1),
                                                               n_heads=size(4), n_kv_heads=size(2)),
    "attn_core.plot.multihead.decode_bytes_bars": spec(ax=axes(), labels=tokens(["a", "b"]),
                                                       weight_bytes=data([2e9, 2e9], link=0),
                                                       cache_bytes=data([1e9, 3e9], link=0),
                                                       bytes_per_second=positive(2e12, optional=True),
                                                       xmax=positive(10.0, optional=True), title=free(None),
                                                       fontsize=positive(8.0)),
    "attn_core.widgets.multihead.decode_bytes_explorer": spec(batch=size(1), context=size(4096)),
}

def _recall_reader() -> Any:
    from attn_core.experiments.positions import MarkedRecallReader

    return MarkedRecallReader("alibi", 8, n_values=3, width=4, seed=0)


def _marked() -> dict:
    from attn_core.experiments.positions import marked_recall

    return marked_recall(2, 6, n_values=3, seed=0)


SPECS |= {  # chapter 9, positions
    "attn_core.positions.t5_relative_buckets": spec(n_q=size(3), n_k=size(None, optional=True), n_buckets=size(32),
                                                    max_distance=size(128), bidirectional=flag(True)),
    "attn_core.positions.rotary_angles": spec(positions=data([0.0, 1.0, 2.0]), d=size(4), base=positive(10000.0)),
    "attn_core.experiments.positions.position_probe": spec(causal=flag(True), steps=size(0, minimum=0), seed=seed()),
    "attn_core.experiments.positions.marked_recall": spec(n_examples=size(2), length=size(6), n_values=size(4),
                                                         distance=size(None, optional=True), seed=seed()),
    "attn_core.experiments.positions.MarkedRecallReader": spec(
        encoding=option("alibi"), n_train=size(8), n_values=size(3), width=size(4), alibi_slope=positive(0.25),
        seed=seed()),
    "attn_core.experiments.positions.MarkedRecallReader.forward": spec(
        factory=lambda: _recall_reader(), inputs=batch({"tokens": _marked()["tokens"]}, required=("tokens",))),
    "attn_core.experiments.positions.MarkedRecallReader.check_inputs": spec(
        factory=lambda: _recall_reader(), inputs=batch({"tokens": _marked()["tokens"]}, required=("tokens",)),
        name=free("inputs")),
    "attn_core.experiments.positions.MarkedRecallReader.backward": spec(
        factory=lambda: _recall_reader(), nan=False,
        cache=Arg("instance", lambda: _recall_reader().forward({"tokens": _marked()["tokens"]})[1]),
        grad_logits=data(np.ones((2, 3)), link=-1)),
    "attn_core.experiments.positions.train_recall_reader": spec(encoding=option("none"), seed=seed(),
                                                                config=free(None),
                                                                alibi_slope=positive(None, optional=True)),
    "attn_core.experiments.positions.recall_accuracy": spec(model=instance(lambda: _recall_reader()), length=size(6),
                                                           distance=size(3), config=free(None)),
    "attn_core.experiments.positions.run_extrapolation": spec(
        exempt="reruns the whole stored experiment (three minutes); its only argument is a configuration dict"),
    "attn_core.experiments.positions.load_extrapolation": spec(),
    "attn_core.experiments.positions.stored_recall_reader": spec(encoding=option("alibi")),
    "attn_core.plot.positions.weights_by_distance": spec(ax=ax(), weights=data([0.5, 0.1, 0.4]),
                                                         marked=index(2), train_length=size(2),
                                                         title=free(None), floor=positive(1e-6)),
    "attn_core.widgets.positions.recall_distance_explorer": spec(length=size(32), seed=seed(3)),
}


SPECS |= {  # chapter 10, variants
    # a boolean mask cannot carry NaN: no NaN-in, NaN-out case
    "attn_core.variants.block_selection_mask": spec(
        nan=False, q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), block_size=size(2), top_k=size(1), causal=flag()),
    "attn_core.variants.block_top_k_attention": spec(
        q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        block_size=size(2), top_k=size(1), causal=flag()),
    "attn_core.experiments.variants.random_sequence": spec(n=size(8), scale=positive(1.0), seed=seed()),
    "attn_core.experiments.variants.frobenius_error": spec(approx=data(V, link=0), exact=data(V, link=0)),
    "attn_core.experiments.variants.weight_error": spec(approx=data(SQUARE, link=0), exact=data(SQUARE, link=0)),
    "attn_core.experiments.variants.soft_attention_gradient": spec(
        scores=data(SCORES, link=0), values=data(V, link=0), target=data(np.array([1.0, 0.0]), link=0)),
    # NaN scores are refused (no distribution to sample from): no NaN-in, NaN-out case
    "attn_core.experiments.variants.score_function_gradients": spec(
        nan=False, scores=data(SCORES, link=0), values=data(V, link=0), target=data(np.array([1.0, 0.0]), link=0),
        n_samples=size(2), n_trials=size(3), baseline=flag(), seed=seed()),
    "attn_core.plot.variants.error_bars": spec(ax=ax(), errors=free({"a": 0.5, "b": 0.25}),
                                               highlight=option("a", optional=True), xmax=positive(1.0)),
    "attn_core.experiments.variants.low_rank_at_matched_cost": spec(
        name=option("local"), q=data(K, "queries", link=-1), k=data(K, "keys", link=-1),
        v=data(V, "values", link=0), budget=size(None, optional=True), seed=seed()),
    "attn_core.experiments.variants.linformer_jl_rank": spec(
        n=size(128), epsilon=number(0.5, low=0.0, high=1.0, low_open=True, high_open=True)),
    "attn_core.experiments.variants.eckart_young_error": spec(nan=False, matrix=data(SQUARE),
                                                             rank=size(2, high=3)),
    "attn_core.experiments.variants.equal_state_window": spec(d_k=size(4), d_v=size(4)),
    "attn_core.experiments.variants.state_sizes": spec(n_pairs=size(8), d_k=size(4), d_v=size(4)),
    "attn_core.experiments.variants.memory_recall": spec(
        memory=option("delta rule"), n_pairs=size(4), d_k=size(4), d_v=size(4, optional=True),
        n_values=size(4, minimum=2), keys=option("orthogonal"),
        rewrites=number(0.5, low=0.0, high=1.0),
        decay=number(0.9, low=0.0, high=1.0, low_open=True, optional=True),
        strength=number(1.0, low=0.0, high=1.0, low_open=True, optional=True),
        softmax_scale=positive(16.0), n_trials=size(2), seed=seed()),
    # a NaN grid value is refused (no accuracy to compare): no NaN-in, NaN-out case
    "attn_core.experiments.variants.tune_memory": spec(
        nan=False, memory=option("delta rule"), n_pairs=size(4), d_k=size(4), grid=data([0.5, 1.0], optional=True),
        d_v=size(4, optional=True), n_values=size(4, minimum=2), keys=option("orthogonal"),
        rewrites=number(0.5, low=0.0, high=1.0), n_trials=size(2), seed=seed()),
    "attn_core.plot.variants.recall_curves": spec(ax=ax(), x=data([1.0, 2.0, 4.0], link=0),
                                                  curves=free({"linear": [0.5, 0.3, 0.2]}),
                                                  chance=number(0.125, optional=True), log_x=flag(True),
                                                  legend=flag(True)),
    "attn_core.widgets.variants.decay_explorer": spec(decay=positive(0.9), n_pairs=size(128),
                                                      rewrites=number(0.0, low=0.0, high=1.0), seed=seed()),
    "attn_core.widgets.variants.describe_decay": spec(exempt=_DESCRIBE),
    # an accuracy that is NaN is refused (a count of pairs cannot be NaN): no NaN-in, NaN-out case
    "attn_core.widgets.variants.reach": spec(nan=False, accuracy_by_age=data([1.0, 0.6, 0.4]),
                                             level=number(0.5, low=0.0, high=1.0)),
    "attn_core.experiments.variants.RecallResult": spec(exempt="a frozen record that memory_recall fills in; "
                                                        "readers never build one"),
    "attn_core.experiments.variants.memory_recall_sweep": spec(exempt="passes every cell to memory_recall, which checks "
                                                        "it; an empty list raises ValueError "
                                                        "(tests/experiments/test_variants.py)"),
}

def _accelerator(name: str) -> Any:
    from attn_core.experiments import efficiency

    return getattr(efficiency, name)


SPECS |= {  # chapter 11, efficiency
    "attn_core.experiments.efficiency.load_benchmark": spec(),
    "attn_core.experiments.efficiency.format_benchmark": spec(exempt="formats the dict the benchmark script "
                                                              "stores; a dict without its keys raises TypeError "
                                                              "(tests/experiments/test_efficiency.py)"),
    "attn_core.experiments.efficiency.benchmark_ratios": spec(exempt="reads the dict the benchmark script "
                                                              "stores; bad dicts and names raise TypeError or "
                                                              "ValueError (tests/experiments/test_efficiency.py)"),
    "attn_core.experiments.efficiency.Accelerator": spec(
        name=text("chip"), peak_flops=positive(100.0), memory_bandwidth=positive(4.0), sram_bytes=size(8),
        source=text("made up"), n_sms=size(1)),
    "attn_core.experiments.efficiency.ridge_point": spec(accelerator=instance(lambda: _accelerator("A100"))),
    "attn_core.experiments.efficiency.attainable_flops": spec(intensity=data([1.0, 300.0], rank=False),
                                                              accelerator=instance(lambda: _accelerator("A100"))),
    "attn_core.block_sparse_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        causal=flag(), window=size(1, optional=True), document_ids=ints([0, 0, 1], optional=True, link=0, skip=("None",)),
        scale=positive(None, optional=True), block_size=size(2)),
    "attn_core.document_mask": spec(document_ids_q=ints([0, 0, 1]), document_ids_k=ints([0, 1], optional=True,
                                                                                        skip=("None",))),
    "attn_core.experiments.efficiency.sram_block_rows": spec(d=size(2), sram_bytes=size(64), itemsize=size(2),
                                                              blocks=size(4)),
    "attn_core.experiments.efficiency.hbm_bytes": spec(
        n=size(4), d=size(2), sram_bytes=size(64), method=option("tiled"), itemsize=size(2),
        block_size=size(2, optional=True), causal=flag(), window=size(1, optional=True),
        document_ids=ints([0, 0, 1, 1], optional=True, link=0, skip=("None",)), key_block_size=size(2, optional=True)),
    "attn_core.experiments.efficiency.backward_cost": spec(n=size(4), d=size(2), sram_bytes=size(64),
                                                            method=option("recompute"), itemsize=size(2),
                                                            block_size=size(2, optional=True)),
    "attn_core.experiments.efficiency.BackwardCost": spec(exempt="a frozen record that backward_cost fills in"),
    "attn_core.experiments.efficiency.layer_flops": spec(n=size(4), d_model=size(2), causal=flag(),
                                                          mlp_expansion=positive(4.0), mlp_matrices=size(2),
                                                          n_heads=size(2, optional=True),
                                                          n_kv_heads=size(1, optional=True)),
    "attn_core.experiments.efficiency.LayerFlops": spec(exempt="a frozen record that layer_flops fills in"),
    "attn_core.experiments.efficiency.attention_overtakes_at": spec(d_model=size(2), causal=flag(),
                                                                     mlp_expansion=positive(4.0),
                                                                     mlp_matrices=size(2),
                                                                     n_heads=size(2, optional=True),
                                                                     n_kv_heads=size(1, optional=True)),
    "attn_core.plot.efficiency.roofline": spec(ax=ax(), accelerators=instance(lambda: [_accelerator("A100")]),
                                               points=free({"tiled": 300.0}),
                                               intensity_range=data([1.0, 64.0], nan=False)),
    "attn_core.plot.efficiency.flop_shares": spec(ax=ax(), n=data([1.0, 2.0, 4.0], link=0),
                                                  parts=free({"a": [1.0, 2.0, 3.0]}),
                                                  crossover=number(None, optional=True)),
    "attn_core.widgets.efficiency.block_sparse_explorer": spec(
        n=size(64), d=size(4), mask=option("window 64"), block_size=index(16), block_sizes=free((8, 16))),
    "attn_core.experiments.efficiency.allowed_pairs": spec(
        n_q=size(4), n_k=size(4), causal=flag(), window=size(1, optional=True),
        document_ids=ints([0, 0, 1, 1], optional=True, skip=("None",))),
}

SPECS |= {  # chapter 12, what attention buys
    "attn_core.experiments.what_attention_buys.path_lengths": spec(allowed=mask((3, 3), optional=False)),
    "attn_core.experiments.what_attention_buys.elman_states": spec(
        x=data(np.ones((3, 2)), link=-1), w_h=data(np.eye(2) * 0.5, link=-1), b_h=data([0.0, 0.0], optional=True, link=0)),
    "attn_core.experiments.what_attention_buys.recurrent_sensitivity": spec(
        states=data(np.ones((3, 2)) * 0.5, link=-1), w_h=data(np.eye(2) * 0.5, link=-1)),
    "attn_core.experiments.what_attention_buys.attention_sensitivity": spec(
        x=data(np.ones((3, 2)), link=-1), w_q=data(np.eye(2), link=0), w_k=data(np.eye(2), link=0),
        w_v=data(np.eye(2), link=0), query=index(-1)),
    "attn_core.experiments.what_attention_buys.accuracy_by_distance": spec(
        logits=data(np.zeros((4, 5)), link=0, nan=False), labels=ints([0, 1, 2, 3], high=4, link=0),
        distance=ints([1, 2, 3, 1], link=0)),
    "attn_core.experiments.what_attention_buys.swap_values": spec(data=batch(_recall()), first=index(0),
                                                                  second=index(1)),
    "attn_core.experiments.what_attention_buys.value_counts": spec(data=batch(_recall())),
    "attn_core.experiments.what_attention_buys.accuracy_without_pairing": spec(data=batch(_recall())),
    "attn_core.experiments.what_attention_buys.value_probabilities": spec(
        model=instance(_reader("AttentionReader")), data=batch(_recall())),
    "attn_core.experiments.what_attention_buys.first_step_reaching": spec(
        steps=ints([0, 10, 20], link=0), accuracies=data([0.1, 0.5, 0.9], link=0, nan=False),
        level=number(0.5, low=0, high=1)),
    "attn_core.experiments.what_attention_buys.probe_accuracy": spec(
        train_features=data(np.arange(8.0).reshape(4, 2), link=-1), train_values=ints(np.zeros((4, 1), int), high=1, link=0),
        test_features=data(np.ones((2, 2)), link=-1), test_values=ints(np.zeros((2, 1), int), high=1, link=0),
        n_values=size(2), ridge=positive(1e-3), method=option("least squares")),
    "attn_core.experiments.what_attention_buys.query_indexed_probe_accuracy": spec(
        train_features=data(np.arange(8.0).reshape(4, 2), link=-1), train_values=ints(np.zeros((4, 3), int), high=5, link=0),
        test_features=data(np.ones((4, 2)), link=-1), test_data=batch(_recall()), n_values=size(5), ridge=positive(1e-3)),
    "attn_core.experiments.what_attention_buys.pick_by_validation": spec(
        records=free({0.01: {"steps": [0, 10], "validation_loss": [2.0, 1.0]}}), step=size(10, minimum=0, optional=True)),
    "attn_core.experiments.what_attention_buys.recall_sampler": spec(n_pairs=size(4, optional=True)),
    "attn_core.experiments.what_attention_buys.recall_test_set": spec(n_pairs=size(4, optional=True),
                                                                      validation=flag()),
    "attn_core.experiments.what_attention_buys.make_reader": spec(
        name=option("elman"), n_pairs=size(4, optional=True), query_first=flag(),
        seed=size(0, minimum=0, optional=True)),
    "attn_core.experiments.what_attention_buys.run_reader": spec(
        name=option("mean pooling"), lr=positive(0.01), steps=size(2, optional=True), eval_at=free([1]),
        n_pairs=size(3, optional=True), query_first=flag(), progress=flag()),
    "attn_core.experiments.what_attention_buys.tune_learning_rate": spec(
        name=option("mean pooling"), learning_rates=free([0.01]), steps=size(2, optional=True), query_first=flag()),
    "attn_core.experiments.what_attention_buys.load_results": spec(),
    "attn_core.experiments.what_attention_buys.load_reader": spec(name=option("attention")),
    "attn_core.experiments.what_attention_buys.run_name": spec(name=text("elman"), query_first=flag()),
    "attn_core.plot.what_attention_buys.sensitivity_plot": spec(ax=ax(), distances=data([1.0, 2.0, 3.0], link=0),
                                                                curves=free(_CURVES), log=flag(True)),
    "attn_core.plot.what_attention_buys.pair_bars": spec(ax=ax(), heights=data(ROW),
                                                         highlight=index(None, optional=True), log=flag()),
    "attn_core.plot.what_attention_buys.paired_bars": spec(ax=ax(), first=data(ROW, link=0), second=data(ROW, link=0),
                                                           legend=flag(True)),
    # results: a mapping read by key, its faults named by _check_results; reader/step checked against it
    "attn_core.widgets.what_attention_buys.learning_explorer": spec(
        results=free(None), reader=option("elman"), step=index(None, optional=True), steps=free((0, 15000))),
    "attn_core.widgets.what_attention_buys.describe_learning": spec(exempt=_DESCRIBE),
}

SPECS |= {  # chapter 13, interpretability
    "attn_core.experiments.interpretability.same_output_corners": spec(weights=data(ROW, link=0),
                                                                       values=data(V, link=0)),
    "attn_core.experiments.interpretability.six_keys_example": spec(exempt="takes no arguments: nothing a reader can pass wrongly"),
    "attn_core.experiments.interpretability.closest_reachable": spec(weights=data(ROW, link=0), keys=data(K, link=0),
                                                                     scale=positive(None, optional=True)),
    "attn_core.experiments.interpretability.output_jacobian": spec(
        query=data([1.0, -1.0, 0.5], link=0, extra_rank=True), keys=data(K, link=0, extra_rank=True),
        values=data(V, link=0, extra_rank=True), scale=positive(None, optional=True)),
    "attn_core.experiments.interpretability.train_recall_reader": spec(seed=seed(), steps=size(1),
                                                                       progress=flag(False)),
    "attn_core.widgets.interpretability.corner_names": spec(exempt="a label helper: numpy arrays in, strings out"),
    "attn_core.widgets.interpretability.same_output_explorer": spec(corner=index(None, optional=True),
                                                                    fraction=number(0.6, low=0, high=0.8)),
}

def _filled_cache(name: str, *sizes: int) -> Any:
    """A decoding cache of ``attn_core`` holding three positions of one sequence (sequence 0 if paged)."""
    import attn_core as ac

    cache = getattr(ac, name)(*sizes)
    entries = np.linspace(-1.0, 1.0, 3 * sizes[-1] * sizes[-2]).reshape(sizes[-2], 3, sizes[-1])
    if name == "PagedKVCache":
        cache.append(0, entries, entries)
    else:
        cache.append(entries, entries)
    return cache


SPECS |= {  # library: KV caches, latent attention, split-KV decoding, recompute backward
    "attn_core.split_kv_attention": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        n_splits=size(2), causal=flag(), scale=positive(None, optional=True)),
    # -inf in a log-sum-exp means "no key in this chunk": allowed
    "attn_core.merge_partial_attention": spec(
        outputs=data(np.ones((2, 1, 2)), link=1), log_sum_exps=data(np.zeros((2, 1)), link=1, skip=("minus-inf",))),
    "attn_core.RollingKVCache": spec(window=size(2), n_kv_heads=size(1), d_head=size(2), n_sinks=size(1, minimum=0)),
    "attn_core.RollingKVCache.append": spec(nan=False,  # returns None: the NaN goes into the cache
                                            keys=data(np.ones((1, 1, 2)), link=-1), values=data(np.ones((1, 1, 2)), link=-1)),
    "attn_core.RollingKVCache.attend": spec(factory=lambda: _filled_cache("RollingKVCache", 2, 1, 2),
                                            q=data(np.ones((1, 1, 2)), "queries", link=-1),
                                            scale=positive(None, optional=True)),
    "attn_core.PagedKVCache": spec(block_size=size(2), n_blocks=size(4), n_kv_heads=size(1), d_head=size(2),
                                   dtype=option("float64")),
    "attn_core.PagedKVCache.append": spec(nan=False,  # returns None: the NaN goes into the cache
                                          sequence=size(0, minimum=0), keys=data(np.ones((1, 1, 2)), link=-1),
                                          values=data(np.ones((1, 1, 2)), link=-1)),
    "attn_core.PagedKVCache.free": spec(factory=lambda: _filled_cache("PagedKVCache", 2, 4, 1, 2),
                                        sequence=size(0, minimum=0, extra=[Bad("unknown", lambda v: 7)])),
    "attn_core.PagedKVCache.attend": spec(factory=lambda: _filled_cache("PagedKVCache", 2, 4, 1, 2),
                                          sequence=size(0, minimum=0, extra=[Bad("unknown", lambda v: 7)]),
                                          q=data(np.ones((1, 1, 2)), "queries", link=-1), causal=flag(True),
                                          scale=positive(None, optional=True)),
    "attn_core.quantize_int8": spec(x=data(V), axis=axis(-1)),
    # any int8 code in -127..127 is valid, negative ones too (the dtype bounds them above); one scale
    # for the whole array (a scalar) is valid too
    "attn_core.dequantize_int8": spec(quantized=ints(np.array([[127, 0], [-64, 5]], dtype=np.int8),
                                                     link=0, skip=("negative",)),
                                      scales=data(np.array([[0.5], [0.25]]), link=0, rank=False)),
    "attn_core.MultiHeadLatentAttention": spec(
        d_model=size(4), n_heads=size(2), d_latent=size(3), d_head=size(2),
        d_rope=size(2, extra=[Bad("odd", lambda v: 3)]), seed=seed()),
    "attn_core.MultiHeadLatentAttention.__call__": spec(x=data(np.ones((3, 4)), link=-1), causal=flag()),
    "attn_core.MultiHeadLatentAttention.compress": spec(
        x=data(np.ones((3, 4)), link=-1), positions=data([0.0, 1.0, 2.0], optional=True, link=0)),
    "attn_core.MultiHeadLatentAttention.absorbed_weights": spec(),
    "attn_core.MultiHeadLatentAttention.absorbed": spec(
        x=data(np.ones((1, 4)), link=-1), latent=data(np.ones((3, 3)), link=-1),
        key_rope=data(np.ones((3, 2)), link=-2), causal=flag()),
    # -inf in a log-sum-exp means "this query sees no key": allowed
    "attn_core.tiled_attention_backward": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        output=data(np.ones((2, 2)), link=-1), log_sum_exp=data([0.5, 1.0], link=0, skip=("minus-inf",)),
        grad_output=data(np.ones((2, 2)), link=-1), causal=flag(), scale=positive(None, optional=True),
        block_size=size(2)),
    "attn_core.latent_kv_cache_bytes": spec(seq_len=size(8), n_layers=size(2), d_latent=size(4), d_rope=size(2),
                                            batch=size(1), bytes_per_number=size(2)),
}

SPECS |= {  # library: gated and delta-rule linear attention, RoPE scaling
    # decay and beta: one number or one per step; a scalar is valid, values outside their interval are not
    "attn_core.decayed_linear_attention": spec(
        q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        decay=data([0.9, 0.5, 1.0], link=0, rank=False,
                   extra=[Bad("zero", lambda v: np.zeros_like(v)), Bad("above-one", lambda v: v + 1.0)]),
        form=option("chunked"), chunk_size=size(2),
        initial_state=data(np.full((3, 2), 0.1), link=-1, optional=True), return_state=flag()),
    "attn_core.delta_rule_attention": spec(
        q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        strength=data([0.9, 0.5, 1.0], link=0, rank=False,
                      extra=[Bad("negative", lambda v: -v), Bad("above-one", lambda v: v + 1.0)]),
        form=option("chunked"), chunk_size=size(2),
        initial_state=data(np.full((3, 2), 0.1), link=-1, optional=True), return_state=flag()),
    "attn_core.gated_linear_attention": spec(
        q=data(K, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        gate=data(np.full((3, 3), 0.9), link=0, rank=False,
                  extra=[Bad("zero", lambda v: np.zeros_like(v)), Bad("above-one", lambda v: v + 1.0)]),
        form=option("chunked"), chunk_size=size(2),
        initial_state=data(np.full((3, 2), 0.1), link=-1, optional=True), return_state=flag()),
    "attn_core.positions.interpolated_positions": spec(positions=data([0.0, 1.0, 2.0]),
                                                       scale=number(2.0, low=1.0)),
    "attn_core.positions.ntk_scaled_base": spec(base=positive(10000.0), scale=number(2.0, low=1.0),
                                                d=size(8, minimum=4)),
    "attn_core.positions.yarn_frequencies": spec(d=size(8), base=positive(10000.0), scale=number(4.0, low=1.0),
                                                 original_length=size(64), alpha=positive(1.0),
                                                 beta=positive(32.0)),
    "attn_core.positions.yarn_attention_factor": spec(scale=number(4.0, low=1.0)),
}

#: Bad cases that still failed at the last full run, by owner (marked xfail(strict=True)).
KNOWN_FAILURES: dict[str, str] = {
}

SPECS |= {  # chapter 15, inference (owner: ch15)
    "attn_core.experiments.inference.kv_cache_table": spec(contexts=ints([8, 16]), batch=size(2),
                                                           bytes_per_number=size(2)),
    "attn_core.experiments.inference.decode_cost": spec(context=size(5), batch=size(2),
                                                        window=size(3, optional=True), bytes_per_number=size(2),
                                                        **_MODEL_SHAPE),
    "attn_core.experiments.inference.prefill_cost": spec(prompt=size(5), batch=size(2),
                                                         window=size(3, optional=True), bytes_per_number=size(2),
                                                         **_MODEL_SHAPE),
    "attn_core.experiments.inference.latent_decode_cost": spec(
        context=size(5), n_layers=size(2), n_heads=size(2), d_head=size(3), d_latent=size(4), d_rope=size(2),
        batch=size(1), absorbed=flag(True), bytes_per_number=size(2)),
    "attn_core.experiments.inference.roofline_time": spec(
        cost=batch({"weight_bytes": 10, "weight_flops": 20}, required=("weight_bytes", "weight_flops")),
        accelerator=instance(lambda: _accelerator("H100"))),
    "attn_core.experiments.inference.reserved_cache_slots": spec(lengths=ints([3, 5], high=8), block_size=size(4),
                                                                 max_length=size(8)),
    "attn_core.experiments.inference.outlier_keys": spec(n=size(4), d_head=size(4),
                                                         # no outlier channel at all: plain normal keys, valid
                                                         outlier_channels=ints([1], high=3, skip=("empty",)),
                                                         factor=positive(20.0),
                                                         seed=seed(0)),
    "attn_core.experiments.inference.int8_cache_error": spec(
        q=data(Q, "queries", link=-1), k=data(K, "keys", link=-1), v=data(V, "values", link=0),
        keys=option("channel"), values=option("token")),
    "attn_core.plot.inference.decode_intensity_bars": spec(ax=axes(), labels=tokens(["a", "b"]),
                                                           intensities=data([1.0, 300.0], link=0),
                                                           ridge=positive(295.0), fits=free(None),
                                                           xlim=data([0.5, 2e3]), title=free(None),
                                                           fontsize=positive(8.0)),
    "attn_core.widgets.inference.serving_explorer": spec(batch=size(1), context=size(8192)),
}

def _residual_reader() -> Any:
    from attn_core.experiments.long_context import ResidualRecallReader

    return ResidualRecallReader(8, n_values=3, width=4, seed=0)


def _needles() -> np.ndarray:
    from attn_core.experiments.long_context import optional_needles

    return optional_needles(2, 6, n_values=3, seed=1)["tokens"]


SPECS |= {  # chapter 14, long context (owner: ch14)
    "attn_core.experiments.long_context.rescaled_rotary": spec(method=option("yarn"), d=size(8),
                                                               scale=number(4.0, low=1.0), original_length=size(16),
                                                               base=positive(100.0)),
    "attn_core.experiments.long_context.matching_scores": spec(distances=data([0.0, 1.0, 2.0]),
                                                               frequencies=data([1.0, 0.1]),
                                                               score_factor=positive(1.0)),
    "attn_core.experiments.long_context.rope_scaling_table": spec(d=size(8), original_length=size(16),
                                                                  scale=number(2.0, low=1.0), base=positive(100.0)),
    "attn_core.experiments.long_context.needle_distance": spec(length=size(10), depth=number(0.5, low=0.0, high=1.0)),
    "attn_core.experiments.long_context.needle_recall": spec(
        model=instance(lambda: _stored_rope_reader()), length=size(40), depth=number(0.5, low=0.0, high=1.0),
        method=option("none"), n_examples=size(4), seed=seed(5)),
    "attn_core.experiments.long_context.run_needle": spec(
        exempt="trains eight readers (seconds each); its one argument is the benchmark's configuration dict"),
    "attn_core.experiments.long_context.load_needle": spec(),
    "attn_core.experiments.long_context.layer_windows": spec(n_layers=size(4), window=size(2),
                                                             global_every=size(2, optional=True)),
    # windows: a list of whole numbers or None, checked entry by entry (a free-form list here)
    "attn_core.experiments.long_context.reachable_positions": spec(windows=free([2, None]), n=size(5)),
    "attn_core.experiments.long_context.receptive_field": spec(windows=free([2, 3])),
    "attn_core.experiments.long_context.influence_rollout": spec(
        windows=free([2]), n=size(5), residual=number(0.5, low=0.0, high=1.0, high_open=True)),
    "attn_core.experiments.long_context.kv_positions": spec(windows=free([2, None]), context=size(5)),
    "attn_core.experiments.long_context.sink_head": spec(n=size(8), d=size(4), sink_score=positive(6.0),
                                                         active_every=size(4), seed=seed()),
    "attn_core.experiments.long_context.eviction_errors": spec(
        q=data(np.linspace(-1.0, 1.0, 12).reshape(4, 3), link=0), k=data(np.ones((4, 3)), link=0),
        v=data(np.ones((4, 3)), link=0), window=size(2), n_sinks=size(1, minimum=0)),
    "attn_core.plot.long_context.needle_heatmap": spec(ax=axes(), accuracy=data([[1.0, 0.5]]), lengths=free([32, 64]),
                                                      depths=free([0.5]), train_length=size(32, optional=True),
                                                      title=free(None)),
    "attn_core.plot.long_context.matching_score_curves": spec(
        ax=axes(), distances=data([0.0, 1.0, 2.0], link=0), curves=free({"a": [1.0, 0.5, 0.0]}),
        train_length=size(2), lowest_trained=number(0.5, optional=True), title=free(None)),
    # reach: inf is valid (a stack with a global layer reaches everything: no line)
    "attn_core.plot.long_context.influence_profile": spec(ax=axes(), share=data([0.2, 0.8]),
                                                         reach=number(1.0, optional=True, skip=("inf",)),
                                                         floor=positive(1e-6), title=free(None)),
    "attn_core.plot.long_context.recall_state_frontier": spec(
        ax=axes(), curves=free({"a": ([16.0, 64.0], [0.2, 0.5])}), chance=number(0.125, optional=True),
        styles=free(None), title=free(None)),
    "attn_core.widgets.long_context.reach_explorer": spec(pattern=size(2, minimum=0), layers=size(4)),
    "attn_core.widgets.long_context.rescaling_explorer": spec(method=option("interpolation"), scale=size(8)),
    "attn_core.experiments.long_context.optional_needles": spec(n_examples=size(2), length=size(8), n_values=size(3),
                                                                needle_within=size(None, optional=True), seed=seed()),
    "attn_core.experiments.long_context.ResidualRecallReader": spec(n_train=size(8), n_values=size(3), width=size(4),
                                                                    seed=seed()),
    "attn_core.experiments.long_context.ResidualRecallReader.forward": spec(
        factory=lambda: _residual_reader(), inputs=batch({"tokens": _needles()}, required=("tokens",))),
    "attn_core.experiments.long_context.ResidualRecallReader.check_inputs": spec(
        factory=lambda: _residual_reader(), inputs=batch({"tokens": _needles()}, required=("tokens",)),
        name=free("inputs")),
    "attn_core.experiments.long_context.ResidualRecallReader.backward": spec(
        factory=lambda: _residual_reader(), nan=False,
        cache=Arg("instance", lambda: _residual_reader().forward({"tokens": _needles()})[1]),
        grad_logits=data(np.ones((2, 4)), link=-1)),
    "attn_core.experiments.long_context.train_sink_reader": spec(seed=seed(), config=free(None)),
    "attn_core.experiments.long_context.sink_eviction": spec(model=instance(lambda: _residual_reader()),
                                                             config=free(None)),
    "attn_core.experiments.long_context.run_sinks": spec(
        exempt="trains eight readers (seconds each); its one argument is the benchmark's configuration dict"),
    "attn_core.experiments.long_context.load_sinks": spec(),
}



def _stored_rope_reader() -> Any:
    from attn_core.experiments.positions import stored_recall_reader

    return stored_recall_reader("rope")
