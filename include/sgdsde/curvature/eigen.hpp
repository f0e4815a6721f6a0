// sgdsde/curvature/eigen.hpp — extreme eigenpairs of a symmetric operator, matrix-free: thick-restart
// Lanczos with full reorthogonalisation (Wu & Simon 2000), and power iteration with deflation (as
// Jastrzębski et al. 2018 §4 and PyHessian measure λ_max of the Hessian).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/curvature/operator.hpp"

namespace sgdsde::curvature {

/// Which end of the spectrum an eigensolver targets.
enum class SpectrumEnd {
  largest_algebraic,   ///< λ₁ ≥ λ₂ ≥ … (the sharpest directions of a Hessian)
  smallest_algebraic,  ///< most negative first (negative curvature of a Hessian)
  largest_magnitude    ///< |λ₁| ≥ |λ₂| ≥ … (what power iteration converges to)
};

inline const char* to_string(SpectrumEnd e) {
  switch (e) {
    case SpectrumEnd::largest_algebraic: return "largest_algebraic";
    case SpectrumEnd::smallest_algebraic: return "smallest_algebraic";
    case SpectrumEnd::largest_magnitude: return "largest_magnitude";
  }
  return "unknown";
}

/// k eigenpairs (θ_i, y_i) of a symmetric operator A with their residuals ‖A y_i − θ_i y_i‖.
template <class Scalar>
struct Eigenpairs {
  VectorX<Scalar> eigenvalues;   ///< k values, ordered by the requested end (largest first, or most negative first)
  MatrixX<Scalar> eigenvectors;  ///< n × k, orthonormal columns (sign arbitrary)
  VectorX<Scalar> residuals;     ///< ‖A y_i − θ_i y_i‖₂ for each pair
  Eigen::Matrix<Index, Eigen::Dynamic, 1> iterations;  ///< power: iterations of pair i; Lanczos: total Krylov steps
  Index matvecs = 0;             ///< applications of A
  Outcome outcome;               ///< success, no_convergence (residuals reached are above), or non_finite
};

/// Options of lanczos_eigenpairs. Numbers are doubles whatever the Scalar.
struct LanczosOptions {
  SpectrumEnd which = SpectrumEnd::largest_algebraic;
  /// Converged when every wanted residual ‖A y − θ y‖ ≤ tolerance·max|θ| (max over all Ritz values,
  /// an estimate of ‖A‖₂). 0: 1e-10 in double, 1e-4 in float (Constants<Scalar>::tolerance()).
  double tolerance = 0;
  Index max_matvecs = 0;   ///< budget of applications of A; 0: 10 × max_subspace
  Index max_subspace = 0;  ///< Krylov basis size before a thick restart; 0: min(n, max(2k + 20, 40))

