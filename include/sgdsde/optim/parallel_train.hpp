// sgdsde/optim/parallel_train.hpp — independent SGD runs in parallel: one call of optim::train per
// seed (Jastrzębski et al. 2018 eq. 4 run many times, e.g. the seeds of one cell of a sweep), each run
// the same bits as that train() call alone, whatever the number of threads.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/train.hpp"

namespace sgdsde::optim {

/// Run r = 0…R−1 (R = seeds.size() ≥ 1) is train(problem_r, theta0, options_r) with
/// problem_r = make_problem(r) (a fresh Problem per run: a Problem owns workspaces, so runs never share
/// one) and options_r = options with options_r.seed = seeds[r]; runs are spread over `threads` threads
/// (core/parallel.hpp), so make_problem and the Problem must be safe to use from several threads on
/// distinct instances. result[r] is that run's TrainResult. If runs throw, all runs still finish and
/// the exception of the lowest run index is rethrown; a numerical failure is a run's own outcome.
template <class MakeProblem, class Derived>
auto train_seeds(MakeProblem&& make_problem, const Eigen::MatrixBase<Derived>& theta0, const TrainOptions& options,
                 const std::vector<std::uint64_t>& seeds, Threads threads = {})
    -> std::vector<TrainResult<typename std::decay_t<decltype(make_problem(Index(0)))>::Scalar>> {
  const char* fn = "train_seeds";
  require(!seeds.empty(), fn, "seeds.size()", seeds.size(), "at least one seed");
  threads.resolve(fn);
  using Scalar = typename std::decay_t<decltype(make_problem(Index(0)))>::Scalar;
  const VectorX<Scalar> start = theta0.template cast<Scalar>();
  return parallel_map(fn, Index(seeds.size()), threads, [&](Index r) {
    auto problem = make_problem(r);
    TrainOptions run_options = options;
    run_options.seed = seeds[std::size_t(r)];
    return train(problem, start, run_options);
  });
}

/// Trains the networks nets[r] in place, in parallel: run r is train(nets[r], loss, inputs, options_r)
/// with options_r.seed = seeds[r] (initialise each network beforehand, e.g. from RandomStream(seeds[r])).
/// Requires nets.size() == seeds.size() ≥ 1. Returns the summaries in run order; exceptions as above.
template <class Scalar, class LossFn, class Derived>
std::vector<TrainSummary> train_seeds(std::vector<nn::Mlp<Scalar>>& nets, const LossFn& loss,
                                      const Eigen::MatrixBase<Derived>& inputs, const TrainOptions& options,
                                      const std::vector<std::uint64_t>& seeds, Threads threads = {}) {
  const char* fn = "train_seeds";
  require(!seeds.empty(), fn, "seeds.size()", seeds.size(), "at least one seed");
  require(nets.size() == seeds.size(), fn, "nets.size()", nets.size(), "one network per seed (seeds.size())");
  threads.resolve(fn);
  return parallel_map(fn, Index(seeds.size()), threads, [&](Index r) {
    TrainOptions run_options = options;
    run_options.seed = seeds[std::size_t(r)];
    return train(nets[std::size_t(r)], loss, inputs, run_options);
  });
}

}  // namespace sgdsde::optim
