"""Compiled inner loops (numba) for ownership and control. Pure functions over arrays.

Conventions: entities are 0..n-1; the owners of entity j are ``in_idx[in_ptr[j]:in_ptr[j+1]]``
with stake bounds ``in_lo``/``in_hi`` (fractions); ``root`` marks the entities whose holdings
are counted (state organs, or one owner); a root's value is fixed (its own owners are ignored),
also when it sits inside a cyclic component.

Two monotone maps are propagated over the condensation of the graph in topological order:

* mode SHARE: ``s_j = sum_i w_ij * x_i`` with ``x_i = 1`` for a root, ``s_i`` otherwise
  (integrated share held by the roots together);
* mode CONTROL: ``c_j = sum_i min(w_ij, v_i)`` with ``v_i = inf`` for a root, ``c_i`` when
  ``c_i >= t`` and 0 otherwise (La Porta weakest-link control at threshold t; chains add up).

Upper bounds use the worst case over stakes inside their intervals with every entity's owners
holding at most 100% in total (a fractional knapsack per entity). See docs/ownership.md.
"""

from __future__ import annotations

import numba as nb
import numpy as np

SHARE = 0
CONTROL = 1

# flags per strongly connected component
F_CYCLIC = 1
F_LO_NOT_CONVERGED = 2
F_HI_FALLBACK = 4
F_CLOSED = 8
F_MAYBE_CLOSED = 16
F_UNREACHED = 32
F_HI_NOT_CONVERGED = 64

WANT_LO = 1  # which bound a caller of _eval uses
WANT_HI = 2

CERTIFY_STEPS = (1e-12, 1e-9, 1e-6, 1e-3, 1e-1)
# G(y) <= y is checked up to the rounding of G's own evaluation: a member whose unknown stakes
# can fill all its remaining room has G(y + s) = G(y) + s exactly, and the comparison is then
# decided by the last bit
CERTIFY_SLACK = 1e-15


@nb.njit(cache=True, inline="always")
def _knapsack(hi_val, room, k, vals, caps):
    """`hi_val` plus the best use of `room` over the extras (value vals[q], up to caps[q])."""
    if k == 1:
        return hi_val + min(room, caps[0]) * vals[0]
    if k > 32:
        order = np.argsort(-vals[:k])
        for q in order:
            take = min(room, caps[q])
            hi_val += take * vals[q]
            room -= take
            if room <= 0.0:
                break
        return hi_val
    # insertion sort of the (few) extras by value, largest first, in the buffers
    for a in range(1, k):
        v = vals[a]
        cp = caps[a]
        b = a - 1
        while b >= 0 and vals[b] < v:
            vals[b + 1] = vals[b]
            caps[b + 1] = caps[b]
            b -= 1
        vals[b + 1] = v
        caps[b + 1] = cp
    for q in range(k):
        take = min(room, caps[q])
        hi_val += take * vals[q]
        room -= take
        if room <= 0.0:
            break
    return hi_val


@nb.njit(cache=True, inline="always")
def _inside(i, c, comp, first, last):
    """Whether entity i belongs to component c: by ``comp``, or, when the entities are numbered
    by position (``comp`` empty), by c's positions first..last."""
    if len(comp) == 0:
        return first <= i <= last
    return comp[i] == c


