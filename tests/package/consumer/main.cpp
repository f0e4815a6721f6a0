// An outside program using the installed (or add_subdirectory'd) sgdsde through its umbrella header:
// draws normals from a counter-based stream and checks their sample variance is sane.
#include <sgdsde/sgdsde.hpp>

#include <cmath>
#include <cstdio>

int main() {
  Eigen::ArrayXd z(100000);
  sgdsde::RandomStream(1, 2).fill_normal(z);
  const double var = (z - z.mean()).square().mean();
  std::printf("consumer: sample variance of 1e5 normals = %.4f\n", var);
  return std::abs(var - 1.0) < 0.03 ? 0 : 1;  // SE of the variance is √(2/n) ≈ 0.0045: 6.7 SE
}
