// docs/guide.md, second program: SGD on a quadratic against its exact and SDE laws, three samplers.
#include <cstdio>

#include <sgdsde/sgdsde.hpp>
using namespace sgdsde;

int main() {
  // L(θ) = ½(θ − θ*)ᵀH(θ − θ*) over N = 12 samples: ∇l_n(θ) = H(θ − θ*) + ξ_n with Σ_n ξ_n = 0.
  const Index d = 3, N = 12;
  const Eigen::MatrixXd H = Eigen::Vector3d(0.3, 1.0, 2.5).asDiagonal();
  Eigen::MatrixXd Xi(d, N);
  RandomStream(1).fill_normal(Xi);
  Xi.colwise() -= Xi.rowwise().mean();
  const auto q = per_sample_quadratic(H, Xi);  // C = Xi Xiᵀ/N
  const double eta = 0.3;
  const Index S = 3;
  const Sampler samplers[] = {with_replacement(S), fresh_subset(S), shuffled_epochs(S)};
  for (const Sampler& sampler : samplers) {
    const auto sde = sde_stationary(q, eta, sampler);        // HΣ + ΣH = ηκC
    const auto exact = discrete_stationary(q, eta, sampler);  // exact for this sampler
    const auto sim = simulate_sgd(q, eta, sampler, 2'000'000, RandomStream(7));
    std::printf("%-16s  SDE %.5f  exact %.5f  simulated %.5f +- %.5f\n", name_of(sampler),
                sde.expected_excess_loss, exact.expected_excess_loss, sim.excess_loss, sim.standard_error);
    if (!exact.outcome.ok() || !sim.outcome.ok()) return 1;
  }
}
