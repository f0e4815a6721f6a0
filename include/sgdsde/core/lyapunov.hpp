// sgdsde/core/lyapunov.hpp — continuous (A X + X Aᵀ = Q) and discrete (X = A X Aᵀ + Q, Stein) Lyapunov
// equations: Bartels–Stewart on the real Schur form, and symmetric fast paths by eigendecomposition.
// These give the stationary covariances of the OU process and of SGD on a quadratic (Jastrzębski §3).
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

namespace sgdsde {

/// Which algorithm a Lyapunov solver uses. `automatic` takes the symmetric path when A is exactly
/// symmetric (A == Aᵀ entrywise) and Bartels–Stewart otherwise.
enum class LyapunovMethod { automatic, schur, symmetric_eigen };

/// Solution of a Lyapunov equation with its quality and the spectral data of A that decide
/// whether X is a stationary covariance.
///   relative_residual: continuous ‖AX + XAᵀ − Q‖_F / (2‖A‖_F‖X‖_F + ‖Q‖_F);
///                      discrete   ‖AXAᵀ − X + Q‖_F / (‖A‖_F²‖X‖_F + ‖X‖_F + ‖Q‖_F).
///   min_real_part / max_real_part: extreme real parts of the eigenvalues of A;
///   spectral_radius: max |λ(A)|.
///   outcome: success; singular (λ_i + λ_j ≈ 0, resp. λ_i λ_j ≈ 1: no unique solution, X is not
///   meaningful); non_finite; unstable_step (discrete only: ρ(A) ≥ 1, so X exists but is not the
///   limit of X_{k+1} = A X_k Aᵀ + Q). The continuous solver does not judge stability, since the sign
///   convention is the caller's: the OU process needs min_real_part > 0 (drift −A).
template <class Scalar>
struct LyapunovSolution {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> X;
  Scalar relative_residual = Scalar(0);
  Scalar min_real_part = Scalar(0);
  Scalar max_real_part = Scalar(0);
  Scalar spectral_radius = Scalar(0);
  Outcome outcome;
};

namespace detail {

template <class Scalar>
using DynMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// Starts of the 1×1 and 2×2 diagonal blocks of a real Schur form (Eigen's RealSchur writes exact
/// zeros below the subdiagonal and on the subdiagonal between blocks).
template <class Scalar>
std::vector<Eigen::Index> schur_blocks(const DynMatrix<Scalar>& t) {
  std::vector<Eigen::Index> starts;
  const Eigen::Index n = t.rows();
  for (Eigen::Index i = 0; i < n;) {
    starts.push_back(i);
    i += (i + 1 < n && t(i + 1, i) != Scalar(0)) ? 2 : 1;
  }
  starts.push_back(n);
  return starts;
}

/// Eigenvalues of a real Schur form, read off its diagonal blocks.
template <class Scalar>
std::vector<std::complex<Scalar>> schur_eigenvalues(const DynMatrix<Scalar>& t,
                                                    const std::vector<Eigen::Index>& starts) {
  using std::abs;
  using std::sqrt;
  std::vector<std::complex<Scalar>> ev;
  for (std::size_t b = 0; b + 1 < starts.size(); ++b) {
    const Eigen::Index i = starts[b];
    if (starts[b + 1] - i == 1) {
      ev.emplace_back(t(i, i), Scalar(0));
    } else {
      const Scalar p = Scalar(0.5) * (t(i, i) - t(i + 1, i + 1));
      const Scalar disc = p * p + t(i, i + 1) * t(i + 1, i);
      const Scalar mid = t(i + 1, i + 1) + p;
      const Scalar im = sqrt(abs(disc));
      if (disc < Scalar(0)) {
        ev.emplace_back(mid, im);
        ev.emplace_back(mid, -im);
      } else {
        ev.emplace_back(mid + im, Scalar(0));
        ev.emplace_back(mid - im, Scalar(0));
      }
    }
  }
  return ev;
}

/// Fills the spectral fields of `sol` and returns min over pairs of |f(λ_i, λ_j)| where f is
/// λ_i + λ_j (continuous) or 1 − λ_i λ_j (discrete): the smallest eigenvalue modulus of the operator.
template <class Scalar, class Ev>
Scalar spectral_summary(const Ev& ev, bool discrete, LyapunovSolution<Scalar>& sol) {
  using std::abs;
  using std::max;
  using std::min;
  Scalar lo = std::numeric_limits<Scalar>::infinity(), hi = -lo, rho = Scalar(0);
  for (const auto& l : ev) {
    lo = min(lo, Scalar(std::real(l)));
    hi = max(hi, Scalar(std::real(l)));
    rho = max(rho, Scalar(std::abs(l)));
  }
  sol.min_real_part = lo;
  sol.max_real_part = hi;
  sol.spectral_radius = rho;
  Scalar sep = std::numeric_limits<Scalar>::infinity();
  for (std::size_t i = 0; i < ev.size(); ++i)
    for (std::size_t j = i; j < ev.size(); ++j) {
      const std::complex<Scalar> li(ev[i]), lj(ev[j]);
      const Scalar f = discrete ? std::abs(Scalar(1) - li * lj) : std::abs(li + lj);
      const Scalar fc = discrete ? std::abs(Scalar(1) - li * std::conj(lj)) : std::abs(li + std::conj(lj));
      sep = min(sep, min(f, fc));
    }
  return sep;
}

/// Kronecker matrix of the P×Q block system (fixed sizes, so the LU is unrolled): continuous
/// a Z + Z bᵀ ↦ (I_Q ⊗ a + b ⊗ I_P) vec Z, discrete Z − a Z bᵀ ↦ (I − b ⊗ a) vec Z.
template <class Scalar, int P, int Q, class BlockA, class BlockB, class BlockR>
void solve_small_fixed(const BlockA& a, const BlockB& b, BlockR& r, bool discrete) {
  constexpr int K = P * Q;
  Eigen::Matrix<Scalar, K, K> k;
  Eigen::Matrix<Scalar, K, 1> v;
  for (int j = 0; j < Q; ++j)
    for (int i = 0; i < P; ++i) {
      v(j * P + i) = r(i, j);
      for (int l = 0; l < Q; ++l)
        for (int m = 0; m < P; ++m)
          k(j * P + i, l * P + m) = discrete ? (i == m && j == l ? Scalar(1) : Scalar(0)) - a(i, m) * b(j, l)
                                             : (j == l ? a(i, m) : Scalar(0)) + (i == m ? b(j, l) : Scalar(0));
    }
  const Eigen::Matrix<Scalar, K, 1> z = k.fullPivLu().solve(v);
  for (int j = 0; j < Q; ++j)
    for (int i = 0; i < P; ++i) r(i, j) = z(j * P + i);
}

/// Solves the p×q system  a Z + Z bᵀ = r  (continuous) or  Z − a Z bᵀ = r  (discrete) for p, q ≤ 2
/// (the diagonal blocks of two real Schur forms), in place, by the Kronecker form with complete
/// pivoting (as LAPACK's dlasy2 does).
template <class Scalar, class BlockA, class BlockB, class BlockR>
void solve_small_sylvester(const BlockA& a, const BlockB& b, BlockR& r, bool discrete) {
  const Eigen::Index p = a.rows(), q = b.rows();
  if (p == 1 && q == 1)
    r(0, 0) /= discrete ? Scalar(1) - a(0, 0) * b(0, 0) : a(0, 0) + b(0, 0);
  else if (p == 2 && q == 1)
    solve_small_fixed<Scalar, 2, 1>(a, b, r, discrete);
  else if (p == 1 && q == 2)
    solve_small_fixed<Scalar, 1, 2>(a, b, r, discrete);
  else
    solve_small_fixed<Scalar, 2, 2>(a, b, r, discrete);
}

/// Bartels–Stewart on the quasi-triangular T:  T Y + Y Tᵀ = F  (continuous) or  Y = T Y Tᵀ + F
/// (discrete), F overwritten by Y. Column blocks are solved from the last to the first; inside a
/// column block the row blocks are solved bottom-up by block back substitution in column (axpy)
/// form. When F is symmetric so is Y, and only rows up to the current column block are solved,
/// the rest copied from the transpose: about half the flops.
template <class Scalar>
void quasi_triangular_lyapunov(const DynMatrix<Scalar>& t, DynMatrix<Scalar>& f, bool discrete, bool symmetric) {
  const Eigen::Index n = t.rows();
  const std::vector<Eigen::Index> starts = schur_blocks(t);
  const std::size_t nb = starts.size() - 1;
  DynMatrix<Scalar>& y = f;
  using Columns = Eigen::Matrix<Scalar, Eigen::Dynamic, 2>;
  using ColumnBlock = Eigen::Block<Columns>;
  using RowsOfBlock = Eigen::Block<ColumnBlock>;
  using SmallMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, 0, 2, 2>;
  Columns rhs(n, 2), tmp(n, 2);
  for (std::size_t jb = nb; jb-- > 0;) {
    const Eigen::Index j0 = starts[jb], q = starts[jb + 1] - j0, after = n - j0 - q;
    const SmallMatrix tjj = t.block(j0, j0, q, q);
    // Rows solved in this column block: all (general) or 0 .. j0+q (symmetric).
    const Eigen::Index rows = symmetric ? j0 + q : n;
    ColumnBlock r(rhs, 0, 0, rows, q);
    if (symmetric && after > 0)
      y.block(j0 + q, j0, after, q) = y.block(j0, j0 + q, q, after).transpose();
    if (!discrete) {
      // Contributions of later columns: (Y Tᵀ)_{:,J} ∋ Σ_{K>J} Y_{:,K} T_{J,K}ᵀ.
      r = y.block(0, j0, rows, q);
      if (after > 0) r.noalias() -= y.block(0, j0 + q, rows, after) * t.block(j0, j0 + q, q, after).transpose();
      if (symmetric && after > 0)
        r.noalias() -= t.block(0, j0 + q, rows, after) * y.block(j0 + q, j0, after, q);
    } else {
      // Y_J − T Y_J T_JJᵀ = F_J + T P_J,  P_J = Σ_{K>J} Y_{:,K} T_{J,K}ᵀ.
      r = y.block(0, j0, rows, q);
      if (after > 0) {
        ColumnBlock p(tmp, 0, 0, n, q);
        p.noalias() = y.block(0, j0 + q, n, after) * t.block(j0, j0 + q, q, after).transpose();
        // One product with the full rows of T (its zeros below the subdiagonal included): twice the
        // flops of a trapezoidal product but a single vectorised kernel.
        r.noalias() += t.topRows(rows) * p;
        if (symmetric) {
          const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> ylow = y.block(j0 + q, j0, after, q) * tjj.transpose();
          r.noalias() += t.block(0, j0 + q, rows, after) * ylow;
        }
      }
    }
    // Block back substitution over row blocks ≤ (symmetric) or all (general), bottom-up.
    const std::size_t top_block = symmetric ? jb + 1 : nb;
    for (std::size_t ib = top_block; ib-- > 0;) {
      const Eigen::Index i0 = starts[ib], p = starts[ib + 1] - i0;
      RowsOfBlock z(r, i0, 0, p, q);
      solve_small_sylvester<Scalar>(t.block(i0, i0, p, p), tjj, z, discrete);
      if (i0 > 0) {
        // R_{<I} −= T_{<I,I} Z (continuous) or += T_{<I,I} Z T_JJᵀ (discrete), as p·q column axpys:
        // a dispatched matrix product would cost more in overhead than in flops here.
        const SmallMatrix w = discrete ? SmallMatrix(-(z * tjj.transpose())) : SmallMatrix(z);
        for (Eigen::Index b = 0; b < q; ++b)
          for (Eigen::Index a = 0; a < p; ++a) r.col(b).head(i0) -= w(a, b) * t.col(i0 + a).head(i0);
      }
    }
    y.block(0, j0, rows, q) = r;
  }
}

template <class Scalar>
Scalar relative_residual(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, const DynMatrix<Scalar>& x,
                         bool discrete) {
  DynMatrix<Scalar> ax(a.rows(), a.cols());
  ax.noalias() = a * x;
  DynMatrix<Scalar> res(a.rows(), a.cols());
  Scalar denom;
  if (discrete) {
    res.noalias() = ax * a.transpose();
    res += q - x;
    const Scalar na = a.norm(), nx = x.norm();
    denom = na * na * nx + nx + q.norm();
  } else {
    res.noalias() = x * a.transpose();
    res += ax - q;
    denom = Scalar(2) * a.norm() * x.norm() + q.norm();
  }
  return denom > Scalar(0) ? res.norm() / denom : res.norm();
}

template <class Scalar>
void finish(LyapunovSolution<Scalar>& sol, const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete,
            Scalar sep, Scalar scale) {
  using std::sqrt;
  const Scalar eps = Constants<Scalar>::epsilon();
  const Scalar n = Scalar(a.rows());
  const bool finite = sol.X.allFinite();
  sol.relative_residual = finite ? relative_residual<Scalar>(a, q, sol.X, discrete) : Scalar(1);
  if (!(sep > Scalar(10) * n * eps * scale) || !(sol.relative_residual <= sqrt(eps))) {
    sol.outcome = Outcome::failure(
        Status::singular, -1, double(sep),
        std::string(discrete ? "1 − λ_i λ_j" : "λ_i + λ_j") +
            " is (nearly) zero for a pair of eigenvalues of A: no unique solution (min modulus " +
            describe(sep) + ", relative residual " + describe(sol.relative_residual) + ")");
    return;
  }
  if (!finite) {
    sol.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "Lyapunov solution has non-finite entries");
    return;
  }
  if (discrete && !(sol.spectral_radius < Scalar(1))) {
    sol.outcome = Outcome::failure(Status::unstable_step, -1, double(sol.spectral_radius),
                                   "spectral radius of A is " + describe(sol.spectral_radius) +
                                       " ≥ 1: X solves the equation but is not the limit of X ← AXAᵀ + Q");
  }
}

template <class DA, class DQ>
void check_lyapunov_args(const char* fn, const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DQ>& q) {
  require_square(fn, "A", a);
  require_shape(fn, "Q", q, a.rows(), a.rows());
  require_finite(fn, "A", a);
  require_finite(fn, "Q", q);
}

template <class Scalar>
LyapunovSolution<Scalar> lyapunov_symmetric(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete) {
  using std::abs;
  using std::max;
  using std::min;
  const Eigen::Index n = a.rows();
  LyapunovSolution<Scalar> sol;
  Eigen::SelfAdjointEigenSolver<DynMatrix<Scalar>> eig(a);
  const DynMatrix<Scalar>& v = eig.eigenvectors();
  const auto& lam = eig.eigenvalues();
  DynMatrix<Scalar> w(n, n), f(n, n);
  w.noalias() = q * v;
  f.noalias() = v.transpose() * w;
  Scalar sep = std::numeric_limits<Scalar>::infinity();
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) {
      const Scalar d = discrete ? Scalar(1) - lam(i) * lam(j) : lam(i) + lam(j);
      sep = min(sep, abs(d));
      f(i, j) /= d;
    }
  w.noalias() = v * f;
  sol.X.resize(n, n);
  sol.X.noalias() = w * v.transpose();
  if ((q - q.transpose()).norm() <= Scalar(16) * Scalar(n) * Constants<Scalar>::epsilon() * q.norm())
    sol.X = Scalar(0.5) * (sol.X + sol.X.transpose()).eval();
  sol.min_real_part = n > 0 ? lam(0) : Scalar(0);
  sol.max_real_part = n > 0 ? lam(n - 1) : Scalar(0);
  sol.spectral_radius = n > 0 ? max(abs(lam(0)), abs(lam(n - 1))) : Scalar(0);
  const Scalar scale = discrete ? max(Scalar(1), sol.spectral_radius * sol.spectral_radius) : sol.spectral_radius;
  finish<Scalar>(sol, a, q, discrete, sep, scale);
  return sol;
}