  void validate(const char* fn, Index k) const {
    require(which == SpectrumEnd::largest_algebraic || which == SpectrumEnd::smallest_algebraic ||
                which == SpectrumEnd::largest_magnitude,
            fn, "options.which", int(which), "a SpectrumEnd value");
    require(tolerance >= 0 && tolerance < 1, fn, "options.tolerance", tolerance, "0 (default) or a value in (0, 1)");
    require(max_matvecs >= 0, fn, "options.max_matvecs", max_matvecs, "0 (default) or an integer >= 1");
    require(max_subspace == 0 || max_subspace > k, fn, "options.max_subspace", max_subspace,
            "0 (default) or an integer > k");
  }
};

namespace detail {

/// Indices of the k wanted Ritz values among `theta` (ascending, from SelfAdjointEigenSolver),
/// in output order.
template <class Scalar>
std::vector<Index> wanted_ritz(const VectorX<Scalar>& theta, Index k, SpectrumEnd which) {
  const Index m = theta.size();
  std::vector<Index> idx(static_cast<std::size_t>(m));
  std::iota(idx.begin(), idx.end(), Index(0));
  using std::abs;
  if (which == SpectrumEnd::largest_algebraic)
    std::reverse(idx.begin(), idx.end());
  else if (which == SpectrumEnd::largest_magnitude)
    std::stable_sort(idx.begin(), idx.end(), [&](Index a, Index b) { return abs(theta[a]) > abs(theta[b]); });
  idx.resize(static_cast<std::size_t>(std::min(k, m)));
  return idx;
}

template <class Scalar>
Outcome non_finite_output(const char* fn, Index matvecs) {
  return Outcome::failure(Status::non_finite, long(matvecs), std::numeric_limits<double>::quiet_NaN(),
                          std::string(fn) + ": the operator returned a non-finite value (NaN or Inf) at "
                                            "application " + std::to_string(matvecs));
}

/// v ← v − V Vᵀ v twice ("twice is enough", Giraud et al. 2005); returns the coefficients removed.
template <class Scalar>
VectorX<Scalar> orthogonalise(const Eigen::Ref<const MatrixX<Scalar>>& basis, Eigen::Ref<VectorX<Scalar>> v) {
  VectorX<Scalar> h = VectorX<Scalar>::Zero(basis.cols());
  if (basis.cols() == 0) return h;
  for (int pass = 0; pass < 2; ++pass) {
    const VectorX<Scalar> c = basis.transpose() * v;
    v.noalias() -= basis * c;
    h += c;
  }
  return h;
}

/// V S column by column (matrix–vector products: compiles far faster than a matrix–matrix product
/// for each Scalar, and costs nothing next to the applications of A that built V).
template <class Scalar>
MatrixX<Scalar> basis_times(const Eigen::Ref<const MatrixX<Scalar>>& basis, const MatrixX<Scalar>& s) {
  MatrixX<Scalar> y(basis.rows(), s.cols());
  for (Index c = 0; c < s.cols(); ++c) y.col(c).noalias() = basis * s.col(c);
  return y;
}

template <class To>
Eigenpairs<To> cast_eigenpairs(const Eigenpairs<double>& r) {
  Eigenpairs<To> c;
  c.eigenvalues = r.eigenvalues.template cast<To>();
  c.eigenvectors = r.eigenvectors.template cast<To>();
  c.residuals = r.residuals.template cast<To>();
  c.iterations = r.iterations;
  c.matvecs = r.matvecs;
  c.outcome = r.outcome;
  return c;
}

}  // namespace detail

/// The k eigenpairs of the symmetric operator `a` at the end `options.which` of its spectrum, by
/// Lanczos with full reorthogonalisation and thick restarts (Wu & Simon 2000).
///
/// The Krylov basis V (n × m, orthonormal to rounding: each new vector is Gram–Schmidt
/// orthogonalised twice against all of V) and the Rayleigh quotient T = Vᵀ A V satisfy
/// A V = V T + w e_mᵀ, so the Ritz pair (θ, y = V s) has residual ‖A y − θ y‖ = ‖w‖·|s_m| up to
/// O(ε‖A‖); that is the residual reported and tested. When m reaches max_subspace, the basis is
/// compressed to the Ritz vectors nearest the wanted end (about half of it) plus w/‖w‖, and grown
/// again. A breakdown (‖w‖ ≤ 10 ε max|θ|: V spans an invariant subspace) makes the Ritz pairs exact
/// (success, with their O(ε‖A‖) residuals): if fewer than k are known, growth continues from a fresh
/// random vector orthogonal to V.
/// The start vectors are the normal probes 0, 1, … of `stream` (values [j·n, (j+1)·n)).
/// Like every single-vector Krylov method it finds one vector per exactly repeated eigenvalue until a
/// breakdown; clustered but distinct eigenvalues are resolved.
/// Throws invalid_argument unless 1 ≤ k ≤ n. Returns no_convergence (with the residuals reached) if
/// the budget ends first, non_finite (and empty pairs) if A returns NaN/Inf.
template <class Scalar>
Eigenpairs<Scalar> lanczos_eigenpairs(const LinearOperator<Scalar>& a, Index k, const RandomStream& stream,
                                      const LanczosOptions& options = {}) {
  if constexpr (!std::is_same_v<Scalar, double>) {  // applied in Scalar, iterated in double
    LanczosOptions o = options;
    if (o.tolerance == 0) o.tolerance = double(Constants<Scalar>::tolerance());
    return detail::cast_eigenpairs<Scalar>(lanczos_eigenpairs(detail::promote(a), k, stream, o));
  } else {
    using std::abs;
    using std::max;
    using std::sqrt;
    using Vector = VectorX<Scalar>;
    using Matrix = MatrixX<Scalar>;
    constexpr const char* fn = "lanczos_eigenpairs";
    const Index n = a.dim();
    require(k >= 1 && k <= n, fn, "k", k, ("an integer in [1, dim()] = [1, " + std::to_string(n) + "]").c_str());
    options.validate(fn, k);
    const Scalar tol = options.tolerance > 0 ? Scalar(options.tolerance) : Constants<Scalar>::tolerance();
    const Index m_max = options.max_subspace > 0 ? std::min(n, options.max_subspace)
                                                 : std::min(n, std::max<Index>(2 * k + 20, 40));
    const Index budget = options.max_matvecs > 0 ? options.max_matvecs : 10 * m_max;
    const Scalar eps = Constants<Scalar>::epsilon();

    Eigenpairs<Scalar> result;
    Matrix V(n, m_max);
    Matrix T = Matrix::Zero(m_max, m_max);
    Vector w(n);
    Index starts = 0;

    // A new unit start vector in column j, orthogonal to V(:, 0:j); false if none can be found.
    auto fresh_start = [&](Index j) {
      for (int attempt = 0; attempt < 4; ++attempt) {
        Vector v(n);
        detail::normal_probe<Scalar>(stream, starts++, v);
        detail::orthogonalise<Scalar>(V.leftCols(j), v);
        const Scalar norm = v.stableNorm();
        if (norm > Scalar(0.5) * sqrt(Scalar(n))) {  // a normal vector keeps most of its ≈ √n norm
          V.col(j) = v / norm;
          return true;
        }
      }
      return false;
    };

    fresh_start(0);
    Index j = 0;  // basis size
    Scalar beta = 0, theta_scale = 0;
    // The projected problem is small (m ≤ max_subspace) and solved in double whatever the Scalar.
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig;
    Vector theta;  // Ritz values, ascending
    Matrix ritz;   // their eigenvectors in the basis V (columns)
    std::vector<Index> want;
    bool converged = false;

    while (true) {
      // Expand: w = A v_j, orthogonalised against V(:, 0:j+1); column j of T from the coefficients.
      a.apply(V.col(j), w);
      ++result.matvecs;
      if (!all_finite(w)) {
        result.outcome = detail::non_finite_output<Scalar>(fn, result.matvecs);
        result.iterations = Eigen::Matrix<Index, Eigen::Dynamic, 1>::Constant(0, result.matvecs);
        return result;
      }
      const Vector h = detail::orthogonalise<Scalar>(V.leftCols(j + 1), w);
      T.col(j).head(j + 1) = h;
      T.row(j).head(j + 1) = h.transpose();
      beta = w.stableNorm();  // stable: no overflow or underflow for operators scaled by 1e±300
      ++j;

      eig.compute(T.topLeftCorner(j, j).template cast<double>());
      theta = eig.eigenvalues().template cast<Scalar>();
      ritz = eig.eigenvectors().template cast<Scalar>();
      theta_scale = max(theta.cwiseAbs().maxCoeff(), theta_scale);
      const bool breakdown = beta <= Scalar(10) * eps * theta_scale;
      const Scalar beta_eff = breakdown ? Scalar(0) : beta;
      if (j >= k) {
        want = detail::wanted_ritz<Scalar>(theta, k, options.which);
        converged = true;
        for (Index i : want)
          if (beta_eff * abs(ritz(j - 1, i)) > tol * theta_scale) converged = false;
      }
      if (converged || j == n || result.matvecs >= budget) break;

      if (breakdown) {  // invariant subspace of size j < k: its pairs are exact; look beyond it
        if (!fresh_start(j)) break;
        continue;
      }
      if (j == m_max) {  // thick restart: keep the Ritz vectors nearest the wanted end, then w/‖w‖
        const Index l = std::min(j - 1, std::max(k, k + (m_max - k) / 2));
        const std::vector<Index> keep = detail::wanted_ritz<Scalar>(theta, l, options.which);
        Matrix S(j, l);
        for (Index c = 0; c < l; ++c) S.col(c) = ritz.col(keep[std::size_t(c)]);
        const Matrix Y = detail::basis_times<Scalar>(V.leftCols(j), S);
        V.leftCols(l) = Y;
        T.setZero();
        for (Index c = 0; c < l; ++c) T(c, c) = theta[keep[std::size_t(c)]];
        V.col(l) = w / beta;
        j = l;
        continue;
      }
      V.col(j) = w / beta;
    }

    // Ritz pairs of the final basis.
    want = detail::wanted_ritz<Scalar>(theta, k, options.which);
    const Index got = Index(want.size());
    result.eigenvalues.resize(got);
    result.residuals.resize(got);
    Matrix S(j, got);
    for (Index c = 0; c < got; ++c) {
      const Index i = want[std::size_t(c)];
      result.eigenvalues[c] = theta[i];
      S.col(c) = ritz.col(i);
      result.residuals[c] = beta * abs(ritz(j - 1, i));
    }
    result.eigenvectors = detail::basis_times<Scalar>(V.leftCols(j), S);
    result.iterations = Eigen::Matrix<Index, Eigen::Dynamic, 1>::Constant(got, result.matvecs);
    if (!all_finite(result.eigenvalues) || !all_finite(result.residuals) || !all_finite(result.eigenvectors)) {
      result.outcome = Outcome::failure(Status::non_finite, long(result.matvecs), std::numeric_limits<double>::quiet_NaN(),
                                        std::string(fn) + ": the Ritz pairs overflowed (operator values near the "
                                                          "limits of the floating-point range)");
      return result;
    }
    const Scalar worst = got > 0 ? result.residuals.maxCoeff() : Scalar(0);
    const bool ok = got == k && (converged || worst <= tol * theta_scale);
    if (!ok)
      result.outcome = Outcome::failure(
          Status::no_convergence, long(result.matvecs), double(theta_scale > 0 ? worst / theta_scale : worst),
          std::string(fn) + ": after " + std::to_string(result.matvecs) + " applications, " + std::to_string(got) +
              " of " + std::to_string(k) + " Ritz pairs with largest relative residual " +
              sgdsde::detail::describe(double(theta_scale > 0 ? worst / theta_scale : worst)) + " > tolerance " +
              sgdsde::detail::describe(double(tol)) + " (raise options.max_matvecs or options.max_subspace)");
    return result;
  }
}

/// Options of power_iteration. Numbers are doubles whatever the Scalar.
struct PowerIterationOptions {
  /// Pair i converged when ‖A v − λ v‖ ≤ tolerance·max(|λ|, |λ₁|), λ = vᵀAv (λ₁: the first pair's).
  /// 0: 1e-6 in double, 1e-3 in float.
  double tolerance = 0;
  Index max_iterations = 1000;  ///< per eigenpair (one application of A each)

