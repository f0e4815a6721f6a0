// sgdsde/optim/sweep.hpp — parameter sweeps: one grid description (named axes such as η, S, schedule,
// seed; the cells are their Cartesian product) and one runner that evaluates the cells in parallel and
// writes one CSV row per cell, resumable, in cell order (the grids of Jastrzębski et al. 2018 Fig. 3).
//
//   optim::SweepGrid grid;
//   grid.numbers("eta", {0.05, 0.1, 0.2}).integers("S", {32, 64, 128}).integers("seed", {1, 2, 3});
//   auto result = optim::run_sweep(grid, {"excess_loss", "standard_error"}, [&](const optim::SweepCell& c) {
//     auto sim = simulate_sgd(q, c.number("eta"), with_replacement(c.integer("S")), 20000,
//                             RandomStream(std::uint64_t(c.integer("seed"))));
//     return optim::SweepRecord{sim.outcome, {sim.excess_loss, sim.standard_error}};
//   }, {.csv_path = "sweep.csv"});                      // (C++20 designated initialisers, or set members)
//
// Cells are numbered in row-major order of the axes (the last axis varies fastest). The CSV file is
//   # sgdsde sweep v1: eta=0.05|0.1|0.2; S=32|64|128; seed=1|2|3; metrics=excess_loss|standard_error
//   cell,eta,S,seed,status,step,excess_loss,standard_error
//   0,0.05,32,1,success,-1,0.0123…,…
// with numbers written to 17 significant digits (they read back to the same bits). Determinism: a
// cell's result depends on the cell alone (its evaluator must draw its random numbers from the cell's
// own seed/stream), so the file is byte-identical for any thread count, MPI rank count, and for a run
// that was interrupted and resumed.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::optim {

class SweepGrid;

/// One cell of a grid: its index and the value of every axis.
class SweepCell {
 public:
  SweepCell(const SweepGrid& grid, Index index);
  Index index() const { return index_; }
  /// Value of a numeric or integer axis (throws for a label axis or an unknown name).
  double number(const std::string& axis) const;
  /// Value of an integer axis (throws for other axes or an unknown name).
  long long integer(const std::string& axis) const;
  /// The value of any axis as written in the CSV (the label itself for a label axis).
  const std::string& label(const std::string& axis) const;

 private:
  const SweepGrid* grid_;
  Index index_;
  std::vector<Index> position_;
};

/// A grid of named axes; each axis is a non-empty list of numbers, integers or labels. Axis names and
/// labels are non-empty, free of the characters , ; | = " and line breaks; names are unique and not
/// `cell`, `status` or `step`. Numbers must be finite. Bad input throws sgdsde::invalid_argument.
class SweepGrid {
 public:
  enum class Kind { number, integer, label };
  struct Axis {
    std::string name;
    Kind kind;
    std::vector<double> numbers;      ///< number axes
    std::vector<long long> integers;  ///< integer axes
    std::vector<std::string> text;    ///< every axis: the values as written in the CSV
  };

  SweepGrid& numbers(std::string name, std::vector<double> values) {
    Axis a{std::move(name), Kind::number, std::move(values), {}, {}};
    for (double v : a.numbers) {
      require(std::isfinite(v), "SweepGrid::numbers", "values", v, "finite numbers");
      a.text.push_back(format_number(v));
    }
    const std::size_t count = a.numbers.size();
    return add(std::move(a), count, "SweepGrid::numbers");
  }
  SweepGrid& integers(std::string name, std::vector<long long> values) {
    Axis a{std::move(name), Kind::integer, {}, std::move(values), {}};
    for (long long v : a.integers) a.text.push_back(std::to_string(v));
    const std::size_t count = a.integers.size();
    return add(std::move(a), count, "SweepGrid::integers");
  }
  SweepGrid& labels(std::string name, std::vector<std::string> values) {
    Axis a{std::move(name), Kind::label, {}, {}, std::move(values)};
    for (const std::string& v : a.text) check_text("SweepGrid::labels", "values", v);
    const std::size_t count = a.text.size();
    return add(std::move(a), count, "SweepGrid::labels");
  }

