// sgdsde/core/lyapunov.hpp — continuous (A X + X Aᵀ = Q) and discrete (X = A X Aᵀ + Q, Stein) Lyapunov
// equations by Bartels–Stewart on the real Schur form or eigendecomposition, with condition estimates.
// These give the stationary covariances of the OU process and of SGD on a quadratic (Jastrzębski §3).
// The real Schur step is Eigen's RealSchur, or LAPACK's dgees/sgees when SGDSDE_USE_LAPACK is defined
// (link LAPACK then; blocked Hessenberg reduction and multishift QR: faster for n in the hundreds).
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"

#if defined(SGDSDE_USE_LAPACK)
#include <cstddef>
#include <type_traits>
extern "C" {
// LAPACK's real Schur factorisation (Fortran symbols; the two trailing arguments are the hidden lengths
// of the character arguments that gfortran passes).
void dgees_(const char* jobvs, const char* sort, int (*select)(const double*, const double*), const int* n,
            double* a, const int* lda, int* sdim, double* wr, double* wi, double* vs, const int* ldvs, double* work,
            const int* lwork, int* bwork, int* info, std::size_t jobvs_len, std::size_t sort_len);
void sgees_(const char* jobvs, const char* sort, int (*select)(const float*, const float*), const int* n, float* a,
            const int* lda, int* sdim, float* wr, float* wi, float* vs, const int* ldvs, float* work, const int* lwork,
            int* bwork, int* info, std::size_t jobvs_len, std::size_t sort_len);
}
#endif

