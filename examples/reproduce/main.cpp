// sgdsde-reproduce (issue 14): checks the claims of Jastrzębski et al. 2018 and Borovykh 2019 against
// simulation and writes report.md with verdicts, CSV tables and gnuplot plots.
//   sgdsde-reproduce [--quick | --full | --ci] [--out DIR] [--only ID] [--seed N] [--threads N]
// Claim functions register themselves (SGDSDE_REPRO_REGISTER in their source file); the exit code is
// non-zero iff a claim the theory guarantees exactly fails or a claim function throws.
#include "report.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sgdsde-reproduce: does SGD behave as its SDE limit says, and where does it stop? "
               "Checks the claims of Jastrzebski et al. 2018 and Borovykh 2019 and writes DIR/report.md."};
  bool quick = false, full = false, ci = false;
  repro::Settings s;
  int threads = 0;
  bool list = false;
  auto* q = app.add_flag("--quick", quick, "the default: every claim on small settings, <= 3 minutes on 2 cores");
  auto* f = app.add_flag("--full", full, "the papers' settings (hours); resumable: finished claims are kept in DIR/claims/, not recomputed, and always in the report");
  auto* c = app.add_flag("--ci", ci, "tiny settings for the ctest guard (< 1 minute)");
  q->excludes(f)->excludes(c);
  f->excludes(c);
  app.add_option("--out", s.out_dir, "output directory (report.md, CSV, PNG)")->capture_default_str();
  app.add_option("--only", s.only, "run only the claims whose id starts with this (e.g. eq7, fig, borovykh)");
  app.add_option("--seed", s.seed, "master seed of every random stream")->capture_default_str();
  app.add_option("--threads", threads, "threads (0: automatic, OMP_NUM_THREADS or every core)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--list", list, "list the registered claim sources and exit");
  CLI11_PARSE(app, argc, argv);

  s.level = full ? repro::Level::full : ci ? repro::Level::ci : repro::Level::quick;
  s.threads = threads == 0 ? sgdsde::Threads() : sgdsde::Threads(threads);

  auto functions = repro::registry();
  std::stable_sort(functions.begin(), functions.end(), [](const auto& a, const auto& b) {
    return a.order != b.order ? a.order < b.order : std::string(a.name) < std::string(b.name);
  });
  if (list) {
    for (const auto& r : functions) std::cout << r.order << " " << r.name << "\n";
    return 0;
  }

  repro::RunInfo info;
  for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "") + std::string(argv[i]);

  std::vector<repro::ClaimResult> stored;
  if (s.level == repro::Level::full) {
    for (auto& claim : repro::load_stored_claims(s)) {
      s.stored.push_back(claim.id);  // --full: every finished claim is in the report, --only or not
      stored.push_back(std::move(claim));
    }
  }
  for (const auto& claim : stored) info.resumed.push_back(claim.id);

  std::cerr << "sgdsde-reproduce: level " << repro::level_name(s.level) << ", seed " << s.seed << ", "
            << s.threads.resolve("sgdsde-reproduce", "--threads") << " thread(s), " << functions.size()
            << " claim source(s), output " << s.out_dir << "/" << std::endl;

  const auto start = std::chrono::steady_clock::now();
  std::vector<repro::ClaimResult> claims = stored;
  repro::Progress progress;
  for (std::size_t fi = 0; fi < functions.size(); ++fi) {
    const auto& r = functions[fi];
    progress.begin(r.name);
    try {
      auto results = r.function(s, progress);
      const double t = progress.elapsed();
      if (!results.empty()) info.function_seconds.emplace_back(r.name, t);
      std::cerr << "[" << r.name << "] done: " << results.size() << " claim(s) in " << repro::num(t, 3) << " s"
                << std::endl;
      for (std::size_t j = 0; j < results.size(); ++j) {
        results[j].rank = int(1000 * fi + j);
        std::cerr << "    " << results[j].id << ": " << repro::verdict_name(results[j].verdict) << " ("
                  << results[j].measured << ")" << std::endl;
        if (s.level == repro::Level::full) repro::store_claim(s, results[j]);
        claims.push_back(std::move(results[j]));
      }
    } catch (const std::exception& e) {
      info.errors.push_back(std::string(r.name) + ": " + e.what());
      std::cerr << "[" << r.name << "] FAILED: " << e.what() << std::endl;
    }
  }
  info.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::stable_sort(claims.begin(), claims.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  if (claims.empty() && info.errors.empty())
    std::cerr << "sgdsde-reproduce: no claim matched --only '" << s.only << "'" << std::endl;

  try {
    repro::write_report(s, claims, info);
  } catch (const std::exception& e) {
    std::cerr << "sgdsde-reproduce: writing the report failed: " << e.what() << std::endl;
    return 1;
  }
  int exact_failures = 0;
  for (const auto& claim : claims) exact_failures += claim.verdict == repro::Verdict::exact_fail;
  std::cerr << "sgdsde-reproduce: " << claims.size() << " claim(s), " << exact_failures << " exact failure(s), "
            << info.errors.size() << " error(s), " << repro::num(info.total_seconds, 3) << " s; report: "
            << s.out_dir << "/report.md" << std::endl;
  std::cout << "report: " << (std::filesystem::absolute(s.out_dir) / "report.md").lexically_normal().string() << std::endl;
  return (exact_failures > 0 || !info.errors.empty()) ? 1 : 0;
}