@nb.njit(cache=True, inline="always")
def _eval(
    j, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, comp, skip_c, skip_a, skip_b, vals, caps, want
):
    """(lower, upper) of entity j's value given its owners' current values; `want` (WANT_LO,
    WANT_HI) says which of the two the caller uses (the other is returned as 0). For the lower
    bound, owners in component `skip_c` (other than roots; see `_inside` for skip_a, skip_b)
    are left out (-1: none)."""
    lo_sum = 0.0
    lo_val = 0.0
    hi_val = 0.0
    k = 0
    for e in range(in_ptr[j], in_ptr[j + 1]):
        i = in_idx[e]
        lw = in_lo[e]
        if want == WANT_LO:
            if skip_c >= 0 and _inside(i, skip_c, comp, skip_a, skip_b) and not root[i]:
                continue
            if mode == SHARE:
                lo_val += lw * (1.0 if root[i] else vlo[i])
            else:
                xl = 2.0 if root[i] else (vlo[i] if vlo[i] >= t else 0.0)
                lo_val += min(lw, xl)
            continue
        hw = in_hi[e]
        lo_sum += lw
        if mode == SHARE:
            xh = 1.0 if root[i] else vhi[i]
            hi_val += lw * xh
            c = hw - lw
            if c > 0.0 and xh > 0.0:
                vals[k] = xh
                caps[k] = c
                k += 1
        else:
            xh = 2.0 if root[i] else (vhi[i] if vhi[i] >= t else 0.0)
            hi_val += min(lw, xh)
            c = min(hw, xh) - lw
            if c > 0.0:
                vals[k] = 1.0
                caps[k] = c
                k += 1
    if want == WANT_LO:
        return min(lo_val, 1.0), 0.0
    room = 1.0 - lo_sum
    if room > 0.0 and k > 0:
        hi_val = _knapsack(hi_val, room, k, vals, caps)
    return 0.0, min(hi_val, 1.0)


SMALL = 4  # cyclic components up to this size get their SHARE fixed points by elimination
PIVOT_MIN = 0.05  # ... when every pivot of (I - A) is at least this (well conditioned)
SOLVE_MARGIN = 1e-14  # taken off a solved lower bound (rounding in the elimination)


@nb.njit(cache=True, inline="always")
def _small_fixed_points(mem, c, comp, root, in_ptr, in_idx, in_lo, vlo, vhi, mat, rhs):
    """SHARE in a small cyclic component: the fixed points of ``x = A x + b`` for the lower map
    (b from the outside owners' lower values) and for the upper map without the ranges' room
    (b from their upper values), by Gaussian elimination with partial pivoting; A holds the
    members' lower stakes in each other. Writes the first (less SOLVE_MARGIN) into `vlo` and
    leaves the second in ``rhs[2q+1]``; returns False (writing nothing) when a pivot is below
    PIVOT_MIN or a value falls outside [0, 1], and the caller iterates instead."""
    k = len(mem)
    for a in range(k):
        for b in range(k):
            mat[a * SMALL + b] = 1.0 if a == b else 0.0
        rhs[2 * a] = 0.0
        rhs[2 * a + 1] = 0.0
        j = mem[a]
        if root[j]:
            rhs[2 * a] = 1.0
            rhs[2 * a + 1] = 1.0
            continue
        for e in range(in_ptr[j], in_ptr[j + 1]):
            i = in_idx[e]
            w = in_lo[e]
            if _inside(i, c, comp, mem[0], mem[k - 1]) and not root[i]:
                b = 0
                while mem[b] != i:
                    b += 1
                mat[a * SMALL + b] -= w
            else:
                rhs[2 * a] += w * vlo[i]
                rhs[2 * a + 1] += w * vhi[i]
    for col in range(k):
        piv = col
        for r in range(col + 1, k):
            if abs(mat[r * SMALL + col]) > abs(mat[piv * SMALL + col]):
                piv = r
        if abs(mat[piv * SMALL + col]) < PIVOT_MIN:
            return False
        if piv != col:
            for b in range(k):
                mat[col * SMALL + b], mat[piv * SMALL + b] = mat[piv * SMALL + b], mat[col * SMALL + b]
            for z in range(2):
                rhs[2 * col + z], rhs[2 * piv + z] = rhs[2 * piv + z], rhs[2 * col + z]
        d = mat[col * SMALL + col]
        for r in range(col + 1, k):
            f = mat[r * SMALL + col] / d
            if f != 0.0:
                for b in range(col, k):
                    mat[r * SMALL + b] -= f * mat[col * SMALL + b]
                for z in range(2):
                    rhs[2 * r + z] -= f * rhs[2 * col + z]
    for a in range(k - 1, -1, -1):
        for z in range(2):
            acc = rhs[2 * a + z]
            for b in range(a + 1, k):
                acc -= mat[a * SMALL + b] * rhs[2 * b + z]
            x = acc / mat[a * SMALL + a]
            if not (-1e-12 <= x <= 1.0):
                return False
            rhs[2 * a + z] = x
    for a in range(k):
        if not root[mem[a]]:
            vlo[mem[a]] = max(0.0, rhs[2 * a] - SOLVE_MARGIN)
    return True


