// sgdsde/nn/mlp.hpp — everything a first MLP program needs: the network (nn/network.hpp), its losses
// as values (nn/loss.hpp), outputs and exact gradients (nn/gradient.hpp), per-sample gradients and
// output Jacobians (nn/per_sample.hpp), Hessian–vector products (nn/tangent.hpp) and JVPs (nn/jvp.hpp).
//
//   nn::Mlp<double> net({5, 32, 1});          net.initialize(RandomStream(2));
//   auto [loss, g, outcome] = nn::loss_and_gradient(net, nn::SquaredError(Y), X);   // X d×S, Y 1×S
//   net.parameters() -= 0.1 * g;
//   Eigen::VectorXd hv = nn::hessian_vector_product(net, nn::SquaredError(Y), X, v);
// Hot loops use the write-into forms with an MlpWorkspace / TangentWorkspace (no allocation).
#pragma once

#include "sgdsde/nn/activation.hpp"
#include "sgdsde/nn/batch_norm.hpp"
#include "sgdsde/nn/gradient.hpp"
#include "sgdsde/nn/jvp.hpp"
#include "sgdsde/nn/loss.hpp"
#include "sgdsde/nn/network.hpp"
#include "sgdsde/nn/per_sample.hpp"
#include "sgdsde/nn/spec.hpp"
#include "sgdsde/nn/tangent.hpp"
#include "sgdsde/nn/workspace.hpp"
