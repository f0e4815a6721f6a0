// The shared shape of sgdsde-reproduce (issue 14): settings, progress, claim results with their tables
// and plots, and the registry through which each claim source file adds its claims to the program.
#pragma once

#include <sgdsde/core/parallel.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace repro {

/// ci: the ctest guard (< 1 min for all claims); quick: the default (<= 3 min for all claims on 2 cores);
/// full: the papers' settings (hours), resumable.
enum class Level { ci, quick, full };

struct Settings {
  Level level = Level::quick;
  std::uint64_t seed = 20180101;
  std::string out_dir = "report";
  sgdsde::Threads threads;
  /// --only: the claim ids that start with this prefix run ("" = all). Use wants(id), not this field.
  std::string only;
  /// Ids of the claims already stored under <out>/claims/ for this level and seed (set by main; in
  /// --full only). main loads them into the report; the claim function must not recompute them.
  std::vector<std::string> stored;

  /// True when the claim `id` is to be computed now: selected by --only and not already stored.
  /// A claim function computes and returns exactly the claims for which wants(id) is true.
  bool wants(const std::string& id) const {
    if (id.compare(0, only.size(), only) != 0) return false;
    for (const auto& s : stored)
      if (s == id) return false;
    return true;
  }
  /// Pick the setting of the current level: pick(ci_value, quick_value, full_value).
  template <class T>
  T pick(T ci, T quick, T full) const {
    return level == Level::ci ? ci : level == Level::quick ? quick : full;
  }
};

/// Progress lines on stderr: "[claim] step  (elapsed 12.3 s, about 40 s left)". The fraction is that of
/// the current claim function (0..1); the remaining time is extrapolated from it.
class Progress {
 public:
  /// Called by main before each claim function.
  void begin(const std::string& claim);
  void step(const std::string& what, double fraction_done);
  /// Seconds since begin().
  double elapsed() const;

 private:
  std::string claim_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// A table of numbers -> <out>/<name>.csv (and a markdown table in the report when `show` is true).
struct Table {
  std::string name;  // CSV file stem, unique in the report
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  bool show = true;  // print it in report.md (false: CSV only, e.g. long curves)
};

/// One curve of a plot: columns of a table (0-based). error_column >= 0 draws error bars.
struct Series {
  std::string table;
  int x_column = 0, y_column = 1, error_column = -1;
  std::string label;
  std::string style = "linespoints";  // gnuplot style: lines, points, linespoints (errorbars added itself)
};

/// A plot rendered by gnuplot (pngcairo) into <out>/<name>.png; the script is kept as <out>/<name>.gp.
struct Plot {
  std::string name;  // PNG stem, unique in the report
  std::string title, xlabel, ylabel;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
};

/// exact_*: the theory guarantees the number (exact_fail makes the exit code non-zero);
/// holds / does_not_hold: empirical, decided from a measured effect size and its CI, never hard-coded;
/// skipped: could not be run here (e.g. the data set is missing), with the reason in `measured`.
// holds: the measured effect has the predicted sign with 95% confidence; does_not_hold: the opposite sign (or,
// where the section says so, an effect outside the predicted range) with 95% confidence; undecided: the
// interval contains no effect, so the data neither show nor refute the claim at these settings.
enum class Verdict { holds, does_not_hold, exact_pass, exact_fail, skipped, undecided };

struct ClaimResult {
  std::string id;         // short, e.g. "eq7", "fig1-2", "fig3", "fig4", "assumption2", "sgd-vs-sde", "borovykh-..."
  std::string title;      // e.g. "E[L] = η/(4S)·Tr H on noisy linear regression"
  std::string source;     // "Jastrzębski et al. 2018, eq. 7" ...
  std::string statement;  // the paper's claim, one sentence
  std::string theory;     // theory's number (text, with units), or "—"
  std::string measured;   // measured number ± standard error
  Verdict verdict = Verdict::skipped;
  std::string markdown;   // the claim's section body (how measured, settings, differences from the paper & why)
  std::vector<Table> tables;
  std::vector<Plot> plots;  // >= 1 plot per claim
  double seconds = 0;       // wall time spent on the claim (set by the claim function if it can, else 0)
  int rank = 0;             // set by main: position in the report (claim function order, then index)
};

using ClaimFunction = std::vector<ClaimResult> (*)(const Settings&, Progress&);

// The claim functions, one per source file.
std::vector<ClaimResult> jastrzebski_claims(const Settings&, Progress&);     // eq7, fig5 (jastrzebski.cpp)
std::vector<ClaimResult> jastrzebski_nn_claims(const Settings&, Progress&);  // fig1-2, fig1-cyclic, fig3, fig3c, fig4,
                                                                             // assumption2 (jastrzebski_nn.cpp)
std::vector<ClaimResult> borovykh_claims(const Settings&, Progress&);     // width, table1, table2, fig1
std::vector<ClaimResult> limits_claims(const Settings&, Progress&);       // sgd-vs-sde

/// The registry: each claim source file registers its function once, at namespace scope:
///   SGDSDE_REPRO_REGISTER(borovykh_claims, 20)
/// (order: claim functions run and appear in the report by increasing order, then name). A source file
/// that is absent from the build simply contributes no claims: CMake globs examples/reproduce/*.cpp.
struct Registered {
  const char* name;
  ClaimFunction function;
  int order;
};
std::vector<Registered>& registry();
struct Registration {
  Registration(const char* name, ClaimFunction function, int order) {
    registry().push_back({name, function, order});
  }
};
#define SGDSDE_REPRO_REGISTER(function, order) \
  static const ::repro::Registration sgdsde_repro_registration_##function{#function, &::repro::function, order};

// Small helpers for claim code (report.cpp).
/// "1.234e-3 ± 5.6e-5" with `digits` significant digits.
std::string plus_minus(double value, double standard_error, int digits = 3);
/// A number with `digits` significant digits ("%.{digits}g").
std::string num(double value, int digits = 4);
/// The verdict's word in the report.
const char* verdict_name(Verdict v);

}  // namespace repro

// ---- main's side (report.cpp): writing the report and storing finished claims (--full) ----
namespace repro {

struct RunInfo {
  std::string command_line;
  double total_seconds = 0;
  std::vector<std::pair<std::string, double>> function_seconds;  // claim function -> wall seconds
  std::vector<std::string> errors;                                // claim functions that threw
  std::vector<std::string> resumed;                               // claims loaded from <out>/claims/
};

/// Writes the CSVs, the gnuplot scripts and PNGs (if gnuplot is found) and report.md into s.out_dir.
/// Returns false when gnuplot was missing or a plot failed (report.md says so).
bool write_report(const Settings& s, const std::vector<ClaimResult>& claims, const RunInfo& info);
/// <out>/claims/<id>.claim (with level and seed): written after each claim in --full.
void store_claim(const Settings& s, const ClaimResult& c);
/// Claims stored under <out>/claims/ for this level and seed (all ids, --only not applied).
std::vector<ClaimResult> load_stored_claims(const Settings& s);
const char* level_name(Level l);

}  // namespace repro
