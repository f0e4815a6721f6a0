// sgdsde/curvature/trace.hpp — matrix-free stochastic trace estimators with standard errors:
// Hutchinson (1990) E[zᵀAz] = Tr A, ‖A‖_F² = E‖Az‖² for symmetric A, and Hutch++ (Meyer, Musco, Musco
// & Woodruff 2021, Algorithm 1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#include <Eigen/QR>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/curvature/operator.hpp"

namespace sgdsde::curvature {

/// Which probes an estimator uses: probe j = first_probe + i (i = 0 … probes−1) is the Rademacher
/// vector of values [j·n, (j+1)·n) of the stream (RandomStream::rademacher_at; the stream's cursor is
/// neither read nor advanced). So an estimate depends on (seed, stream id, probe indices) only, and
/// probes [0, 50) plus probes [50, 100), combined, give exactly the estimate of probes [0, 100).
struct ProbeOptions {
  Index first_probe = 0;
};

/// A Monte Carlo estimate: the mean of i.i.d. per-probe samples, with its standard error
/// s/√m (s the sample standard deviation, m − 1 denominator; +∞ when m = 1).
template <class Scalar>
struct StochasticEstimate {
  Scalar estimate = 0;
  Scalar standard_error = 0;
  Index probes = 0;        ///< m, number of samples
  Index first_probe = 0;   ///< the samples are of probes [first_probe, first_probe + probes)
  Index matvecs = 0;       ///< applications of the operator
  VectorX<Scalar> samples; ///< the per-probe values, in probe order
  std::uint64_t seed = 0, stream_id = 0;  ///< the stream the probes came from
  Outcome outcome;         ///< success, or non_finite (estimate and error NaN, samples kept up to the failure)
};

/// Hutchinson's trace estimate and the ‖A‖_F² estimate from the same probes (one application each).
template <class Scalar>
struct TraceAndFrobenius {
  StochasticEstimate<Scalar> trace;              ///< samples zᵀ A z
  StochasticEstimate<Scalar> frobenius_squared;  ///< samples ‖A z‖²
};

namespace detail {

/// Mean and standard error of `samples`, summed in index order (so equal samples give equal bits).
template <class Scalar>
void summarise(StochasticEstimate<Scalar>& e, const char* fn) {
  using std::sqrt;
  const Index m = e.samples.size();
  e.probes = m;
  if (m == 0) return;
  // Two-pass in long double for the sums (m is small; this keeps the variance accurate when the
  // mean is large next to the spread, as for a trace of a matrix with a dominant diagonal).
  long double sum = 0;
  for (Index i = 0; i < m; ++i) sum += e.samples[i];
  const long double mean = sum / m;
  long double ss = 0;
  for (Index i = 0; i < m; ++i) ss += (e.samples[i] - mean) * (e.samples[i] - mean);
  e.estimate = Scalar(mean);
  e.standard_error = m > 1 ? Scalar(std::sqrt(ss / (m - 1) / m)) : std::numeric_limits<Scalar>::infinity();
  using std::isfinite;
  if (!isfinite(e.estimate) || (m > 1 && !isfinite(e.standard_error)))
    e.outcome = Outcome::failure(Status::non_finite, -1, double(e.estimate),
                                 std::string(fn) + ": the per-probe samples or their mean overflowed the range "
                                                   "of the Scalar type (operator values too large)");
}

template <class Scalar>
void mark_non_finite(StochasticEstimate<Scalar>& e, const char* fn, Index probe) {
  e.estimate = e.standard_error = std::numeric_limits<Scalar>::quiet_NaN();
  e.outcome = Outcome::failure(Status::non_finite, long(probe), std::numeric_limits<double>::quiet_NaN(),
                               std::string(fn) + ": the operator returned a non-finite value (NaN or Inf) "
                                                 "for probe " + std::to_string(probe));
}

template <class To>
StochasticEstimate<To> cast_estimate(const StochasticEstimate<double>& e) {
  StochasticEstimate<To> c;
  c.estimate = To(e.estimate);
  c.standard_error = To(e.standard_error);
  c.probes = e.probes;
  c.first_probe = e.first_probe;
  c.matvecs = e.matvecs;
  c.samples = e.samples.template cast<To>();
  c.seed = e.seed;
  c.stream_id = e.stream_id;
  c.outcome = e.outcome;
  return c;
}

/// zᵀAz and ‖Az‖² for probes [first, first + m).
template <class Scalar>
TraceAndFrobenius<Scalar> hutchinson_samples(const char* fn, const LinearOperator<Scalar>& a, Index probes,
                                             const RandomStream& stream, const ProbeOptions& options) {
  if constexpr (!std::is_same_v<Scalar, double>) {  // applied in Scalar, summed in double
    const TraceAndFrobenius<double> d = hutchinson_samples(fn, promote(a), probes, stream, options);
    return {cast_estimate<Scalar>(d.trace), cast_estimate<Scalar>(d.frobenius_squared)};
  } else {
    const Index n = a.dim();
    require(probes >= 1, fn, "probes", probes, "an integer >= 1");
    require_probe_range(fn, options.first_probe, probes, n);
    TraceAndFrobenius<Scalar> r;
    for (StochasticEstimate<Scalar>* e : {&r.trace, &r.frobenius_squared}) {
      e->first_probe = options.first_probe;
      e->seed = stream.seed();
      e->stream_id = stream.stream_id();
      e->samples.resize(probes);
    }
    VectorX<Scalar> z(n), az(n);
    for (Index i = 0; i < probes; ++i) {
      const Index j = options.first_probe + i;
      rademacher_probe<Scalar>(stream, j, z);
      a.apply(z, az);
      r.trace.matvecs = r.frobenius_squared.matvecs = i + 1;
      if (!all_finite(az)) {
        r.trace.samples.conservativeResize(i);
        r.frobenius_squared.samples.conservativeResize(i);
        mark_non_finite(r.trace, fn, j);
        mark_non_finite(r.frobenius_squared, fn, j);
        r.trace.probes = r.frobenius_squared.probes = i;
        return r;
      }
      r.trace.samples[i] = z.dot(az);
      r.frobenius_squared.samples[i] = az.squaredNorm();
    }
    summarise(r.trace, fn);
    summarise(r.frobenius_squared, fn);
    return r;
  }
}

}  // namespace detail

/// Hutchinson's estimate of Tr A: the mean over m Rademacher probes z of zᵀ A z (unbiased; for
/// symmetric A its variance per probe is 2(‖A‖_F² − Σ a_ii²)). Standard error s/√m from the sample
/// standard deviation; by the CLT the estimate is ≈ N(Tr A, SE²) for moderate m. m applications of A.
/// Throws invalid_argument unless probes ≥ 1 (options.first_probe ≥ 0); non_finite if A returns NaN/Inf.
template <class Scalar>
StochasticEstimate<Scalar> hutchinson_trace(const LinearOperator<Scalar>& a, Index probes, const RandomStream& stream,
                                            const ProbeOptions& options = {}) {
  return detail::hutchinson_samples("hutchinson_trace", a, probes, stream, options).trace;
}

/// ‖A‖_F² = Tr(AᵀA) = Tr(A²) estimated as the mean of ‖A z‖² over m Rademacher probes (Hutchinson on
/// A², one application of A per probe), with standard error s/√m.
template <class Scalar>
StochasticEstimate<Scalar> frobenius_norm_squared(const LinearOperator<Scalar>& a, Index probes,
                                                  const RandomStream& stream, const ProbeOptions& options = {}) {
  return detail::hutchinson_samples("frobenius_norm_squared", a, probes, stream, options).frobenius_squared;
}

/// Both estimates from the same m probes (m applications of A, not 2m); the two share their probes,
/// so they are correlated.
template <class Scalar>
TraceAndFrobenius<Scalar> trace_and_frobenius(const LinearOperator<Scalar>& a, Index probes,
                                              const RandomStream& stream, const ProbeOptions& options = {}) {
  return detail::hutchinson_samples("trace_and_frobenius", a, probes, stream, options);
}

/// The estimate over the union of two adjacent probe ranges of the same stream (in either order):
/// bit-identical to one call over the union. Throws invalid_argument if the ranges are not adjacent,
/// the streams differ, or either input failed.
template <class Scalar>
StochasticEstimate<Scalar> combine(const StochasticEstimate<Scalar>& a, const StochasticEstimate<Scalar>& b) {
  constexpr const char* fn = "combine";
  require(a.outcome.ok(), fn, "a", to_string(a.outcome.status), "a successful estimate");
  require(b.outcome.ok(), fn, "b", to_string(b.outcome.status), "a successful estimate");
  if (a.seed != b.seed || a.stream_id != b.stream_id)
    sgdsde::detail::throw_invalid_argument(
        fn, "b", "from stream (" + std::to_string(b.seed) + ", " + std::to_string(b.stream_id) + ")",
        "the stream of a (" + std::to_string(a.seed) + ", " + std::to_string(a.stream_id) + ")");
  const StochasticEstimate<Scalar>& lo = a.first_probe <= b.first_probe ? a : b;
  const StochasticEstimate<Scalar>& hi = a.first_probe <= b.first_probe ? b : a;
  require(lo.first_probe + lo.probes == hi.first_probe, fn, "b",
          "probes [" + std::to_string(b.first_probe) + ", " + std::to_string(b.first_probe + b.probes) + ")",
          ("a range adjacent to a's [" + std::to_string(a.first_probe) + ", " +
           std::to_string(a.first_probe + a.probes) + ")").c_str());
  StochasticEstimate<Scalar> r;
  r.first_probe = lo.first_probe;
  r.seed = a.seed;
  r.stream_id = a.stream_id;
  r.matvecs = a.matvecs + b.matvecs;
  r.samples.resize(lo.probes + hi.probes);
  r.samples << lo.samples, hi.samples;
  detail::summarise(r, fn);
  return r;
}

/// The Hutch++ trace estimate with its parts.
template <class Scalar>
struct HutchPlusPlusEstimate {
  Scalar estimate = 0;
  Scalar standard_error = 0;       ///< = residual_part.standard_error (the low-rank part is exact given Q)
  Scalar low_rank_part = 0;        ///< Tr(Qᵀ A Q)
  StochasticEstimate<Scalar> residual_part;  ///< samples gᵀ(I − QQᵀ)A(I − QQᵀ)g
  Index sketch_size = 0;           ///< s
  Index matvecs = 0;               ///< 2s + p
  Outcome outcome;
};

/// Hutch++ estimate of Tr A with a budget of `matvecs` applications (Meyer et al. 2021, Alg. 1):
/// s = ⌊matvecs/3⌋ sketch probes S (probes first_probe … +s−1), Q = orth(A S) (n × s);
/// p = matvecs − 2s residual probes G (the next p probes);
///   t = Tr(Qᵀ A Q) + (1/p) Σ_g gᵀ (I − QQᵀ) A (I − QQᵀ) g.
/// Given Q the first term is exact and the second is Hutchinson on (I − QQᵀ)A(I − QQᵀ), whose trace is
/// Tr A − Tr(QᵀAQ): so E[t | Q] = Tr A, and the standard error s_g/√p from the sample standard
/// deviation of the residual samples is valid conditionally on Q (hence unconditionally for the
/// coverage of t ± z·SE). The error is O(1/matvecs) for A ⪰ 0 against O(1/√matvecs) for Hutchinson.
/// Throws invalid_argument unless matvecs ≥ 3; non_finite if A returns NaN/Inf.
template <class Scalar>
HutchPlusPlusEstimate<Scalar> hutch_plus_plus(const LinearOperator<Scalar>& a, Index matvecs,
                                              const RandomStream& stream, const ProbeOptions& options = {}) {
  if constexpr (!std::is_same_v<Scalar, double>) {  // applied in Scalar, sketched and summed in double
    const HutchPlusPlusEstimate<double> d = hutch_plus_plus(detail::promote(a), matvecs, stream, options);
    HutchPlusPlusEstimate<Scalar> r;
    r.estimate = Scalar(d.estimate);
    r.standard_error = Scalar(d.standard_error);
    r.low_rank_part = Scalar(d.low_rank_part);
    r.residual_part = detail::cast_estimate<Scalar>(d.residual_part);
    r.sketch_size = d.sketch_size;
    r.matvecs = d.matvecs;
    r.outcome = d.outcome;
    return r;
  } else {
    using Matrix = MatrixX<Scalar>;
    using Vector = VectorX<Scalar>;
    constexpr const char* fn = "hutch_plus_plus";
    const Index n = a.dim();
    require(matvecs >= 3, fn, "matvecs", matvecs, "an integer >= 3 (a sketch, its image and one residual probe)");
    detail::require_probe_range(fn, options.first_probe, matvecs, n);
    const Index s = std::min(matvecs / 3, n);
    const Index p = matvecs - 2 * s;
    HutchPlusPlusEstimate<Scalar> r;
    r.sketch_size = s;
    auto fail = [&](Index probe) {
      detail::mark_non_finite(r.residual_part, fn, probe);
      r.estimate = r.standard_error = std::numeric_limits<Scalar>::quiet_NaN();
      r.outcome = r.residual_part.outcome;
      return r;
    };
    // Sketch: Y = A S, Q = orth(Y) (thin Householder QR; rank-deficient Y still gives orthonormal Q).
    Matrix Y(n, s);
    Vector z(n), az(n);
    for (Index i = 0; i < s; ++i) {
      detail::rademacher_probe<Scalar>(stream, options.first_probe + i, z);
      a.apply(z, az);
      ++r.matvecs;
      if (!all_finite(az)) return fail(options.first_probe + i);
      Y.col(i) = az;
    }
    const Eigen::HouseholderQR<Matrix> qr(Y);
    const Matrix Q = qr.householderQ() * Matrix::Identity(n, s);
    long double low = 0;
    for (Index i = 0; i < s; ++i) {
      a.apply(Q.col(i), az);
      ++r.matvecs;
      if (!all_finite(az)) return fail(options.first_probe + i);
      low += Q.col(i).dot(az);
    }
    r.low_rank_part = Scalar(low);
    StochasticEstimate<Scalar>& res = r.residual_part;
    res.first_probe = options.first_probe + s;
    res.seed = stream.seed();
    res.stream_id = stream.stream_id();
    res.samples.resize(p);
    for (Index i = 0; i < p; ++i) {
      const Index j = options.first_probe + s + i;
      detail::rademacher_probe<Scalar>(stream, j, z);
      z.noalias() -= Q * (Q.transpose() * z);
      a.apply(z, az);
      ++r.matvecs;
      ++res.matvecs;
      if (!all_finite(az)) return fail(j);
      res.samples[i] = z.dot(az);  // zᵀ A z with z = (I − QQᵀ) g; equals gᵀ(I−QQᵀ)A(I−QQᵀ)g
    }
    detail::summarise(res, fn);
    r.estimate = r.low_rank_part + res.estimate;
    r.standard_error = res.standard_error;
    r.outcome = res.outcome;
    using std::isfinite;
    if (r.outcome.ok() && !isfinite(r.estimate))
      r.outcome = Outcome::failure(Status::non_finite, -1, double(r.estimate),
                                   std::string(fn) + ": the estimate overflowed the range of the Scalar type "
                                                     "(operator values too large)");
    return r;
  }
}

}  // namespace sgdsde::curvature