  const std::vector<Axis>& axes() const { return axes_; }
  /// Number of cells: the product of the axis lengths (0 without axes).
  Index size() const {
    if (axes_.empty()) return 0;
    Index n = 1;
    for (const Axis& a : axes_) n *= Index(a.text.size());
    return n;
  }
  SweepCell cell(Index index) const {
    require(index >= 0 && index < size(), "SweepGrid::cell", "index", index, "an index in [0, size())");
    return SweepCell(*this, index);
  }
  /// Index of an axis by name; throws if there is none.
  std::size_t axis_index(const std::string& name, const char* fn) const {
    for (std::size_t i = 0; i < axes_.size(); ++i)
      if (axes_[i].name == name) return i;
    sgdsde::detail::throw_invalid_argument(fn, "axis", "'" + name + "'", "the name of an axis of the grid");
  }
  /// The first line of the grid's CSV file: every axis with its values and the metric names.
  std::string fingerprint(const std::vector<std::string>& metrics) const {
    std::string s = "# sgdsde sweep v1:";
    for (const Axis& a : axes_) {
      s += " " + a.name + "=";
      for (std::size_t i = 0; i < a.text.size(); ++i) s += (i ? "|" : "") + a.text[i];
      s += ";";
    }
    s += " metrics=";
    for (std::size_t i = 0; i < metrics.size(); ++i) s += (i ? "|" : "") + metrics[i];
    return s;
  }

  /// 17 significant digits (reads back to the same double), "nan"/"inf"/"-inf" for the others.
  static std::string format_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
  static void check_text(const char* fn, const char* argument, const std::string& v) {
    require(!v.empty() && v.find_first_of(",;|=\"\n\r") == std::string::npos, fn, argument, "'" + v + "'",
            "a non-empty name or label without , ; | = \" or line breaks");
  }

 private:
  SweepGrid& add(Axis a, std::size_t count, const char* fn) {
    check_text(fn, "name", a.name);
    require(a.name != "cell" && a.name != "status" && a.name != "step", fn, "name", a.name,
            "a name other than cell, status, step (CSV columns of the runner)");
    for (const Axis& b : axes_) require(b.name != a.name, fn, "name", a.name, "a name not used by another axis");
    require(count >= 1, fn, "values", "an empty list", "an axis with at least one value");
    const double cells = double(size() == 0 ? 1 : size()) * double(count);
    require(cells < 9.0e15, fn, "values", count, "a grid of fewer than 9e15 cells");
    axes_.push_back(std::move(a));
    return *this;
  }

  std::vector<Axis> axes_;
};

inline SweepCell::SweepCell(const SweepGrid& grid, Index index) : grid_(&grid), index_(index) {
  const auto& axes = grid.axes();
  position_.resize(axes.size());
  for (std::size_t i = axes.size(); i-- > 0;) {
    const Index n = Index(axes[i].text.size());
    position_[i] = index % n;
    index /= n;
  }
}
inline double SweepCell::number(const std::string& axis) const {
  const std::size_t i = grid_->axis_index(axis, "SweepCell::number");
  const auto& a = grid_->axes()[i];
  require(a.kind != SweepGrid::Kind::label, "SweepCell::number", "axis", axis, "a number or integer axis");
  return a.kind == SweepGrid::Kind::number ? a.numbers[std::size_t(position_[i])]
                                           : double(a.integers[std::size_t(position_[i])]);
}
inline long long SweepCell::integer(const std::string& axis) const {
  const std::size_t i = grid_->axis_index(axis, "SweepCell::integer");
  const auto& a = grid_->axes()[i];
  require(a.kind == SweepGrid::Kind::integer, "SweepCell::integer", "axis", axis, "an integer axis");
  return a.integers[std::size_t(position_[i])];
}
inline const std::string& SweepCell::label(const std::string& axis) const {
  const std::size_t i = grid_->axis_index(axis, "SweepCell::label");
  return grid_->axes()[i].text[std::size_t(position_[i])];
}

/// What an evaluator returns for a cell: its outcome (a failed cell, e.g. a diverged run, is recorded
/// with its status and step and does not stop the others) and one value per metric (values of a failed
/// cell may be NaN; a record with the wrong number of values is an error of the evaluator).
struct SweepRecord {
  Outcome outcome;
  std::vector<double> values;
};

/// Options of run_sweep.
struct SweepOptions {
  std::string csv_path;  ///< the CSV file; empty: none (results returned only)
  /// true: an existing file of the same grid and metrics is resumed (its cells are not evaluated again;
  /// a file of another grid is an error); false: the file is overwritten.
  bool resume = true;
  Threads threads{};  ///< threads evaluating cells (one cell per thread at a time)
};

/// Result of run_sweep: one record per cell, in cell order (records read back from a resumed file
/// carry the status, step and values, not the message), and counts.
struct SweepResult {
  std::vector<SweepRecord> records;
  Index evaluated = 0;  ///< cells evaluated by this call
  Index resumed = 0;    ///< cells read from an existing file
  Index failed = 0;     ///< cells whose outcome is not success (evaluated or resumed)
};

}  // namespace sgdsde::optim