template <class Scalar>
LyapunovSolution<Scalar> lyapunov_schur(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete) {
  using std::max;
  const Eigen::Index n = a.rows();
  LyapunovSolution<Scalar> sol;
  Eigen::RealSchur<DynMatrix<Scalar>> schur(a);
  if (schur.info() != Eigen::Success) {
    sol.X = DynMatrix<Scalar>::Zero(n, n);
    sol.outcome = Outcome::failure(Status::no_convergence, -1, 0.0, "real Schur decomposition did not converge");
    return sol;
  }
  const DynMatrix<Scalar>& t = schur.matrixT();
  const DynMatrix<Scalar>& u = schur.matrixU();
  const std::vector<Eigen::Index> starts = schur_blocks(t);
  const Scalar sep = spectral_summary(schur_eigenvalues(t, starts), discrete, sol);
  // Q symmetric up to rounding (‖Q − Qᵀ‖_F ≤ 16 n ε ‖Q‖_F, e.g. Q = G Gᵀ from a blocked product)
  // is treated as symmetric: its symmetric part differs by less than the solver's backward error.
  const bool symmetric = (q - q.transpose()).norm() <= Scalar(16) * Scalar(n) * Constants<Scalar>::epsilon() * q.norm();
  DynMatrix<Scalar> w(n, n), f(n, n);
  w.noalias() = q * u;
  f.noalias() = u.transpose() * w;
  if (symmetric) f = Scalar(0.5) * (f + f.transpose()).eval();
  quasi_triangular_lyapunov<Scalar>(t, f, discrete, symmetric);
  w.noalias() = u * f;
  sol.X.resize(n, n);
  sol.X.noalias() = w * u.transpose();
  if (symmetric) sol.X = Scalar(0.5) * (sol.X + sol.X.transpose()).eval();
  const Scalar scale =
      discrete ? max(Scalar(1), sol.spectral_radius * sol.spectral_radius) : max(sol.spectral_radius, Scalar(0));
  finish<Scalar>(sol, a, q, discrete, sep, scale);
  return sol;
}

