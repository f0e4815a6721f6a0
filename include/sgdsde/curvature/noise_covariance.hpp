// sgdsde/curvature/noise_covariance.hpp — the gradient-noise covariance C(θ) = (1/N) Σₙ (gₙ − ḡ)(gₙ − ḡ)ᵀ of an MLP
// (the C of the SDE, Jastrzębski et al. 2018 eq. 5) from streamed per-sample gradients: Tr C, C as an operator, and
// its alignment with the Hessian H (Assumption 2, C ≈ H): Tr(CH)/(‖C‖_F‖H‖_F), Tr C/Tr H, top-k eigenspace overlap.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/curvature/operator.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace sgdsde::curvature {

/// Mean gradient and exact trace of the gradient-noise covariance over the N samples.
template <class Scalar>
struct GradientNoise {
  VectorX<Scalar> mean_gradient;  ///< ḡ = (1/N) Σ gₙ = ∇L(θ)
  Scalar trace{};                 ///< Tr C = (1/N) Σ ‖gₙ − ḡ‖² (exact, no estimator)
  Scalar mean_loss{};             ///< L(θ)
  Index num_samples = 0;
  Outcome outcome;  ///< non_finite if a gradient or the loss is not finite
};

/// ḡ and Tr C = (1/N) Σₙ ‖gₙ − ḡ‖² (1/N, not 1/(N−1): C is the covariance of the minibatch sampler's draws,
/// docs/conventions.md) from the per-sample gradients gₙ = ∇θ l(f(xₙ), yₙ) (nn::per_sample_gradients, eval
/// mode: with batch norm the running statistics are used, since batch statistics would couple the samples).
/// Streamed: one P × chunk_size block at a time (memory 8·P·chunk_size bytes in double), merged chunk by chunk
/// with the pairwise update of Chan et al. (stable: no Σ‖gₙ‖² − N‖ḡ‖² cancellation). Cost: one per-sample
/// pass over the data. `inputs`/`loss` as hessian_operator (not retained after the call).
template <class Scalar, class LossFn, class Derived>
GradientNoise<Scalar> gradient_noise(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                     const Eigen::MatrixBase<Derived>& inputs, Index chunk_size = 64) {
  const char* fn = "gradient_noise";
  require(chunk_size >= 1, fn, "chunk_size", chunk_size, "an integer >= 1");
  DataPassOptions o;
  o.chunk_size = chunk_size;
  const detail::ChunkedData<Scalar, LossFn> data(fn, net, loss, inputs, o);
  const Index p = net.num_parameters();
  nn::MlpWorkspace<Scalar> ws(data.net, data.max_chunk());
  MatrixX<Scalar> g(p, data.max_chunk());
  VectorX<Scalar> chunk_mean(p), delta(p);
  GradientNoise<Scalar> r;
  r.mean_gradient = VectorX<Scalar>::Zero(p);
  r.num_samples = data.num_samples();
  double m2 = 0, loss_sum = 0;  // Σ‖gₙ − ḡ‖² over the samples merged so far
  Index seen = 0;
  data.for_each_chunk([&](const auto& x, const auto& chunk_loss, Scalar) {
    const Index s = x.cols();
    auto gc = g.leftCols(s);
    loss_sum += double(nn::per_sample_gradients(data.net, chunk_loss, x, gc, ws, nn::Mode::eval)) * double(s);
    chunk_mean = gc.rowwise().sum() / Scalar(double(s));
    const double chunk_m2 = double((gc.colwise() - chunk_mean).squaredNorm());
    delta = chunk_mean - r.mean_gradient;
    const double total = double(seen + s);
    m2 += chunk_m2 + double(delta.squaredNorm()) * double(seen) * double(s) / total;
    r.mean_gradient += delta * Scalar(double(s) / total);
    seen += s;
  });
  r.trace = Scalar(m2 / double(seen));
  r.mean_loss = Scalar(loss_sum / double(seen));
  using std::isfinite;
  if (!all_finite(r.mean_gradient) || !isfinite(r.trace) || !isfinite(r.mean_loss))
    r.outcome = Outcome::failure(Status::non_finite, -1, double(r.trace),
                                 "gradient_noise: a per-sample gradient or the loss is not finite");
  return r;
}
/// Same on a Dataset.
template <class Scalar>
GradientNoise<Scalar> gradient_noise(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data, Index chunk_size = 64) {
  return detail::with_dataset_loss("gradient_noise", data,
                                   [&](const auto& loss) { return gradient_noise(net, loss, data.inputs, chunk_size); });
}

