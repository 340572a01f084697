"""Synthetic problems with exact constants, their samplers and noise oracles."""
from .base import FiniteSum, Problem
from .generators import PROBLEMS, design_matrix, least_squares, logistic, make_problem, robust_regression
from .glm import GLM, LeastSquares, Logistic, RobustRegression
from .pl_sine import PLSine, tight_pl_constant
from .quadratic import Quadratic
from .rng import Stream, as_stream, stream
from .sample import Sample
from .samplers import (ABC, AffineVariance, FullBatch, Gaussian, Importance, Sampler, TauNice, Uniform,
                       draw_steps, make_sampler)
from .two_quadratics import TwoQuadratics

__all__ = ["ABC", "AffineVariance", "FiniteSum", "FullBatch", "GLM", "Gaussian", "Importance", "LeastSquares",
           "Logistic", "PLSine", "PROBLEMS", "Problem", "Quadratic", "RobustRegression", "Sample", "Sampler",
           "Stream", "TauNice", "TwoQuadratics", "Uniform", "as_stream", "design_matrix", "draw_steps",
           "least_squares", "logistic", "make_problem", "make_sampler", "robust_regression", "stream",
           "tight_pl_constant"]