namespace sgdsde {

/// Which algorithm a Lyapunov solver uses. `automatic` takes the symmetric path when A is exactly
/// symmetric (A == Aᵀ entrywise) and Bartels–Stewart otherwise.
enum class LyapunovMethod { automatic, schur, symmetric_eigen };

/// Solution of a Lyapunov equation with its quality and the spectral data of A that decide
/// whether X is a stationary covariance. 𝓛 is the operator X ↦ AX + XAᵀ (continuous) or X − AXAᵀ
/// (discrete), so X = 𝓛⁻¹(Q).
///   relative_residual: continuous ‖AX + XAᵀ − Q‖_F / (2‖A‖_F‖X‖_F + ‖Q‖_F);
///                      discrete   ‖AXAᵀ − X + Q‖_F / (‖A‖_F²‖X‖_F + ‖X‖_F + ‖Q‖_F).
///   min_real_part / max_real_part: extreme real parts of the eigenvalues of A;
///   spectral_radius: max |λ(A)|.
///   separation: estimate of sep = 1/‖𝓛⁻¹‖₂ (Frobenius norm on matrices), in the units of 𝓛. Exact
///     (min |λ_i + λ_j|, resp. min |1 − λ_i λ_j|) for symmetric A; otherwise the smaller of that
///     spectral value and a power-iteration estimate of ‖𝓛⁻¹‖₂ (two extra quasi-triangular solves),
///     which sees the eigenvector ill-conditioning of non-normal A. An upper bound on the true sep.
///   condition: relative condition number estimate of X with respect to perturbations of A and Q
///     measured as in relative_residual, ‖𝓛⁻¹‖₂ (2‖A‖_F‖X‖_F + ‖Q‖_F) / ‖X‖_F (discrete: with
///     ‖A‖_F²‖X‖_F + ‖X‖_F + ‖Q‖_F); forward_error_bound = condition · max(relative_residual, ε):
///     an estimate of ‖X − X_exact‖_F / ‖X_exact‖_F.
///   outcome: success; singular (λ_i + λ_j ≈ 0, resp. λ_i λ_j ≈ 1: no unique solution, X is not
///   meaningful); non_finite (X overflows); unstable_step (discrete only: ρ(A) ≥ 1, so X exists but
///   is not the limit of X_{k+1} = A X_k Aᵀ + Q); ill_conditioned (condition·ε > √ε: fewer than about
///   half the digits of X can be trusted; X is returned). Priority in that order. The continuous
///   solver does not judge stability, since the sign convention is the caller's: the OU process
///   needs min_real_part > 0 (drift −A).
template <class Scalar>
struct LyapunovSolution {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> X;
  Scalar relative_residual = Scalar(0);
  Scalar min_real_part = Scalar(0);
  Scalar max_real_part = Scalar(0);
  Scalar spectral_radius = Scalar(0);
  Outcome outcome;
  Scalar separation = Scalar(0);
  Scalar condition = Scalar(1);
  Scalar forward_error_bound = Scalar(0);
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

/// Solution in scaled units plus what finish() needs: the eigenvalues' summary is filled into `sol`
/// (scaled units), `spectral_sep` is min |λ_i + λ_j| (resp. |1 − λ_i λ_j|) and `inverse_norm` the
/// estimate of ‖𝓛⁻¹‖₂.
template <class Scalar>
struct ScaledLyapunov {
  LyapunovSolution<Scalar> sol;
  Scalar spectral_sep = Scalar(0);
  Scalar inverse_norm = Scalar(0);
};

/// ‖R‖_F and the denominator of the relative residual, computed with X and Q divided by a power of two
/// near max|X| (the relative residual and ‖R‖/‖X‖ are invariant), so no square overflows.
template <class Scalar>
void residual_norms(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, const DynMatrix<Scalar>& x,
                    bool discrete, Scalar& res_norm, Scalar& denom, Scalar& x_norm) {
  const Scalar big = x.cwiseAbs().maxCoeff();
  const int k = big > Scalar(0) ? std::ilogb(big) : 0;
  constexpr int range = std::numeric_limits<Scalar>::max_exponent - 2;
  auto pow2 = [k](Scalar v) { return Scalar(std::ldexp(v, -k)); };
  const bool plain = k > -range && k < range;  // 2^{−k} normal: an exact, vectorised product
  const DynMatrix<Scalar> xs = plain ? DynMatrix<Scalar>(x * Scalar(std::ldexp(1.0, -k))) : DynMatrix<Scalar>(x.unaryExpr(pow2));
  const DynMatrix<Scalar> qs = plain ? DynMatrix<Scalar>(q * Scalar(std::ldexp(1.0, -k))) : DynMatrix<Scalar>(q.unaryExpr(pow2));
  DynMatrix<Scalar> ax(a.rows(), a.cols());
  ax.noalias() = a * xs;
  DynMatrix<Scalar> res(a.rows(), a.cols());
  x_norm = xs.norm();
  const Scalar na = a.norm();
  if (discrete) {
    res.noalias() = ax * a.transpose();
    res += qs - xs;
    denom = na * na * x_norm + x_norm + qs.norm();
  } else {
    res.noalias() = xs * a.transpose();
    res += ax - qs;
    denom = Scalar(2) * na * x_norm + qs.norm();
  }
  res_norm = res.norm();
}

/// Residual, condition estimate and status of a scaled solve; X and the spectral fields are in scaled
/// units here and unscaled by the caller.
template <class Scalar>
void finish(ScaledLyapunov<Scalar>& r, const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete) {
  using std::max;
  using std::sqrt;
  LyapunovSolution<Scalar>& sol = r.sol;
  const Scalar eps = Constants<Scalar>::epsilon();
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const Scalar n = Scalar(a.rows());
  const bool finite = all_finite(sol.X);
  Scalar res_norm = inf, denom = Scalar(1), x_norm = Scalar(0);
  if (finite) residual_norms<Scalar>(a, q, sol.X, discrete, res_norm, denom, x_norm);
  sol.relative_residual = !finite ? Scalar(1) : denom > Scalar(0) ? res_norm / denom : res_norm;
  const Scalar inverse_norm = max(r.inverse_norm, r.spectral_sep > Scalar(0) ? Scalar(1) / r.spectral_sep : inf);
  sol.separation = Scalar(1) / inverse_norm;
  const Scalar na = a.norm();
  const Scalar op_norm = discrete ? Scalar(1) + na * na : Scalar(2) * na;  // ≥ ‖𝓛‖₂
  sol.condition = x_norm > Scalar(0) ? inverse_norm * denom / x_norm : inverse_norm * op_norm;
  if (!finite || !(sol.condition < inf)) sol.condition = inf;
  sol.forward_error_bound = sol.condition * max(sol.relative_residual, eps);
  const Scalar scale =
      discrete ? max(Scalar(1), sol.spectral_radius * sol.spectral_radius) : max(sol.spectral_radius, Scalar(0));
  if (!(r.spectral_sep > Scalar(10) * n * eps * scale) || !(sol.relative_residual <= sqrt(eps))) {
    sol.outcome = Outcome::failure(
        Status::singular, -1, double(r.spectral_sep),
        std::string(discrete ? "1 − λ_i λ_j" : "λ_i + λ_j") +
            " is (nearly) zero for a pair of eigenvalues of A: no unique solution (min modulus " +
            describe(r.spectral_sep) + ", relative residual " + describe(sol.relative_residual) + ")");
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
    return;
  }
  if (!(sol.condition * eps <= sqrt(eps)))
    sol.outcome = Outcome::failure(Status::ill_conditioned, -1, double(sol.condition),
                                   "condition number estimate " + describe(sol.condition) +
                                       " exceeds 1/√ε: fewer than half the digits of X can be trusted "
                                       "(forward error bound " +
                                       describe(sol.forward_error_bound) + ")");
}

template <class DA, class DQ>
void check_lyapunov_args(const char* fn, const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DQ>& q) {
  require_square(fn, "A", a);
  require_shape(fn, "Q", q, a.rows(), a.rows());
  require_finite(fn, "A", a);
  require_finite(fn, "Q", q);
}

/// Q symmetric up to rounding (‖Q − Qᵀ‖_F ≤ 16 n ε ‖Q‖_F, e.g. Q = G Gᵀ from a blocked product) is
/// treated as symmetric: its symmetric part differs by less than the solver's backward error.
template <class Scalar>
bool nearly_symmetric(const DynMatrix<Scalar>& q) {
  return (q - q.transpose()).norm() <= Scalar(16) * Scalar(q.rows()) * Constants<Scalar>::epsilon() * q.norm();
}

template <class Scalar>
ScaledLyapunov<Scalar> lyapunov_symmetric(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete) {
  using std::abs;
  using std::max;
  using std::min;
  const Eigen::Index n = a.rows();
  ScaledLyapunov<Scalar> r;
  LyapunovSolution<Scalar>& sol = r.sol;
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
  if (nearly_symmetric(q)) sol.X = Scalar(0.5) * (sol.X + sol.X.transpose()).eval();
  sol.min_real_part = lam(0);
  sol.max_real_part = lam(n - 1);
  sol.spectral_radius = max(abs(lam(0)), abs(lam(n - 1)));
  r.spectral_sep = sep;  // 𝓛 is normal (diagonalised by V ⊗ V): ‖𝓛⁻¹‖₂ = 1/sep exactly
  return r;
}

/// Deterministic ±1 matrix (symmetric when asked) with unit Frobenius norm: the start of the power
/// iteration for ‖𝓛⁻¹‖₂.
template <class Scalar>
DynMatrix<Scalar> sign_matrix(Eigen::Index n, bool symmetric) {
  DynMatrix<Scalar> x(n, n);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      x(i, j) = (state >> 63) ? Scalar(1) : Scalar(-1);
    }
  if (symmetric) x.template triangularView<Eigen::StrictlyLower>() = x.transpose();
  return x / x.norm();
}

/// Real Schur form A = U T Uᵀ by Eigen's RealSchur: T quasi-upper-triangular with exact zeros below the
/// subdiagonal and on the subdiagonal between diagonal blocks, U orthogonal. False if QR did not converge.
template <class Scalar>
bool real_schur_eigen(const DynMatrix<Scalar>& a, DynMatrix<Scalar>& t, DynMatrix<Scalar>& u) {
  Eigen::RealSchur<DynMatrix<Scalar>> schur(a);
  if (schur.info() != Eigen::Success) return false;
  t = schur.matrixT();
  u = schur.matrixU();
  return true;
}

/// The real Schur form used by the Bartels–Stewart solvers: LAPACK's dgees/sgees (Hessenberg reduction,
/// multishift QR with aggressive early deflation, standardised 2×2 blocks) for double and float when
/// SGDSDE_USE_LAPACK is defined, Eigen's RealSchur otherwise and for other scalars. Same contract as
/// real_schur_eigen: LAPACK's T has exact zeros below the subdiagonal (dhseqr clears them) and between
/// blocks (dlanv2 sets them), which schur_blocks relies on.
template <class Scalar>
bool real_schur(const DynMatrix<Scalar>& a, DynMatrix<Scalar>& t, DynMatrix<Scalar>& u) {
#if defined(SGDSDE_USE_LAPACK)
  if constexpr (std::is_same_v<Scalar, double> || std::is_same_v<Scalar, float>) {
    const Eigen::Index size = a.rows();
    if (size == 0 || size > Eigen::Index(std::numeric_limits<int>::max() / 8)) return real_schur_eigen<Scalar>(a, t, u);
    const int n = int(size);
    t = a;
    u.resize(n, n);
    std::vector<Scalar> wr(static_cast<std::size_t>(n)), wi(static_cast<std::size_t>(n));
    int sdim = 0, info = 0, lwork = -1;
    Scalar work_query = 0;
    const char jobvs = 'V', sort = 'N';
    auto call = [&](Scalar* work) {
      if constexpr (std::is_same_v<Scalar, double>)
        dgees_(&jobvs, &sort, nullptr, &n, t.data(), &n, &sdim, wr.data(), wi.data(), u.data(), &n, work, &lwork,
               nullptr, &info, 1, 1);
      else
        sgees_(&jobvs, &sort, nullptr, &n, t.data(), &n, &sdim, wr.data(), wi.data(), u.data(), &n, work, &lwork,
               nullptr, &info, 1, 1);
    };
    call(&work_query);  // workspace query
    if (info != 0) return false;
    lwork = std::max(3 * n, int(work_query));
    std::vector<Scalar> work(static_cast<std::size_t>(lwork));
    call(work.data());
    if (info != 0) return false;
    // dhseqr clears below the subdiagonal; zero it again so the contract does not rest on that.
    for (int j = 0; j + 2 < n; ++j) t.col(j).tail(n - j - 2).setZero();
    return true;
  } else
#endif
  {
    return real_schur_eigen<Scalar>(a, t, u);
  }
}

template <class Scalar>
ScaledLyapunov<Scalar> lyapunov_schur(const DynMatrix<Scalar>& a, const DynMatrix<Scalar>& q, bool discrete) {
  const Eigen::Index n = a.rows();
  ScaledLyapunov<Scalar> r;
  LyapunovSolution<Scalar>& sol = r.sol;
  DynMatrix<Scalar> t, u;
  if (!real_schur<Scalar>(a, t, u)) {
    sol.X = DynMatrix<Scalar>::Zero(n, n);
    sol.outcome = Outcome::failure(Status::no_convergence, -1, 0.0, "real Schur decomposition did not converge");
    return r;
  }
  const std::vector<Eigen::Index> starts = schur_blocks(t);
  r.spectral_sep = spectral_summary(schur_eigenvalues(t, starts), discrete, sol);
  const bool symmetric = nearly_symmetric(q);
  DynMatrix<Scalar> w(n, n), f(n, n);
  w.noalias() = q * u;
  f.noalias() = u.transpose() * w;
  if (symmetric) f = Scalar(0.5) * (f + f.transpose()).eval();
  quasi_triangular_lyapunov<Scalar>(t, f, discrete, symmetric);
  w.noalias() = u * f;
  sol.X.resize(n, n);
  sol.X.noalias() = w * u.transpose();
  if (symmetric) sol.X = Scalar(0.5) * (sol.X + sol.X.transpose()).eval();
  // ‖𝓛⁻¹‖₂ = ‖𝒯⁻¹‖₂ (𝒯 the operator of T, since Y ↦ U Y Uᵀ is Frobenius-orthogonal): one power
  // step on 𝒯⁻ᵀ𝒯⁻¹ from a ±1 start, g = ‖𝒯⁻ᵀ 𝒯⁻¹ x‖ / ‖𝒯⁻¹ x‖ ≤ ‖𝒯⁻¹‖₂. The adjoint solve
  // Tᵀ Y + Y T = F is the same problem for S = P Tᵀ P (P the reversal), again quasi-triangular.
  // On the symmetric subspace when Q is symmetric (the conditioning that matters for X, half flops).
  if (all_finite(sol.X)) {
    DynMatrix<Scalar> y = sign_matrix<Scalar>(n, symmetric);
    quasi_triangular_lyapunov<Scalar>(t, y, discrete, symmetric);
    const Scalar g1 = y.norm();
    if (g1 > Scalar(0) && all_finite(y)) {
      const DynMatrix<Scalar> s = t.transpose().reverse();
      DynMatrix<Scalar> z = (y / g1).reverse();
      quasi_triangular_lyapunov<Scalar>(s, z, discrete, symmetric);
      r.inverse_norm = std::max(g1, z.norm());
    } else {
      r.inverse_norm = std::numeric_limits<Scalar>::infinity();
    }
  }
  return r;
}

template <class DA, class DQ>
LyapunovSolution<typename DA::Scalar> lyapunov_dispatch(const char* fn, const Eigen::MatrixBase<DA>& a,
                                                        const Eigen::MatrixBase<DQ>& q, LyapunovMethod method,
                                                        bool discrete) {
  using Scalar = typename DA::Scalar;
  check_lyapunov_args(fn, a, q);
  const Eigen::Index n = a.rows();
  const DynMatrix<Scalar> am = a, qm = q;
  if (method == LyapunovMethod::symmetric_eigen) require_symmetric(fn, "A", am, Constants<Scalar>::tolerance());
  const bool sym = method == LyapunovMethod::symmetric_eigen ||
                   (method == LyapunovMethod::automatic && am == am.transpose());
  if (n == 0) return LyapunovSolution<Scalar>{am, Scalar(0), Scalar(0), Scalar(0), Scalar(0), Outcome{}};
  // Exact power-of-two scaling: Q by ≈ 1/max|Q| and, for the continuous equation (homogeneous in A),
  // A by ≈ 1/max|A|; then A X + X Aᵀ = Q gives X = 2^{kq − ka} X_s, X = A X Aᵀ + Q gives X = 2^{kq} X_s.
  auto exponent = [](const DynMatrix<Scalar>& m) {
    const Scalar big = m.cwiseAbs().maxCoeff();
    return big > Scalar(0) ? std::ilogb(big) : 0;
  };
  auto times_pow2 = [](const DynMatrix<Scalar>& m, int k) {
    constexpr int range = std::numeric_limits<Scalar>::max_exponent - 2;  // 2^k normal: exact product
    if (k > -range && k < range) return DynMatrix<Scalar>(m * Scalar(std::ldexp(1.0, k)));
    return DynMatrix<Scalar>(m.unaryExpr([k](Scalar v) { return Scalar(std::ldexp(v, k)); }));
  };
  const int ka = discrete ? 0 : exponent(am), kq = exponent(qm);
  const DynMatrix<Scalar> as = times_pow2(am, -ka), qs = times_pow2(qm, -kq);
  ScaledLyapunov<Scalar> r = sym ? lyapunov_symmetric<Scalar>(as, qs, discrete) : lyapunov_schur<Scalar>(as, qs, discrete);
  LyapunovSolution<Scalar>& sol = r.sol;
  if (sol.outcome.status == Status::no_convergence) return sol;
  finish<Scalar>(r, as, qs, discrete);
  sol.X = times_pow2(sol.X, kq - ka);
  if (!all_finite(sol.X) && sol.outcome.status != Status::singular)
    sol.outcome = Outcome::failure(Status::non_finite, -1, 0.0,
                                   "the solution overflows the range of the scalar type (X ≈ 2^" +
                                       std::to_string(kq - ka) + " × its scaled value)");
  auto unscale = [ka](Scalar v) { return Scalar(std::ldexp(v, ka)); };
  sol.min_real_part = unscale(sol.min_real_part);
  sol.max_real_part = unscale(sol.max_real_part);
  sol.spectral_radius = unscale(sol.spectral_radius);
  sol.separation = unscale(sol.separation);
  return sol;
}

}  // namespace detail