template <class DA, class DQ>
LyapunovSolution<typename DA::Scalar> lyapunov_dispatch(const char* fn, const Eigen::MatrixBase<DA>& a,
                                                        const Eigen::MatrixBase<DQ>& q, LyapunovMethod method,
                                                        bool discrete) {
  using Scalar = typename DA::Scalar;
  check_lyapunov_args(fn, a, q);
  const DynMatrix<Scalar> am = a, qm = q;
  if (method == LyapunovMethod::symmetric_eigen) require_symmetric(fn, "A", am, Constants<Scalar>::tolerance());
  const bool sym = method == LyapunovMethod::symmetric_eigen ||
                   (method == LyapunovMethod::automatic && am == am.transpose());
  if (am.rows() == 0) return LyapunovSolution<Scalar>{am, Scalar(0), Scalar(0), Scalar(0), Scalar(0), Outcome{}};
  return sym ? lyapunov_symmetric<Scalar>(am, qm, discrete) : lyapunov_schur<Scalar>(am, qm, discrete);
}

}  // namespace detail

/// Solves the continuous Lyapunov equation  A X + X Aᵀ = Q  (scipy's solve_continuous_lyapunov
/// convention). Bartels–Stewart: A = U T Uᵀ (real Schur), T Y + Y Tᵀ = Uᵀ Q U by block back
/// substitution over 1×1 and 2×2 blocks, X = U Y Uᵀ; backward stable, O(n³) (about 25n³ flops for
/// the Schur form, 8n³ for the transformations, n³ for the triangular solve). With
/// LyapunovMethod::symmetric_eigen (A symmetric): A = VΛVᵀ, X = V [ (VᵀQV)_ij / (λ_i + λ_j) ] Vᵀ.
/// Q need not be symmetric; when it is (exactly), X is returned exactly symmetric.
/// Throws sgdsde::invalid_argument for non-square/mismatched/non-finite input. A unique solution
/// exists iff λ_i + λ_j ≠ 0 for all eigenvalue pairs; otherwise outcome = Status::singular.
template <class DA, class DQ>
LyapunovSolution<typename DA::Scalar> solve_continuous_lyapunov(const Eigen::MatrixBase<DA>& a,
                                                                const Eigen::MatrixBase<DQ>& q,
                                                                LyapunovMethod method = LyapunovMethod::automatic) {
  return detail::lyapunov_dispatch("solve_continuous_lyapunov", a, q, method, false);
}

