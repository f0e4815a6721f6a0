// An outside program using sgdsde::openmp: an ordered parallel sum over 1000 items on 2 threads must be
// compiled with OpenMP and equal the serial sum bit for bit.
#include <sgdsde/core/parallel.hpp>

#include <cstdio>

int main() {
  auto term = [](sgdsde::Index i) { return 1.0 / double(i + 1); };
  auto plus = [](double a, double b) { return a + b; };
  const double par = sgdsde::parallel_reduce("consumer", 1000, 2, 0.0, term, plus);
  double ser = 0.0;
  for (sgdsde::Index i = 0; i < 1000; ++i) ser += term(i);
  std::printf("consumer_openmp: OpenMP %s, sum %.17g\n", sgdsde::openmp_enabled() ? "on" : "off", par);
  return sgdsde::openmp_enabled() && par == ser ? 0 : 1;
}
