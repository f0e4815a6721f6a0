// sgdsde/optim/sweep_mpi.hpp — the sweep runner of optim/sweep.hpp across MPI ranks (a cluster): the
// same grid, the same CSV file, byte for byte, as the single-process run. Needs MPI: link sgdsde::mpi
// (CMake's FindMPI; Debian libopenmpi-dev). Not included by the umbrella header.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <mpi.h>

#include "sgdsde/optim/sweep.hpp"

namespace sgdsde::detail {

inline void mpi_broadcast(MPI_Comm comm, std::string& text) {
  unsigned long long n = text.size();
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
  text.resize(std::size_t(n));
  if (n > 0) MPI_Bcast(text.data(), int(n), MPI_CHAR, 0, comm);
}

/// Concatenation of every rank's `text` in rank order, on rank 0 (empty elsewhere).
inline std::string mpi_gather(MPI_Comm comm, const std::string& text) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int n = int(text.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
  std::string all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) offsets[std::size_t(r)] = total, total += counts[std::size_t(r)];
    all.resize(std::size_t(total));
  }
  MPI_Gatherv(text.data(), n, MPI_CHAR, all.data(), counts.data(), offsets.data(), MPI_CHAR, 0, comm);
  return all;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace sgdsde::detail

namespace sgdsde::optim {

/// run_sweep over the ranks of `comm`: every rank calls it with the same grid, metrics and options
/// (call MPI_Init_thread with at least MPI_THREAD_FUNNELED: MPI is called from the main thread only).
/// Rank 0 reads the file to resume and writes it; the cells still to do are dealt out in rounds, cell j
/// of a round to rank j mod size, each rank evaluating its share on options.threads threads; after each
/// round the rows are gathered and appended by rank 0 (an interrupted run keeps every finished round),
/// and the file is finally rewritten in cell order: the same bytes as run_sweep in one process.
/// Every rank returns the full result (records parsed from the rows, without messages). Errors: bad
/// arguments throw sgdsde::invalid_argument on every rank; if an evaluation throws, every rank throws
/// std::runtime_error with the message of the lowest failing cell, after all cells ran.
template <class Evaluate>
SweepResult run_sweep(MPI_Comm comm, const SweepGrid& grid, const std::vector<std::string>& metrics,
                      Evaluate&& evaluate, const SweepOptions& options = {}) {
  const char* fn = "run_sweep (MPI)";
  sgdsde::detail::check_sweep(fn, grid, metrics, options);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const bool file = !options.csv_path.empty();
  std::vector<std::string> rows(std::size_t(grid.size()));

  // Rank 0 reads (and validates) the file; everyone learns the rows or the error.
  std::string shared, error_text;
  if (rank == 0) {
    try {
      if (file && options.resume) rows = sgdsde::detail::read_sweep_file(grid, metrics, options.csv_path, fn);
      if (file) sgdsde::detail::write_sweep_file(grid, metrics, options.csv_path, rows, fn);
    } catch (const std::exception& e) {
      error_text = e.what();
    }
    for (const auto& r : rows) shared += r + "\n";
  }
  sgdsde::detail::mpi_broadcast(comm, error_text);
  if (!error_text.empty()) throw sgdsde::invalid_argument(error_text);
  sgdsde::detail::mpi_broadcast(comm, shared);
  {
    const auto lines = sgdsde::detail::split_lines(shared);
    for (std::size_t i = 0; i < rows.size() && i < lines.size(); ++i) rows[i] = lines[i];
  }
  std::vector<Index> todo;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].empty()) todo.push_back(Index(i));

  int per_rank = 4 * parallel_slots(fn, Index(todo.size()), options.threads);
  MPI_Bcast(&per_rank, 1, MPI_INT, 0, comm);
  const std::size_t round = std::size_t(per_rank) * std::size_t(size);
  Index first_error_cell = grid.size();
  std::string first_error;
  std::ofstream out;
  if (rank == 0 && file) out.open(options.csv_path, std::ios::binary | std::ios::app);

  for (std::size_t start = 0; start < todo.size(); start += round) {
    const std::size_t stop = std::min(todo.size(), start + round);
    std::vector<Index> mine;
    for (std::size_t j = start; j < stop; ++j)
      if (int((j - start) % std::size_t(size)) == rank) mine.push_back(todo[j]);
    std::vector<std::string> texts(mine.size());
    parallel_for(fn, Index(mine.size()), options.threads, [&](Index j) {
      const Index i = mine[std::size_t(j)];
      SweepRecord record;
      try {
        texts[std::size_t(j)] = sgdsde::detail::evaluate_cell(fn, grid, metrics, evaluate, i, record) + "\n";
      } catch (const std::exception& e) {
        std::string what = e.what();
        std::replace(what.begin(), what.end(), '\n', ' ');
        texts[std::size_t(j)] = "!" + std::to_string(i) + "," + what + "\n";
      } catch (...) {
        texts[std::size_t(j)] = "!" + std::to_string(i) + ",an exception not derived from std::exception\n";
      }
    }, Schedule::dynamic);
    std::string local;
    for (const auto& t : texts) local += t;
    const std::string all = sgdsde::detail::mpi_gather(comm, local);
    if (rank == 0) {
      std::vector<std::pair<Index, std::string>> got;
      for (const auto& line : sgdsde::detail::split_lines(all)) {
        if (line.empty()) continue;
        const bool failed = line[0] == '!';
        const Index i = Index(std::strtoll(line.c_str() + (failed ? 1 : 0), nullptr, 10));
        if (failed) {
          if (i < first_error_cell) first_error_cell = i, first_error = line.substr(line.find(',') + 1);
        } else {
          got.emplace_back(i, line);
        }
      }
      std::sort(got.begin(), got.end());
      for (auto& [i, line] : got) {
        if (file) out << line << '\n';
        rows[std::size_t(i)] = std::move(line);
      }
      if (file) out.flush();
    }
  }
  if (rank == 0) {
    if (file) {
      out.close();
      sgdsde::detail::write_sweep_file(grid, metrics, options.csv_path, rows, fn);
    }
    shared.clear();
    for (const auto& r : rows) shared += r + "\n";
    if (first_error_cell < grid.size()) error_text = "cell " + std::to_string(first_error_cell) + ": " + first_error;
  }
  sgdsde::detail::mpi_broadcast(comm, shared);
  sgdsde::detail::mpi_broadcast(comm, error_text);
  if (!error_text.empty()) throw std::runtime_error(std::string(fn) + ": " + error_text);
  const auto lines = sgdsde::detail::split_lines(shared);
  SweepResult result;
  result.records.resize(rows.size());
  result.evaluated = Index(todo.size());
  result.resumed = grid.size() - result.evaluated;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i < lines.size() && !lines[i].empty()) result.records[i] = sgdsde::detail::parse_row(grid, lines[i]);
    result.failed += result.records[i].outcome.ok() ? 0 : 1;
  }
  return result;
}

}  // namespace sgdsde::optim
