"""Brute-force oracles for ownership and control on small graphs (independent of the kernels)."""

from __future__ import annotations

import numpy as np


def state_share_oracle(W: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """Integrated share held by the roots together: x_roots^T sum_k W'^k, by dense linear algebra.

    ``W[i, j]`` = share of j held by i (fractions); stakes into roots are ignored. Uses the
    series when (I - W') is singular (a closed group receives nothing from outside).
    """
    n = len(W)
    Wc = W.copy()
    Wc[:, roots] = 0.0
    v = Wc[roots].sum(axis=0)  # direct holdings of the roots
    Wn = Wc.copy()
    Wn[roots, :] = 0.0  # roots hold through their direct stakes only (counted in v)
    total = np.zeros(n)
    term = v.copy()
    for _ in range(20000):
        total += term
        term = term @ Wn
        if term.max(initial=0.0) < 1e-16:
            break
    total[roots] = 1.0
    return total


def control_oracle(W: np.ndarray, roots: np.ndarray, t: float) -> np.ndarray:
    """Weakest-link control at threshold t, unfolded over simple chains (no entity twice)."""
    n = len(W)
    owners = [[i for i in range(n) if W[i, j] > 0 and not roots[j]] for j in range(n)]

    def c(j: int, visited: frozenset[int]) -> float:
        total = 0.0
        seen = visited | {j}
        for i in owners[j]:
            if i in seen:
                continue
            if roots[i]:
                total += W[i, j]
            else:
                v = c(i, seen)
                if v >= t - 1e-12:
                    total += min(W[i, j], v)
        return total

    out = np.array([1.0 if roots[j] else c(j, frozenset()) for j in range(n)])
    return out


def path_min_sum_oracle(W: np.ndarray, roots: np.ndarray, t: float) -> np.ndarray:
    """Sum over simple root->j paths of the path's weakest stake, each intermediate prefix's
    weakest stake being at least t (La Porta chain rule), by enumerating paths."""
    n = len(W)
    out = np.zeros(n)

    def walk(v: int, weakest: float, visited: set[int]) -> None:
        for j in range(n):
            if W[v, j] <= 0 or j in visited or roots[j]:
                continue
            w = min(weakest, W[v, j])
            out[j] += w
            if w >= t - 1e-12:
                visited.add(j)
                walk(j, w, visited)
                visited.remove(j)

    for r in np.flatnonzero(roots):
        walk(int(r), 2.0, {int(r)})
    out[roots] = 1.0
    return out


def majority_top_oracle(W: np.ndarray, roots: np.ndarray) -> list[int]:
    """Top of each entity's majority chain (exact stakes): -1 when it runs into a cycle."""
    n = len(W)
    par = []
    for j in range(n):
        p = -1
        if not roots[j]:
            for i in range(n):
                if W[i, j] > 0.5:
                    p = i
        par.append(p)
    tops = []
    for j in range(n):
        seen = [j]
        v = j
        while par[v] >= 0:
            v = par[v]
            if v in seen:
                v = -1
                break
            seen.append(v)
        tops.append(v)
    return tops
