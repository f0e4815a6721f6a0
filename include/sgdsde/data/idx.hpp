// sgdsde/data/idx.hpp — reader for IDX files (LeCun's MNIST format, also used by Fashion-MNIST,
// Xiao et al. 2017) through zlib, so gzip-compressed and plain files are read alike.
//
// IDX layout: bytes 0–1 are zero, byte 2 the element type (0x08 = unsigned byte), byte 3 the number of
// dimensions d, then d big-endian uint32 sizes, then the elements in row-major order. This header reads
// unsigned-byte files only (the type of every MNIST / Fashion-MNIST file). Images come back as a
// Scalar matrix with ONE COLUMN PER SAMPLE (rows·cols × N), pixels scaled to [0, 1] by x/255 (not
// standardised); labels as sgdsde::Labels; an image file with its label file as a core Dataset.
// Link the CMake target sgdsde::idx (sgdsde::sgdsde + zlib) when including this header.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <zlib.h>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::data {

/// Raw contents of an unsigned-byte IDX file: its sizes (dims[0] = number of items) and elements.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> bytes;
};

namespace detail {

/// Owns a gzFile; closes it on every exit path (including exceptions).
class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  gzFile get() const { return f_; }

  /// Reads up to n bytes; returns the count read, or −1 on a zlib error (corrupt gzip stream).
  long read(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
      const unsigned chunk = unsigned(std::min<std::size_t>(n - done, std::size_t(1) << 30));
      const int got = gzread(f_, p + done, chunk);
      if (got < 0) return -1;
      if (got == 0) break;
      done += std::size_t(got);
    }
    return long(done);
  }
  std::string error_text() {
    int code = 0;
    const char* msg = gzerror(f_, &code);
    return msg ? std::string(msg) : std::string("unknown zlib error");
  }

 private:
  gzFile f_;
};

[[noreturn]] SGDSDE_COLD inline void throw_idx_error(const char* function, const std::string& path,
                                                     const std::string& found, const std::string& expected) {
  sgdsde::detail::throw_invalid_argument(function, "path", "'" + path + "' (" + found + ")", expected);
}

inline std::uint32_t big_endian_u32(const unsigned char* b) {
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
         std::uint32_t(b[3]);
}

}  // namespace detail

/// Reads an unsigned-byte IDX file with `expected_dims` dimensions (gzip or plain).
/// Throws sgdsde::invalid_argument naming the file when it cannot be opened, the magic number is not
/// 0x0000 08 <expected_dims>, the data are shorter or longer than the header says, or the gzip stream
/// is corrupt.
inline IdxArray read_idx(const std::string& path, int expected_dims) {
  const char* fn = "read_idx";
  require(expected_dims >= 1 && expected_dims <= 255, fn, "expected_dims", expected_dims, "1..255");
  detail::GzFile file(path);
  if (!file.get()) detail::throw_idx_error(fn, path, "cannot be opened", "a readable IDX file");
  unsigned char header[4];
  const long got = file.read(header, 4);
  if (got < 0) detail::throw_idx_error(fn, path, "zlib: " + file.error_text(), "a valid gzip or plain IDX file");
  if (got < 4)
    detail::throw_idx_error(fn, path, "truncated: " + std::to_string(got) + " header bytes",
                            "a 4-byte IDX magic number");
  const std::uint32_t magic = detail::big_endian_u32(header);
  const std::uint32_t want = 0x0800u | std::uint32_t(expected_dims);
  if (magic != want) {
    char found[64], expected[96];
    std::snprintf(found, sizeof found, "magic number 0x%08X", unsigned(magic));
    std::snprintf(expected, sizeof expected, "magic number 0x%08X (unsigned-byte IDX with %d dimension%s)",
                  unsigned(want), expected_dims, expected_dims == 1 ? "" : "s");
    detail::throw_idx_error(fn, path, found, expected);
  }
  IdxArray out;
  out.dims.resize(std::size_t(expected_dims));
  std::vector<unsigned char> dim_bytes(4 * std::size_t(expected_dims));
  const long got_dims = file.read(dim_bytes.data(), dim_bytes.size());
  if (got_dims < 0) detail::throw_idx_error(fn, path, "zlib: " + file.error_text(), "a valid gzip or plain IDX file");
  if (std::size_t(got_dims) < dim_bytes.size())
    detail::throw_idx_error(fn, path, "truncated in the dimension sizes",
                            std::to_string(expected_dims) + " big-endian uint32 sizes after the magic number");
  std::uint64_t count = 1;
  for (int i = 0; i < expected_dims; ++i) {
    out.dims[std::size_t(i)] = detail::big_endian_u32(&dim_bytes[4 * std::size_t(i)]);
    count *= out.dims[std::size_t(i)];
    if (count > (std::uint64_t(1) << 34))
      detail::throw_idx_error(fn, path, "header claims more than 2^34 elements", "plausible dimension sizes");
  }
  out.bytes.resize(std::size_t(count));
  const long got_data = count ? file.read(out.bytes.data(), out.bytes.size()) : 0;
  if (got_data < 0) detail::throw_idx_error(fn, path, "zlib: " + file.error_text(), "a valid gzip or plain IDX file");
  if (std::uint64_t(got_data) < count)
    detail::throw_idx_error(fn, path,
                            "truncated: " + std::to_string(got_data) + " data bytes",
                            std::to_string(count) + " data bytes as its header says");
  unsigned char extra;
  const long got_extra = file.read(&extra, 1);
  if (got_extra < 0) detail::throw_idx_error(fn, path, "zlib: " + file.error_text(), "a valid gzip or plain IDX file");
  if (got_extra > 0)
    detail::throw_idx_error(fn, path, "data continue past the end given by its header",
                            std::to_string(count) + " data bytes as its header says");
  return out;
}

