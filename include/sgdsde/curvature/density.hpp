// sgdsde/curvature/density.hpp — spectral density of a symmetric operator by stochastic Lanczos
// quadrature (Ubaru, Chen & Saad 2017, eq. (9)–(11)), Gaussian-broadened as in PyHessian (Yao et al. 2020).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/curvature/eigen.hpp"
#include "sgdsde/curvature/operator.hpp"
#include "sgdsde/curvature/trace.hpp"

namespace sgdsde::curvature {

/// Options of stochastic_lanczos_quadrature.
struct SlqOptions {
  Index lanczos_steps = 80;  ///< m: Lanczos steps (= quadrature nodes) per probe, capped at n
  Index first_probe = 0;     ///< probes [first_probe, first_probe + probes) (see ProbeOptions)

  void validate(const char* fn) const {
    require(lanczos_steps >= 1, fn, "options.lanczos_steps", lanczos_steps, "an integer >= 1");
  }
};

/// Per-probe Gauss quadrature rules of the spectral measure μ = (1/n) Σ_k δ(λ_k) of A:
/// for probe v = z/√n (z Rademacher), Σ_i weights(i, j) f(nodes(i, j)) = vᵀ f(A) v, whose expectation
/// is (1/n) Tr f(A) = ∫ f dμ.
template <class Scalar>
struct SpectralQuadrature {
  MatrixX<Scalar> nodes;    ///< m × probes: Ritz values of probe j's Lanczos tridiagonal matrix
  MatrixX<Scalar> weights;  ///< m × probes: squared first components of its eigenvectors; columns sum to 1
  Eigen::Matrix<Index, Eigen::Dynamic, 1> steps;  ///< Lanczos steps taken per probe (< m after a breakdown;
                                                  ///< the unused rows have weight 0)
  Index dim = 0, probes = 0, first_probe = 0, matvecs = 0;
  std::uint64_t seed = 0, stream_id = 0;
  Outcome outcome;  ///< success, or non_finite (probes before the failure kept)
};

/// Stochastic Lanczos quadrature: for each probe, m steps of Lanczos with full reorthogonalisation
/// from v = z/√n; the eigen-decomposition T = S Θ Sᵀ of the tridiagonal matrix gives nodes θ_i and
/// weights τ_i = S(0, i)². Gauss quadrature with m nodes is exact for polynomials of degree ≤ 2m − 1,
/// so Σ τ_i θ_i^k = vᵀ A^k v exactly for k ≤ 2m − 1. A breakdown (invariant subspace after s < m steps)
/// ends the probe early with an exact s-node rule. Cost: m applications of A per probe (s after a
/// breakdown) and O(n m²) for the reorthogonalisation.
/// Throws invalid_argument unless probes ≥ 1 and options are valid; non_finite if A returns NaN/Inf.
template <class Scalar>
SpectralQuadrature<Scalar> stochastic_lanczos_quadrature(const LinearOperator<Scalar>& a, Index probes,
                                                         const RandomStream& stream, const SlqOptions& options = {}) {
  if constexpr (!std::is_same_v<Scalar, double>) {  // applied in Scalar, Lanczos in double
    const SpectralQuadrature<double> d = stochastic_lanczos_quadrature(detail::promote(a), probes, stream, options);
    SpectralQuadrature<Scalar> q;
    q.nodes = d.nodes.template cast<Scalar>();
    q.weights = d.weights.template cast<Scalar>();
    q.steps = d.steps;
    q.dim = d.dim;
    q.probes = d.probes;
    q.first_probe = d.first_probe;
    q.matvecs = d.matvecs;
    q.seed = d.seed;
    q.stream_id = d.stream_id;
    q.outcome = d.outcome;
    return q;
  } else {
    using std::sqrt;
    using std::abs;
    using Vector = VectorX<Scalar>;
    using Matrix = MatrixX<Scalar>;
    constexpr const char* fn = "stochastic_lanczos_quadrature";
    const Index n = a.dim();
    require(probes >= 1, fn, "probes", probes, "an integer >= 1");
    options.validate(fn);
    detail::require_probe_range(fn, options.first_probe, probes, n);
    const Index m = std::min(options.lanczos_steps, n);
    const Scalar eps = Constants<Scalar>::epsilon();

    SpectralQuadrature<Scalar> q;
    q.dim = n;
    q.probes = probes;
    q.first_probe = options.first_probe;
    q.seed = stream.seed();
    q.stream_id = stream.stream_id();
    q.nodes = Matrix::Zero(m, probes);
    q.weights = Matrix::Zero(m, probes);
    q.steps = Eigen::Matrix<Index, Eigen::Dynamic, 1>::Zero(probes);

    Matrix V(n, m);
    Vector w(n), alpha(m), beta(m);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig;  // the m × m tridiagonal problem, in double
    for (Index p = 0; p < probes; ++p) {
      const Index j = options.first_probe + p;
      Vector z(n);
      detail::rademacher_probe<Scalar>(stream, j, z);
      V.col(0) = z / sqrt(Scalar(n));
      Index s = 0;
      Scalar scale = 0;
      while (s < m) {
        a.apply(V.col(s), w);
        ++q.matvecs;
        if (!all_finite(w)) {
          q.nodes.conservativeResize(m, p);
          q.weights.conservativeResize(m, p);
          q.steps.conservativeResize(p);
          q.probes = p;
          q.outcome = Outcome::failure(Status::non_finite, long(j), std::numeric_limits<double>::quiet_NaN(),
                                       std::string(fn) + ": the operator returned a non-finite value (NaN or Inf) "
                                                         "for probe " + std::to_string(j) + " at Lanczos step " +
                                                         std::to_string(s));
          return q;
        }
        const VectorX<Scalar> h = detail::orthogonalise<Scalar>(V.leftCols(s + 1), w);
        alpha[s] = h[s];
        const Scalar b = w.stableNorm();
        scale = std::max({scale, abs(alpha[s]), b});
        ++s;
        if (s == m || b <= Scalar(10) * eps * scale) break;  // budget, or invariant subspace: exact rule
        beta[s - 1] = b;
        V.col(s) = w / b;
      }
      eig.computeFromTridiagonal(alpha.head(s).template cast<double>(), beta.head(s - 1).template cast<double>(),
                                 Eigen::ComputeEigenvectors);
      q.steps[p] = s;
      q.nodes.col(p).head(s) = eig.eigenvalues().template cast<Scalar>();
      q.weights.col(p).head(s) = eig.eigenvectors().row(0).transpose().cwiseAbs2().template cast<Scalar>();
      if (!all_finite(q.nodes.col(p)) || !all_finite(q.weights.col(p))) {
        q.outcome = Outcome::failure(Status::non_finite, long(j), std::numeric_limits<double>::quiet_NaN(),
                                     std::string(fn) + ": the quadrature nodes of probe " + std::to_string(j) +
                                         " overflowed (operator values too large)");
        return q;
      }
    }
    return q;
  }
}

/// Estimate of the k-th spectral moment ∫ λ^k dμ = Tr(A^k)/n: the mean over probes of
/// Σ_i τ_i θ_i^k (= zᵀA^kz/n, exactly, when k ≤ 2·steps − 1), with its standard error across probes.
/// Throws invalid_argument unless k ≥ 0 and q succeeded.
template <class Scalar>
StochasticEstimate<Scalar> spectral_moment(const SpectralQuadrature<Scalar>& q, int k) {
  constexpr const char* fn = "spectral_moment";
  require(k >= 0, fn, "k", k, "an integer >= 0");
  require(q.outcome.ok() && q.probes >= 1, fn, "q", to_string(q.outcome.status), "a successful quadrature");
  StochasticEstimate<Scalar> e;
  e.first_probe = q.first_probe;
  e.seed = q.seed;
  e.stream_id = q.stream_id;
  e.samples.resize(q.probes);
  for (Index p = 0; p < q.probes; ++p)
    e.samples[p] = (q.weights.col(p).array() * q.nodes.col(p).array().pow(Scalar(k))).sum();
  detail::summarise(e, fn);
  return e;
}

/// The Gaussian-broadened spectral density on `grid`:
///   φ(x) = (1/probes) Σ_j Σ_i τ_ij · exp(−(x − θ_ij)²/(2 width²)) / (width √(2π)),
/// a probability density in x (∫ φ = 1 exactly: each probe's weights sum to 1) that estimates the
/// eigenvalue density (1/n) Σ_k N(x; λ_k, width²). Throws invalid_argument unless width > 0 is finite,
/// the grid is finite and q succeeded.
template <class Scalar>
VectorX<Scalar> spectral_density(const SpectralQuadrature<Scalar>& q,
                                 const Eigen::Ref<const VectorX<sgdsde::detail::non_deduced_t<Scalar>>>& grid,
                                 sgdsde::detail::non_deduced_t<Scalar> width) {
  using std::exp;
  using std::sqrt;
  constexpr const char* fn = "spectral_density";
  require(q.outcome.ok() && q.probes >= 1, fn, "q", to_string(q.outcome.status), "a successful quadrature");
  require_positive(fn, "width", width);
  require_finite(fn, "grid", grid);
  const Scalar norm = Scalar(1) / (width * sqrt(Scalar(2) * Constants<Scalar>::pi()) * Scalar(q.probes));
  const Scalar inv2w2 = Scalar(1) / (Scalar(2) * width * width);
  VectorX<Scalar> phi = VectorX<Scalar>::Zero(grid.size());
  for (Index p = 0; p < q.probes; ++p)
    for (Index i = 0; i < q.steps[p]; ++i) {
      const Scalar t = q.nodes(i, p), tau = q.weights(i, p);
      phi.array() += tau * (-(grid.array() - t).square() * inv2w2).exp();
    }
  return phi * norm;
}

}  // namespace sgdsde::curvature
