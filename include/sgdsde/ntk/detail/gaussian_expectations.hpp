// sgdsde/ntk/detail/gaussian_expectations.hpp — the bivariate Gaussian expectations behind the kernel
// recursions: E[φ(u)φ(v)], E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]) in closed form (ReLU,
// leaky ReLU, erf, identity) and by quadrature (Gauss–Hermite; piecewise Gauss–Legendre at kinks).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/activation.hpp"

namespace sgdsde::ntk::detail {

inline constexpr double kPi = 3.141592653589793238462643383279502884;

/// Elements processed together through all layers: arrays of this many entries live on the stack.
inline constexpr Index kChunk = 256;
template <class Scalar>
using ChunkArray = Eigen::Array<Scalar, Eigen::Dynamic, 1, 0, kChunk, 1>;

/// √(q1 q2), exactly q for q1 = q2 = q (so identical points have correlation exactly 1); through
/// √q1·√q2 where the product would underflow or overflow.
inline double product_root(double q1, double q2) {
  const double p = q1 * q2;
  return (p > 1e-290 && p < 1e290) || p == 0 ? std::sqrt(p) : std::sqrt(q1) * std::sqrt(q2);
}

/// Array form of product_root.
template <class S>
ChunkArray<S> product_root(const ChunkArray<S>& q1, const ChunkArray<S>& q2) {
  using A = ChunkArray<S>;
  const A p = q1 * q2;
  A g = p.sqrt();
  const S lo = S(1e4) * std::numeric_limits<S>::min(), hi = std::numeric_limits<S>::max() / S(1e4);
  if (((p < lo && p != S(0)) || p > hi).any()) g = ((p < lo && p != S(0)) || p > hi).select(q1.sqrt() * q2.sqrt(), g);
  return g;
}

/// atan2(y, x) for y ≥ 0 (result in [0, π]) as one branch-free array expression, so that Eigen
/// vectorises it (std::atan2 does not vectorise). Rational approximation of atan on [0, 0.66] (the
/// Cephes coefficients, relative error ≤ 2.3e-16 measured against std::atan) after reduction
/// t = min/max ∈ [0, 1] and t > 0.66 → π/4 + atan((t − 1)/(t + 1)). atan2(0, 0) = 0.
template <class S>
ChunkArray<S> atan2_upper(const ChunkArray<S>& y, const ChunkArray<S>& x) {
  using A = ChunkArray<S>;
  const A ax = x.abs();
  const A mn = ax.min(y);
  const A mx = ax.max(y).max(std::numeric_limits<S>::min());  // atan2(0, 0): 0/min = 0
  // t = mn/mx ∈ [0, 1]; for t > 0.66 use atan t = π/4 + atan((t − 1)/(t + 1)) = π/4 + atan((mn − mx)/(mn + mx)):
  // one division either way
  const auto big = mn > S(0.66) * mx;
  const A r = big.select(mn - mx, mn) / big.select(mn + mx, mx);
  const A z = r * r;
  A a = r + r * z *
                ((((S(-8.750608600031904122785E-1) * z + S(-1.615753718733365076637E1)) * z +
                   S(-7.500855792314704667340E1)) * z + S(-1.228866684490136173410E2)) * z +
                 S(-6.485021904942025371773E1)) /
                (((((z + S(2.485846490142306297962E1)) * z + S(1.650270098316988542046E2)) * z +
                   S(4.328810604912902668951E2)) * z + S(4.853903996359136964868E2)) * z +
                 S(1.945506571482613964425E2));
  a += (mn > S(0.66) * mx).template cast<S>() * S(kPi / 4);
  a = (y > ax).select(S(kPi / 2) - a, a);
  return (x < S(0)).select(S(kPi) - a, a);
}

/// Nodes and weights of a rule for ∫ f(z) N(z; 0, 1) dz (probabilists' Gauss–Hermite) computed by
/// Golub–Welsch: the eigenvalues of the Jacobi matrix with off-diagonal √k are the nodes, the squared
/// first components of its eigenvectors the weights.
struct NodesWeights {
  std::vector<double> nodes, weights;
};

/// Golub–Welsch for a symmetric Jacobi matrix (zero diagonal, off-diagonal `beta`) and total mass mu0.
inline NodesWeights golub_welsch(const Eigen::VectorXd& beta, double mu0) {
  const Index n = beta.size() + 1;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
  es.computeFromTridiagonal(Eigen::VectorXd::Zero(n), beta, Eigen::ComputeEigenvectors);
  NodesWeights r;
  for (Index i = 0; i < n; ++i) {
    r.nodes.push_back(es.eigenvalues()(i));
    r.weights.push_back(mu0 * es.eigenvectors()(0, i) * es.eigenvectors()(0, i));
  }
  return r;
}

inline NodesWeights gauss_hermite_rule(int n) {
  Eigen::VectorXd beta(n - 1);
  for (int k = 1; k < n; ++k) beta(k - 1) = std::sqrt(double(k));
  return golub_welsch(beta, 1.0);
}

/// Gauss–Legendre on [−1, 1] by Golub–Welsch (off-diagonal k/√(4k² − 1), weights 2·v₀²).
inline NodesWeights gauss_legendre_rule(int n) {
  Eigen::VectorXd beta(n - 1);
  for (int k = 1; k < n; ++k) beta(k - 1) = double(k) / std::sqrt(4.0 * k * k - 1.0);
  return golub_welsch(beta, 2.0);
}

/// Bivariate Gaussian quadrature (arguments q1, q2, c). With u = √q1 z1, v = √q2 (ρ z1 + s z2), ρ = c/√(q1 q2) clamped to
/// [−1, 1] (ρ = 0 when q1 q2 = 0), s = √((1 − ρ)(1 + ρ)), z1, z2 i.i.d. N(0, 1):
/// returns Σ w ⊙ a(u) ⊙ b(v) ≈ E[a(u) ⊙ b(v)] for array-valued a, b (size M).
/// split (default): z1 is split at 0 and z2 at −ρ z1/s and at 0 (u = 0 and v = 0 are the kinks of the
/// ReLU family), each piece integrated by n-point Gauss–Legendre against the normal density on [−T, T],
/// T = 9 (the tail beyond is < 1e-18): exponential convergence for every activation smooth away from 0.
/// Otherwise tensor Gauss–Hermite with n nodes per dimension (slower for saturating φ: erf needs
/// n ≈ 96 for 1e-15 where the split rule needs 32; kinks limit it to algebraic convergence).
class BivariateQuadrature {
 public:
  BivariateQuadrature(int n, bool split) : kink_(split) {
    if (kink_)
      rule_ = gauss_legendre_rule(n);
    else
      rule_ = gauss_hermite_rule(n);
  }