namespace detail {

template <class Scalar>
MatrixX<Scalar> images_from_idx(const IdxArray& a, const std::string& path, Index max_samples) {
  const Index pixels = Index(a.dims[1]) * Index(a.dims[2]);
  if (pixels == 0) throw_idx_error("read_idx_images", path, "images of size 0", "non-empty images");
  const Index n = max_samples < 0 ? Index(a.dims[0]) : std::min<Index>(Index(a.dims[0]), max_samples);
  Eigen::Map<const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>> raw(a.bytes.data(), pixels,
                                                                                     Index(a.dims[0]));
  return raw.leftCols(n).template cast<Scalar>() * (Scalar(1) / Scalar(255));
}

inline Labels labels_from_idx(const IdxArray& a, const std::string& path, int num_classes, Index max_samples) {
  const std::size_t n =
      max_samples < 0 ? a.bytes.size() : std::min<std::size_t>(a.bytes.size(), std::size_t(max_samples));
  Labels labels(static_cast<Index>(n));
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    if (int(a.bytes[i]) >= num_classes)
      throw_idx_error("read_idx_labels", path,
                      "label " + std::to_string(int(a.bytes[i])) + " at index " + std::to_string(i),
                      "labels in 0.." + std::to_string(num_classes - 1));
    if (i < n) labels[Index(i)] = int(a.bytes[i]);
  }
  return labels;
}

}  // namespace detail

/// Images of an IDX3 file (N × rows × cols) as a (rows·cols) × n matrix, one column per sample,
/// pixel p of image i at (p, i) with p = row·cols + col, scaled to [0, 1] by x/255.
/// `max_samples` < 0 reads all N; otherwise the first min(N, max_samples) (0 is rejected: a data set
/// has N >= 1). The whole file is checked.
template <class Scalar = float>
MatrixX<Scalar> read_idx_images(const std::string& path, Index max_samples = -1) {
  require(max_samples != 0, "read_idx_images", "max_samples", max_samples, "-1 (all) or a count >= 1");
  return detail::images_from_idx<Scalar>(read_idx(path, 3), path, max_samples);
}

/// Labels of an IDX1 file; throws if any label is ≥ num_classes (names the file, index and value).
inline Labels read_idx_labels(const std::string& path, int num_classes, Index max_samples = -1) {
  require(num_classes >= 1 && num_classes <= 256, "read_idx_labels", "num_classes", num_classes, "1..256");
  require(max_samples != 0, "read_idx_labels", "max_samples", max_samples, "-1 (all) or a count >= 1");
  return detail::labels_from_idx(read_idx(path, 1), path, num_classes, max_samples);
}

/// A matching pair of IDX image and label files as a classification Dataset (inputs: one image per
/// column, in [0, 1]); throws if their item counts differ. `max_samples` as for read_idx_images.
template <class Scalar = float>
Dataset<Scalar> read_idx_labelled(const std::string& image_path, const std::string& label_path, int num_classes,
                                  Index max_samples = -1) {
  require(num_classes >= 1 && num_classes <= 256, "read_idx_labelled", "num_classes", num_classes, "1..256");
  require(max_samples != 0, "read_idx_labelled", "max_samples", max_samples, "-1 (all) or a count >= 1");
  const IdxArray labels_raw = read_idx(label_path, 1);
  const IdxArray images_raw = read_idx(image_path, 3);
  if (labels_raw.dims[0] != images_raw.dims[0])
    detail::throw_idx_error("read_idx_labelled", label_path, std::to_string(labels_raw.dims[0]) + " labels",
                            std::to_string(images_raw.dims[0]) + " labels, one per image of '" + image_path +
                                "'");
  Dataset<Scalar> out;
  out.labels = detail::labels_from_idx(labels_raw, label_path, num_classes, max_samples);
  out.inputs = detail::images_from_idx<Scalar>(images_raw, image_path, max_samples);
  out.num_classes = num_classes;
  return out;
}

}  // namespace sgdsde::data