  void validate(const char* fn) const {
    require(tolerance >= 0 && tolerance < 1, fn, "options.tolerance", tolerance, "0 (default) or a value in (0, 1)");
    require(max_iterations >= 1, fn, "options.max_iterations", max_iterations, "an integer >= 1");
  }
};

/// The k largest-magnitude eigenpairs of `a` by power iteration with projection deflation, the method
/// of Jastrzębski et al. (2018) and PyHessian: pair i iterates v ← P A v / ‖P A v‖ with
/// P = I − U Uᵀ, U the pairs already found, from the normal probe i of `stream`. Each iteration
/// costs one application of A and yields λ = vᵀ A v and the true residual ‖A v − λ v‖ (the
/// unprojected A v), the stopping criterion. Converges at the rate |λ_{i+1}/λ_i| per iteration, so a
/// pair of opposite eigenvalues of equal magnitude does not converge (use lanczos_eigenpairs).
/// In a null space A v = 0 meets the criterion at once: the exact pair (0, v).
/// Throws invalid_argument unless 1 ≤ k ≤ n; no_convergence names the first pair that did not meet the
/// tolerance (all k pairs are still returned with their residuals); non_finite if A returns NaN/Inf.
template <class Scalar>
Eigenpairs<Scalar> power_iteration(const LinearOperator<Scalar>& a, Index k, const RandomStream& stream,
                                   const PowerIterationOptions& options = {}) {
  if constexpr (!std::is_same_v<Scalar, double>) {  // applied in Scalar, iterated in double
    PowerIterationOptions o = options;
    if (o.tolerance == 0) o.tolerance = 1e-3;
    return detail::cast_eigenpairs<Scalar>(power_iteration(detail::promote(a), k, stream, o));
  } else {
    using std::abs;
    using std::max;
    using Vector = VectorX<Scalar>;
    constexpr const char* fn = "power_iteration";
    const Index n = a.dim();
    require(k >= 1 && k <= n, fn, "k", k, ("an integer in [1, dim()] = [1, " + std::to_string(n) + "]").c_str());
    options.validate(fn);
    const Scalar tol = options.tolerance > 0 ? Scalar(options.tolerance)
                                             : Scalar(std::is_same_v<Scalar, float> ? 1e-3 : 1e-6);
    Eigenpairs<Scalar> result;
    result.eigenvalues = Vector::Zero(k);
    result.eigenvectors = MatrixX<Scalar>::Zero(n, k);
    result.residuals = Vector::Zero(k);
    result.iterations = Eigen::Matrix<Index, Eigen::Dynamic, 1>::Zero(k);
    Vector v(n), w(n);
    Scalar scale = 0;
    Index first_failed = -1;
    for (Index i = 0; i < k; ++i) {
      detail::normal_probe<Scalar>(stream, i, v);
      detail::orthogonalise<Scalar>(result.eigenvectors.leftCols(i), v);
      v.stableNormalize();
      Scalar lambda = 0, residual = 0;
      bool done = false;
      Index it = 0;
      while (it < options.max_iterations) {
        a.apply(v, w);
        ++it;
        ++result.matvecs;
        if (!all_finite(w)) {
          result.outcome = detail::non_finite_output<Scalar>(fn, result.matvecs);
          result.iterations[i] = it;
          return result;
        }
        lambda = v.dot(w);
        residual = (w - lambda * v).stableNorm();
        if (i == 0) scale = abs(lambda);
        if (residual <= tol * max(abs(lambda), scale)) {
          done = true;
          break;
        }
        detail::orthogonalise<Scalar>(result.eigenvectors.leftCols(i), w);
        const Scalar norm = w.stableNorm();
        // P A v = 0 while A v ≠ λ v: A v lies in span(U) (U not accurate enough); cannot iterate.
        if (!(norm > Constants<Scalar>::epsilon() * scale)) break;
        v = w / norm;
      }
      result.eigenvalues[i] = lambda;
      result.eigenvectors.col(i) = v;
      result.residuals[i] = residual;
      result.iterations[i] = it;
      if (!done && first_failed < 0) first_failed = i;
    }
    if (!all_finite(result.eigenvalues) || !all_finite(result.residuals) || !all_finite(result.eigenvectors)) {
      result.outcome = Outcome::failure(Status::non_finite, long(result.matvecs), std::numeric_limits<double>::quiet_NaN(),
                                        std::string(fn) + ": the eigenpairs overflowed (operator values near the "
                                                          "limits of the floating-point range)");
      return result;
    }
    if (first_failed >= 0) {
      const Scalar rel = result.residuals[first_failed] / max(abs(result.eigenvalues[first_failed]), scale);
      result.outcome = Outcome::failure(
          Status::no_convergence, long(first_failed), double(rel),
          std::string(fn) + ": pair " + std::to_string(first_failed) + " reached relative residual " +
              sgdsde::detail::describe(double(rel)) + " > tolerance " + sgdsde::detail::describe(double(tol)) + " after " +
              std::to_string(options.max_iterations) + " iterations (close eigenvalues converge slowly; "
              "use lanczos_eigenpairs or raise options.max_iterations)");
    }
    return result;
  }
}

}  // namespace sgdsde::curvature
