// The MPI test: run under `mpirun -np 2` (tests/mpi/CMakeLists.txt). Checks, on every rank, that
//   1. the MPI sweep runner writes the same CSV bytes and records as run_sweep in one process (a grid
//      of OU ensembles, with exploding cells), also after an interrupted run resumes;
//   2. an ensemble split across ranks (fused OU kernel, d = 1 and d = 3; the chunked stepper loop)
//      equals integrate() in one process bit for bit;
//   3. bad input fails the same way on every rank.
// Exit code 0 iff every check passed on every rank.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <mpi.h>

#include "sgdsde/optim/sweep.hpp"
#include "sgdsde/optim/sweep_mpi.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/integrate_mpi.hpp"

namespace {
int failures = 0;
int rank = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::printf("rank %d: FAILED %s\n", rank, what);
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  check(size == 2, "the test is meant for 2 ranks (mpirun -np 2)");

  // 1. Sweep: rate a × noise b × seed of an OU ensemble (dX = −aX dt + b dW, 2000 paths, EM, dt = 0.01)
  //    per cell, recording the mean and second moment at t = 1; a = −10⁶ explodes (non_finite cells).
  using sgdsde::EulerMaruyama;
  const sgdsde::TimeGrid tg(0.0, 1.0, 0.01);
  sgdsde::optim::SweepGrid grid;
  grid.numbers("a", {1.0, 3.0, -1e6}).numbers("b", {0.5, 2.0}).integers("seed", {1, 2, 3, 4});
  auto evaluate = [&](const sgdsde::optim::SweepCell& c) {
    const Eigen::MatrixXd A = Eigen::MatrixXd::Constant(1, 1, c.number("a"));
    const Eigen::MatrixXd B = Eigen::MatrixXd::Constant(1, 1, c.number("b"));
    const sgdsde::OrnsteinUhlenbeck ou(A, B);
    const Eigen::VectorXd x0 = Eigen::VectorXd::Ones(1);
    const auto sol = sgdsde::integrate(ou, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(2000),
                                       sgdsde::RandomStream(std::uint64_t(c.integer("seed"))));
    const Eigen::ArrayXd x = sol.final_state.row(0).transpose().array();
    return sgdsde::optim::SweepRecord{sol.outcome, {x.mean(), x.square().mean()}};
  };
  const std::vector<std::string> metrics{"mean", "second_moment"};
  sgdsde::optim::SweepOptions o;
  o.csv_path = "mpi_sweep_ranks.csv";
  o.resume = false;
  o.threads = 2;
  const auto distributed = sgdsde::optim::run_sweep(MPI_COMM_WORLD, grid, metrics, evaluate, o);
  check(distributed.evaluated == 24, "MPI sweep evaluated every cell");
  check(distributed.failed == 8, "MPI sweep recorded the 8 exploding cells");
  sgdsde::optim::SweepOptions one = o;
  one.csv_path = "mpi_sweep_one_" + std::to_string(rank) + ".csv";
  one.threads = 1;
  const auto single = sgdsde::optim::run_sweep(grid, metrics, evaluate, one);
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string reference = read_all(one.csv_path);
  check(read_all(o.csv_path) == reference, "MPI sweep file == one-process file, byte for byte");
  for (std::size_t i = 0; i < single.records.size(); ++i) {
    check(distributed.records[i].outcome.status == single.records[i].outcome.status, "record status");
    if (single.records[i].outcome.ok()) check(distributed.records[i].values == single.records[i].values, "record values");
  }
  // Interrupted run: rank 0 cuts the file after 10 rows (and half a line); the MPI run resumes.
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    std::size_t pos = 0;
    for (int l = 0; l < 12; ++l) pos = reference.find('\n', pos) + 1;
    std::ofstream(o.csv_path, std::ios::binary | std::ios::trunc) << reference.substr(0, pos + 7);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  o.resume = true;
  const auto resumed = sgdsde::optim::run_sweep(MPI_COMM_WORLD, grid, metrics, evaluate, o);
  check(resumed.resumed == 10 && resumed.evaluated == 14, "MPI resume skipped the 10 finished cells");
  check(read_all(o.csv_path) == reference, "resumed MPI sweep file == one-process file");
  // 3. A file of another grid: every rank throws sgdsde::invalid_argument.
  sgdsde::optim::SweepGrid other = grid;
  other.integers("extra", {1});
  bool threw = false;
  try {
    sgdsde::optim::run_sweep(MPI_COMM_WORLD, other, metrics, evaluate, o);
  } catch (const sgdsde::invalid_argument&) {
    threw = true;
  }
  check(threw, "a resume file of another grid throws on every rank");
  check(read_all(o.csv_path) == reference, "the refused file is untouched");

  // 2. Ensembles split across ranks against one process.
  {
    Eigen::MatrixXd A(1, 1), B(1, 1);
    A << 1.5;
    B << 0.7;
    sgdsde::OrnsteinUhlenbeck ou(A, B);
    Eigen::VectorXd x0(1);
    x0 << 2.0;
    for (long M : {5000L, 1000L}) {  // 5000 = 3 blocks (one rank gets 1, the other 2); 1000: one rank idle
      const auto par = sgdsde::integrate(MPI_COMM_WORLD, ou, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(M),
                                         sgdsde::RandomStream(5), 2);
      const auto ref = sgdsde::integrate(ou, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(M), sgdsde::RandomStream(5), 1);
      check(par.outcome.ok() && par.final_state == ref.final_state, "OU d = 1 ensemble over ranks == one process");
    }
  }
  {
    Eigen::MatrixXd A = Eigen::MatrixXd::Identity(3, 3), B(3, 3);
    A(0, 2) = A(2, 0) = 0.4;
    sgdsde::RandomStream(9).fill_normal(B);
    sgdsde::OrnsteinUhlenbeck ou(A, B);
    const Eigen::VectorXd x0 = Eigen::VectorXd::Ones(3);
    const auto par = sgdsde::integrate(MPI_COMM_WORLD, ou, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(6000),
                                       sgdsde::RandomStream(6), 2);
    const auto ref = sgdsde::integrate(ou, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(6000), sgdsde::RandomStream(6), 1);
    check(par.final_state == ref.final_state, "OU d = 3 (GEMM) ensemble over ranks == one process");
  }
  {
    using Ref = Eigen::Ref<const Eigen::MatrixXd>;
    using Out = Eigen::Ref<Eigen::MatrixXd>;
    auto gbm = sgdsde::diagonal_noise_sde(2, [](double, const Ref& X, Out F) { F = 0.1 * X; },
                                          [](double, const Ref& X, Out G) { G = 0.4 * X; });
    const Eigen::VectorXd x0 = Eigen::VectorXd::Ones(2);
    const auto par = sgdsde::integrate(MPI_COMM_WORLD, gbm, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(1100),
                                       sgdsde::RandomStream(8), 2);
    const auto ref = sgdsde::integrate(gbm, EulerMaruyama{}, x0, tg, sgdsde::Ensemble(1100), sgdsde::RandomStream(8), 1);
    check(par.final_state == ref.final_state, "stepper-loop ensemble over ranks == one process");
  }

  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    std::printf("test_mpi: %d ranks, %s (%d failed checks)\n", size, total == 0 ? "all checks passed" : "FAILED", total);
    std::remove(o.csv_path.c_str());
  }
  std::remove(one.csv_path.c_str());
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
