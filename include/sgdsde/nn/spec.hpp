// sgdsde/nn/spec.hpp — the architecture of an MLP (widths, activations, parameterisation, batch norm)
// and the train/eval mode; NTK parameterisation of Borovykh et al. (2019), eq. 1.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/activation.hpp"

namespace sgdsde::nn {

/// ntk:      a = (σ_w/√n_in) W z + σ_b b, W, b ~ N(0, 1)   (Borovykh eq. 1, neural-tangents convention).
/// standard: a = W z + b, W ~ N(0, 2/n_in) (He) or N(0, 2/(n_in + n_out)) (Glorot), b = 0.
enum class Parameterization { ntk, standard };
enum class StandardInit { he, glorot };

/// Train mode normalises batch-norm layers with the statistics of the current batch; eval mode with
/// the running statistics. Networks without batch norm compute the same thing in both modes.
enum class Mode { train, eval };

/// Architecture of an MLP. widths = {d_in, n_1, ..., n_{L−1}, d_out} (L dense layers).
/// Batch norm (if on) follows the affine map of every HIDDEN layer and precedes its activation:
/// z_{l+1} = φ(γ ⊙ (a − μ)/√(v + ε) + β). Its γ (init 1) and β (init 0) are parameters; the running
/// mean (init 0) and running variance (init 1) are buffers, updated by update_batch_norm_statistics as
/// r ← (1 − momentum) r + momentum·(batch value), with the unbiased batch variance (PyTorch convention).
/// The loss is not part of the architecture: it is a value passed to each call (nn/loss.hpp).
struct MlpSpec {
  std::vector<Index> widths;
  Activation hidden_activation = Activation::relu;
  Activation output_activation = Activation::identity;
  Parameterization parameterization = Parameterization::ntk;
  double sigma_w = 1.0;  ///< NTK parameterisation only
  double sigma_b = 0.1;  ///< NTK parameterisation only (0 makes the biases inert)
  StandardInit standard_init = StandardInit::he;  ///< standard parameterisation only
  double leaky_relu_slope = 0.01;
  bool batch_norm = false;
  double batch_norm_epsilon = 1e-5;
  double batch_norm_momentum = 0.1;
};

namespace detail {
inline void validate_spec(const MlpSpec& s) {
  require(s.widths.size() >= 2, "Mlp", "spec.widths.size()", s.widths.size(), "at least 2 (input and output)");
  for (std::size_t k = 0; k < s.widths.size(); ++k)
    require(s.widths[k] > 0, "Mlp", "spec.widths[k]", s.widths[k], "every width > 0");
  require_positive("Mlp", "spec.sigma_w", s.sigma_w);
  require(std::isfinite(s.sigma_b) && s.sigma_b >= 0, "Mlp", "spec.sigma_b", s.sigma_b, "a finite value >= 0");
  require(std::isfinite(s.leaky_relu_slope) && s.leaky_relu_slope >= 0 && s.leaky_relu_slope < 1, "Mlp",
          "spec.leaky_relu_slope", s.leaky_relu_slope, "a value in [0, 1)");
  require_positive("Mlp", "spec.batch_norm_epsilon", s.batch_norm_epsilon);
  require(s.batch_norm_momentum >= 0 && s.batch_norm_momentum <= 1, "Mlp", "spec.batch_norm_momentum",
          s.batch_norm_momentum, "a value in [0, 1]");
}
}  // namespace detail

}  // namespace sgdsde::nn
