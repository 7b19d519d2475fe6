"""Why an account's optimization did not give a proposal (cvxportfolio's errors.py).

Only these are recorded as an account's result (and route the account to MANUAL); any
other exception is a defect and fails loudly.
"""

from __future__ import annotations


class OptimizationError(Exception):
    """The optimization of one account could not give a proposal."""

    status = "solver_error"


class DataError(OptimizationError):
    """The account's numbers cannot enter the problem (a non-finite value, a bad shape)."""

    status = "data_error"


class Infeasible(OptimizationError):
    """The constraints cannot all hold (e.g. a withdrawal larger than what can be sold)."""

    status = "infeasible"


class SolverFailure(OptimizationError):
    """Neither the solver nor the fallback solver returned a usable solution."""

    status = "solver_error"
