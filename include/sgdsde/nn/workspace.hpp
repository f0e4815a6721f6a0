// sgdsde/nn/workspace.hpp — the preallocated buffers of the MLP passes (activations, adjoints, batch
// statistics) for batches up to a size, and the check that a workspace was made for a given network.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/network.hpp"

namespace sgdsde::nn {

/// Preallocated buffers for batches of up to `max_batch` samples; the write-into network functions take
/// one and allocate nothing else. Holds the activations of the last forward pass (and, after a
/// train-mode pass, the batch statistics used by update_batch_norm_statistics). One per thread.
/// A workspace serves only networks with the same widths and batch-norm setting (checked on every call).
template <class Scalar>
struct MlpWorkspace {
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;

  MlpWorkspace(const Mlp<Scalar>& model, Index max_batch_size)
      : max_batch(max_batch_size), widths(model.spec().widths), batch_norm(model.spec().batch_norm) {
    require(max_batch_size > 0, "MlpWorkspace", "max_batch", max_batch_size, "> 0");
    const Index max_count = Index((std::numeric_limits<std::size_t>::max)() / sizeof(Scalar) / 2);
    for (std::size_t k = 1; k < widths.size(); ++k)
      require(max_batch_size <= max_count / widths[k], "MlpWorkspace", "max_batch", max_batch_size,
              "a batch size whose buffers (width x max_batch) fit in memory");
    const std::size_t L = std::size_t(model.num_layers());
    pre.resize(L);
    post.resize(L);
    delta.resize(L);
    bn_hat.resize(L);
    bn_mean.resize(L);
    bn_var.resize(L);
    bn_inv_std.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      const Index n = widths[l + 1];
      pre[l].resize(n, max_batch);
      post[l].resize(n, max_batch);
      delta[l].resize(n, max_batch);
      if (model.has_batch_norm(Index(l))) {
        bn_hat[l].resize(n, max_batch);
        bn_mean[l].resize(n);
        bn_var[l].resize(n);
        bn_inv_std[l].resize(n);
      }
    }
  }

  /// Largest batch this workspace serves.
  Index max_batch = 0;
  /// Architecture it was made for.
  std::vector<Index> widths;
  bool batch_norm = false;
  // Per dense layer l: pre = activation input, post = φ(pre) (post of the last layer = outputs f),
  // delta = adjoint buffer, bn_hat = normalised x̂ (batch-norm layers), bn_* = statistics used.
  std::vector<Matrix> pre, post, delta, bn_hat;
  std::vector<Vector> bn_mean, bn_var, bn_inv_std;
  Index batch = 0;                    ///< batch size of the last forward pass
  bool has_batch_statistics = false;  ///< last forward pass was train mode with batch norm
};

namespace detail {

/// Throws invalid_argument (argument `name`) unless `ws` was made for a network with model's widths and
/// batch-norm setting and serves `batch` samples (batch < 0: size not checked).
template <class Scalar, class Model>
void check_workspace(const char* fn, const char* name, const Model& model, const MlpWorkspace<Scalar>& ws,
                     Index batch = -1) {
  require(ws.widths == model.spec().widths, fn, name, "a workspace built for other widths",
          "a workspace made for this network (same widths)");
  require(ws.batch_norm == model.spec().batch_norm, fn, name,
          ws.batch_norm ? "a workspace built with batch norm" : "a workspace built without batch norm",
          "a workspace made for this network (same batch-norm setting)");
  if (batch >= 0)
    require(batch <= ws.max_batch, fn, "inputs.cols()", batch, "<= the workspace's max_batch");
}

/// Checks the input batch (width, at least one sample, finite) and the workspace; returns S.
template <class Scalar, class DX>
Index check_inputs(const char* fn, const Mlp<Scalar>& model, const Eigen::MatrixBase<DX>& x,
                   const MlpWorkspace<Scalar>& ws) {
  require_shape(fn, "inputs", x, model.input_dim(), -1);
  require(x.cols() >= 1, fn, "inputs.cols()", x.cols(), "a batch of at least 1 sample");
  check_workspace(fn, "workspace", model, ws, x.cols());
  bool finite;
  if constexpr (std::is_floating_point_v<typename DX::Scalar>)
    finite = all_finite(x);  // one vectorised pass (Eigen's allFinite is a scalar loop)
  else
    finite = x.allFinite();
  if (!finite) require_finite(fn, "inputs", x);
  return x.cols();
}

}  // namespace detail

}  // namespace sgdsde::nn
