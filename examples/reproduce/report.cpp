// sgdsde-reproduce: progress lines, the claim registry, report.md with CSVs and gnuplot plots, and the
// store of finished claims that makes --full resumable.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace repro {

// ---------------------------------------------------------------- registry, progress, helpers
std::vector<Registered>& registry() {
  static std::vector<Registered> r;
  return r;
}

void Progress::begin(const std::string& claim) {
  claim_ = claim;
  start_ = std::chrono::steady_clock::now();
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::step(const std::string& what, double fraction_done) {
  const double t = elapsed();
  char buf[160];
  if (fraction_done > 0.01 && fraction_done < 1 && t > 0.5)
    std::snprintf(buf, sizeof buf, "(elapsed %.1f s, about %.0f s left)", t, t * (1 - fraction_done) / fraction_done);
  else
    std::snprintf(buf, sizeof buf, "(elapsed %.1f s)", t);
  std::cerr << "[" << claim_ << "] " << what << "  " << buf << std::endl;
}

std::string num(double value, int digits) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "+inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", std::max(1, digits), value);
  return buf;
}

std::string plus_minus(double value, double standard_error, int digits) {
  return num(value, digits) + " ± " + num(standard_error, 2);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::holds: return "holds";
    case Verdict::does_not_hold: return "does not hold here";
    case Verdict::exact_pass: return "exact: pass";
    case Verdict::exact_fail: return "exact: FAIL";
    case Verdict::skipped: return "skipped";
    case Verdict::undecided: return "undecided here";
  }
  return "?";
}

const char* level_name(Level l) { return l == Level::ci ? "ci" : l == Level::quick ? "quick" : "full"; }

// ---------------------------------------------------------------- CSV and gnuplot
namespace {

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

void write_csv(const fs::path& path, const Table& t) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("sgdsde-reproduce: cannot write " + path.string());
  for (std::size_t j = 0; j < t.header.size(); ++j) f << (j ? "," : "") << t.header[j];
  f << '\n';
  for (const auto& row : t.rows) {
    for (std::size_t j = 0; j < row.size(); ++j) f << (j ? "," : "") << csv_number(row[j]);
    f << '\n';
  }
}

std::string gp_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

std::string gnuplot_script(const Plot& p) {
  std::ostringstream g;
  g << "set terminal pngcairo size 900,560 enhanced font \"sans,11\"\n"
    << "set output " << gp_quote(p.name + ".png") << "\n"
    << "set datafile separator \",\"\nset datafile missing \"nan\"\n"
    << "set title " << gp_quote(p.title) << " noenhanced\n"
    << "set xlabel " << gp_quote(p.xlabel) << " noenhanced\n"
    << "set ylabel " << gp_quote(p.ylabel) << " noenhanced\n"
    << "set key left top noenhanced box opaque\nset grid\n";
  if (p.log_x) g << "set logscale x\nset format x \"%g\"\n";
  if (p.log_y) g << "set logscale y\nset format y \"%g\"\n";
  g << "plot ";
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    const Series& s = p.series[i];
    g << (i ? ", \\\n     " : "") << gp_quote(s.table + ".csv") << " skip 1 using " << s.x_column + 1 << ":"
      << s.y_column + 1;
    std::string style = s.style;
    if (s.error_column >= 0) {
      g << ":" << s.error_column + 1;
      style = (style == "points") ? "yerrorbars" : "yerrorlines";
    }
    g << " with " << style << " title " << gp_quote(s.label);
  }
  g << "\n";
  return g.str();
}

bool gnuplot_found() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

std::string markdown_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

void markdown_table(std::ostream& md, const Table& t) {
  const std::size_t max_rows = 40;
  md << "|";
  for (const auto& h : t.header) md << " " << markdown_escape(h) << " |";
  md << "\n|";
  for (std::size_t j = 0; j < t.header.size(); ++j) md << "---|";
  md << "\n";
  for (std::size_t r = 0; r < t.rows.size() && r < max_rows; ++r) {
    md << "|";
    for (double v : t.rows[r])
      md << " " << (v == std::round(v) && std::abs(v) < 1e9 ? std::to_string(long(v)) : num(v, 4)) << " |";
    md << "\n";
  }
  if (t.rows.size() > max_rows) md << "\n(" << t.rows.size() - max_rows << " more rows in the CSV file)\n";
  md << "\n";
}

}  // namespace

