"""A compiled bucket problem as the cone program Clarabel takes, solved without CVXPY.

CVXPY compiles a DPP problem once into an affine map from its parameters to the cone
program's data (P, q, A, b), but every ``Problem.solve`` still rebuilds sparse matrices
from that map, goes through its solver interface and maps the solution back through its
reductions: most of the time of a solve of a few hundred variables. A ``ConeProgram``
keeps that map as one sparse matrix whose rows give, applied to the parameter vector,
every number Clarabel is given, in the order CVXPY gives them; the sparsity of P and A,
the cones and each variable's place in the primal solution are fixed. A solve is one
sparse product and one Clarabel call with the settings CVXPY passes, so its answer is
CVXPY's to the last bit.

CVXPY has no public interface to the map: ``_cone_data_map`` is the one place that reads
its private attributes (the version is pinned by uv.lock), and ``_variable_columns`` runs
CVXPY's own inversion on a stand-in for Clarabel's result.
``tests/optimization/test_cone_program.py`` compares the program's data with
``Problem.get_problem_data`` and its solutions with ``Problem.solve``: a CVXPY release
that changes either fails there.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable

import clarabel
import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import CLARABEL, dims_to_solver_cones

SparseStructure = tuple[np.ndarray, np.ndarray, tuple[int, int]]  # CSC indices, indptr, shape


@dataclasses.dataclass(frozen=True)
class ConeSolution:
    status: str  # CVXPY's name of Clarabel's status (``cp.OPTIMAL``, ...)
    solver_status: str  # Clarabel's own name of it
    values: tuple[np.ndarray | None, ...]  # the variables' values when there is a solution


@dataclasses.dataclass(frozen=True)
class ConeData:
    """The numbers of one solve: minimize ½xᵀPx + qᵀx subject to Ax + s = b, s in the cones."""

    P: sp.csc_array  # upper triangle
    q: np.ndarray
    A: sp.csc_array
    b: np.ndarray


@dataclasses.dataclass(frozen=True)
class ConeProgram:
    parameters: tuple[tuple[cp.Parameter, int, int], ...]  # each with its slice of the vector
    vector_size: int  # parameters, then a constant 1
    data_map: sp.csr_array  # the vector -> P's data, q, A's data, b (in that order)
    p_structure: SparseStructure
    a_structure: SparseStructure
    cones: tuple
    variable_columns: tuple[np.ndarray, ...]  # each variable's entries of the primal solution

    def data(self) -> ConeData:
        """The cone program at the parameters' current values. Its P and A are the
        program's own matrices with this call's numbers written into them: valid until
        the next call (Clarabel copies what it is given when a solver is made)."""
        vector = np.zeros(self.vector_size)
        vector[-1] = 1.0
        for parameter, start, end in self.parameters:
            vector[start:end] = np.ravel(parameter.value, order="F")
        numbers = self.data_map @ vector
        p_matrix, a_matrix = self._matrices
        p_nnz, a_nnz = len(p_matrix.data), len(a_matrix.data)
        q_end = p_nnz + a_matrix.shape[1]
        p_matrix.data[:] = numbers[:p_nnz]
        a_matrix.data[:] = numbers[q_end : q_end + a_nnz]
        return ConeData(P=p_matrix, q=numbers[p_nnz:q_end], A=a_matrix, b=numbers[q_end + a_nnz :])

    @functools.cached_property
    def _matrices(self) -> tuple[sp.csc_array, sp.csc_array]:
        """P and A with their fixed structure, made once: building a sparse matrix per
        solve cost about as much as filling it."""
        return (
            _csc(np.zeros(len(self.p_structure[0])), self.p_structure),
            _csc(np.zeros(len(self.a_structure[0])), self.a_structure),
        )

    def solve(self) -> ConeSolution:
        """A new Clarabel solver on the current data (nothing kept from earlier solves)."""
        data = self.data()
        settings = CLARABEL.parse_solver_opts(verbose=False, opts={})
        result = clarabel.DefaultSolver(data.P, data.q, data.A, data.b, self.cones, settings)
        return _solution(result.solve(), self.variable_columns)


def compile_cone_program(problem: cp.Problem, variables: list[cp.Variable]) -> ConeProgram:
    """The cone program of a DPP ``problem`` whose parameters all have values, reading
    ``variables`` from its solutions."""
    data, chain, inverse_data = problem.get_problem_data(cp.CLARABEL, solver_opts={})
    parameters, data_map, p_structure, a_structure = _cone_data_map(data["param_prob"])
    known = {parameter.id: parameter for parameter in problem.parameters()}
    return ConeProgram(
        parameters=tuple(
            (known[key], offset, offset + known[key].size) for key, offset in parameters
        ),
        vector_size=data_map.shape[1],
        data_map=data_map,
        p_structure=p_structure,
        a_structure=a_structure,
        cones=tuple(dims_to_solver_cones(data["dims"])),
        variable_columns=_variable_columns(chain, inverse_data, len(data["c"]), variables),
    )


def _cone_data_map(
    program,
) -> tuple[list[tuple[int, int]], sp.csr_array, SparseStructure, SparseStructure]:
    """(parameter id, offset) pairs, the data map and the structures of P and A, from
    CVXPY's ``ParamConeProg``, reproducing ``ConicSolver.apply`` (A negated) and CVXPY's
    Clarabel interface (the upper triangle of P).

    CVXPY stores the map of A with b as A's last column, and P's in full; which stored
    entry lands where is found by applying CVXPY's own steps to a matrix whose entries
    are their positions (``_moved``).
    """
    n = program.x.size
    a_tensor, a_structure = program.reduced_A.reduced_mat, program.reduced_A.problem_data_index
    p_tensor, p_structure = program.reduced_P.reduced_mat, program.reduced_P.problem_data_index
    a_moved, a_out = _moved(a_structure, lambda m: m[:, :-1].tocsc())
    b_moved, _ = _moved(a_structure, lambda m: m[:, [-1]].toarray().flatten())
    p_moved, p_out = _moved(p_structure, lambda m: sp.triu(m).tocsc())
    rows = sp.vstack(
        [
            _rows(p_tensor, p_moved),
            _rows(sp.csr_array(program.q), np.arange(n)),  # q (row n: a constant, unused)
            -_rows(a_tensor, a_moved),
            _rows(a_tensor, b_moved),
        ],
        format="csr",
    )
    parameters = [(key, col) for key, col in program.param_id_to_col.items() if key >= 0]
    if program.param_id_to_col.get(-1) != rows.shape[1] - 1:
        raise RuntimeError("CVXPY's parameter vector no longer ends in its constant")
    return parameters, rows, p_out, a_out


def _moved(structure: SparseStructure, step: Callable) -> tuple[np.ndarray, SparseStructure | None]:
    """Which stored entry (its index; −1: a zero) each number of ``step``'s output holds,
    and the output's structure when it is sparse. ``step`` must only move entries."""
    indices, indptr, shape = structure
    tags = np.arange(1, len(indices) + 1, dtype=np.float64)
    out = step(sp.csc_array((tags, indices, indptr), shape=shape))
    numbers = out.data if sp.issparse(out) else out
    moved = numbers.astype(np.int64) - 1
    kept = moved[moved >= 0]
    if not np.array_equal(numbers, moved + 1.0) or len(np.unique(kept)) != len(kept):
        raise RuntimeError("a step of CVXPY's Clarabel data now combines stored entries")
    if not sp.issparse(out):
        return moved, None
    return moved, (out.indices.copy(), out.indptr.copy(), out.shape)


