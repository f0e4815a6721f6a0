// sgdsde/data/fashion_mnist.hpp — Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) in one call, as core
// Datasets: 784 × N images in [0, 1] (one column per image), labels 0..9; train 60000, test 10000.
// Reads the four IDX files through data/idx.hpp: link the CMake target sgdsde::idx (adds zlib).
#pragma once

#include <cstdlib>
#include <string>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/data/idx.hpp"

namespace sgdsde::data {

enum class FashionMnistSplit { train, test };

/// Directory of the Fashion-MNIST files: `override_dir` if non-empty, else the environment variable
/// SGDSDE_FASHION_MNIST_DIR if set and non-empty, else where Debian's dataset-fashion-mnist installs them.
inline std::string fashion_mnist_dir(const std::string& override_dir = "") {
  if (!override_dir.empty()) return override_dir;
  if (const char* env = std::getenv("SGDSDE_FASHION_MNIST_DIR"); env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

/// The file names of Fashion-MNIST (the same as MNIST's): "<train|t10k>-<images-idx3|labels-idx1>-ubyte.gz".
inline std::string fashion_mnist_file(const std::string& dir, FashionMnistSplit split, bool images) {
  const std::string prefix = split == FashionMnistSplit::train ? "train" : "t10k";
  return dir + "/" + prefix + (images ? "-images-idx3-ubyte.gz" : "-labels-idx1-ubyte.gz");
}

/// True when the four files can be opened in fashion_mnist_dir(dir).
inline bool fashion_mnist_available(const std::string& dir = "") {
  const std::string d = fashion_mnist_dir(dir);
  for (auto split : {FashionMnistSplit::train, FashionMnistSplit::test})
    for (bool images : {true, false}) {
      detail::GzFile f(fashion_mnist_file(d, split, images));
      if (!f.get()) return false;
    }
  return true;
}

/// One split: the first min(N, max_samples) samples (all when max_samples < 0) of the train (N = 60000)
/// or test (N = 10000) set, from fashion_mnist_dir(dir). Throws sgdsde::invalid_argument naming the
/// file when a file is missing or corrupt.
template <class Scalar = float>
Dataset<Scalar> fashion_mnist(FashionMnistSplit split, Index max_samples = -1, const std::string& dir = "") {
  const std::string d = fashion_mnist_dir(dir);
  return read_idx_labelled<Scalar>(fashion_mnist_file(d, split, true), fashion_mnist_file(d, split, false), 10,
                                   max_samples);
}

template <class Scalar>
struct FashionMnist {
  Dataset<Scalar> train;
  Dataset<Scalar> test;
};

/// Both splits: `auto [train, test] = data::fashion_mnist();` (max_samples applies to each split).
template <class Scalar = float>
FashionMnist<Scalar> fashion_mnist(Index max_samples = -1, const std::string& dir = "") {
  return {fashion_mnist<Scalar>(FashionMnistSplit::train, max_samples, dir),
          fashion_mnist<Scalar>(FashionMnistSplit::test, max_samples, dir)};
}

}  // namespace sgdsde::data