namespace detail {
template <class Scalar, class LossFn>
struct CovarianceState {
  ChunkedData<Scalar, LossFn> data;
  nn::TangentWorkspace<Scalar> tw;
  nn::MlpWorkspace<Scalar> ws;
  MatrixX<Scalar> outputs, tangent, adjoint, no_input_direction, no_input_vjp;
  VectorX<Scalar> mean_gradient, chunk_vjp;
  template <class Derived>
  CovarianceState(const char* fn, const nn::Mlp<Scalar>& net, const LossFn& loss, const Eigen::MatrixBase<Derived>& x,
                  const DataPassOptions& o)
      : data(fn, net, loss, x, o),
        tw(data.net, data.max_chunk()),
        ws(data.net, data.max_chunk()),
        outputs(net.output_dim(), data.max_chunk()),
        tangent(net.output_dim(), data.max_chunk()),
        adjoint(net.output_dim(), data.max_chunk()),
        mean_gradient(VectorX<Scalar>::Zero(net.num_parameters())),
        chunk_vjp(net.num_parameters()) {
    require(!(net.spec().batch_norm && o.mode == nn::Mode::train), fn, "options.mode", "train with batch norm",
            "nn::Mode::eval (per-sample gradients are undefined when batch statistics couple the samples)");
    data.for_each_chunk([&](const auto& xc, const auto& chunk_loss, Scalar w) {
      nn::loss_and_gradient(data.net, chunk_loss, xc, chunk_vjp, ws, nn::Mode::eval);
      mean_gradient += w * chunk_vjp;
    });
  }
};
}  // namespace detail

/// C = (1/N) Σₙ (gₙ − ḡ)(gₙ − ḡ)ᵀ as an operator, never forming a per-sample gradient: with
/// gₙ = Jₙᵀ ∂l/∂fₙ, C v = (1/N) Σₙ aₙ gₙ − ḡ (1/N) Σₙ aₙ with aₙ = gₙᵀv − ḡᵀv, and gₙᵀv = (∂l/∂fₙ)ᵀ(Jₙ v)
/// comes from one jvp of the chunk and Σₙ aₙ gₙ from one output_vjp with cotangent columns aₙ ∂l/∂fₙ:
/// two passes over the data per application (≈ 1 dual forward + 1 gradient), memory as hessian_operator.
/// ḡ is computed once at construction (one gradient pass). Eval mode only for networks with batch norm
/// (options.mode = train throws); chunking does not change the result. Views inputs/loss like
/// hessian_operator; copies the network.
template <class Scalar, class LossFn, class Derived>
LinearOperator<Scalar> covariance_operator(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                           const Eigen::MatrixBase<Derived>& inputs, DataPassOptions options = {}) {
  auto st = std::make_shared<detail::CovarianceState<Scalar, LossFn>>("covariance_operator", net, loss, inputs,
                                                                        options);
  return LinearOperator<Scalar>(
      net.num_parameters(), [st](const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>> out) {
        const Scalar gbar_v = st->mean_gradient.dot(v);
        const Scalar inv_n = Scalar(1) / Scalar(double(st->data.num_samples()));
        Scalar sum_a(0);
        out.setZero();
        st->data.for_each_chunk([&](const auto& x, const auto& chunk_loss, Scalar) {
          const Index s = x.cols();
          auto f = st->outputs.leftCols(s);
          auto t = st->tangent.leftCols(s);
          auto d = st->adjoint.leftCols(s);
          nn::jvp(st->data.net, x, v, st->no_input_direction, f, t, st->tw, nn::Mode::eval);
          chunk_loss.sum_and_adjoint(f, d, Scalar(1));  // column n: ∂lₙ/∂fₙ
          for (Index n = 0; n < s; ++n) {
            const Scalar a = d.col(n).dot(t.col(n)) - gbar_v;
            sum_a += a;
            d.col(n) *= a * inv_n;
          }
          nn::output_vjp(st->data.net, x, d, st->chunk_vjp, st->no_input_vjp, st->ws, nn::Mode::eval);
          out += st->chunk_vjp;
        });
        out -= (sum_a * inv_n) * st->mean_gradient;
      });
}
/// Same on a Dataset.
template <class Scalar>
LinearOperator<Scalar> covariance_operator(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data,
                                           DataPassOptions options = {}) {
  return detail::with_dataset_loss("covariance_operator", data, [&](const auto& loss) {
    return covariance_operator(net, loss, data.inputs, options);
  });
}
template <class Scalar, class LossFn>
LinearOperator<Scalar> covariance_operator(const nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&,
                                           DataPassOptions = {}) = delete;  // the view would dangle
