// docs/guide.md, fourth program: Hessian–vector products and a power iteration for λ_max.
#include <iostream>

#include <sgdsde/sgdsde.hpp>
using namespace sgdsde;

int main() {
  Eigen::MatrixXf X(4, 64);
  RandomStream(1).fill_normal(X);
  Labels labels(64);
  for (Index n = 0; n < 64; ++n) labels[n] = X(0, n) > 0 ? 1 : (X(1, n) > 0 ? 2 : 0);
  nn::Mlp<float> net({4, 16, 3}, nn::Activation::tanh);
  net.initialize(RandomStream(2));
  const nn::SoftmaxCrossEntropy loss(labels);

  Eigen::VectorXf v(net.num_parameters());
  RandomStream(3).fill_normal(v);
  Eigen::VectorXf hv = nn::hessian_vector_product(net, loss, X, v);  // returning form: H v

  nn::TangentWorkspace tw(net, X.cols());                           // hot loop: write-into form
  for (int k = 0; k < 50; ++k) {
    v = hv.normalized();
    nn::hessian_vector_product(net, loss, X, v, hv, tw);
  }
  std::cout << "largest Hessian eigenvalue (power iteration): " << v.dot(hv) << "\n"
            << "accuracy at initialisation: " << nn::accuracy(net, X, labels) << "\n";
}
