// Tests for sgdsde/data/idx.hpp and data/fashion_mnist.hpp: round trip of hand-written IDX files (plain and gzip), every error
// path on corrupt, truncated and random files (written to a temporary directory), and the real
// Fashion-MNIST files of Debian's dataset-fashion-mnist (missing files fail the test unless the
// environment sets SGDSDE_ALLOW_MISSING_DATA=1, see the CMake option of the same name).
#include "sgdsde/data/idx.hpp"
#include "sgdsde/data/fashion_mnist.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <zlib.h>

#include "sgdsde/core/random.hpp"

namespace {

namespace fs = std::filesystem;
namespace data = sgdsde::data;

/// A fresh temporary directory, removed with its contents at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto stamp = std::to_string(std::uintptr_t(this)) + "_" +
                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    path = fs::temp_directory_path() / ("sgdsde_idx_test_" + stamp);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<unsigned char> idx_bytes(std::vector<std::uint32_t> dims, const std::vector<unsigned char>& data,
                                     unsigned char type = 0x08) {
  std::vector<unsigned char> b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_plain(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
}

/// The message of the sgdsde::invalid_argument thrown by f ("" if none is thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sgdsde::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool missing_data_allowed() {
  const char* v = std::getenv("SGDSDE_ALLOW_MISSING_DATA");
  return v && std::string(v) == "1";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("IDX round trip: pixels scaled by 1/255, one column per image, labels as ints") {
  TempDir dir;
  // 3 images of 2 × 3 pixels: image i has pixel (r, c) = 10·i + 3·r + c, plus one 255 to check scaling.
  std::vector<unsigned char> pix;
  for (int i = 0; i < 3; ++i)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) pix.push_back(static_cast<unsigned char>(10 * i + 3 * r + c));
  pix.back() = 255;
  const std::vector<unsigned char> lab = {2, 0, 1};
  for (bool gz : {false, true}) {
    const std::string ip = dir.file(gz ? "img.gz" : "img"), lp = dir.file(gz ? "lab.gz" : "lab");
    (gz ? write_gzip : write_plain)(ip, idx_bytes({3, 2, 3}, pix));
    (gz ? write_gzip : write_plain)(lp, idx_bytes({3}, lab));
    const sgdsde::Dataset<double> d = data::read_idx_labelled<double>(ip, lp, 3);
    CHECK_NOTHROW(d.validate("test"));
    CHECK(d.num_classes == 3);
    REQUIRE(d.inputs.rows() == 6);
    REQUIRE(d.inputs.cols() == 3);
    for (int i = 0; i < 3; ++i)
      for (int p = 0; p < 6; ++p) {
        const double expected = (i == 2 && p == 5) ? 1.0 : double(10 * i + p) / 255.0;
        CHECK(d.inputs(p, i) == doctest::Approx(expected).epsilon(1e-15));
      }
    CHECK(d.labels == (sgdsde::Labels(3) << 2, 0, 1).finished());
    const auto f2 = data::read_idx_images<float>(ip, 2);
    CHECK(f2.cols() == 2);
    CHECK(f2(4, 1) == doctest::Approx(14.0f / 255.0f));
    CHECK(data::read_idx_labels(lp, 3, 1) == (sgdsde::Labels(1) << 2).finished());
    CHECK(data::read_idx_images(ip).cols() == 3);  // float by default
  }
}

TEST_CASE("IDX reader rejects corrupt and truncated files, naming the file and the expectation") {
  TempDir dir;
  const std::vector<unsigned char> pix(2 * 4, 7), lab = {1, 2};
  const std::string good_img = dir.file("good_img"), good_lab = dir.file("good_lab");
  write_plain(good_img, idx_bytes({2, 2, 2}, pix));
  write_plain(good_lab, idx_bytes({2}, lab));

  SUBCASE("missing file") {
    const auto msg = error_of([&] { data::read_idx(dir.file("nope"), 3); });
    CHECK(contains(msg, "nope"));
    CHECK(contains(msg, "cannot be opened"));
  }
  SUBCASE("empty file and short header") {
    write_plain(dir.file("empty"), {});
    CHECK(contains(error_of([&] { data::read_idx(dir.file("empty"), 3); }), "truncated"));
    write_plain(dir.file("short"), {0, 0, 8});
    CHECK(contains(error_of([&] { data::read_idx(dir.file("short"), 3); }), "truncated"));
  }
  SUBCASE("wrong magic: element type, dimension count, non-zero leading bytes") {
    write_plain(dir.file("float"), idx_bytes({2, 2, 2}, pix, 0x0D));
    const auto msg = error_of([&] { data::read_idx_images<float>(dir.file("float")); });
    CHECK(contains(msg, "magic number 0x00000D03"));
    CHECK(contains(msg, "expected magic number 0x00000803"));
    CHECK(contains(msg, "float"));
    // a label file where images are expected
    CHECK(contains(error_of([&] { data::read_idx_images<float>(good_lab); }), "0x00000801"));
    CHECK(contains(error_of([&] { data::read_idx_labels(good_img, 10); }), "0x00000803"));
    auto bad = idx_bytes({2}, lab);
    bad[0] = 1;
    write_plain(dir.file("lead"), bad);
    CHECK(contains(error_of([&] { data::read_idx_labels(dir.file("lead"), 10); }), "magic number"));
  }
  SUBCASE("truncated dimension sizes, truncated data, trailing data") {
    auto b = idx_bytes({2, 2, 2}, pix);
    write_plain(dir.file("dims"), std::vector<unsigned char>(b.begin(), b.begin() + 9));
    CHECK(contains(error_of([&] { data::read_idx(dir.file("dims"), 3); }), "dimension sizes"));
    for (std::size_t cut = 1; cut <= pix.size(); ++cut) {
      write_gzip(dir.file("cut.gz"), std::vector<unsigned char>(b.begin(), b.end() - long(cut)));
      const auto msg = error_of([&] { data::read_idx_images<double>(dir.file("cut.gz")); });
      CHECK(contains(msg, "truncated: " + std::to_string(pix.size() - cut) + " data bytes"));
      CHECK(contains(msg, "expected 8 data bytes"));
      CHECK(contains(msg, "cut.gz"));
    }
    auto longer = b;
    longer.push_back(0);
    write_plain(dir.file("long"), longer);
    CHECK(contains(error_of([&] { data::read_idx(dir.file("long"), 3); }), "past the end"));
  }
  SUBCASE("a gzip stream cut short is reported, not read as a shorter file silently") {
    const std::string gz = dir.file("full.gz");
    write_gzip(gz, idx_bytes({2, 2, 2}, pix));
    std::ifstream in(gz, std::ios::binary);
    std::vector<char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir.file("half.gz"), std::ios::binary).write(all.data(), std::streamsize(all.size() / 2));
    CHECK_FALSE(error_of([&] { data::read_idx(dir.file("half.gz"), 3); }).empty());
  }
  SUBCASE("label out of range and image/label count mismatch") {
    write_plain(dir.file("lab11"), idx_bytes({3}, {1, 11, 2}));
    const auto msg = error_of([&] { data::read_idx_labels(dir.file("lab11"), 10); });
    CHECK(contains(msg, "label 11 at index 1"));
    CHECK(contains(msg, "labels in 0..9"));
    write_plain(dir.file("lab3"), idx_bytes({3}, {1, 1, 2}));
    const auto mm = error_of([&] { data::read_idx_labelled<float>(good_img, dir.file("lab3"), 10); });
    CHECK(contains(mm, "3 labels"));
    CHECK(contains(mm, "expected 2 labels"));
    CHECK_THROWS_AS(data::read_idx_labels(good_lab, 0), sgdsde::invalid_argument);
  }
}