def _rows(tensor: sp.csr_array, moved: np.ndarray) -> sp.csr_array:
    """Rows of ``tensor`` in the order ``moved`` names them (−1: a zero row)."""
    padded = sp.vstack([sp.csr_array(tensor), sp.csr_array((1, tensor.shape[1]))], format="csr")
    return padded[np.where(moved >= 0, moved, tensor.shape[0])]


def _variable_columns(chain, inverse_data, n: int, variables: list[cp.Variable]):
    """Where each variable sits in the primal solution: CVXPY's own inversion applied to a
    solution whose entries are their positions."""
    tagged = types.SimpleNamespace(
        status="Solved", x=list(np.arange(n, dtype=np.float64)), z=None,
        obj_val=0.0, solve_time=0.0, iterations=0,
    )  # fmt: skip
    solution = chain.invert(tagged, inverse_data)
    columns = []
    for variable in variables:
        value = np.asarray(solution.primal_vars[variable.id]).ravel(order="F")
        if not np.array_equal(value, np.round(value)):
            raise RuntimeError("CVXPY's inversion no longer reads variables from x unchanged")
        columns.append(value.astype(np.int64))
    return tuple(columns)


def _csc(data: np.ndarray, structure: SparseStructure) -> sp.csc_array:
    indices, indptr, shape = structure
    return sp.csc_array((data, indices, indptr), shape=shape)


def _solution(result, variable_columns: tuple[np.ndarray, ...]) -> ConeSolution:
    """Clarabel's statuses mapped as CVXPY maps them; values only with a solution."""
    solver_status = str(result.status)
    status = CLARABEL.STATUS_MAP.get(solver_status, cp.SOLVER_ERROR)
    x = np.asarray(result.x)
    has_values = status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and len(x)
    values = tuple(x[c] if has_values else None for c in variable_columns)
    return ConeSolution(status, solver_status, values)