bool write_report(const Settings& s, const std::vector<ClaimResult>& claims, const RunInfo& info) {
  const fs::path out(s.out_dir);
  fs::create_directories(out);
  for (const auto& c : claims)
    for (const auto& t : c.tables) write_csv(out / (t.name + ".csv"), t);

  const bool have_gnuplot = gnuplot_found();
  std::vector<std::string> failed_plots;
  for (const auto& c : claims)
    for (const auto& p : c.plots) {
      const fs::path script = out / (p.name + ".gp");
      {
        std::ofstream f(script);
        f << gnuplot_script(p);
      }
      if (!have_gnuplot) continue;
      const std::string cmd = "cd '" + out.string() + "' && gnuplot '" + p.name + ".gp' 2>'" + p.name + ".gp.log'";
      if (std::system(cmd.c_str()) != 0) failed_plots.push_back(p.name);
      else fs::remove(out / (p.name + ".gp.log"));
    }
  if (!have_gnuplot)
    std::cerr << "sgdsde-reproduce: gnuplot not found: wrote the .gp scripts into " << out.string()
              << " but no PNG (install gnuplot-nox, e.g. scripts/install-deps)" << std::endl;
  for (const auto& n : failed_plots)
    std::cerr << "sgdsde-reproduce: gnuplot failed on " << n << ".gp (see " << n << ".gp.log)" << std::endl;

  std::ofstream md(out / "report.md");
  md << "# sgdsde-reproduce: SGD against its SDE limit\n\n"
     << "Level `" << level_name(s.level) << "`, seed " << s.seed << ", " << info.total_seconds
     << " s wall time for the claims run now. Command: `" << info.command_line << "`.\n\n";
  if (s.level == Level::ci)
    md << "**Level `ci` is the test suite's smoke test**: tiny settings, so the empirical verdicts below say "
          "nothing about the papers; only the exact claims are meaningful here. Run the default (`--quick`) or "
          "`--full` for evidence.\n\n";
  if (!have_gnuplot)
    md << "**gnuplot was not found**: the plots are the gnuplot scripts `*.gp` beside this file "
          "(install `gnuplot-nox` and run `gnuplot NAME.gp` here to render them).\n\n";
  if (!failed_plots.empty()) {
    md << "**gnuplot failed on:**";
    for (const auto& n : failed_plots) md << " `" << n << ".gp`";
    md << "\n\n";
  }
  for (const auto& e : info.errors) md << "**A claim function failed:** " << markdown_escape(e) << "\n\n";
  if (!info.resumed.empty()) {
    md << "Loaded from earlier runs (`claims/`, not recomputed):";
    for (const auto& id : info.resumed) md << " `" << id << "`";
    md << ".\n\n";
  }
  md << "## Summary\n\n| claim | paper's statement | theory | measured ± SE | verdict |\n|---|---|---|---|---|\n";
  for (const auto& c : claims)
    md << "| [" << c.id << "](#" << c.id << ") " << markdown_escape(c.source) << " | "
       << markdown_escape(c.statement) << " | " << markdown_escape(c.theory) << " | "
       << markdown_escape(c.measured) << " | **" << verdict_name(c.verdict) << "** |\n";
  md << "\nVerdicts: *exact* claims are numbers the theory guarantees (a failure makes the program exit "
        "non-zero); *holds / does not hold here / undecided here* are empirical, decided from the measured effect "
        "size and its 95% confidence interval as each section states (undecided: the interval contains no effect, "
        "so these settings neither show nor refute the claim).\n\n";
  if (!info.function_seconds.empty()) {
    md << "Wall time per claim source:";
    for (const auto& [n, t] : info.function_seconds) md << " " << n << " " << num(t, 3) << " s;";
    md << "\n\n";
  }
  for (const auto& c : claims) {
    md << "<a id=\"" << c.id << "\"></a>\n## " << c.id << ": " << c.title << "\n\n"
       << "*" << c.source << ".* " << c.statement << "\n\n"
       << "**Verdict: " << verdict_name(c.verdict) << "** — theory: " << c.theory << "; measured: " << c.measured;
    if (c.seconds > 0) md << " (" << num(c.seconds, 3) << " s)";
    md << "\n\n" << c.markdown << "\n\n";
    for (const auto& p : c.plots) md << "![" << markdown_escape(p.title) << "](" << p.name << ".png)\n\n";
    for (const auto& t : c.tables) {
      md << "Table `" << t.name << "` ([" << t.name << ".csv](" << t.name << ".csv))";
      if (t.show) {
        md << ":\n\n";
        markdown_table(md, t);
      } else {
        md << ", " << t.rows.size() << " rows.\n\n";
      }
    }
  }
  return have_gnuplot && failed_plots.empty();
}