@nb.njit(cache=True, inline="always")
def _cyclic(
    mem, c, comp, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, reach, vals, caps, mat, rhs,
    base, newv, sweep_budget, max_sweeps, tol,
):  # fmt: skip
    """Bounds for the members `mem` of cyclic component c (every owner outside it already has its
    values); returns the component's flags.

    The lower bound is iterated upward from 0 (SHARE: Gauss-Seidel on the lower map; CONTROL:
    chains through the component's own members are left out), and the upper bound is the least
    fixed point of the worst-case map, approached from below and then certified: a vector y with
    G(y) <= y bounds every feasible value; if no small step above the iterate is certified, the
    iteration falls back to descending from 1, where every iterate is such a y.
    """
    flags = F_CYCLIC
    size = len(mem)
    a = mem[0]  # first and last member (the members' positions, when numbered by position)
    b = mem[size - 1]
    # reachability and closure
    r = False
    closed = True
    maybe_closed = True
    n_edges = 0
    for q in range(size):
        j = mem[q]
        if root[j]:
            vlo[j] = 1.0
            vhi[j] = 1.0
            r = True
            closed = False
            maybe_closed = False
            continue
        in_lo_sum = 0.0
        out_lo_sum = 0.0
        in_hi_sum = 0.0
        for e in range(in_ptr[j], in_ptr[j + 1]):
            i = in_idx[e]
            n_edges += 1
            if _inside(i, c, comp, a, b):
                in_lo_sum += in_lo[e]
                in_hi_sum += in_hi[e]
            else:
                out_lo_sum += in_lo[e]
                if reach[i]:
                    r = True
        if in_lo_sum < 1.0 - 1e-12:
            closed = False
        if out_lo_sum > 1e-12 or in_hi_sum < 1.0 - 1e-12:
            maybe_closed = False
    if closed:
        return flags | F_CLOSED
    if maybe_closed:
        flags |= F_MAYBE_CLOSED
    if not r:
        return flags | F_UNREACHED
    for q in range(size):
        reach[mem[q]] = True
    sweeps = max(20, min(max_sweeps, sweep_budget // max(n_edges, 1)))
    # lower bound
    solved = False
    if mode == SHARE and size <= SMALL:
        solved = _small_fixed_points(mem, c, comp, root, in_ptr, in_idx, in_lo, vlo, vhi, mat, rhs)
    if solved:
        pass
    elif mode == SHARE:
        done = False
        for _ in range(sweeps):
            delta = 0.0
            for q in range(size):
                j = mem[q]
                if root[j]:
                    continue
                lo, hi = _eval(
                    j,
                    mode,
                    t,
                    in_ptr,
                    in_idx,
                    in_lo,
                    in_hi,
                    root,
                    vlo,
                    vhi,
                    comp,
                    -1,
                    a,
                    b,
                    vals,
                    caps,
                    WANT_LO,
                )
                if lo > vlo[j]:
                    delta = max(delta, lo - vlo[j])
                    vlo[j] = lo
            if delta <= tol:
                done = True
                break
        if not done:
            flags |= F_LO_NOT_CONVERGED
    else:
        for q in range(size):
            j = mem[q]
            if root[j]:
                continue
            lo, hi = _eval(
                j, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, comp, c, a, b, vals, caps, WANT_LO
            )
            vlo[j] = lo
    # upper bound: ascend to (near) the least fixed point of the worst-case map, from the lower
    # bound or from the solved fixed point of the upper map without the ranges' room (both lie
    # below it) ...
    for q in range(size):
        j = mem[q]
        vhi[j] = vlo[j]
        if solved and not root[j]:
            vhi[j] = max(vlo[j], rhs[2 * q + 1])
    for _ in range(sweeps):
        delta = 0.0
        for q in range(size):
            j = mem[q]
            if root[j]:
                continue
            lo, hi = _eval(
                j, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, comp, -1, a, b, vals, caps, WANT_HI
            )
            if hi > vhi[j]:
                delta = max(delta, hi - vhi[j])
                vhi[j] = hi
        if delta <= tol:
            break
    # ... then certify a point just above it: G(y) <= y makes y an upper bound
    for q in range(size):
        base[q] = vhi[mem[q]]
    accepted = False
    used_step = 0.0
    for step in CERTIFY_STEPS:
        used_step = step
        for q in range(size):
            vhi[mem[q]] = min(1.0, base[q] + step)
        ok = True
        for q in range(size):
            j = mem[q]
            if root[j]:
                newv[q] = 1.0
                continue
            lo, hi = _eval(
                j, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, comp, -1, a, b, vals, caps, WANT_HI
            )
            newv[q] = hi
            if hi > vhi[j] + CERTIFY_SLACK:
                ok = False
                break
        if ok:
            for q in range(size):
                vhi[mem[q]] = newv[q]
            accepted = True
            break
    if not accepted:
        flags |= F_HI_FALLBACK
        for q in range(size):
            vhi[mem[q]] = 1.0
    # descend from the certified point: every step stays certified and can only tighten
    # (the map jumps where control reaches the threshold, so the ascent may stop short; and
    # where the ascent converged slowly, a point certified with a coarser step than the first
    # is up to that step above the fixed point until it descends)
    if mode == CONTROL or not accepted or used_step > CERTIFY_STEPS[0]:
        flags |= F_HI_NOT_CONVERGED
        for _ in range(sweeps):
            delta = 0.0
            for q in range(size):
                j = mem[q]
                if root[j]:
                    continue
                lo, hi = _eval(
                    j,
                    mode,
                    t,
                    in_ptr,
                    in_idx,
                    in_lo,
                    in_hi,
                    root,
                    vlo,
                    vhi,
                    comp,
                    -1,
                    a,
                    b,
                    vals,
                    caps,
                    WANT_HI,
                )
                if hi < vhi[j]:
                    delta = max(delta, vhi[j] - hi)
                    vhi[j] = hi
            if delta <= tol:
                flags &= ~F_HI_NOT_CONVERGED
                break
    for q in range(size):
        j = mem[q]
        if vlo[j] > vhi[j]:
            vlo[j] = vhi[j]
    return flags


@nb.njit(cache=True, inline="always")
def _owners_placed(w, in_ptr, in_idx, in_lo, in_hi, rindex, big, nr, out, p_idx, p_lo, p_hi):
    """Whether every owner of w already has its position (then w is a component by itself).
    With `nr`, w's row is copied from `out` on as it is checked (owners as positions); returns
    (placed, end of the copy)."""
    for f in range(in_ptr[w], in_ptr[w + 1]):
        ro = rindex[in_idx[f]]
        if ro < big:
            return False, out
        if nr:
            p_idx[out] = ro - big
            p_lo[out] = in_lo[f]
            p_hi[out] = in_hi[f]
            out += 1
    return True, out


@nb.njit(cache=True)
def solve(
    mode, t, in_ptr, in_idx, in_lo, in_hi, root, values, renumber, comp, perm, cptr, cyclic,
    sweep_budget, max_sweeps, tol,
):  # fmt: skip
    """Lower and upper bounds of the mode's value for every entity, and flags per component.

    Components are taken in topological order (owners first) and each is evaluated as soon as
    it is known: a one-entity component once, exactly; a cyclic one by `_cyclic`. The order is
    either given (`cptr` non-empty: component r holds entities ``perm[cptr[r]:cptr[r+1]]``,
    ``comp`` and ``cyclic`` as `solve` returns them; with `perm` and `comp` empty, the CSR is
    numbered by position and component r is entities ``cptr[r]..cptr[r+1]-1``) or found in the
    same pass: Pearce's
    iterative variant of Tarjan's algorithm walks from every entity to its owners, so a
    component completes only after every component holding a stake in it, and completion order
    is topological. An entity whose owners are all placed when it is reached (most of a
    registry) is a component by itself and is evaluated at once. Once placed, a vertex's DFS
    index becomes ``n + 1 + position``: larger than every live index, so the algorithm's
    comparisons ignore it. With `values` False only the components are found. With `renumber`
    (when the components are found), each placed component's rows of the owners' CSR are also
    copied out in position order with owners as positions, while they are still in the cache.

    Returns:
        (vlo, vhi, flags, comp, perm, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi): bounds per entity
        (fractions; empty without `values`); flags per component; ``comp[v]`` the rank of v's
        component; ``perm`` position -> entity; component r at positions
        ``cptr[r]..cptr[r+1]-1`` (members by ascending index); ``cyclic[r]`` when a stake joins
        two of its members (or one member to itself); the renumbered owners' CSR (empty
        without `renumber`).
    """
    n = len(in_ptr) - 1
    given = len(cptr) > 0
    by_entity = not given or len(perm) > 0  # otherwise the CSR is numbered by position
    membuf = np.empty(SMALL, np.int64)
    nv = n if values else 0
    vlo = np.zeros(nv)
    vhi = np.zeros(nv)
    reach = np.zeros(nv, np.bool_)
    nr = n if renumber and not given else 0
    p_ptr = np.zeros(nr + 1, np.int64)
    p_idx = np.empty(in_ptr[n] if nr else 0, in_idx.dtype)
    p_lo = np.empty(len(p_idx), in_lo.dtype)
    p_hi = np.empty(len(p_idx), in_hi.dtype)
    out = 0
    maxdeg = 1
    if values:
        for j in range(n):
            d = in_ptr[j + 1] - in_ptr[j]
            if d > maxdeg:
                maxdeg = d
    vals = np.empty(maxdeg)
    caps = np.empty(maxdeg)
    mat = np.empty(SMALL * SMALL)
    rhs = np.empty(2 * SMALL)
    base = np.empty(SMALL)  # grown for larger cyclic components
    newv = np.empty(SMALL)
    big = n + 1
    if given:
        n_given = len(cptr) - 1
        flags = np.zeros(n_given, np.int32)
        rindex = np.zeros(0, np.int64)
        stack = rindex
        enext = rindex
        is_root = np.zeros(0, np.bool_)
    else:
        n_given = 0
        flags = np.zeros(n, np.int32)
        rindex = np.zeros(n, np.int64)  # 0 unvisited; 1..n live DFS index; big + position once placed
        # DFS frames grow from the bottom of `stack`, vertices waiting for their component's root
        # from the top: a vertex is in at most one of the two, so n slots hold both
        stack = np.empty(n, np.int64)
        enext = np.empty(n, np.int64)  # next stake of each frame
        is_root = np.empty(n, np.bool_)
        comp = np.empty(n, np.int64)
        perm = np.empty(n, np.int64)
        cptr = np.empty(n + 1, np.int64)
        cyclic = np.zeros(n, np.bool_)
        cptr[0] = 0
    index = 1
    top = n  # waiting vertices: stack[top:n], the latest first
    npos = 0
    ncomp = 0
    depth = -1
    s = 0
    while True:
        # 1. the next component in topological order: one entity (`single`) or positions first..last-1
        single = -1
        first = 0
        last = 0
        fast = False
        end = out
        if given:
            if ncomp == n_given:
                break
            first = cptr[ncomp]
            last = cptr[ncomp + 1]
            if not cyclic[ncomp]:
                single = perm[first] if by_entity else first
        else:
            if depth < 0:
                while s < n and rindex[s] != 0:
                    s += 1
                if s == n:
                    break
                fast, end = _owners_placed(
                    s, in_ptr, in_idx, in_lo, in_hi, rindex, big, nr, out, p_idx, p_lo, p_hi
                )
                if fast:
                    single = s  # a component by itself (most of a registry)
                else:
                    depth = 0
                    stack[0] = s
                    enext[0] = in_ptr[s]
                    is_root[0] = True
                    rindex[s] = index
                    index += 1
            if single < 0:
                v = stack[depth]
                rv = rindex[v]
                e = enext[depth]
                end = in_ptr[v + 1]
                descended = False
                while e < end:
                    w = in_idx[e]
                    rw = rindex[w]
                    if rw == 0:
                        enext[depth] = e  # come back to this stake once w is done
                        fast, end = _owners_placed(
                            w, in_ptr, in_idx, in_lo, in_hi, rindex, big, nr, out, p_idx, p_lo, p_hi
                        )
                        if fast:
                            single = w  # a component by itself, evaluated before v goes on
                            break
                        depth += 1
                        stack[depth] = w
                        enext[depth] = in_ptr[w]
                        is_root[depth] = True
                        rindex[w] = index
                        index += 1
                        descended = True
                        break
                    if rw < rv:
                        rv = rw
                        is_root[depth] = False
                    e += 1
                rindex[v] = rv
                if descended:
                    continue
            if single < 0:
                depth -= 1
                if not is_root[depth + 1]:
                    top -= 1
                    stack[top] = v
                    continue
                # v roots a component: itself and the waiting vertices indexed at or after it
                k = top
                while k < n and rindex[stack[k]] >= rv:
                    k += 1
                if k == top:
                    single = v
                    for f in range(in_ptr[v], in_ptr[v + 1]):
                        if in_idx[f] == v:
                            single = -1  # a stake in itself: a cyclic component of one
                            break
                if single < 0:
                    first = npos
                    grp = np.empty(k - top + 1, np.int64)
                    grp[: k - top] = stack[top:k]
                    grp[k - top] = v
                    grp.sort()
                    for u in grp:
                        perm[npos] = u
                        rindex[u] = big + npos
                        comp[u] = ncomp
                        npos += 1
                    last = npos
                    cyclic[ncomp] = True
                top = k
            if single >= 0:
                perm[npos] = single
                rindex[single] = big + npos
                comp[single] = ncomp
                npos += 1
            cptr[ncomp + 1] = npos
            if nr and fast:
                out = end
                p_ptr[npos] = out
            elif nr:
                for q in range(cptr[ncomp], npos):
                    u = perm[q]
                    for f in range(in_ptr[u], in_ptr[u + 1]):
                        p_idx[out] = rindex[in_idx[f]] - big
                        p_lo[out] = in_lo[f]
                        p_hi[out] = in_hi[f]
                        out += 1
                    p_ptr[q + 1] = out
        c = ncomp
        ncomp += 1
        if not values:
            continue
        # 2. its values (every owner outside it has its own by now)
        if single < 0:
            if last - first > len(base):
                base = np.empty(2 * (last - first))
                newv = np.empty(2 * (last - first))
            if by_entity:
                mem = perm[first:last]
            else:
                if last - first > len(membuf):
                    membuf = np.empty(2 * (last - first), np.int64)
                mem = membuf[: last - first]
                for q in range(last - first):
                    mem[q] = first + q
            flags[c] = _cyclic(
                mem, c, comp, mode, t, in_ptr, in_idx, in_lo, in_hi, root, vlo, vhi, reach,
                vals, caps, mat, rhs, base, newv, sweep_budget, max_sweeps, tol,
            )  # fmt: skip
            continue
        j = single
        if root[j]:
            # a root's value is 1.0, which acts as SHARE's 1 and as CONTROL's unbounded value
            # alike (every stake is at most 1), so the owners' root flags need not be read
            vlo[j] = 1.0
            vhi[j] = 1.0
            reach[j] = True
            continue
        lo_sum = 0.0
        lo_val = 0.0
        hi_val = 0.0
        kk = 0
        r = False
        for e in range(in_ptr[j], in_ptr[j + 1]):
            i = in_idx[e]
            lw = in_lo[e]
            hw = in_hi[e]
            lo_sum += lw
            r |= reach[i]
            xl = vlo[i]
            xh = vhi[i]
            if mode == SHARE:
                lo_val += lw * xl
                hi_val += lw * xh
                cap = hw - lw
                if cap > 0.0 and xh > 0.0:
                    vals[kk] = xh
                    caps[kk] = cap
                    kk += 1
            else:
                if xl < t:
                    xl = 0.0
                if xh < t:
                    xh = 0.0
                lo_val += min(lw, xl)
                hi_val += min(lw, xh)
                cap = min(hw, xh) - lw
                if cap > 0.0:
                    vals[kk] = 1.0
                    caps[kk] = cap
                    kk += 1
        if not r:
            flags[c] |= F_UNREACHED
            continue
        reach[j] = True
        room = 1.0 - lo_sum
        if room > 0.0 and kk > 0:
            hi_val = _knapsack(hi_val, room, kk, vals, caps)
        vlo[j] = min(lo_val, 1.0)
        vhi[j] = min(hi_val, 1.0)
    if given:
        return vlo, vhi, flags, comp, perm, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi
    return vlo, vhi, flags[:ncomp], comp, perm, cptr[: ncomp + 1], cyclic[:ncomp], p_ptr, p_idx, p_lo, p_hi


@nb.njit(cache=True)
def majority_parent(in_ptr, in_idx, in_lo, in_hi, root):
    """Each entity's majority owner (> 50%): (parent or -1, definite).

    Definite when the owner's lower bound is above 50%; otherwise possible when the owner can
    pass 50% given what the other owners hold at least.
    """
    n = len(root)
    par = np.full(n, -1, np.int64)
    definite = np.zeros(n, np.bool_)
    for j in range(n):
        if root[j]:
            continue
        lo_sum = 0.0
        best = -1
        best_v = 0.5
        for e in range(in_ptr[j], in_ptr[j + 1]):
            lo_sum += in_lo[e]
            if in_lo[e] > best_v:
                best = in_idx[e]
                best_v = in_lo[e]
        if best >= 0:
            par[j] = best
            definite[j] = True
            continue
        best_v = 0.5
        for e in range(in_ptr[j], in_ptr[j + 1]):
            cap = min(in_hi[e], 1.0 - (lo_sum - in_lo[e]))
            if cap > best_v:
                best = in_idx[e]
                best_v = cap
        par[j] = best
    return par, definite


@nb.njit(cache=True)
def follow_majority(par, definite):
    """Top of each entity's majority chain: (top or -1 inside/into a cycle, all hops definite, depth)."""
    n = len(par)
    top = np.full(n, -1, np.int64)
    chain_def = np.zeros(n, np.bool_)
    depth = np.zeros(n, np.int64)
    state = np.zeros(n, np.int8)
    pos = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    for s in range(n):
        if state[s] == 2:
            continue
        sp = 0
        v = s
        while True:
            if state[v] == 2:
                break
            if state[v] == 1:
                for q in range(pos[v], sp):
                    u = stack[q]
                    top[u] = -1
                    chain_def[u] = False
                    depth[u] = -1
                    state[u] = 2
                sp = pos[v]
                break
            state[v] = 1
            pos[v] = sp
            stack[sp] = v
            sp += 1
            p = par[v]
            if p < 0:
                top[v] = v
                chain_def[v] = True
                depth[v] = 0
                state[v] = 2
                sp -= 1
                break
            v = p
        while sp > 0:
            sp -= 1
            u = stack[sp]
            if state[u] == 2:
                continue
            p = par[u]
            top[u] = top[p]
            if top[p] < 0:
                chain_def[u] = False
                depth[u] = -1
            else:
                chain_def[u] = definite[u] and chain_def[p]
                depth[u] = depth[p] + 1
            state[u] = 2
    return top, chain_def, depth