TEST_CASE("IDX reader rejects files of random bytes") {
  TempDir dir;
  sgdsde::RandomStream stream(20240607, 1);
  // 50 files of random bytes, 1..400 bytes long. A random file is a valid 3-d IDX only if its first four
  // bytes are exactly 00 00 08 03 (probability 2^-32 per file) and then its length matches the header;
  // with this fixed seed none is, so every read must throw (and never crash or return data).
  for (int f = 0; f < 50; ++f) {
    Eigen::ArrayXd u(401);
    stream.uniform_at(std::uint64_t(f) * 1000, u);
    const int len = 1 + int(u[0] * 400);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(len));
    for (int i = 0; i < len; ++i) bytes[std::size_t(i)] = static_cast<unsigned char>(u[i + 1] * 256);
    const std::string path = dir.file("rand" + std::to_string(f));
    (f % 2 ? write_gzip : write_plain)(path, bytes);
    CHECK_THROWS_AS(data::read_idx_images<float>(path), sgdsde::invalid_argument);
    CHECK_THROWS_AS(data::read_idx_labels(path, 10), sgdsde::invalid_argument);
  }
}

TEST_CASE("Fashion-MNIST data directory: argument, then SGDSDE_FASHION_MNIST_DIR, then Debian's path") {
  CHECK(data::fashion_mnist_dir("somewhere") == "somewhere");
  const char* old = std::getenv("SGDSDE_FASHION_MNIST_DIR");
  const std::string saved = old ? old : "";
  setenv("SGDSDE_FASHION_MNIST_DIR", "from_env", 1);
  CHECK(data::fashion_mnist_dir() == "from_env");
  CHECK(data::fashion_mnist_dir("arg") == "arg");
  unsetenv("SGDSDE_FASHION_MNIST_DIR");
  CHECK(data::fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
  if (old) setenv("SGDSDE_FASHION_MNIST_DIR", saved.c_str(), 1);
  CHECK(data::fashion_mnist_file("d", data::FashionMnistSplit::test, false) == "d/t10k-labels-idx1-ubyte.gz");
  TempDir dir;
  CHECK_FALSE(data::fashion_mnist_available(dir.path.string()));
  const auto msg = error_of([&] { data::fashion_mnist(data::FashionMnistSplit::test, 5, dir.path.string()); });
  CHECK(contains(msg, "t10k-labels-idx1-ubyte.gz"));
  CHECK(contains(msg, "cannot be opened"));
}

TEST_CASE("reads the real Fashion-MNIST files (dataset-fashion-mnist)") {
  if (!data::fashion_mnist_available()) {
    const std::string where = "Fashion-MNIST not found in '" + data::fashion_mnist_dir() +
                              "' (install dataset-fashion-mnist or set SGDSDE_FASHION_MNIST_DIR)";
    if (missing_data_allowed()) {
      MESSAGE(where << "; skipped because SGDSDE_ALLOW_MISSING_DATA=1");
      return;
    }
    FAIL(where << "; set SGDSDE_ALLOW_MISSING_DATA=1 where the package cannot exist");
  }
  const sgdsde::Dataset<float> test = data::fashion_mnist(data::FashionMnistSplit::test);
  REQUIRE(test.inputs.rows() == 784);
  REQUIRE(test.num_samples() == 10000);
  REQUIRE(test.labels.size() == 10000);
  CHECK(test.num_classes == 10);
  CHECK_NOTHROW(test.validate("test"));
  // Xiao, Rasul & Vollgraf (2017), "Fashion-MNIST", Table 1 / README: the test set has exactly 1000
  // images of each of the 10 classes.
  std::vector<int> counts(10, 0);
  for (Eigen::Index n = 0; n < test.labels.size(); ++n) ++counts[std::size_t(test.labels[n])];
  for (int c : counts) CHECK(c == 1000);
  CHECK(test.inputs.minCoeff() >= 0.0f);
  CHECK(test.inputs.maxCoeff() == 1.0f);
  // The first test label is 9 ("ankle boot"): TensorFlow's "Basic classification" tutorial prints
  // test_labels[0] == 9 for this file.
  CHECK(test.labels[0] == 9);
  const auto first = data::fashion_mnist<double>(data::FashionMnistSplit::test, 5);
  CHECK(first.num_samples() == 5);
  CHECK(first.inputs.cast<float>().isApprox(test.inputs.leftCols(5)));
  // both splits in one call: the first 7 of each; the test part equals the split read alone
  const auto [train7, test7] = data::fashion_mnist(7);
  CHECK(train7.num_samples() == 7);
  CHECK(train7.inputs.rows() == 784);
  CHECK(test7.inputs == test.inputs.leftCols(7));
  CHECK(test7.labels == test.labels.head(7));
}
