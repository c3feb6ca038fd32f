"""Figures for the chapter on queries, keys and values: kernel weights and kernel regression.

Like :mod:`attn_core.plot`, every function draws what the caller computed onto a given
Axes, and a second call on the same Axes with arrays of the same shapes updates the
picture in place (which keeps an explorer's frames fast).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import flag, positive_int
from attn_core.plot import _checks as check
from attn_core.plot.curves import _named_curves
from attn_core.plot.heatmap import _attention_heatmap
from attn_core.plot.style import COLORS

__all__ = ["kernel_weights_heatmap", "regression_panel", "error_versus_bandwidth"]


def _tick_positions(n: int, n_ticks: int) -> np.ndarray:
    """About ``n_ticks`` evenly spread indices of ``range(n)``, first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, n_ticks)).round().astype(int))


def kernel_weights_heatmap(
    ax: Axes,
    weights: ArrayLike,
    x_query: ArrayLike,
    x_train: ArrayLike,
    *,
    n_ticks: int | tuple[int, int] = 6,
    title: str | None = None,
    xlabel: str = "training point $x_j$ (key)",
    ylabel: str = "query $x$",
) -> Axes:
    """A large weight matrix (queries x training points) without numbers in the cells.

    The rows are the queries, the columns the training points (sorted by ``x``); about
    ``n_ticks`` ticks on each axis (or ``(rows, columns)``) are labelled with the actual ``x`` values, not indices.
    The colour scale is fixed to [0, 1], so pictures for different kernel widths compare.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_q, n_k)
    x_query : array_like, shape (n_q,)
    x_train : array_like, shape (n_k,)
    n_ticks : int or (int, int)
        How many ticks to label, on both axes or as (rows, columns).
    title, xlabel, ylabel : str

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> w = np.full((11, 20), 1 / 20)
    >>> ax = kernel_weights_heatmap(fig.add_subplot(), w, np.linspace(0, 1, 11), np.arange(20.0))
    >>> [t.get_text() for t in ax.get_yticklabels()][:3]
    ['0.0', '0.2', '0.4']
    """
    check.check_axes(ax)
    check.matrix(weights, "weights")
    check.vector(x_query, "x_query", ravel=True)
    check.vector(x_train, "x_train", ravel=True)
    for count in ((n_ticks,) if np.ndim(n_ticks) == 0 else n_ticks):
        positive_int(count, "n_ticks")
    if np.ndim(n_ticks) != 0 and len(n_ticks) != 2:
        raise ValueError(f"n_ticks must be one whole number or two (rows, columns), got {n_ticks!r:.40}")
    w = np.asarray(weights, dtype=float)
    xq = np.asarray(x_query, dtype=float).ravel()
    xk = np.asarray(x_train, dtype=float).ravel()
    if w.shape != (xq.size, xk.size):
        raise ValueError(
            f"weights must be (n_q, n_k) = ({xq.size}, {xk.size}) to match x_query and "
            f"x_train, got shape {w.shape}"
        )
    state = getattr(ax, "_attn_heatmap", None)
    first_draw = state is None or state["shape"] != w.shape
    _attention_heatmap(ax, w, annotate=False, xlabel=xlabel, ylabel=ylabel, title=title)
    if first_draw:
        n_row_ticks, n_col_ticks = (n_ticks, n_ticks) if np.ndim(n_ticks) == 0 else n_ticks
        rows, cols = _tick_positions(xq.size, n_row_ticks), _tick_positions(xk.size, n_col_ticks)
        ax.set_yticks(rows, [f"{xq[i]:.1f}" for i in rows])
        ax.set_xticks(cols, [f"{xk[j]:.1f}" for j in cols], rotation=0, ha="center")
    return ax


