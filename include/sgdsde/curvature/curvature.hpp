// sgdsde/curvature/curvature.hpp — the curvature area (Jastrzębski 2018 §3–4): matrix-free operators
// (network Hessian, finite-difference HVP, Gauss–Newton, gradient-noise covariance), their estimators
// (Lanczos, power iteration, Hutchinson, Hutch++, stochastic Lanczos quadrature), and interpolation
// between minima.
#pragma once

#include "sgdsde/curvature/operator.hpp"
#include "sgdsde/curvature/eigen.hpp"
#include "sgdsde/curvature/trace.hpp"
#include "sgdsde/curvature/density.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/curvature/noise_covariance.hpp"
#include "sgdsde/curvature/interpolation.hpp"