/// Solves the continuous Lyapunov equation  A X + X Aᵀ = Q  (scipy's solve_continuous_lyapunov
/// convention). Bartels–Stewart: A = U T Uᵀ (real Schur), T Y + Y Tᵀ = Uᵀ Q U by block back
/// substitution over 1×1 and 2×2 blocks, X = U Y Uᵀ; backward stable, O(n³) (about 25n³ flops for
/// the Schur form, 8n³ for the transformations, n³ for the triangular solve). With
/// LyapunovMethod::symmetric_eigen (A symmetric): A = VΛVᵀ, X = V [ (VᵀQV)_ij / (λ_i + λ_j) ] Vᵀ.
/// Q need not be symmetric; when it is (exactly), X is returned exactly symmetric.
/// A and Q are first scaled by powers of two near 1/max|A|, 1/max|Q| (exact; X unscaled at the end),
/// so any finite input whose solution is representable is solved, and its residual measured, without
/// overflow. Every solve returns `separation`, `condition` and `forward_error_bound` (see
/// LyapunovSolution; two extra quasi-triangular solves on the Schur path, about n³ flops each).
/// Throws sgdsde::invalid_argument for non-square/mismatched/non-finite input. A unique solution
/// exists iff λ_i + λ_j ≠ 0 for all eigenvalue pairs; otherwise outcome = Status::singular;
/// Status::ill_conditioned when condition·ε > √ε.
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
/// ρ(A) ≥ 1 (X then solves the equation but is not a stationary covariance); ill_conditioned when
/// condition·ε > √ε. Q is scaled by a power of two near 1/max|Q| (A is not: the equation is not
/// homogeneous in A); condition estimate as for the continuous solver.
template <class DA, class DQ>
LyapunovSolution<typename DA::Scalar> solve_discrete_lyapunov(const Eigen::MatrixBase<DA>& a,
                                                              const Eigen::MatrixBase<DQ>& q,
                                                              LyapunovMethod method = LyapunovMethod::automatic) {
  return detail::lyapunov_dispatch("solve_discrete_lyapunov", a, q, method, true);
}

}  // namespace sgdsde