def regression_panel(
    ax: Axes,
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_curve: ArrayLike,
    prediction: ArrayLike,
    *,
    true_curve: ArrayLike | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    legend: bool = True,
) -> Axes:
    """The training points, the true curve (optional) and a prediction along ``x_curve``.

    A second call on the same Axes moves the prediction line in place; the points and
    the true curve stay as they were first drawn.

    Parameters
    ----------
    ax : Axes
    x_train, y_train : array_like, shape (n_k,)
        The observed (key, value) pairs.
    x_curve : array_like, shape (n_q,)
        Where the prediction was made (the queries).
    prediction : array_like, shape (n_q,)
    true_curve : array_like, shape (n_q,), optional
        The function the data were drawn from, at ``x_curve``.
    title : str, optional
    ylim : (float, float), optional
    legend : bool

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = regression_panel(fig.add_subplot(), [0, 1], [0, 1], [0, 0.5, 1], [0, 0.5, 1])
    >>> ax = regression_panel(ax, [0, 1], [0, 1], [0, 0.5, 1], [1, 1, 1])   # in place
    >>> len(ax.lines), ax.lines[-1].get_ydata().tolist()
    (1, [1.0, 1.0, 1.0])
    """
    check.check_axes(ax)
    n_train = check.vector(x_train, "x_train", ravel=True).size
    check.vector(y_train, "y_train", ravel=True, length=n_train, of="x_train")
    n_curve = check.vector(x_curve, "x_curve", ravel=True).size
    check.vector(prediction, "prediction", ravel=True, length=n_curve, of="x_curve")
    if true_curve is not None:
        check.vector(true_curve, "true_curve", ravel=True, length=n_curve, of="x_curve")
    check.pair(ylim, "ylim")
    flag(legend, "legend")
    xc = np.asarray(x_curve, dtype=float).ravel()
    pred = np.asarray(prediction, dtype=float).ravel()
    state = getattr(ax, "_attn_regression", None)
    if state is not None and state["n"] == xc.size:
        state["line"].set_ydata(pred)
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    ax.scatter(x_train, y_train, s=12, color=COLORS["muted"], label="training points", zorder=1)
    if true_curve is not None:
        ax.plot(xc, np.asarray(true_curve, dtype=float).ravel(), color=COLORS["dark"], lw=1.2,
                ls="--", label="true curve")
    (line,) = ax.plot(xc, pred, color=COLORS["accent"], lw=2, label="prediction", zorder=3)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(loc="lower right", fontsize=8, handlelength=1.5)
    ax._attn_regression = {"n": xc.size, "line": line}
    return ax


def error_versus_bandwidth(
    ax: Axes,
    bandwidths: ArrayLike,
    errors: Mapping[str, ArrayLike],
    *,
    best: tuple[float, float] | None = None,
    floor: float | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """Error curves against the kernel width on a logarithmic axis.

    Parameters
    ----------
    ax : Axes
    bandwidths : array_like, shape (m,)
        The kernel widths tried.
    errors : mapping of label -> array_like, shape (m,)
        One curve per label (e.g. held-out and training error).
    best : (float, float), optional
        A point (width, error) to mark and label, e.g. the smallest held-out error.
    floor : float, optional
        A horizontal dotted line, e.g. the variance of the noise.
    ylim : (float, float), optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = error_versus_bandwidth(fig.add_subplot(), [0.1, 1, 10], {"held out": [2, 1, 3]},
    ...                             best=(1.0, 1.0))
    >>> ax.get_xscale(), len(ax.lines)
    ('log', 2)
    """
    check.check_axes(ax)
    n = check.vector(bandwidths, "bandwidths", ravel=True, positive=True).size
    if not isinstance(errors, Mapping):
        raise TypeError(f"errors must be a mapping of names to curves, got {type(errors).__name__}")
    for label, values in errors.items():
        check.vector(values, f"errors[{label!r}]", ravel=True, length=n, of="bandwidths")
    check.pair(best, "best")
    check.finite_number(floor, "floor", optional=True)
    check.pair(ylim, "ylim")
    sigmas = np.asarray(bandwidths, dtype=float).ravel()
    _named_curves(ax, sigmas, {label: np.asarray(values, dtype=float).ravel() for label, values in errors.items()},
                 family="errors", x_name="bandwidths")  # styles: CURVE_STYLES["errors"]
    if floor is not None:
        ax.axhline(floor, color=COLORS["muted"], lw=1, ls=":", label="noise variance")
    if best is not None:
        ax.plot([best[0]], [best[1]], "o", color=COLORS["dark"], ms=7, zorder=4)
        ax.annotate(f"best $\\sigma$ = {best[0]:.2g}", best, xytext=(-4, 14),
                    textcoords="offset points", ha="right", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel(r"kernel width $\sigma$")
    ax.set_ylabel("mean squared error")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    return ax