// Internals in sgdsde::detail (not sgdsde::optim::detail, which would shadow sgdsde::detail for the
// optim headers included after this one).
namespace sgdsde::detail {
using optim::SweepCell;
using optim::SweepGrid;
using optim::SweepOptions;
using optim::SweepRecord;

inline Status parse_status(const std::string& s, bool& ok) {
  ok = true;
  for (Status st : {Status::success, Status::non_finite, Status::diverged, Status::unstable_step,
                    Status::not_positive_definite, Status::singular, Status::no_convergence,
                    Status::ill_conditioned})
    if (s == to_string(st)) return st;
  ok = false;
  return Status::success;
}

inline std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

inline std::string csv_header(const SweepGrid& grid, const std::vector<std::string>& metrics) {
  std::string s = "cell";
  for (const auto& a : grid.axes()) s += "," + a.name;
  s += ",status,step";
  for (const auto& m : metrics) s += "," + m;
  return s;
}

inline std::string csv_row(const SweepGrid& grid, Index index, const SweepRecord& r) {
  const SweepCell cell = grid.cell(index);
  std::string s = std::to_string(index);
  for (const auto& a : grid.axes()) s += "," + cell.label(a.name);
  s += ",";
  s += to_string(r.outcome.status);
  s += "," + std::to_string(r.outcome.ok() ? -1L : r.outcome.step);
  for (double v : r.values) s += "," + SweepGrid::format_number(v);
  return s;
}

/// Reads the rows of an existing file of this grid: rows[i] is the text of cell i's row (empty if
/// absent). A file of another grid throws; a truncated last line (no newline) is ignored.
inline std::vector<std::string> read_sweep_file(const SweepGrid& grid, const std::vector<std::string>& metrics,
                                                const std::string& path, const char* fn) {
  std::vector<std::string> rows(std::size_t(grid.size()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return rows;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return rows;
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // an unterminated last line was cut by an interruption
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  const std::string expected = grid.fingerprint(metrics);
  if (lines.empty() || lines[0] != expected)
    throw_invalid_argument(fn, "options.csv_path", "'" + path + "' (first line '" + (lines.empty() ? text : lines[0]) + "')",
                           "a sweep file of this grid and metrics, first line '" + expected +
                               "' (or options.resume = false to overwrite it)");
  if (lines.size() < 2) return rows;
  require(lines[1] == csv_header(grid, metrics), fn, "options.csv_path", "'" + path + "'",
          ("a sweep file whose second line is '" + csv_header(grid, metrics) + "'").c_str());
  const std::size_t fields = 1 + grid.axes().size() + 2 + metrics.size();
  for (std::size_t l = 2; l < lines.size(); ++l) {
    const auto f = split_csv(lines[l]);
    char* end = nullptr;
    const long long i = f.empty() ? -1 : std::strtoll(f[0].c_str(), &end, 10);
    const bool index_ok = !f.empty() && end && *end == '\0' && i >= 0 && i < grid.size();
    bool well_formed = index_ok && f.size() == fields;
    if (well_formed) {
      const SweepCell cell = grid.cell(Index(i));
      for (std::size_t a = 0; a < grid.axes().size(); ++a)
        well_formed = well_formed && f[1 + a] == cell.label(grid.axes()[a].name);
      bool st_ok = false;
      parse_status(f[1 + grid.axes().size()], st_ok);
      well_formed = well_formed && st_ok;
    }
    require(well_formed, fn, "options.csv_path", "'" + path + "' line " + std::to_string(l + 1) + " '" + lines[l] + "'",
            "rows 'cell,axis values…,status,step,metrics…' matching the grid");
    if (rows[std::size_t(i)].empty()) rows[std::size_t(i)] = lines[l];
  }
  return rows;
}

inline SweepRecord parse_row(const SweepGrid& grid, const std::string& row) {
  const auto f = split_csv(row);
  const std::size_t a = grid.axes().size();
  SweepRecord r;
  bool ok = false;
  r.outcome.status = parse_status(f[1 + a], ok);
  r.outcome.step = std::strtol(f[2 + a].c_str(), nullptr, 10);
  for (std::size_t j = 3 + a; j < f.size(); ++j) r.values.push_back(std::strtod(f[j].c_str(), nullptr));
  return r;
}

/// Writes the whole file in cell order (through a temporary file renamed over it).
inline void write_sweep_file(const SweepGrid& grid, const std::vector<std::string>& metrics, const std::string& path,
                             const std::vector<std::string>& rows, const char* fn) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    require(bool(out), fn, "options.csv_path", "'" + path + "'", "a writable path");
    out << grid.fingerprint(metrics) << '\n' << csv_header(grid, metrics) << '\n';
    for (const auto& r : rows)
      if (!r.empty()) out << r << '\n';
    require(bool(out.flush()), fn, "options.csv_path", "'" + path + "'", "a writable path");
  }
  require(std::rename(tmp.c_str(), path.c_str()) == 0, fn, "options.csv_path", "'" + path + "'", "a writable path");
}

inline void check_sweep(const char* fn, const SweepGrid& grid, const std::vector<std::string>& metrics,
                        const SweepOptions& options) {
  options.threads.resolve(fn, "options.threads");
  require(grid.size() >= 1, fn, "grid", "a grid without axes", "a grid with at least one axis");
  for (const auto& m : metrics) SweepGrid::check_text(fn, "metrics", m);
  for (std::size_t i = 0; i < metrics.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      require(metrics[i] != metrics[j], fn, "metrics", metrics[i], "distinct metric names");
}

/// Evaluates one cell into its CSV row; a record with the wrong number of values throws.
template <class Evaluate>
std::string evaluate_cell(const char* fn, const SweepGrid& grid, const std::vector<std::string>& metrics,
                          Evaluate& evaluate, Index i, SweepRecord& record) {
  record = evaluate(grid.cell(i));
  require(record.values.size() == metrics.size(), fn, "evaluate(cell).values.size()", record.values.size(),
          ("one value per metric (" + std::to_string(metrics.size()) + ")").c_str());
  return csv_row(grid, i, record);
}

}  // namespace sgdsde::detail

namespace sgdsde::optim {

/// Evaluates every cell of `grid` not already in the file, record = evaluate(cell) (SweepCell → SweepRecord),
/// on up to options.threads threads, cells handed out in index order one at a time (so `evaluate` is
/// called concurrently on distinct cells: it must not modify shared state, and must take its random
/// numbers from the cell, e.g. RandomStream(cell.integer("seed")), for the result to be reproducible). With a csv_path the
/// rows are appended as soon as every cell before them is done (an interrupted run keeps them; running
/// again resumes), and the file is finally rewritten with all rows in cell order, so it is the same bytes
/// for any thread count and any interruption. A failed cell is recorded (status, step) and the others go
/// on. If evaluate throws (or returns the wrong number of values), the other cells still run and are
/// written, then the exception of the lowest cell index is rethrown.
/// Throws sgdsde::invalid_argument: threads ≤ 0, a grid without axes, bad metric names, a file of another
/// grid (or corrupt rows) when resuming, an unwritable path.
template <class Evaluate>
SweepResult run_sweep(const SweepGrid& grid, const std::vector<std::string>& metrics, Evaluate&& evaluate,
                      const SweepOptions& options = {}) {
  const char* fn = "run_sweep";
  sgdsde::detail::check_sweep(fn, grid, metrics, options);
  const bool file = !options.csv_path.empty();
  std::vector<std::string> rows(std::size_t(grid.size()));
  if (file && options.resume) rows = sgdsde::detail::read_sweep_file(grid, metrics, options.csv_path, fn);
  SweepResult result;
  result.records.resize(rows.size());
  std::vector<Index> todo;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty())
      todo.push_back(Index(i));
    else
      result.records[i] = sgdsde::detail::parse_row(grid, rows[i]), ++result.resumed;
  }
  std::ofstream out;
  if (file) {
    sgdsde::detail::write_sweep_file(grid, metrics, options.csv_path, rows, fn);  // also validates the path
    out.open(options.csv_path, std::ios::binary | std::ios::app);
  }
  std::mutex mutex;
  std::vector<char> done(todo.size(), 0);
  std::size_t written = 0;  // todo[0 … written) are in the file
  auto flush_prefix = [&] {
    while (written < todo.size() && done[written]) {
      if (file && !rows[std::size_t(todo[written])].empty()) out << rows[std::size_t(todo[written])] << '\n' << std::flush;
      ++written;
    }
  };
  std::exception_ptr error;
  try {
    parallel_for(fn, Index(todo.size()), options.threads, [&](Index j) {
      const Index i = todo[std::size_t(j)];
      SweepRecord record;
      std::string row;
      try {
        row = sgdsde::detail::evaluate_cell(fn, grid, metrics, evaluate, i, record);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        done[std::size_t(j)] = 1;
        flush_prefix();
        throw;
      }
      std::lock_guard<std::mutex> lock(mutex);
      rows[std::size_t(i)] = std::move(row);
      result.records[std::size_t(i)] = std::move(record);
      done[std::size_t(j)] = 1;
      flush_prefix();
    }, Schedule::dynamic);
  } catch (...) {
    error = std::current_exception();
  }
  if (file) {
    out.close();
    sgdsde::detail::write_sweep_file(grid, metrics, options.csv_path, rows, fn);
  }
  if (error) std::rethrow_exception(error);
  result.evaluated = Index(todo.size());
  for (const auto& r : result.records) result.failed += r.outcome.ok() ? 0 : 1;
  return result;
}

}  // namespace sgdsde::optim