template <class Scalar>
LinearOperator<Scalar> covariance_operator(const nn::Mlp<Scalar>&, Dataset<Scalar>&&, DataPassOptions = {}) = delete;

/// How well C matches H (Jastrzębski Assumption 2, C = H), each estimate with its standard error (SE).
template <class Scalar>
struct Alignment {
  Index probes = 0;
  Scalar trace_c{}, trace_c_se{};          ///< Tr C by Hutchinson (E zᵀCz)
  Scalar trace_h{}, trace_h_se{};          ///< Tr H by Hutchinson
  Scalar frobenius_c{}, frobenius_c_se{};  ///< ‖C‖_F = √E‖Cz‖² (SE by the delta method)
  Scalar frobenius_h{}, frobenius_h_se{};  ///< ‖H‖_F
  Scalar trace_ch{}, trace_ch_se{};        ///< Tr(CH) = E[(Cz)ᵀ(Hz)]
  Scalar cosine{}, cosine_se{};            ///< Tr(CH)/(‖C‖_F‖H‖_F) ∈ [−1, 1]; 1 iff C ∝ H (ratio of means)
  Scalar trace_ratio{}, trace_ratio_se{};  ///< Tr C / Tr H (ratio of means); 1 under Assumption 2
  Outcome outcome;  ///< non_finite (an application gave NaN/Inf), singular (‖C‖_F, ‖H‖_F or Tr H estimated 0)
};