  template <int M, class FA, class FB>
  Eigen::Array<double, M, 1> expectation(double q1, double q2, double c, const FA& a, const FB& b) const {
    using V = Eigen::Array<double, M, 1>;
    const double s1 = std::sqrt(q1), s2 = std::sqrt(q2);
    const double g = product_root(q1, q2);
    const double rho = g > 0 ? std::clamp(c / g, -1.0, 1.0) : 0.0;
    const double s = std::sqrt((1 - rho) * (1 + rho));
    V total = V::Zero();
    if (!kink_) {
      const std::size_t n = rule_.nodes.size();
      for (std::size_t i = 0; i < n; ++i) {
        const double z1 = rule_.nodes[i];
        const V au = a(s1 * z1);
        V inner = V::Zero();
        if (s == 0) {
          inner = b(s2 * rho * z1);
        } else {
          for (std::size_t j = 0; j < n; ++j) inner += rule_.weights[j] * b(s2 * (rho * z1 + s * rule_.nodes[j]));
        }
        total += rule_.weights[i] * au * inner;
      }
      return total;
    }
    for (int half = 0; half < 2; ++half) {
      const double lo = half == 0 ? -kT : 0.0, hi = half == 0 ? 0.0 : kT;
      for (std::size_t i = 0; i < rule_.nodes.size(); ++i) {
        const double z1 = 0.5 * (lo + hi) + 0.5 * (hi - lo) * rule_.nodes[i];
        const double w1 = 0.5 * (hi - lo) * rule_.weights[i] * normal_density(z1);
        const V au = a(s1 * z1);
        V inner = V::Zero();
        if (s == 0) {
          inner = b(s2 * rho * z1);
        } else {
          // pieces of at most half the range: split at the kink (v = 0) and at z2 = 0
          const double kink = std::clamp(-rho * z1 / s, -kT, kT);
          const double lo2 = std::min(kink, 0.0), hi2 = std::max(kink, 0.0);
          inner = piece(-kT, lo2, s2, rho * z1, s, b) + piece(lo2, hi2, s2, rho * z1, s, b) +
                  piece(hi2, kT, s2, rho * z1, s, b);
        }
        total += w1 * au * inner;
      }
    }
    return total;
  }