// ---------------------------------------------------------------- store of finished claims
namespace {

void put(std::ostream& o, const std::string& s) { o << s.size() << '\n' << s << '\n'; }
void put(std::ostream& o, double v) { put(o, csv_number(v)); }
void put(std::ostream& o, long v) { put(o, std::to_string(v)); }

std::string get(std::istream& in) {
  std::size_t n = 0;
  if (!(in >> n)) throw std::runtime_error("truncated claim file");
  in.get();
  std::string s(n, '\0');
  in.read(&s[0], std::streamsize(n));
  in.get();
  if (!in) throw std::runtime_error("truncated claim file");
  return s;
}
double get_number(std::istream& in) { return std::strtod(get(in).c_str(), nullptr); }
long get_long(std::istream& in) { return std::stol(get(in)); }

std::string header_line(const Settings& s) {
  return std::string("sgdsde-reproduce claim v1 level=") + level_name(s.level) + " seed=" + std::to_string(s.seed);
}

}  // namespace

void store_claim(const Settings& s, const ClaimResult& c) {
  const fs::path dir = fs::path(s.out_dir) / "claims";
  fs::create_directories(dir);
  const fs::path tmp = dir / (c.id + ".claim.tmp");
  {
    std::ofstream o(tmp, std::ios::binary);
    put(o, header_line(s));
    for (const auto* f : {&c.id, &c.title, &c.source, &c.statement, &c.theory, &c.measured, &c.markdown}) put(o, *f);
    put(o, long(c.verdict));
    put(o, c.seconds);
    put(o, long(c.rank));
    put(o, long(c.tables.size()));
    for (const auto& t : c.tables) {
      put(o, t.name);
      put(o, long(t.show));
      put(o, long(t.header.size()));
      for (const auto& h : t.header) put(o, h);
      put(o, long(t.rows.size()));
      for (const auto& r : t.rows) {
        put(o, long(r.size()));
        for (double v : r) put(o, v);
      }
    }
    put(o, long(c.plots.size()));
    for (const auto& p : c.plots) {
      for (const auto* f : {&p.name, &p.title, &p.xlabel, &p.ylabel}) put(o, *f);
      put(o, long(p.log_x));
      put(o, long(p.log_y));
      put(o, long(p.series.size()));
      for (const auto& sr : p.series) {
        put(o, sr.table);
        put(o, long(sr.x_column));
        put(o, long(sr.y_column));
        put(o, long(sr.error_column));
        put(o, sr.label);
        put(o, sr.style);
      }
    }
    put(o, std::string("end"));
    if (!o) throw std::runtime_error("sgdsde-reproduce: cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / (c.id + ".claim"));  // atomic: an interrupted run leaves no half claim
}

std::vector<ClaimResult> load_stored_claims(const Settings& s) {
  std::vector<ClaimResult> out;
  const fs::path dir = fs::path(s.out_dir) / "claims";
  if (!fs::is_directory(dir)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".claim") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    try {
      std::ifstream in(path, std::ios::binary);
      if (get(in) != header_line(s)) continue;  // another level or seed
      ClaimResult c;
      for (auto* f : {&c.id, &c.title, &c.source, &c.statement, &c.theory, &c.measured, &c.markdown}) *f = get(in);
      c.verdict = Verdict(get_long(in));
      c.seconds = get_number(in);
      c.rank = int(get_long(in));
      c.tables.resize(std::size_t(get_long(in)));
      for (auto& t : c.tables) {
        t.name = get(in);
        t.show = get_long(in) != 0;
        t.header.resize(std::size_t(get_long(in)));
        for (auto& h : t.header) h = get(in);
        t.rows.resize(std::size_t(get_long(in)));
        for (auto& r : t.rows) {
          r.resize(std::size_t(get_long(in)));
          for (auto& v : r) v = get_number(in);
        }
      }
      c.plots.resize(std::size_t(get_long(in)));
      for (auto& p : c.plots) {
        for (auto* f : {&p.name, &p.title, &p.xlabel, &p.ylabel}) *f = get(in);
        p.log_x = get_long(in) != 0;
        p.log_y = get_long(in) != 0;
        p.series.resize(std::size_t(get_long(in)));
        for (auto& sr : p.series) {
          sr.table = get(in);
          sr.x_column = int(get_long(in));
          sr.y_column = int(get_long(in));
          sr.error_column = int(get_long(in));
          sr.label = get(in);
          sr.style = get(in);
        }
      }
      if (get(in) != "end") continue;
      out.push_back(std::move(c));
    } catch (const std::exception& e) {
      std::cerr << "sgdsde-reproduce: ignoring unreadable " << path.string() << " (" << e.what() << ")" << std::endl;
    }
  }
  return out;
}

}  // namespace repro