/// Estimates the C-vs-H alignment figures from `probes` Rademacher probes z (E zzᵀ = I); probe i is the values
/// [i·n, (i+1)·n) of `stream` (RandomStream::rademacher_at: stateless, the convention of trace.hpp, so the same
/// stream gives the same probes as hutchinson_trace and an estimate is reproducible and independent of how the
/// probes are split over calls). Per probe
/// one application of each operator, and zᵀCz, zᵀHz, ‖Cz‖², ‖Hz‖², (Cz)ᵀ(Hz) (= zᵀCHz since C is symmetric)
/// are unbiased for Tr C, Tr H, ‖C‖_F², ‖H‖_F², Tr(CH). The ratios (cosine, trace ratio) are ratios of these
/// means: consistent, with an O(1/probes) bias, and their SE from the delta method on the joint sample
/// covariance of the probe values (so correlated numerator and denominator are accounted for). The exact
/// Tr C is GradientNoise::trace. Throws invalid_argument unless probes ≥ 2 and both operators have one
/// dimension. Cost: `probes` applications of each operator.
template <class Scalar>
Alignment<Scalar> alignment(const LinearOperator<Scalar>& c, const LinearOperator<Scalar>& h, Index probes,
                            const RandomStream& stream) {
  const char* fn = "alignment";
  require(probes >= 2, fn, "probes", probes, "at least 2 probes (for a standard error)");
  require(c.dim() == h.dim(), fn, "h", "of dimension " + std::to_string(h.dim()),
          ("the dimension of c, " + std::to_string(c.dim())).c_str());
  const Index n = c.dim(), m = probes;
  // Columns: 0 zᵀCz, 1 zᵀHz, 2 ‖Cz‖², 3 ‖Hz‖², 4 (Cz)ᵀ(Hz).
  Eigen::MatrixXd samples(m, 5);
  VectorX<Scalar> z(n), cz(n), hz(n);
  Alignment<Scalar> r;
  r.probes = m;
  for (Index i = 0; i < m; ++i) {
    stream.rademacher_at(std::uint64_t(i) * std::uint64_t(n), z);
    c.apply(z, cz);
    h.apply(z, hz);
    if (!all_finite(cz) || !all_finite(hz)) {
      r.outcome = Outcome::failure(Status::non_finite, long(i), 0.0,
                                   "alignment: an operator application is not finite at this probe");
      return r;
    }
    samples.row(i) << double(z.dot(cz)), double(z.dot(hz)), double(cz.squaredNorm()), double(hz.squaredNorm()),
        double(cz.dot(hz));
  }
  const Eigen::RowVectorXd mean = samples.colwise().mean();
  const Eigen::MatrixXd centred = samples.rowwise() - mean;
  const Eigen::MatrixXd cov = centred.transpose() * centred / double(m - 1) / double(m);  // covariance of the means
  auto se = [&](int k) { return Scalar(std::sqrt(cov(k, k))); };
  r.trace_c = Scalar(mean[0]);
  r.trace_c_se = se(0);
  r.trace_h = Scalar(mean[1]);
  r.trace_h_se = se(1);
  r.trace_ch = Scalar(mean[4]);
  r.trace_ch_se = se(4);
  if (!(mean[2] > 0) || !(mean[3] > 0) || mean[1] == 0) {
    r.outcome = Outcome::failure(Status::singular, -1, 0.0,
                                 "alignment: ||C||_F, ||H||_F or Tr H estimated as 0; the ratios are undefined");
    return r;
  }
  const double fc = std::sqrt(mean[2]), fh = std::sqrt(mean[3]);
  r.frobenius_c = Scalar(fc);
  r.frobenius_c_se = Scalar(std::sqrt(cov(2, 2)) / (2 * fc));
  r.frobenius_h = Scalar(fh);
  r.frobenius_h_se = Scalar(std::sqrt(cov(3, 3)) / (2 * fh));
  // cosine = A/√(B·D) with A = mean 4, B = mean 2, D = mean 3; gradient for the delta method.
  const double cosv = mean[4] / (fc * fh);
  Eigen::VectorXd grad = Eigen::VectorXd::Zero(5);
  grad[4] = 1 / (fc * fh);
  grad[2] = -0.5 * cosv / mean[2];
  grad[3] = -0.5 * cosv / mean[3];
  r.cosine = Scalar(cosv);
  r.cosine_se = Scalar(std::sqrt(std::max(0.0, grad.dot(cov * grad))));
  const double ratio = mean[0] / mean[1];
  Eigen::VectorXd gr = Eigen::VectorXd::Zero(5);
  gr[0] = 1 / mean[1];
  gr[1] = -ratio / mean[1];
  r.trace_ratio = Scalar(ratio);
  r.trace_ratio_se = Scalar(std::sqrt(std::max(0.0, gr.dot(cov * gr))));
  return r;
}

/// Overlap of two k-dimensional subspaces given by orthonormal bases U (n × k) and V (n × k), e.g. the top-k
/// eigenvectors of C and of H: ‖UᵀV‖_F² / k ∈ [0, 1] (1: same subspace; k/n in expectation for random
/// subspaces). Throws invalid_argument unless both are n × k with k ≥ 1 and finite. Orthonormality is
/// assumed (as returned by an eigensolver), not checked.
template <class DU, class DV>
typename DU::Scalar subspace_overlap(const Eigen::MatrixBase<DU>& u, const Eigen::MatrixBase<DV>& v) {
  const char* fn = "subspace_overlap";
  require(u.cols() >= 1 && u.rows() >= u.cols(), fn, "u",
          std::to_string(u.rows()) + "x" + std::to_string(u.cols()), "an n x k basis with 1 <= k <= n");
  require_shape(fn, "v", v, u.rows(), u.cols());
  require_finite(fn, "u", u);
  require_finite(fn, "v", v);
  using Scalar = typename DU::Scalar;
  return Scalar((u.transpose() * v).squaredNorm() / Scalar(double(u.cols())));
}

}  // namespace sgdsde::curvature