 private:
  static constexpr double kT = 9.0;
  static double normal_density(double z) { return 0.3989422804014326779399460599343818684 * std::exp(-0.5 * z * z); }

  template <class FB>
  auto piece(double lo, double hi, double s2, double m, double s, const FB& b) const {
    using V = decltype(b(0.0));
    V acc = V::Zero();
    if (!(hi > lo)) return acc;
    for (std::size_t j = 0; j < rule_.nodes.size(); ++j) {
      const double z2 = 0.5 * (lo + hi) + 0.5 * (hi - lo) * rule_.nodes[j];
      acc += (0.5 * (hi - lo) * rule_.weights[j] * normal_density(z2)) * b(s2 * (m + s * z2));
    }
    return acc;
  }

  bool kink_;
  NodesWeights rule_;
};

/// Closed-form expectations of the built-in activations, elementwise over arrays:
/// J = E[φ(u)φ(v)], Jd = E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]). Written without any
/// normalisation by √(q1 q2): D = q1 q2 − c² is formed as (g − c)(g + c) with g = √(q1 q2) (product_root), clamped at 0,
/// and angles come from atan2, so ρ → ±1 keeps full precision of the data and q = 0 gives no 0/0.
///   ReLU:   J = (√D + (π − θ) c)/(2π), Jd = (π − θ)/(2π), θ = atan2(√D, c)    (arc-cosine kernel n = 1, 0)
///   leaky:  φ = (1 − α) relu + α·id ⇒ J = (1 − α)² J_relu + α c, Jd = (1 − α)² Jd_relu + α
///   erf:    J = (2/π) asin(2c/√((1 + 2q1)(1 + 2q2))) = (2/π) atan2(2c, √Δ), Jd = (4/π)/√Δ,
///           Δ = (1 + 2q1)(1 + 2q2) − 4c² = 1 + 2(q1 + q2) + 4D > 0
///   identity: J = c, Jd = 1.
/// Inputs are the variances q1, q2 and the covariance c, arrays of at most kChunk entries.
template <class Scalar>
struct ClosedFormActivation {
  nn::Activation activation;
  Scalar slope;  // leaky ReLU

  using A = ChunkArray<Scalar>;
  void operator()(const A& q1, const A& q2, const A& c, A& j, A& jd) const {
    const Scalar pi(kPi), inv2pi(1 / (2 * kPi));
    switch (activation) {
      case nn::Activation::identity:
        j = c;
        jd.setConstant(c.size(), Scalar(1));
        return;
      case nn::Activation::relu:
      case nn::Activation::leaky_relu: {
        const A g = product_root(q1, q2);
        const A sd = ((g - c) * (g + c)).max(Scalar(0)).sqrt();
        const A theta = atan2_upper(sd, c);
        if (activation == nn::Activation::relu) {
          j = (sd + (pi - theta) * c) * inv2pi;
          jd = (pi - theta) * inv2pi;
        } else {
          const Scalar w = (1 - slope) * (1 - slope);
          j = w * (sd + (pi - theta) * c) * inv2pi + slope * c;
          jd = w * (pi - theta) * inv2pi + slope;
        }
        return;
      }
      case nn::Activation::erf: {
        const A g = product_root(q1, q2);
        const A d = ((g - c) * (g + c)).max(Scalar(0));
        const A root = (Scalar(1) + Scalar(2) * (q1 + q2) + Scalar(4) * d).sqrt();
        const A ang = atan2_upper(A(Scalar(2) * c.abs()), root);
        j = (c < Scalar(0)).select(-ang, ang) * Scalar(2 / kPi);
        jd = Scalar(4 / kPi) / root;
        return;
      }
      case nn::Activation::tanh: break;  // not closed form (never dispatched here)
    }
  }
};

inline bool has_closed_form(nn::Activation a) { return a != nn::Activation::tanh; }

}  // namespace sgdsde::ntk::detail
