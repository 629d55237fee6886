"""Attention flow (Abnar & Zuidema 2020), exact and fast.

Definition. ``aug`` is a float array [B, N, N]; ``aug[b]`` = Â of block b+1 = (mean_h A + I) / rowsum (row i = query,
column j = key). The layered graph has (B+1)·N nodes (b, i): layer 0 = the input tokens, layer B = the output of the
last block; for b = 1..B the edge (b, i) -> (b-1, j) has capacity ``aug[b-1][i, j]``. The flow map is

    map[j] = maxflow((B, source) -> (0, j)) / Σ_j' maxflow((B, source) -> (0, j')).

The authors run networkx's Edmonds-Karp once per input token on the whole graph (about an hour at 128 tokens and 12
blocks). Here every value is certified instead: a feasible flow bounds it from below, a cut from above, and the map
is returned only once the bounds pin every normalised value to within 1e-8 (in practice the reported cut capacities
agree with networkx to ~1e-16). The flows come from scipy's Dinic (Cython, integer capacities). What makes it fast:

* Only the sub-graph below the source matters: layer 0 shrinks to the one sink, layer l+1 to the source, nodes
  unreachable from the source are dropped. Rows l = 0 and l = 1 have closed forms.
* Lower bounds come from max flows on small sub-graphs, a few thousand edges instead of (l-1)·N²: per block, the 4
  largest entries of every row and of every column and the diagonal. A flow in a sub-graph is a flow in the graph.
* Upper bounds: the two trivial cuts (around the source, around the sink) settle every sink at once on attention
  with spread heads. Where they do not (trained BERTs, whose [CLS] mostly attends to itself: the flow is limited by
  what leaks out of the [CLS] column), one sink is solved exactly; its minimum cut, with the layer-1 part
  re-optimised per sink in closed form, bounds every other sink at once (on real attention one cut is tight for
  nearly all sinks), and its cut's and flow's edges join the other sinks' sub-graphs, with the edges into the sink's
  own token column, all in-edges of its main layer-1 feeders and all out-edges of busy nodes (rollout mass >= 1/N).
* Sinks still unsettled are solved exactly, largest gap first, warm-started from their sub-graph flow, by edge
  generation: max flow on a sub-graph, then add the graph's edges that cross its minimum cut, until none is missing
  (the cut then certifies the sub-graph's flow in the whole graph). Each new cut and flow can settle others.
* Integer capacities, exact bounds: the residual capacities of the current real flow are scaled by a power of two
  S ≈ 2^30 / (remaining gap) and floored, so an integer flow divided by S stays feasible, and the cut of the integer
  residual, priced with the real capacities, is an upper bound. One pass closes a gap to ~(cut size)/2^30; a small
  row, or one whose normalised map this does not pin to 1e-8, gets a second pass per sink (gap <= 1e-12).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

__all__ = ["flow_map", "flow_maps"]

_INT_CAP = 2**30 - 1  # int32 capacity ceiling; forward + backward residual of one edge pair stays below 2^31
_TOL = 1e-12  # gap allowed between the bounds of a raw flow value (the source's out-capacity is scaled to 1) ...
_LOOSE = 1e-6  # ... at first: one integer pass leaves ~(cut size)/2^30
_MAP_TOL = 1e-8  # guaranteed error of the normalised map; rows that cannot show it with _LOOSE use _TOL ...
_STRICT_EDGES = 100_000  # ... and so do rows with at most this many edges
_SPARSE_K = 4  # sub-graph: per block, the k largest entries of every row and of every column, and the diagonal
_FEEDERS = 4  # per-sink sub-graph: the layer-1 nodes with the largest in-edges of the sink get all their in-edges
_SUB_PASSES = 3  # integer passes on a sub-graph
_FULL_PASSES = 8  # integer passes on the full graph (2 in practice)


def _as_numpy(aug: Any) -> np.ndarray:
    """float64 numpy copy of a [B, N, N] torch tensor (any device/dtype) or array-like."""
    if hasattr(aug, "detach") and hasattr(aug, "cpu"):  # torch.Tensor, without importing torch
        aug = aug.detach().cpu().double().numpy()
    a = np.array(aug, dtype=np.float64)  # a copy: never modify the caller's array
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"aug must have shape [B, N, N], got {tuple(a.shape)}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"aug must have at least one block and one token, got shape {tuple(a.shape)}")
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("aug must be finite and non-negative (its entries are capacities)")
    return a


def _check_source(source: Any, N: int) -> int:
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) or not 0 <= source < N:
        raise ValueError(f"source must be a token index in [0, {N - 1}], got {source!r}")
    return int(source)


def _normalise(F: np.ndarray) -> np.ndarray:
    total = F.sum(-1, keepdims=True)
    return np.divide(F, total, out=np.zeros_like(F), where=total > 0)


def flow_maps(aug: Any, source: int = 0) -> np.ndarray:
    """Attention flow through blocks 0..l for every l: [B, N] float64, each row normalised to sum 1.

    aug: [B, N, N] torch tensor (any device/dtype) or numpy array, aug[b] = Â of block b+1 = (mean_h A + I)/rowsum,
    row i = query, column j = key. Row l = the max-flow value from node (l+1, source) down to each input node (0, j)
    of the layered graph whose edges (b, i) -> (b-1, j) have capacity aug[b-1][i, j], divided by the row's sum
    (only blocks 0..l matter, so row l equals ``flow_map(aug[:l+1], source)``); the last row is the method's answer.
    A row whose flows are all zero (impossible for row-stochastic aug) is returned as zeros.
    """
    a = _as_numpy(aug)
    s = _check_source(source, a.shape[1])
    return _normalise(np.stack([_row_flows(a, l, s) for l in range(a.shape[0])]))


def flow_maps_max(aug: Any) -> np.ndarray:
    """Row l, entry j: max over source tokens s of the max-flow value from (l+1, s) to (0, j), each row then
    normalised to sum 1 (the "max over rows" reading of Abnar & Zuidema's flow matrix). [B, N] float64; N times
    the cost of ``flow_maps``."""
    a = _as_numpy(aug)
    B, N = a.shape[0], a.shape[1]
    best = np.zeros((B, N))
    for s in range(N):
        best = np.maximum(best, np.stack([_row_flows(a, l, s) for l in range(B)]))
    return _normalise(best)


def flow_map(aug: Any, source: int = 0) -> np.ndarray:
    """Attention flow (Abnar & Zuidema 2020) of the whole stack: [N] float64 summing to 1.

    map[j] = max-flow value from the output node (B, source) to the input node (0, j) of the layered graph with
    (B+1)·N nodes whose edges (b, i) -> (b-1, j) have capacity aug[b-1][i, j] (b = 1..B), normalised to sum 1.
    aug: [B, N, N] as in ``flow_maps``; this is its last row, computed without the other rows.
    """
    a = _as_numpy(aug)
    s = _check_source(source, a.shape[1])
    return _normalise(_row_flows(a, a.shape[0] - 1, s))


# --------------------------------------------------------------------------------------------------------------------
# One row: max flow from (l+1, s) to every input node (0, j)
# --------------------------------------------------------------------------------------------------------------------


def _row_flows(aug: np.ndarray, l: int, s: int) -> np.ndarray:
    """Unnormalised max-flow values [N] from node (l+1, s) to each input node (0, j)."""
    if l == 0:  # one edge from the source to each sink
        return aug[0, s].copy()
    if l == 1:  # disjoint two-edge paths s -> (1, k) -> j
        return np.minimum(aug[1, s][:, None], aug[0]).sum(0)
    return _Row(aug, l, s).solve()


class _Row:
    """The graph of row l shared by all sinks: source S = (l+1, s), the reachable nodes of layers l..1, sink T.

    Node ids: S = 0, then the reachable nodes of layer l, l-1, ..., 1, then T = n-1. Edges are sorted by (tail, head):
    [source edges | block edges | sink edges]; the sink edges (from the reachable layer-1 nodes, ``sink_rows``) get
    sink j's capacities aug[0][i, j]. Capacities are divided by the source's out-capacity, so every flow is at most 1.
    """

    def __init__(self, aug: np.ndarray, l: int, s: int):
        N = aug.shape[-1]
        self.N = N
        reach: dict[int, np.ndarray] = {l: np.flatnonzero(aug[l, s] > 0)}
        for b in range(l, 1, -1):
            reach[b - 1] = np.flatnonzero((aug[b - 1][reach[b]] > 0).any(0))
        nid: dict[int, np.ndarray] = {}
        n = 1
        tok, layer = [np.array([-1])], [np.array([-1])]
        for b in range(l, 0, -1):
            nid[b] = np.full(N, -1, np.int64)
            nid[b][reach[b]] = n + np.arange(len(reach[b]))
            n += len(reach[b])
            tok.append(reach[b])
            layer.append(np.full(len(reach[b]), b))
        S, T = 0, n
        self.n, self.S, self.T = n + 1, S, T
        self.out_src = float(aug[l, s, reach[l]].sum())
        scale = self.out_src if self.out_src > 0 else 1.0
        self.scale = scale
        self.sink_rows = reach[1]  # tokens of the reachable layer-1 nodes, in node order
        n1 = self.n1 = len(reach[1])

        src = reach[l]
        us, vs, cs = [np.zeros(len(src), np.int64)], [nid[l][src]], [aug[l, s, src] / scale]
        sub = [np.ones(len(src), bool)]
        for b in range(l, 1, -1):
            rows = reach[b]
            M = aug[b - 1][rows]
            ii, jj = np.nonzero(M > 0)
            us.append(nid[b][rows[ii]])
            vs.append(nid[b - 1][jj])
            cs.append(M[ii, jj] / scale)
            sub.append(_top_mask(M, rows, _SPARSE_K)[ii, jj])
        us.append(nid[1][reach[1]])
        vs.append(np.full(n1, T))
        cs.append(np.zeros(n1))
        sub.append(np.ones(n1, bool))
        self.u, self.v, self.c = np.concatenate(us), np.concatenate(vs), np.concatenate(cs)
        self.E = len(self.u)
        self.sub = np.flatnonzero(np.concatenate(sub))  # sorted edge ids, sink edges last

        # the rollout mass of each node (the share of the source's flow it carries when every node splits its inflow
        # in proportion to its out-capacities): busy nodes keep all their out-edges in the per-sink sub-graphs, since
        # their many small edges add up. First those carrying >= 1/N and 4x their layer's median, then all >= 1/N.
        mass, busy = [np.array([1.0])], [np.array([False])]
        m = aug[l, s]
        for b in range(l, 0, -1):
            mass.append(m[reach[b]])
            busy.append(mass[-1] >= 4 * np.median(mass[-1]) if len(mass[-1]) else mass[-1] > 0)
            if b > 1:
                m = m @ aug[b - 1]
        node_mass = np.concatenate(mass + [np.array([0.0])])[self.u] * N
        node_busy = np.concatenate(busy + [np.array([False])])[self.u]
        self.busy = [np.flatnonzero((node_mass >= 1.0) & node_busy), np.flatnonzero(node_mass >= 1.0)]

        tok_node = np.concatenate(tok + [np.array([-1])])
        layer_node = np.concatenate(layer + [np.array([-1])])
        tok_v = tok_node[self.v]
        self.into1 = layer_node[self.v] == 1  # block edges into layer 1 (not the sink edges: T has layer -1)
        self.upper = ~self.into1
        self.upper[self.E - n1 :] = False  # source edges and block edges between layers >= 2
        # the block edges into each token's column, grouped by token (sorted edge ids within a group)
        order = np.argsort(tok_v, kind="stable")
        bounds = np.searchsorted(tok_v[order], np.arange(-1, N + 1))
        self._into_tok = [order[bounds[t + 1] : bounds[t + 2]] for t in range(N)]
        self._into1_tok: dict[int, np.ndarray] = {}
        self.sink_caps = aug[0][self.sink_rows, :].T / scale  # [N, n1]: sink j's in-edge capacities
        self.learned = np.zeros(self.E, bool)  # edges of the minimum cuts and maximum flows found so far
        self._common: list[np.ndarray] = []  # per tier: sorted ids of sub + learned + busy rows
        self._full: _Pattern | None = None

    # --- the row --------------------------------------------------------------------------------------------------

    def solve(self) -> np.ndarray:
        """Max-flow values [N] (unnormalised) from the source to every sink.

        Each value is bracketed by a feasible flow (lo) and a cut (UB). Brackets are first closed to _LOOSE (one
        integer pass each); if the normalised map is then not provably within _MAP_TOL, every bracket is closed to
        _TOL (the second pass).
        """
        N = self.N
        if self.out_src <= 0 or self.n1 == 0:
            return np.zeros(N)
        UB = np.minimum(1.0, self.sink_caps.sum(1))  # trivial cuts: around the source, around the sink
        lo = np.zeros(N)
        exact = np.zeros(N, bool)
        via = np.zeros(N, np.int8)  # 1: settled on the shared sub-graph, 2: on its own sub-graph
        flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # open sink -> (edge ids, flow): warm starts
        open_ = UB > 0
        sub = _Pattern(self, self.sub)

        def lower_bound(j: int, ids: np.ndarray, pat: _Pattern, tol: float) -> None:
            f, lo_j = pat.lower_bound(self._caps(ids, j), UB[j], tol)
            if lo_j > lo[j]:
                lo[j] = lo_j
                if UB[j] - lo_j > tol:
                    flows[j] = (ids, f)
            if UB[j] - lo[j] <= tol:
                open_[j] = False
                via[j] = 1 if pat is sub else 2
                flows.pop(j, None)

        # 1. one sparse sub-graph for all sinks: settles attention with spread heads. Trained BERTs' [CLS] mostly
        #    attends to itself, the flow is limited by what leaks out of its column and no sink settles here:
        #    move on after a few failures.
        tried = 0
        for j in np.flatnonzero(open_).tolist():
            lower_bound(j, self.sub, sub, _LOOSE)
            tried += 1
            if tried >= 8 and 2 * (via == 1).sum() < tried:
                break
        # 2. an exact solve, whose minimum cut bounds every sink; then per-sink sub-graphs holding what it taught
        #    (its cut's edges, the edges its flow used). Repeat, largest gap first, until every sink is settled.
        #    A sub-graph lower bound costs about half an exact solve (itself a few sub-graph solves): stop the rounds
        #    once one settles less than half of its sinks (each sink then has its own cut, as in shallow rows), and
        #    try the denser tier only when the first settled a quarter.
        rate = 1.0  # share of the sinks the last round settled
        while open_.any():
            j_exact = int(np.argmax(np.where(open_, UB - lo, -1)))
            self._exact(j_exact, UB, lo, flows, _LOOSE)
            exact[j_exact], open_[j_exact] = True, False
            for k in np.flatnonzero(open_ & (UB - lo <= _LOOSE)):  # settled by the new cut
                open_[k], via[k] = False, via[k] or 2
                flows.pop(int(k), None)
            self._common = []
            for busy_rows in self.busy:
                common = self.learned.copy()
                common[self.sub] = True
                common[busy_rows] = True
                self._common.append(np.flatnonzero(common))
            if rate < 0.5:
                continue
            tried, before = open_.sum(), open_.sum()
            # the learned edges often suffice without a per-sink sub-graph: use them while they settle 3 in 4
            shared, ok, n_sh = _Pattern(self, self._common[0]), 0, 0
            for k in np.flatnonzero(open_):
                if n_sh >= 8 and 4 * ok < 3 * n_sh:
                    break
                lower_bound(int(k), self._common[0], shared, _LOOSE)
                n_sh, ok = n_sh + 1, ok + (not open_[k])
            for tier in range(len(self._common)):
                if tier and (len(self._common[tier]) == len(self._common[0]) or 4 * (before - open_.sum()) < tried):
                    break
                for k in np.flatnonzero(open_):
                    lower_bound(int(k), *self._funnel(int(k), tier), _LOOSE)
            rate = (before - open_.sum()) / max(tried, 1)
        # 3. close every bracket to _TOL when the normalised map's error bound is not small enough, or the graph is
        #    small enough for the second passes to cost next to nothing
        if self.E <= _STRICT_EDGES or not _map_error_ok(lo, UB):
            for j in np.flatnonzero(UB - lo > _TOL):
                if not exact[j]:
                    if via[j] == 1:
                        lower_bound(int(j), self.sub, sub, _TOL)
                    else:
                        lower_bound(int(j), *self._funnel(int(j), len(self._common) - 1), _TOL)
                if UB[j] - lo[j] > _TOL:  # not settled on its sub-graph: solve it on the full graph
                    self._exact(int(j), UB, lo, flows, _TOL)
            if (UB - lo > _TOL).any():  # capacities spanning too many orders of magnitude for float64
                warnings.warn(
                    f"attention flow: bounds differ by up to {np.max(UB - lo) * self.scale:.2g} on a raw flow value",
                    RuntimeWarning,
                    stacklevel=4,
                )
        return UB * self.scale  # each value is its cut's capacity, within _TOL (or _LOOSE) of a flow found

    def _caps(self, ids: np.ndarray, j: int) -> np.ndarray:
        """Capacities of the edges ``ids`` (sink edges last) for sink j."""
        c = self.c[ids]
        c[-self.n1 :] = self.sink_caps[j]
        return c

    def _funnel(self, j: int, tier: int = 0) -> tuple[np.ndarray, _Pattern]:
        """Sink j's sub-graph: the sparse base, the edges learned from exact solves, the edges into token j's column
        at every layer, and all in-edges of the layer-1 nodes with sink j's largest capacities."""
        feeders = np.argpartition(-self.sink_caps[j], min(_FEEDERS, self.n1) - 1)[:_FEEDERS]
        extra = np.unique(np.concatenate([self._into_tok[j]] + [self._into1(int(i)) for i in feeders]))
        common = self._common[tier]
        at = np.searchsorted(common, extra)
        new = extra[(at == len(common)) | (common[np.minimum(at, len(common) - 1)] != extra)]
        ids = np.insert(common, np.searchsorted(common, new), new)  # a sorted union of two sorted sets
        return ids, _Pattern(self, ids)

    def _into1(self, i: int) -> np.ndarray:
        """Block edges into the i-th reachable layer-1 node."""
        if i not in self._into1_tok:
            e = self._into_tok[int(self.sink_rows[i])]
            self._into1_tok[i] = e[self.into1[e]]
        return self._into1_tok[i]

    def _exact(self, j: int, UB: np.ndarray, lo: np.ndarray, flows: dict, tol: float) -> None:
        """Solve sink j exactly; its cut, re-optimised at layer 1 per sink, bounds every sink.

        Edge generation: solve on a sub-graph, take the minimum cut X of that solve, price it with the full graph's
        capacities, add the graph's edges that cross X but are missing from the sub-graph, and repeat. When no edge
        is missing, X's capacity in the graph equals the sub-graph's max flow: both are the graph's max flow. A
        sub-graph grown past half the graph gives way to the full graph."""
        if j in flows:
            ids, f = flows.pop(j)
        else:
            ids = self._common[-1] if self._common else self.sub
            f = np.zeros(len(ids))
        c_full = self._caps(np.arange(self.E), j)
        full = False
        while True:
            if full or 2 * len(ids) > self.E:
                if self._full is None:
                    self._full = _Pattern(self, np.arange(self.E))
                f_full = np.zeros(self.E)
                f_full[ids] = f
                ids, f = np.arange(self.E), f_full
                pat = self._full
            else:
                pat = _Pattern(self, ids)
            f, flo, _, X = pat.exact(c_full[ids], f, UB[j], tol)
            cut = X[self.u] & ~X[self.v]
            lo[j], UB[j] = max(lo[j], flo), min(UB[j], float(c_full[cut].sum()))
            if UB[j] - lo[j] <= tol or len(ids) == self.E:
                break
            missing = cut.copy()
            missing[ids] = False
            if not missing.any():  # the sub-graph's bounds did not meet (rounding): finish on the graph
                full = True
                continue
            new = np.flatnonzero(missing)
            pos = np.searchsorted(ids, new)
            f = np.insert(f, pos, 0.0)
            ids = np.insert(ids, pos, new)
        # the cut's edges above layer 1 do not depend on the sink; at layer 1 each sink picks, per node i, the
        # cheaper of cutting its sink edge (capacity d_i) or the edges into it from the cut's source side (in_i)
        f_full = np.zeros(self.E)
        f_full[ids] = f
        e1 = self.into1 & X[self.u]
        self.learned |= cut | (f_full > 1e-9 * max(UB[j], 1e-300))
        c_up = self.c[self.upper & cut].sum()
        in1 = np.bincount(self.v[e1] - (self.T - self.n1), weights=self.c[e1], minlength=self.n1)
        UB[:] = np.minimum(UB, c_up + np.minimum(self.sink_caps, in1[None, :]).sum(1))


def _map_error_ok(lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether reporting hi/Σhi is within _MAP_TOL of F/ΣF for every F with lo <= F <= hi.

    |hi_j/Σhi - F_j/ΣF| <= (w_j + hi_j·W/Σlo) / Σlo with w = hi - lo, W = Σ w."""
    w = np.maximum(hi - lo, 0.0)
    total = lo.sum()
    if total <= 0:
        return bool((w <= _TOL).all())
    return bool(((w + hi * w.sum() / total) / total).max() <= _MAP_TOL)


def _top_mask(M: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """[R, N] bool: the k largest entries of every row and every column of M, and the diagonal (i, rows[i])."""
    R, N = M.shape
    if k >= N or k >= R:
        return np.ones(M.shape, bool)
    mask = M >= np.partition(M, N - k, axis=1)[:, N - k, None]
    mask |= M >= np.partition(M, R - k, axis=0)[R - k][None, :]
    mask[np.arange(R), rows] = True
    return mask


class _Pattern:
    """The residual graph of the edges ``ids`` (sorted, sink edges last) of a row: CSR layout and integer passes.

    The residual has a forward entry (u -> v) and a backward entry (v -> u) per edge. Node ids grow from S = 0 down
    the layers to T, so a node's row lists its backward entries (to the layer above) before its forward entries (to
    the layer below), each group in edge order: the CSR is laid out by counting, without a sort.
    """

    def __init__(self, row: _Row, ids: np.ndarray):
        u, v = row.u[ids], row.v[ids]
        n = row.n
        self.E, self.n, self.S, self.T, self.u, self.v = len(ids), n, row.S, row.T, u, v
        cnt_b = np.bincount(v, minlength=n)
        cnt_f = np.bincount(u, minlength=n)
        start = np.zeros(n + 1, np.int64)
        np.cumsum(cnt_b + cnt_f, out=start[1:])
        k = np.arange(self.E)
        first_f = np.concatenate([[0], np.cumsum(cnt_f)[:-1]])  # ids are sorted by (u, v)
        self.fwd = start[u] + cnt_b[u] + (k - first_f[u])
        # sorted by (v, u); numpy's stable sort is a radix sort for 16-bit keys
        by_v = np.argsort(v.astype(np.uint16) if n <= 65536 else v, kind="stable")
        first_b = np.concatenate([[0], np.cumsum(cnt_b)[:-1]])
        self.bwd = np.empty(self.E, np.int64)
        self.bwd[by_v] = start[v[by_v]] + (k - first_b[v[by_v]])
        indices = np.empty(2 * self.E, np.int32)
        indices[self.fwd] = v
        indices[self.bwd] = u
        self.indices, self.indptr = indices, start.astype(np.int32)
        self.src = np.flatnonzero(u == row.S)

    def _pass(self, caps: np.ndarray, f: np.ndarray, R: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One integer max flow on the real residual of f, scaled by a power of two S ~ 2^30 / R and floored."""
        S = float(np.exp2(np.floor(np.log2(_INT_CAP / R))))
        vals = np.empty(2 * self.E)
        vals[self.fwd] = caps - f
        vals[self.bwd] = f
        vals *= S
        np.floor(vals, out=vals)
        np.clip(vals, 0, _INT_CAP, out=vals)
        data = vals.astype(np.int32)
        G = sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))
        G.has_sorted_indices = True
        fd = maximum_flow(G, self.S, self.T).flow.data
        if len(fd) != len(data):  # scipy keeps the layout when every reverse entry exists, as here
            raise RuntimeError("unexpected flow layout from scipy.sparse.csgraph.maximum_flow")
        return f + fd[self.fwd] / S, data, fd, S

    def lower_bound(self, caps: np.ndarray, target: float, tol: float) -> tuple[np.ndarray, float]:
        """A flow (and its value) on this sub-graph, stopping once it is within tol of ``target`` (an upper bound)."""
        f = np.zeros(self.E)
        lo = 0.0
        for _ in range(_SUB_PASSES):
            if target - lo <= tol:
                break
            f_new, _, _, S = self._pass(caps, f, target - lo)
            lo_new = float(f_new[self.src].sum())
            if lo_new <= lo:
                break
            f, lo = f_new, lo_new
            # each of the 2E residual entries loses < 1/S to the floor, so this sub-graph's max flow is below
            # lo + 2E/S: when that is short of the target, more passes cannot settle this sink
            if target - lo > 2 * self.E / S:
                break
        return f, lo

    def exact(
        self, caps: np.ndarray, f: np.ndarray, hi: float, tol: float
    ) -> tuple[np.ndarray, float, float, np.ndarray]:
        """Max flow to within tol, from the feasible flow f and an upper bound hi: (flow, lo, hi, source side of a
        minimum cut of the last integer pass)."""
        lo = float(f[self.src].sum())
        X = np.zeros(self.n, bool)
        X[self.S] = True
        for _ in range(_FULL_PASSES):
            if hi - lo <= tol:
                break
            f, data, fd, _ = self._pass(caps, f, hi - lo)
            lo = float(f[self.src].sum())
            resid = (data > fd).astype(np.int8)
            Gr = sp.csr_array((resid, self.indices.copy(), self.indptr.copy()), shape=(self.n, self.n))
            Gr.eliminate_zeros()
            X = np.zeros(self.n, bool)
            X[breadth_first_order(Gr, self.S, directed=True, return_predecessors=False)] = True
            hi = min(hi, float(caps[X[self.u] & ~X[self.v]].sum()))
        return f, lo, hi, X
