// sgdsde/optim/sgd.hpp — one SGD update with heavy-ball momentum, L2 weight decay and injected
// Gaussian parameter noise: the Euler–Maruyama step (dt = one step) of Borovykh et al. (2019) §2.2,
// dθ = −η ∇L dt + σ η/√M dW, on top of the minibatch gradient of Jastrzębski et al. (2018) eq. 4.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::optim {

/// Options of the update (all off by default: plain SGD θ ← θ − η g). Hyperparameters are doubles
/// whatever the Scalar of the model; Sgd<Scalar> converts them to Scalar once, at construction.
struct SgdOptions {
  double momentum = 0;      ///< μ ∈ [0, 1): heavy ball, v ← μ v + d (PyTorch's convention, no dampening)
  double weight_decay = 0;  ///< λ ≥ 0: d = g + λ θ, i.e. the gradient of L + (λ/2)‖θ‖²
  double noise_sigma = 0;   ///< σ ≥ 0 of the injected noise (0: none, and no noise stream is needed)
  double noise_batch = 1;   ///< M > 0 of the injected noise (σ η/√M per coordinate and step)

  void validate(const char* fn) const {
    require(momentum >= 0 && momentum < 1, fn, "sgd.momentum", momentum, "a value in [0, 1)");
    require(weight_decay >= 0 && std::isfinite(weight_decay), fn, "sgd.weight_decay", weight_decay,
            "a finite value >= 0");
    require(noise_sigma >= 0 && std::isfinite(noise_sigma), fn, "sgd.noise_sigma", noise_sigma,
            "a finite value >= 0");
    require_positive(fn, "sgd.noise_batch", noise_batch);
  }
  bool injects_noise() const { return noise_sigma > 0; }
};

/// The SGD update, with its state (velocity) and workspace preallocated: `step` allocates nothing.
///
/// Step k with learning rate η_k and minibatch gradient g_k (mean over the batch, so Cov g = C/S):
///   d_k     = g_k + λ θ_k
///   v_k     = μ v_{k−1} + d_k            (v_{−1} = 0; with μ = 0, v_k = d_k)
///   θ_{k+1} = θ_k − η_k v_k + (σ η_k / √M) ξ_k,   ξ_k ~ N(0, I)
/// The noise is added to the parameters, not to the velocity. ξ_k is the block of normals
/// [k·P, (k+1)·P) of `noise_stream` (P = number of parameters), so step k's noise depends on (stream, k)
/// only. Per step the injected noise has covariance σ²η²/M · I: Borovykh's σ η/√M dW over dt = 1 step.
template <class Scalar>
class Sgd {
 public:
  using Vector = VectorX<Scalar>;

  /// Without injected noise (throws if options.noise_sigma > 0: that needs a noise stream).
  Sgd(Index num_parameters, const SgdOptions& options = {}) : Sgd(num_parameters, options, RandomStream(0)) {
    require(!options.injects_noise(), "Sgd", "noise_stream", "missing",
            "a RandomStream when options.noise_sigma > 0: Sgd(P, options, RandomStream(seed))");
  }
  /// With injected noise drawn from `noise_stream` (ignored when options.noise_sigma = 0).
  Sgd(Index num_parameters, const SgdOptions& options, RandomStream noise_stream)
      : options_(options), noise_stream_(noise_stream) {
    require(num_parameters >= 1 &&
                num_parameters <= Index((std::numeric_limits<std::size_t>::max)() / sizeof(Scalar) / 4),
            "Sgd", "num_parameters", num_parameters, "an integer >= 1 whose vectors fit in memory");
    options.validate("Sgd");
    mu_ = Scalar(options.momentum);
    lambda_ = Scalar(options.weight_decay);
    sigma_ = Scalar(options.noise_sigma);
    noise_batch_ = Scalar(options.noise_batch);
    velocity_ = Vector::Zero(num_parameters);
    noise_.resize(options.injects_noise() ? num_parameters : 0);
  }

  const SgdOptions& options() const { return options_; }
  const Vector& velocity() const { return velocity_; }
  void reset() { velocity_.setZero(); }

  /// Applies step k in place to θ. Preconditions (checked, invalid_argument): k ≥ 0, sizes match,
  /// η > 0 finite, θ and g finite. Returns success, or non_finite (step k, message naming the first
  /// bad entry) when θ_{k+1} overflowed (e.g. η·g beyond the range); θ then holds that non-finite value.
  template <class DerivedG>
  Outcome step(long k, detail::non_deduced_t<Scalar> eta, Eigen::Ref<Vector> theta,
               const Eigen::MatrixBase<DerivedG>& grad) {
    return step(k, eta, theta, grad, theta);
  }

  /// Step k from θ_k = `theta` into θ_{k+1} = `next` (which may be `theta` itself). The velocity is
  /// updated in place either way. Checks and outcome as above; on non_finite `theta` is unchanged
  /// unless it aliases `next`.
  template <class DerivedG>
  Outcome step(long k, detail::non_deduced_t<Scalar> eta, const Eigen::Ref<const Vector>& theta,
               const Eigen::MatrixBase<DerivedG>& grad, Eigen::Ref<Vector> next) {
    const char* fn = "Sgd::step";
    require(k >= 0, fn, "k", k, "a step index >= 0");
    require_positive(fn, "eta", eta);
    require(theta.size() == velocity_.size(), fn, "theta.size()", theta.size(), "num_parameters");
    require(grad.size() == velocity_.size(), fn, "grad.size()", grad.size(), "num_parameters");
    require(next.size() == velocity_.size(), fn, "next.size()", next.size(), "num_parameters");
    if (!all_finite(theta)) require_finite(fn, "theta", theta);
    if (!all_finite(grad)) require_finite(fn, "grad", grad);
    const Scalar mu = mu_, lambda = lambda_;
    // Every expression below is coefficient-wise, so `next` may alias `theta`.
    if (mu == Scalar(0)) {
      if (lambda == Scalar(0)) next = theta - eta * grad;
      else next = (Scalar(1) - eta * lambda) * theta - eta * grad;
    } else {
      if (lambda == Scalar(0)) velocity_ = mu * velocity_ + grad;
      else velocity_ = mu * velocity_ + grad + lambda * theta;
      next = theta - eta * velocity_;
    }
    if (sigma_ > Scalar(0)) {
      using std::sqrt;
      noise_stream_.normal_at(std::uint64_t(k) * std::uint64_t(noise_.size()), noise_);
      next += (sigma_ * eta / sqrt(noise_batch_)) * noise_;
    }
    if (all_finite(next)) return Outcome{};
    Index bad = 0;
    while (bad < next.size() && std::isfinite(double(next[bad]))) ++bad;
    return Outcome::failure(Status::non_finite, k, double(next[bad]),
                            "parameter " + std::to_string(bad) + " is not finite after step " + std::to_string(k));
  }

 private:
  SgdOptions options_;
  RandomStream noise_stream_;
  Scalar mu_, lambda_, sigma_, noise_batch_;
  Vector velocity_;
  Vector noise_;
};

}  // namespace sgdsde::optim