/// Solves the discrete Lyapunov (Stein) equation  X = A X Aᵀ + Q  (scipy's solve_discrete_lyapunov:
/// A X Aᴴ − X + Q = 0). Bartels–Stewart on the real Schur form of A as for the continuous case
/// (Y − T Y Tᵀ = Uᵀ Q U, column blocks from the last, 1×1/2×2 Kronecker solves of I − T_JJ ⊗ T_II),
/// chosen over Smith/doubling iteration because it is direct (no convergence test, cost independent
/// of how close ρ(A) is to 1) and also solves the equation when ρ(A) ≥ 1. Symmetric path:
/// X = V [ (VᵀQV)_ij / (1 − λ_i λ_j) ] Vᵀ. Status: singular when λ_i λ_j ≈ 1; unstable_step when
/// ρ(A) ≥ 1 (X then solves the equation but is not a stationary covariance).
template <class DA, class DQ>
LyapunovSolution<typename DA::Scalar> solve_discrete_lyapunov(const Eigen::MatrixBase<DA>& a,
                                                              const Eigen::MatrixBase<DQ>& q,
                                                              LyapunovMethod method = LyapunovMethod::automatic) {
  return detail::lyapunov_dispatch("solve_discrete_lyapunov", a, q, method, true);
}

}  // namespace sgdsde
